"""Channels & ROAS: where the money goes and what it brings back.

Spend, attributed revenue and ROAS per channel over time (daily or weekly), a per-channel table that
sets warehouse ROAS beside the ROAS the platforms report (platforms over-claim), and each channel's
forecast for the next weeks with its interval and backtest score.
"""

from __future__ import annotations

import streamlit as st

from dashboards import charts, queries
from dashboards.frame import filters

f = filters()
daily = queries.channel_daily(f.tenant_id, f.start, f.end)
if daily.empty:
    st.info(f"No channel data for {f.tenant_name} between {f.start} and {f.end}.")
    st.stop()

# Channels over time
head, toggle = st.columns([4, 1])
head.subheader("Channels over time")
grain = toggle.segmented_control(
    "Granularity", ["day", "week"], default="day", format_func=str.capitalize, key="channels_grain"
)
grain = grain or "day"
series, left_out = charts.complete_periods(charts.rollup(daily, grain, end=f.end), grain)
if series.empty:
    st.info("The date range is shorter than a week: widen it or switch to days.")
else:
    spend_tab, revenue_tab, roas_tab = st.tabs(["Spend", "Attributed revenue", "ROAS"])
    spend_tab.plotly_chart(charts.channel_lines(series, "spend", f.currency), key="spend_chart")
    revenue_tab.plotly_chart(
        charts.channel_lines(series, "attributed_revenue", f.currency), key="revenue_chart"
    )
    roas_tab.plotly_chart(charts.channel_lines(series, "roas", None), key="roas_chart")
    st.caption(
        "ROAS is warehouse-attributed revenue over spend. "
        + (
            f"Weeks are 7-day periods ending {f.end:%a %d %b}, each labelled by its first day. "
            if grain == "week"
            else ""
        )
        + (f"The {left_out} oldest days do not fill a week and are left out." if left_out else "")
    )

# Warehouse vs platform ROAS
st.subheader("Warehouse vs platform-reported ROAS")
summary = queries.channel_summary(f.tenant_id, f.start, f.end)
summary.insert(0, "channel_name", summary["channel"].map(charts.channel_label))
summary["ctr_pct"] = summary["ctr"] * 100
st.dataframe(
    summary,
    hide_index=True,
    column_order=[
        "channel_name",
        "spend",
        "attributed_revenue",
        "roas",
        "platform_conversion_value",
        "platform_roas",
        "overclaim",
        "attributed_conversions",
        "cpa",
        "clicks",
        "ctr_pct",
    ],
    column_config={
        "channel_name": st.column_config.TextColumn("Channel"),
        "spend": charts.money_column("Spend", f.currency),
        "clicks": st.column_config.NumberColumn("Clicks", format="localized"),
        "ctr_pct": st.column_config.NumberColumn("CTR", format="%.2f%%"),
        "attributed_conversions": st.column_config.NumberColumn("Conversions", format="%.0f"),
        "cpa": charts.money_column("CPA", f.currency),
        "attributed_revenue": charts.money_column("Attributed revenue", f.currency),
        "roas": st.column_config.NumberColumn(
            "ROAS (warehouse)", format="%.2f×", help="Last-touch attributed revenue / spend."
        ),
        "platform_conversion_value": charts.money_column("Platform value", f.currency),
        "platform_roas": st.column_config.NumberColumn(
            "ROAS (platform)", format="%.2f×", help="Conversion value the platform reports / spend."
        ),
        "overclaim": st.column_config.NumberColumn(
            "Over-claim",
            format="%.2f×",
            help="Platform-reported value / warehouse-attributed revenue. Above 1× the platform "
            "claims more than the warehouse credits it with (view-through, overlapping windows).",
        ),
    },
)
st.caption(
    "Platforms count conversions with their own windows and view-throughs, so each claims credit another "
    "also claims. Budget on the warehouse column."
)

# Forecasts
st.subheader("Forecast")
fc_all = queries.forecast(f.tenant_id)
fc_all = fc_all[fc_all["metric"].isin(list(queries.FORECAST_ACTUALS))]
if fc_all.empty:
    st.info("No forecasts in this snapshot yet.")
    st.stop()
pick_channel, pick_metric, pick_model = st.columns(3)
channel = pick_channel.selectbox(
    "Channel", charts.channel_order(fc_all["channel"]), format_func=charts.channel_label, key="fc_channel"
)
of_channel = fc_all[fc_all["channel"] == channel]
metric = pick_metric.selectbox(
    "Metric",
    [m for m in queries.FORECAST_ACTUALS if m in set(of_channel["metric"])],
    format_func=lambda m: charts.METRIC_LABELS.get(m, m),
    key="fc_metric",
)
of_metric = of_channel[of_channel["metric"] == metric]
model = pick_model.selectbox("Model", sorted(of_metric["model"].unique()), key="fc_model")
fc = of_metric[of_metric["model"] == model]
trained_through = charts.forecast_origin(fc)
money_in = f.currency if metric in ("spend", "revenue") else None

actuals = queries.forecast_actuals(f.tenant_id, channel, metric, trained_through, days=90)
st.plotly_chart(
    charts.forecast_band(actuals, fc, channel=channel, currency=money_in, trained_through=trained_through),
    key="forecast_chart",
)

backtest = queries.forecast_backtest(f.tenant_id)
score = backtest[
    (backtest["channel"] == channel) & (backtest["metric"] == metric) & (backtest["model"] == model)
]
if score.empty:
    st.caption(f"No backtest for {model} on this series: its accuracy is unknown.")
else:
    row = score.iloc[0]
    for column, tile in zip(st.columns(3), charts.backtest_tiles(row, money_in), strict=True):
        column.metric(**tile, border=True)
    st.caption(
        f"{len(fc)} days after {trained_through:%d %b %Y}, actuals for the 90 days before (the date filter "
        f"does not apply here). Backtest over {int(row['n_origins'])} origins, horizon {int(row['horizon'])} days."
    )
    if row["mase"] >= 1:
        st.warning(
            "This model does not beat the seasonal-naive baseline on this series: read it as a rough guide."
        )

with st.expander("All backtests"):
    st.dataframe(
        backtest.assign(channel=backtest["channel"].map(charts.channel_label)),
        hide_index=True,
        column_config={
            "channel": st.column_config.TextColumn("Channel"),
            "metric": st.column_config.TextColumn("Metric"),
            "model": st.column_config.TextColumn("Model"),
            "mase": st.column_config.NumberColumn(
                "MASE", format="%.2f", help="Below 1 beats seasonal naive."
            ),
            "baseline_mae": st.column_config.NumberColumn("Baseline MAE", format="%.1f"),
            "model_mae": st.column_config.NumberColumn("Model MAE", format="%.1f"),
            "n_origins": st.column_config.NumberColumn("Origins"),
            "horizon": st.column_config.NumberColumn("Horizon (days)"),
        },
    )
