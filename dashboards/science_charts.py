"""Figures and small reshaping for the Marketing science page (pure functions of query frames)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboards.charts import CHANNEL_COLORS, channel_label
from models_ml.budget import ResponseCurve

BASELINE_COLORS = {
    "trend": "#BBBBBB",
    "weekly": "#D9D9D9",
    "yearly": "#A6A6A6",
    "black_friday_week": "#8C8C8C",
}


def _layout(fig: go.Figure, height: int = 340) -> go.Figure:
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        legend={"orientation": "h", "y": -0.15},
        hovermode="x unified",
    )
    return fig


def roi_bars(channels: pd.DataFrame) -> go.Figure:
    """ROI and marginal ROI per paid channel with their bootstrap intervals; break-even line at 1."""
    paid = channels.dropna(subset=["roi"])
    names = [channel_label(c) for c in paid["channel"]]
    fig = go.Figure()
    for column, label, color in (("roi", "ROI", "#0072B2"), ("mroi", "Marginal ROI", "#E69F00")):
        fig.add_bar(
            x=names,
            y=paid[column],
            name=label,
            marker_color=color,
            error_y={
                "type": "data",
                "symmetric": False,
                "array": (paid[f"{column}_upper"] - paid[column]).clip(lower=0),
                "arrayminus": (paid[column] - paid[f"{column}_lower"]).clip(lower=0),
            },
        )
    fig.add_hline(y=1.0, line_dash="dot", line_color="#666", annotation_text="break-even")
    fig.update_layout(barmode="group", yaxis_title="revenue per unit of spend")
    return _layout(fig)


def curves_figure(curves: pd.DataFrame, current: dict[str, float], currency: str) -> go.Figure:
    """Response curves (KPI per day against spend per day) with today's spend marked."""
    fig = go.Figure()
    for channel, part in curves.groupby("channel", sort=True):
        color = CHANNEL_COLORS.get(str(channel), "#999999")
        fig.add_scatter(
            x=part["spend"],
            y=part["response"],
            mode="lines",
            name=channel_label(str(channel)),
            line_color=color,
        )
        if channel in current:
            spend = current[str(channel)]
            response = float(
                pd.Series(part["response"].to_numpy()).iloc[(part["spend"] - spend).abs().argmin()]
            )
            fig.add_scatter(
                x=[spend],
                y=[response],
                mode="markers",
                marker={"size": 10, "color": color, "symbol": "diamond"},
                name=f"{channel_label(str(channel))} today",
                showlegend=False,
            )
    fig.update_layout(xaxis_title=f"spend per day ({currency})", yaxis_title="response per day")
    return _layout(fig)


def decomposition_area(decomposition: pd.DataFrame) -> go.Figure:
    """Stacked KPI components over time: baseline parts in greys, channels in their colours."""
    wide = decomposition.pivot_table(index="date", columns="component", values="value", aggfunc="sum")
    fig = go.Figure()
    baseline = [c for c in wide.columns if c not in CHANNEL_COLORS]
    channels = [c for c in wide.columns if c in CHANNEL_COLORS]
    for component in baseline + channels:
        color = CHANNEL_COLORS.get(component) or BASELINE_COLORS.get(component, "#CCCCCC")
        fig.add_scatter(
            x=wide.index,
            y=wide[component],
            name=channel_label(component) if component in CHANNEL_COLORS else component.replace("_", " "),
            stackgroup="kpi",
            line={"width": 0.5, "color": color},
        )
    return _layout(fig, height=320)


def design_label(treatment: float, control: float) -> str:
    """A lift test's design in words: "holdout" (1 vs 0), "+50 %" (1.5 vs 1), "-50 %" (1 vs 0.5);
    other designs as their spend scales ("2× vs 0.5×")."""
    if (treatment, control) == (1.0, 0.0):
        return "holdout"
    if control == 1.0:
        return f"{treatment - 1.0:+.0%}".replace("%", " %")
    if treatment == 1.0:
        return f"{control - 1.0:+.0%}".replace("%", " %")
    return f"{treatment:g}× vs {control:g}×"


def calibration_rows(tests: pd.DataFrame) -> pd.DataFrame:
    """`mmm_calibration` rows with a readable label per test and the measurement's 95 % interval."""
    out = tests.copy()
    out["design"] = [
        design_label(float(t), float(c))
        for t, c in zip(out["treatment_spend_scale"], out["control_spend_scale"], strict=True)
    ]
    out["test"] = [
        f"{channel_label(str(r.channel))} · {r.design} · {pd.Timestamp(r.start):%d %b %y}–{pd.Timestamp(r.end):%d %b %y}"
        for r in out.itertuples()
    ]
    out["measured_lower"] = out["measured"] - 1.96 * out["standard_error"]
    out["measured_upper"] = out["measured"] + 1.96 * out["standard_error"]
    return out


def calibration_figure(rows: pd.DataFrame, unit: str) -> go.Figure:
    """Dot and whisker per lift test: measured ± 1.96 SE against the model's incremental and its interval."""
    fig = go.Figure()
    fig.add_scatter(
        x=rows["measured"],
        y=rows["test"],
        mode="markers",
        name="Measured (± 1.96 SE)",
        marker={"color": "#0072B2", "size": 9},
        error_x={
            "type": "data",
            "array": 1.96 * rows["standard_error"],
            "color": "#0072B2",
        },
    )
    fig.add_scatter(
        x=rows["modelled"],
        y=rows["test"],
        mode="markers",
        name="Model (interval)",
        marker={"color": "#E69F00", "size": 9, "symbol": "diamond"},
        error_x={
            "type": "data",
            "symmetric": False,
            "array": (rows["modelled_upper"] - rows["modelled"]).clip(lower=0),
            "arrayminus": (rows["modelled"] - rows["modelled_lower"]).clip(lower=0),
            "color": "#E69F00",
        },
    )
    fig.update_yaxes(autorange="reversed")
    _layout(fig, height=max(260, 28 * len(rows) + 120))
    # Legend above the plot: below it, a short chart puts it on the axis title.
    fig.update_layout(
        xaxis_title=f"incremental {unit} in the test window",
        hovermode="y unified",
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
        margin={"t": 40},
    )
    return fig


def curves_from_params(channels: pd.DataFrame, days_per_period: int) -> list[ResponseCurve]:
    """The paid channels' response curves rebuilt from `mmm_channel`'s fitted parameters."""
    paid = channels.dropna(subset=["roi"])
    return [
        ResponseCurve(
            channel=str(row.channel),
            decay=float(row.decay),
            k=float(row.hill_k),
            alpha=float(row.hill_alpha),
            beta=float(row.beta),
            days_per_period=days_per_period,
        )
        for row in paid.itertuples()
    ]


def attribution_table(attribution: pd.DataFrame, mmm: pd.DataFrame) -> pd.DataFrame:
    """Channel x model share of credit, with the MMM's share of media contribution beside them."""
    shares = attribution.pivot_table(index="channel", columns="model", values="share", aggfunc="sum")
    media = mmm.set_index("channel")["contribution"]
    if media.sum() > 0:
        shares["mmm (incremental)"] = media / media.sum()
    shares.index = [channel_label(str(c)) for c in shares.index]
    return shares.fillna(0.0)
