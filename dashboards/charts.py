"""Formatting, small frame reshaping and Plotly figures for the dashboard pages.

Pure functions of frames from `queries`: no SQL, no session state, so every one can be unit-tested.
Money is always formatted in the tenant's currency; ratios are recomputed from sums, never averaged.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date
from typing import Literal

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

Grain = Literal["day", "week"]

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CHF": "CHF ", "AUD": "A$", "CAD": "C$"}
# Okabe-Ito: distinguishable for colour-blind readers, stable per channel across every chart.
CHANNEL_COLORS = {
    "meta": "#0072B2",
    "google_ads": "#E69F00",
    "organic_search": "#009E73",
    "direct": "#CC79A7",
    "referral": "#56B4E9",
    "email": "#D55E00",
    "other": "#999999",
}
CHANNEL_LABELS = {
    "meta": "Meta",
    "google_ads": "Google Ads",
    "organic_search": "Organic search",
    "direct": "Direct",
    "referral": "Referral",
    "email": "Email",
    "other": "Other",
}
SPEND_COLOR, REVENUE_COLOR = "#0072B2", "#009E73"
METRIC_LABELS = {
    "spend": "Spend",
    "attributed_revenue": "Attributed revenue",
    "attributed_conversions": "Attributed conversions",
    "roas": "ROAS",
    "revenue": "Attributed revenue",
    "conversions": "Attributed conversions",
}
SUMMABLE = (
    "spend",
    "spend_usd",
    "impressions",
    "clicks",
    "platform_conversions",
    "platform_conversion_value",
    "attributed_conversions",
    "attributed_revenue",
)
DASH = "–"


# -- text -----------------------------------------------------------------------------------------


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def channel_label(channel: str) -> str:
    return CHANNEL_LABELS.get(channel, channel.replace("_", " ").capitalize())


def channel_order(channels: Iterable[str]) -> list[str]:
    """Known channels in their usual order (paid first), then any others alphabetically."""
    known = list(CHANNEL_LABELS)
    return sorted(set(channels), key=lambda c: (known.index(c) if c in known else len(known), c))


def _compact(value: float) -> tuple[float, str]:
    for threshold, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= threshold:
            return value / threshold, suffix
    return value, ""


def money(value: float | None, currency: str, *, compact: bool = False, decimals: int = 0) -> str:
    """`$12,345`, `€1.2M`, `12,345 SEK`; a dash for a missing value."""
    if _missing(value):
        return DASH
    assert value is not None
    sign = "-" if value < 0 else ""
    amount, suffix = _compact(abs(value)) if compact else (abs(value), "")
    digits = 1 if suffix else decimals
    body = f"{amount:,.{digits}f}{suffix}"
    symbol = CURRENCY_SYMBOLS.get(currency)
    return f"{sign}{symbol}{body}" if symbol else f"{sign}{body} {currency}"


def number(value: float | None, *, compact: bool = False, decimals: int = 0) -> str:
    if _missing(value):
        return DASH
    assert value is not None
    amount, suffix = _compact(value) if compact else (value, "")
    return f"{amount:,.{1 if suffix else decimals}f}{suffix}"


def ratio(value: float | None) -> str:
    """ROAS as a multiple: `3.44×`."""
    return DASH if _missing(value) else f"{value:,.2f}×"


def signed_percent(value: float | None) -> str:
    return DASH if _missing(value) else f"{value:+.1%}"


def kpi_value(metric: str, value: float | None, currency: str) -> str:
    """One KPI as a tile shows it: money compact, CPA to the cent, ROAS as a multiple."""
    if metric in ("spend", "revenue"):
        return money(value, currency, compact=True)
    if metric == "cpa":
        return money(value, currency, decimals=2)
    if metric == "roas":
        return ratio(value)
    return number(value, compact=True)


def kpi_tile(row: pd.Series, currency: str, days: int) -> dict[str, str | None]:
    """Arguments for `st.metric` from one row of `queries.kpis`."""
    pct = row["delta_pct"]
    comparable = not _missing(pct)
    return {
        "label": row["label"],
        "value": kpi_value(row["metric"], row["value"], currency),
        "delta": f"{pct:+.1%}" if comparable else None,
        "delta_color": {"higher": "normal", "lower": "inverse"}.get(row["good"], "off"),
        "help": (
            f"Previous {days} days: {kpi_value(row['metric'], row['previous'], currency)}"
            if comparable
            else f"No comparison: the previous {days} days reach back before the data starts."
        ),
    }


def backtest_tiles(row: pd.Series, currency: str | None) -> list[dict]:
    """Arguments for three `st.metric` tiles from one row of `queries.forecast_backtest`: MASE with
    its verdict against the seasonal-naive baseline, then both MAEs (money when `currency` given)."""
    beats = row["mase"] < 1

    def fmt(v: float) -> str:
        return money(v, currency) if currency else number(v, decimals=1)

    return [
        {
            "label": "Backtest MASE",
            "value": f"{row['mase']:.2f}",
            "delta": "beats seasonal naive" if beats else "does not beat seasonal naive",
            "delta_color": "normal" if beats else "inverse",
            "delta_arrow": "off",
            "help": "Mean absolute scaled error over the backtest origins: below 1 the model beats the "
            "seasonal-naive baseline.",
        },
        {"label": "Model MAE", "value": fmt(row["model_mae"]), "help": "Mean absolute error per day."},
        {"label": "Baseline MAE", "value": fmt(row["baseline_mae"]), "help": "Seasonal naive's error."},
    ]


def money_column(label: str, currency: str, help: str | None = None) -> st.column_config.NumberColumn:
    preset = {"USD": "dollar", "EUR": "euro", "JPY": "yen"}.get(currency)
    fmt = preset or f"%.2f {currency}"
    return st.column_config.NumberColumn(label, format=fmt, help=help)


# -- reshaping ------------------------------------------------------------------------------------


def rollup(daily: pd.DataFrame, grain: Grain, *, end: date | None = None) -> pd.DataFrame:
    """Channel rows per day or per week, ROAS recomputed from the sums.

    Weeks are 7-day periods counted back from `end` (default: the last date in `daily`), so the most
    recent week is always whole; only the oldest one can be partial (see `complete_periods`).
    Returns `period` (the day, or the week's first day), `channel`, `days` (days present), the
    summable columns of `daily`, `roas` and `platform_roas`.
    """
    if grain not in ("day", "week"):
        raise ValueError(f"grain must be 'day' or 'week', got {grain!r}")
    frame = daily.copy()
    when = pd.to_datetime(frame["date"])
    if grain == "day":
        frame["period"] = when
    else:
        anchor = pd.Timestamp(end) if end is not None else when.max()
        weeks_back = (anchor - when).dt.days // 7
        frame["period"] = anchor - pd.to_timedelta(weeks_back * 7 + 6, unit="D")
    sums = [c for c in SUMMABLE if c in frame.columns]
    out = (
        frame.groupby(["period", "channel"], as_index=False)
        .agg(days=("date", "nunique"), **{c: (c, "sum") for c in sums})
        .sort_values(["period", "channel"], ignore_index=True)
    )
    spend = out["spend"].where(out["spend"] > 0)
    out["roas"] = out["attributed_revenue"] / spend
    if "platform_conversion_value" in out:
        out["platform_roas"] = out["platform_conversion_value"] / spend
    return out


def complete_periods(series: pd.DataFrame, grain: Grain) -> tuple[pd.DataFrame, int]:
    """Drop a partial oldest week of a weekly `rollup` (a 2-day "week" reads as a collapse); return
    the rest and how many days were left out. Days are always complete."""
    if grain == "day":
        return series, 0
    partial = series.groupby("period")["days"].transform("max") < 7
    dropped = int(series.loc[partial].groupby("period")["days"].max().sum())
    return series.loc[~partial].reset_index(drop=True), dropped


def forecast_origin(fc: pd.DataFrame) -> date:
    """The last day a forecast was trained on: `trained_through`, else the day before its first date."""
    trained = pd.to_datetime(fc["trained_through"]).max()
    if pd.isna(trained):
        trained = pd.to_datetime(fc["date"]).min() - pd.Timedelta(days=1)
    return trained.date()


def daily_totals(daily: pd.DataFrame) -> pd.DataFrame:
    """All channels summed per day: date, spend, attributed_revenue, attributed_conversions."""
    cols = ["spend", "attributed_revenue", "attributed_conversions"]
    return daily.groupby("date", as_index=False)[cols].sum().sort_values("date", ignore_index=True)


# -- figures --------------------------------------------------------------------------------------


def _money_axis(currency: str) -> dict:
    symbol = CURRENCY_SYMBOLS.get(currency)
    return {"tickprefix": symbol, "tickformat": "~s"} if symbol else {"ticksuffix": f" {currency}"}


def _money_hover(currency: str) -> str:
    symbol = CURRENCY_SYMBOLS.get(currency)
    return f"{symbol}%{{y:,.0f}}" if symbol else f"%{{y:,.0f}} {currency}"


def _layout(fig: go.Figure, *, height: int = 340) -> go.Figure:
    # Legend in a row above the plot, left-aligned, clear of the mode bar at the top right.
    fig.update_layout(
        height=height,
        margin={"l": 8, "r": 8, "t": 56, "b": 8},
        hovermode="x unified",
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0, "xanchor": "left", "title": None},
    )
    fig.update_xaxes(title=None)
    return fig


def spend_revenue_trend(totals: pd.DataFrame, currency: str) -> go.Figure:
    """Daily spend against attributed revenue, all channels."""
    fig = go.Figure()
    for column, name, color in (
        ("spend", "Spend", SPEND_COLOR),
        ("attributed_revenue", "Attributed revenue", REVENUE_COLOR),
    ):
        fig.add_trace(
            go.Scatter(
                x=totals["date"],
                y=totals[column],
                name=name,
                mode="lines",
                line={"color": color, "width": 2},
                hovertemplate=_money_hover(currency),
            )
        )
    fig.update_yaxes(rangemode="tozero", **_money_axis(currency))
    return _layout(fig)


def channel_mix(summary: pd.DataFrame) -> go.Figure:
    """Each channel's share of spend beside its share of attributed revenue."""
    spend_total = summary["spend"].sum()
    revenue_total = summary["attributed_revenue"].sum()
    labels = [channel_label(c) for c in summary["channel"]]
    fig = go.Figure()
    for column, total, name, color in (
        ("spend", spend_total, "Spend share", SPEND_COLOR),
        ("attributed_revenue", revenue_total, "Revenue share", REVENUE_COLOR),
    ):
        share = summary[column] / total if total else summary[column] * 0.0
        fig.add_trace(
            go.Bar(
                y=labels,
                x=share,
                name=name,
                orientation="h",
                marker_color=color,
                hovertemplate="%{y}: %{x:.1%}<extra>" + name + "</extra>",
            )
        )
    fig.update_xaxes(tickformat=".0%", rangemode="tozero")
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(barmode="group", hovermode="closest")
    return _layout(fig)


def channel_lines(series: pd.DataFrame, column: str, currency: str | None) -> go.Figure:
    """One line per channel of `column` over `period` (from `rollup`); money when `currency` given,
    else a ratio (ROAS) or a count."""
    fig = go.Figure()
    for channel in channel_order(series["channel"]):
        part = series[series["channel"] == channel]
        values = part[column]
        if values.isna().all() or (values.fillna(0) == 0).all():
            continue  # e.g. spend or ROAS of a channel that has no spend
        fig.add_trace(
            go.Scatter(
                x=part["period"],
                y=values,
                name=channel_label(str(channel)),
                mode="lines+markers" if len(part) <= 16 else "lines",
                line={"color": CHANNEL_COLORS.get(str(channel)), "width": 2},
                hovertemplate=(
                    _money_hover(currency)
                    if currency
                    else ("%{y:.2f}×" if column.endswith("roas") else "%{y:,.0f}")
                ),
            )
        )
    if currency:
        fig.update_yaxes(rangemode="tozero", **_money_axis(currency))
    elif column.endswith("roas"):
        fig.update_yaxes(rangemode="tozero", ticksuffix="×")
    periods = series["period"].drop_duplicates().sort_values()
    if len(periods) <= 16:  # few points (weeks): tick exactly on them
        fig.update_xaxes(tickvals=list(periods), tickformat="%d %b")
    return _layout(fig)


def forecast_band(
    actuals: pd.DataFrame,
    fc: pd.DataFrame,
    *,
    channel: str,
    currency: str | None,
    trained_through: date,
) -> go.Figure:
    """Actuals (`date`, `actual`) up to `trained_through`, then yhat with its [lower, upper] interval
    as a band."""
    color = CHANNEL_COLORS.get(channel, "#555555")
    level = fc["interval_level"].iloc[0] if len(fc) else None
    band = f"{level:.0%} interval" if not _missing(level) else "interval"
    hover = _money_hover(currency) if currency else "%{y:,.1f}"
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=actuals["date"],
            y=actuals["actual"],
            name="Actual",
            mode="lines",
            line={"color": "#444444", "width": 1.5},
            hovertemplate=hover,
        )
    )
    fig.add_trace(
        go.Scatter(
            x=fc["date"],
            y=fc["yhat_upper"],
            name=f"Upper ({band})",
            mode="lines",
            line={"width": 0},
            showlegend=False,
            hovertemplate=hover,
        )
    )
    fig.add_trace(
        go.Scatter(
            x=fc["date"],
            y=fc["yhat_lower"],
            name=band.capitalize(),
            mode="lines",
            line={"width": 0},
            fill="tonexty",
            fillcolor=_rgba(color, 0.22),
            hovertemplate=hover,
        )
    )
    fig.add_trace(
        go.Scatter(
            x=fc["date"],
            y=fc["yhat"],
            name="Forecast",
            mode="lines",
            line={"color": color, "width": 2, "dash": "dash"},
            hovertemplate=hover,
        )
    )
    cut = pd.Timestamp(trained_through)
    fig.add_vline(x=cut, line_width=1, line_dash="dot", line_color="#888888")
    fig.add_annotation(
        x=cut, y=1, yref="paper", text="trained through", showarrow=False, xanchor="right", yanchor="bottom"
    )
    if currency:
        fig.update_yaxes(rangemode="tozero", **_money_axis(currency))
    else:
        fig.update_yaxes(rangemode="tozero")
    return _layout(fig, height=360)


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r}, {g}, {b}, {alpha})"
