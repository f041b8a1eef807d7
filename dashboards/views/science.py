"""Marketing science: what each channel really returns, and how to split the budget.

ROI and marginal ROI per channel from the media-mix model (with bootstrap intervals), each lift test
against the model (experiments vs model), the response curves, a budget planner that evaluates the
curves live (sliders per channel, or the optimiser for a total budget), the pipeline's recommendation,
the KPI decomposition, and the attribution models side by side. All from the serving snapshot; the planner evaluates `models_ml.budget` curves in-page.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from dashboards import charts, queries
from dashboards import science_charts as sc
from dashboards.frame import filters
from models_ml.budget import InfeasibleBudget, evaluate_plan, optimise_budget

f = filters()
present = queries.science_tables()
if "mmm_channel" not in present:
    st.info(
        "**No media-mix model in this snapshot yet.** Run `make demo`: it fits the model and publishes "
        "`mmm_channel`, `response_curves` and `budget_plan`."
    )
    st.stop()

kpi = st.segmented_control(
    "KPI", ["revenue", "conversions"], default="revenue", format_func=str.capitalize, key="science_kpi"
)
kpi = kpi or "revenue"
channels = queries.mmm_channel(f.tenant_id, kpi)
if channels.empty:
    st.info(f"No media-mix model for {f.tenant_name} in this snapshot.")
    st.stop()
fit = queries.mmm_fit(f.tenant_id) if "mmm_fit" in present else pd.DataFrame()
fit_row = fit[fit["kpi"] == kpi].iloc[0] if not fit.empty and (fit["kpi"] == kpi).any() else None
days_per_period = 7 if fit_row is not None and fit_row["grain"] == "week" else 1
unit = f.currency if kpi == "revenue" else "conversions"

# -- ROI ---------------------------------------------------------------------------------------------
st.subheader("Return on spend")
if fit_row is not None:
    tiles = st.columns(4)
    tiles[0].metric(
        "R²",
        f"{fit_row['r2']:.2f}",
        border=True,
        help="Share of the daily KPI's variance the model explains.",
    )
    tiles[1].metric(
        "NRMSE", f"{fit_row['nrmse']:.0%}", border=True, help="Root-mean-square error / mean KPI."
    )
    tiles[2].metric(
        "Out-of-time error",
        "–" if pd.isna(fit_row["oot_mape"]) else f"{fit_row['oot_mape']:.0%}",
        border=True,
        help="Mean absolute % error on the last 8 weeks, fitted without them.",
    )
    tiles[3].metric(
        "History", f"{int(fit_row['n_days'])} days", border=True, help=f"Fitted at {fit_row['grain']} grain."
    )
paid = channels.dropna(subset=["roi"])
if kpi == "revenue" and not paid.empty:
    st.plotly_chart(sc.roi_bars(channels), key="roi_chart")
table = channels.assign(channel_name=channels["channel"].map(charts.channel_label))
st.dataframe(
    table,
    hide_index=True,
    column_order=[
        "channel_name",
        "spend",
        "contribution",
        "contribution_share",
        "roi",
        "roi_lower",
        "roi_upper",
        "mroi",
        "mroi_lower",
        "mroi_upper",
    ],
    column_config={
        "channel_name": st.column_config.TextColumn("Channel"),
        "spend": charts.money_column("Spend", f.currency),
        "contribution": st.column_config.NumberColumn(f"Caused ({unit})", format="localized"),
        "contribution_share": st.column_config.NumberColumn("Share of KPI", format="percent"),
        "roi": st.column_config.NumberColumn("ROI", format="%.3f", help="KPI caused per unit of spend."),
        "roi_lower": st.column_config.NumberColumn("ROI low", format="%.3f"),
        "roi_upper": st.column_config.NumberColumn("ROI high", format="%.3f"),
        "mroi": st.column_config.NumberColumn("Marginal ROI", format="%.3f", help="Return on one more unit."),
        "mroi_lower": st.column_config.NumberColumn("mROI low", format="%.3f"),
        "mroi_upper": st.column_config.NumberColumn("mROI high", format="%.3f"),
    },
)
st.caption(
    "Over the whole fitted history. Intervals: 90 % moving-block bootstrap. Wide intervals mean the data "
    "cannot tell: calibrate with lift tests before moving large budgets. Channels without spend (email, "
    "organic social) are modelled from their volume and have no ROI."
)

# -- experiments vs model --------------------------------------------------------------------------------
st.subheader("Experiments vs model")
if "mmm_calibration" not in present:
    st.info(
        "No calibration evidence in this snapshot (`mmm_calibration` is missing): each lift test against "
        "the model appears here once the weekly model refit publishes it."
    )
else:
    tests = queries.mmm_calibration(f.tenant_id, kpi)
    if tests.empty:
        st.caption(f"No lift tests calibrated the {kpi} model for {f.tenant_name}: nothing to compare.")
    else:
        rows = sc.calibration_rows(tests)
        st.plotly_chart(sc.calibration_figure(rows, unit), key="calibration_chart")
        agree = int((rows["z"].abs() <= 1.96).sum())
        st.caption(
            f"Each lift test's measured incremental {kpi} (± 1.96 standard errors) against what the fitted "
            f"model says the same design caused in the same window (its 90 % bootstrap interval). "
            f"The model lies within the experiment's 95 % interval on {agree} of {len(rows)} tests "
            f"(median |z| {rows['z'].abs().median():.2f}); far-off tests point at a channel the model and "
            "the experiments disagree on."
        )
        st.dataframe(
            rows.assign(channel=rows["channel"].map(charts.channel_label)),
            hide_index=True,
            column_order=[
                "channel",
                "design",
                "start",
                "end",
                "measured",
                "standard_error",
                "modelled",
                "modelled_lower",
                "modelled_upper",
                "z",
            ],
            column_config={
                "channel": st.column_config.TextColumn("Channel"),
                "design": st.column_config.TextColumn(
                    "Design", help="holdout: spend off vs on; ±50 %: budget scaled"
                ),
                "start": st.column_config.DateColumn("From"),
                "end": st.column_config.DateColumn("To"),
                "measured": st.column_config.NumberColumn(f"Measured ({unit})", format="localized"),
                "standard_error": st.column_config.NumberColumn("SE", format="localized"),
                "modelled": st.column_config.NumberColumn(f"Model ({unit})", format="localized"),
                "modelled_lower": st.column_config.NumberColumn("Model low", format="localized"),
                "modelled_upper": st.column_config.NumberColumn("Model high", format="localized"),
                "z": st.column_config.NumberColumn("z", format="%.2f", help="(model - measured) / SE"),
            },
            key="calibration_table",
        )

# -- response curves -----------------------------------------------------------------------------------
curves = queries.response_curves(f.tenant_id, kpi) if "response_curves" in present else pd.DataFrame()
plan_table = queries.budget_plan(f.tenant_id) if "budget_plan" in present else pd.DataFrame()
current = (
    {str(r.channel): float(r.current_spend) for r in plan_table.itertuples() if r.channel != "total"}
    if not plan_table.empty
    else {}
)
if not curves.empty:
    st.subheader("Response curves")
    st.plotly_chart(sc.curves_figure(curves, current, f.currency), key="curves_chart")
    st.caption(
        f"{kpi.capitalize()} per day once spend has stayed at a level long enough for carry-over to settle; ◆ today."
    )

# -- budget planner ------------------------------------------------------------------------------------
revenue_channels = queries.mmm_channel(f.tenant_id, "revenue")
model_curves = sc.curves_from_params(revenue_channels, days_per_period)
if model_curves:
    st.subheader("Budget planner")
    today = {c.channel: current.get(c.channel, 0.0) for c in model_curves}
    today_total = float(sum(today.values()))
    manual, optimised = st.tabs(["Set each channel", "Optimise a total budget"])
    with manual:
        picked = {}
        for column, curve in zip(st.columns(len(model_curves)), model_curves, strict=True):
            top = max(3.0 * today[curve.channel], 10.0)
            picked[curve.channel] = column.slider(
                f"{charts.channel_label(curve.channel)} per day",
                min_value=0.0,
                max_value=float(top),
                value=float(today[curve.channel]),
                step=1.0,
                key=f"planner_{curve.channel}",
            )
        before = evaluate_plan(model_curves, today).sum()
        after = evaluate_plan(model_curves, picked).sum()
        spent = sum(picked.values())
        cols = st.columns(3)
        cols[0].metric(
            "Spend per day",
            charts.money(spent, f.currency),
            charts.money(spent - today_total, f.currency),
            border=True,
        )
        cols[1].metric(
            "Media-driven revenue per day",
            charts.money(after, f.currency),
            charts.money(after - before, f.currency),
            border=True,
        )
        cols[2].metric("ROAS of that spend", "–" if spent <= 0 else f"{after / spent:.2f}×", border=True)
    with optimised:
        left, mid, right = st.columns(3)
        objective = left.selectbox(
            "Goal",
            ["revenue", "target"],
            format_func={
                "revenue": "Most revenue for the budget",
                "target": "Spend while marginal ROAS ≥ target",
            }.get,
            key="planner_objective",
        )
        budget = mid.number_input(
            f"Budget per day ({f.currency})",
            min_value=0.0,
            value=float(round(today_total)),
            step=10.0,
            key="planner_budget",
        )
        limit = right.slider(
            "Max change per channel", 0, 100, 30, step=5, format="%d%%", key="planner_change"
        )
        target = None
        if objective == "target":
            target = st.number_input(
                "Target marginal ROAS", min_value=0.05, value=1.0, step=0.05, key="planner_target"
            )
        try:
            plan = optimise_budget(
                model_curves,
                today,
                total_budget=budget,
                objective=objective,
                target_mroas=target,
                max_change=limit / 100 if limit < 100 else None,
            )
        except InfeasibleBudget as problem:
            st.warning(f"No plan fits these limits: {problem}.")
        else:
            result = pd.DataFrame(
                {
                    "channel": [charts.channel_label(c) for c in plan.channels],
                    "current": plan.current,
                    "recommended": plan.recommended,
                    "revenue": plan.response,
                    "marginal": plan.marginal,
                }
            )
            gain = float(plan.response.sum() - evaluate_plan(model_curves, plan.current).sum())
            st.metric(
                "Media-driven revenue per day",
                charts.money(float(plan.response.sum()), f.currency),
                charts.money(gain, f.currency),
                border=True,
            )
            st.dataframe(
                result,
                hide_index=True,
                column_config={
                    "channel": st.column_config.TextColumn("Channel"),
                    "current": charts.money_column("Today", f.currency),
                    "recommended": charts.money_column("Plan", f.currency),
                    "revenue": charts.money_column("Revenue per day", f.currency),
                    "marginal": st.column_config.NumberColumn("Marginal ROAS", format="%.2f"),
                },
                key="planner_table",
            )
            st.caption(
                "Why: at the optimum every channel that is not at a limit earns the same marginal ROAS "
                f"({plan.shadow_price:.2f} per extra unit); a channel at a limit would earn more (lower bound) "
                "or less (upper bound) than that."
            )

# -- the pipeline's recommendation ----------------------------------------------------------------------
if not plan_table.empty:
    st.subheader("Recommendation")
    total = plan_table[plan_table["channel"] == "total"].iloc[0]
    st.markdown(
        f"Moving the same budget ({charts.money(total['recommended_spend'], f.currency)} a day, each channel "
        f"within ±30 %) is expected to change media-driven revenue by "
        f"**{charts.money(total['revenue_change'], f.currency)} a day** "
        f"(90 % interval {charts.money(total['revenue_change_lower'], f.currency)} to "
        f"{charts.money(total['revenue_change_upper'], f.currency)})."
    )
    if total["revenue_change_lower"] < 0:
        st.caption(
            "The interval includes a loss: the model is not sure this move pays. Test before committing."
        )
    rows = plan_table[plan_table["channel"] != "total"]
    st.dataframe(
        rows.assign(channel=rows["channel"].map(charts.channel_label)),
        hide_index=True,
        column_order=[
            "channel",
            "current_spend",
            "recommended_spend",
            "expected_revenue",
            "expected_revenue_lower",
            "expected_revenue_upper",
            "marginal_roi",
            "locked",
        ],
        column_config={
            "channel": st.column_config.TextColumn("Channel"),
            "current_spend": charts.money_column("Today / day", f.currency),
            "recommended_spend": charts.money_column("Plan / day", f.currency),
            "expected_revenue": charts.money_column("Revenue / day", f.currency),
            "expected_revenue_lower": charts.money_column("low", f.currency),
            "expected_revenue_upper": charts.money_column("high", f.currency),
            "marginal_roi": st.column_config.NumberColumn("Marginal ROI", format="%.2f"),
            "locked": st.column_config.CheckboxColumn("Locked"),
        },
        key="recommendation_table",
    )

# -- decomposition --------------------------------------------------------------------------------------
if "mmm_decomposition" in present:
    parts = queries.mmm_decomposition(f.tenant_id, kpi, f.start, f.end)
    if not parts.empty:
        st.subheader(f"What made the {kpi}")
        st.plotly_chart(sc.decomposition_area(parts), key="decomposition_chart")
        media = parts[parts["component"].isin(set(channels["channel"]))]["value"].sum()
        share = media / parts["value"].sum() if parts["value"].sum() else np.nan
        st.caption(f"Between {f.start} and {f.end}, media caused {share:.0%} of the modelled {kpi}.")

# -- attribution ------------------------------------------------------------------------------------------
st.subheader("Attribution models side by side")
if "attribution_channel" not in present:
    st.info(
        "No attribution models in this snapshot (`attribution_channel` is missing): rule-based and "
        "data-driven attribution appear here once the pipeline publishes them."
    )
else:
    attribution = queries.attribution_channel(f.tenant_id)
    if attribution.empty:
        st.info(f"No attribution results for {f.tenant_name} yet.")
    else:
        shares = sc.attribution_table(attribution, revenue_channels)
        st.dataframe(
            shares,
            column_config={c: st.column_config.NumberColumn(c, format="percent") for c in shares.columns},
        )
        first, last = attribution["period_start"].min(), attribution["period_end"].max()
        st.caption(
            f"Share of conversions credited to each channel by each model ({first} – {last}). The MMM column is "
            "each channel's share of media-driven revenue (incremental), which attribution does not measure."
        )
