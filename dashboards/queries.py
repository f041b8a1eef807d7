"""The dashboards' one query module: every read of the serving snapshot goes through here.

The snapshot (docs/INTERFACES.md §6) is a DuckDB file that the pipeline replaces atomically, so:

- every read opens its own short-lived read-only connection and closes it at once; nothing holds the
  file open between reruns, and a reader sees either the old or the new file, never half of one;
- every value reaches SQL as a bound parameter (`?`), never through string formatting;
- results are cached with `st.cache_data(ttl=60)`, keyed by the arguments *and* the file's identity
  (path, inode, mtime, size), so a new snapshot shows up on the next rerun rather than after the TTL.

Each public function is a thin wrapper that adds the file identity to the key of a cached `_` twin.
Money comes back as float in the tenant's currency (the frame's `currency` column says which).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import streamlit as st

TTL_SECONDS = 60
CACHE = {"ttl": TTL_SECONDS, "max_entries": 512, "show_spinner": False}

# Tables and the columns the dashboards read from them (INTERFACES.md §6).
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "tenants": ("tenant_id", "name", "currency", "timezone"),
    "channel_daily": (
        "tenant_id",
        "date",
        "channel",
        "currency",
        "spend",
        "spend_usd",
        "impressions",
        "clicks",
        "platform_conversions",
        "platform_conversion_value",
        "attributed_conversions",
        "attributed_revenue",
        "roas",
        "platform_roas",
    ),
    "campaign_daily": (
        "tenant_id",
        "date",
        "platform",
        "campaign_id",
        "campaign_name",
        "currency",
        "spend",
        "impressions",
        "clicks",
        "platform_conversions",
        "platform_conversion_value",
    ),
    "forecast_channel_daily": (
        "tenant_id",
        "channel",
        "metric",
        "date",
        "yhat",
        "yhat_lower",
        "yhat_upper",
        "interval_level",
        "model",
        "trained_through",
    ),
    "forecast_backtest": (
        "tenant_id",
        "channel",
        "metric",
        "model",
        "mase",
        "baseline_mae",
        "model_mae",
        "n_origins",
        "horizon",
    ),
    "decisions": (
        "decision_id",
        "run_id",
        "tenant_id",
        "platform",
        "action",
        "entity_type",
        "entity_id",
        "campaign_id",
        "reason",
        "evidence",
        "expected_impact",
        "policy",
        "policy_version",
        "dry_run",
        "status",
        "created_at",
        "applied_at",
    ),
    "snapshot_info": ("published_at", "run_id", "warehouse_path"),
}

# Forecast metric -> the channel_daily column holding its actuals (in the order pages offer them).
FORECAST_ACTUALS = {
    "revenue": "attributed_revenue",
    "spend": "spend",
    "conversions": "attributed_conversions",
}

DECISION_STATUSES = ("proposed", "applied", "failed", "skipped")


# -- errors ---------------------------------------------------------------------------------------


class SnapshotError(Exception):
    """The snapshot cannot answer: the app shows `str(error)` instead of a traceback."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(message)
        self.path = path


class SnapshotMissing(SnapshotError):
    def __init__(self, path: Path) -> None:
        super().__init__(path, f"No serving snapshot at `{path}` yet.")


class SnapshotIncomplete(SnapshotError):
    pass


class SnapshotUnreadable(SnapshotError):
    pass


# -- the file -------------------------------------------------------------------------------------


def snapshot_path() -> Path:
    """`MOS_SERVING`, else `$MOS_HOME/serving/snapshot.duckdb` with `MOS_HOME` defaulting to `./data`.

    Read at every call (not at import), so tests and a changed environment take effect at once.
    """
    raw = os.environ.get("MOS_SERVING", "").strip()
    if raw:
        return Path(raw).expanduser().resolve()
    home = Path(os.environ.get("MOS_HOME", "").strip() or "data").expanduser()
    return (home / "serving" / "snapshot.duckdb").resolve()


def _file_key() -> tuple[str, int, int, int]:
    """What identifies one published snapshot: an atomic replace changes inode and mtime."""
    path = snapshot_path()
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise SnapshotMissing(path) from None
    return (str(path), stat.st_ino, stat.st_mtime_ns, stat.st_size)


@contextmanager
def _connect() -> Iterator[duckdb.DuckDBPyConnection]:
    path = snapshot_path()
    if not path.is_file():
        raise SnapshotMissing(path)
    try:
        # No replacement scans: a missing table must fail, not silently scan a Python variable that
        # happens to share its name (this module has functions called `tenants`, `decisions`...).
        con = duckdb.connect(str(path), read_only=True, config={"python_enable_replacements": False})
    except duckdb.Error as exc:
        raise SnapshotUnreadable(path, f"The serving snapshot at `{path}` cannot be opened: {exc}") from exc
    try:
        yield con
    except (duckdb.CatalogException, duckdb.BinderException) as exc:
        raise SnapshotIncomplete(
            path, f"The serving snapshot at `{path}` does not have what this page needs: {exc}"
        ) from exc
    finally:
        con.close()


def _frame(sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
    with _connect() as con:
        return con.execute(sql, list(params)).df()


# -- snapshot health ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SnapshotStatus:
    path: Path
    exists: bool
    missing_tables: tuple[str, ...] = ()
    missing_columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.exists and not self.missing_tables and not self.missing_columns and not self.error


def snapshot_status() -> SnapshotStatus:
    """Whether the snapshot exists and has every table and column the dashboards read."""
    try:
        return _snapshot_status(_file_key())
    except SnapshotMissing as exc:
        return SnapshotStatus(path=exc.path, exists=False)
    except SnapshotError as exc:
        return SnapshotStatus(path=exc.path, exists=True, error=str(exc))


@st.cache_data(**CACHE)
def _snapshot_status(file_key: tuple[str, int, int, int]) -> SnapshotStatus:
    present = _frame(
        "select table_name, column_name from information_schema.columns"
        " where table_schema = current_schema() and table_catalog = current_database()"
    )
    columns = present.groupby("table_name")["column_name"].agg(set).to_dict()
    missing_tables = tuple(t for t in REQUIRED_COLUMNS if t not in columns)
    missing_columns = {
        table: tuple(c for c in needed if c not in columns[table])
        for table, needed in REQUIRED_COLUMNS.items()
        if table in columns and not set(needed) <= columns[table]
    }
    return SnapshotStatus(
        path=Path(file_key[0]),
        exists=True,
        missing_tables=missing_tables,
        missing_columns=missing_columns,
    )


# -- reference data -------------------------------------------------------------------------------


def tenants() -> pd.DataFrame:
    """tenant_id, name, currency, timezone — ordered by name."""
    return _tenants(_file_key())


@st.cache_data(**CACHE)
def _tenants(file_key: tuple) -> pd.DataFrame:
    return _frame("select tenant_id, name, currency, timezone from tenants order by name, tenant_id")


def snapshot_info() -> pd.DataFrame:
    """The latest publish: one row of published_at (UTC), run_id, warehouse_path (empty if none)."""
    return _snapshot_info(_file_key())


@st.cache_data(**CACHE)
def _snapshot_info(file_key: tuple) -> pd.DataFrame:
    return _frame(
        "select published_at, run_id, warehouse_path from snapshot_info"
        " order by published_at desc nulls last limit 1"
    )


def date_bounds(tenant: str) -> tuple[date | None, date | None]:
    """First and last day with channel data for the tenant; (None, None) when it has none."""
    return _date_bounds(_file_key(), tenant)


@st.cache_data(**CACHE)
def _date_bounds(file_key: tuple, tenant: str) -> tuple[date | None, date | None]:
    with _connect() as con:
        row = con.execute(
            "select min(date), max(date) from channel_daily where tenant_id = ?", [tenant]
        ).fetchone()
    return (row[0], row[1]) if row else (None, None)


# -- KPIs -----------------------------------------------------------------------------------------


def previous_period(start: date, end: date) -> tuple[date, date]:
    """The equal-length period just before [start, end] (both ends inclusive)."""
    days = (end - start).days + 1
    return start - timedelta(days=days), start - timedelta(days=1)


KPI_METRICS = (
    # metric, label, which direction is good
    ("spend", "Spend", "neutral"),
    ("revenue", "Attributed revenue", "higher"),
    ("roas", "ROAS", "higher"),
    ("conversions", "Conversions", "higher"),
    ("cpa", "CPA", "lower"),
)


def kpis(tenant: str, start: date, end: date) -> pd.DataFrame:
    """One row per KPI: metric, label, good ('higher'|'lower'|'neutral'), value, previous, delta,
    delta_pct — the previous value from the equal period just before `start` (None when that period
    reaches back before the tenant's first day of data: a partial period is no comparison).

    Spend, revenue and conversions are warehouse numbers (attributed, last touch), all channels.
    ROAS and CPA are for paid media: attributed revenue / conversions of the channels that have spend
    in the snapshot, against their spend — organic revenue would otherwise flatter ROAS.
    """
    return _kpis(_file_key(), tenant, start, end)


@st.cache_data(**CACHE)
def _kpis(file_key: tuple, tenant: str, start: date, end: date) -> pd.DataFrame:
    prev_start, _ = previous_period(start, end)
    sql = """
        with paid as (
            select distinct channel from channel_daily where tenant_id = ? and spend > 0
        ),
        days as (
            select
                case when date >= ? then 'current' else 'previous' end as period,
                spend,
                attributed_revenue,
                attributed_conversions,
                channel in (select channel from paid) as is_paid,
            from channel_daily
            where tenant_id = ? and date between ? and ?
        ),
        totals as (
            select
                period,
                sum(spend)::double as spend,
                sum(attributed_revenue)::double as revenue,
                sum(attributed_conversions)::double as conversions,
                sum(attributed_revenue) filter (where is_paid)::double as paid_revenue,
                sum(attributed_conversions) filter (where is_paid)::double as paid_conversions,
            from days
            group by period
        )
        select
            period,
            spend,
            revenue,
            conversions,
            case when spend > 0 then paid_revenue / spend end as roas,
            case when paid_conversions > 0 then spend / paid_conversions end as cpa,
        from totals
    """
    totals = _frame(sql, [tenant, start, tenant, prev_start, end]).set_index("period")
    first_day, _ = _date_bounds(file_key, tenant)
    # A previous period that starts before the data does would compare against a partial period.
    comparable = first_day is not None and prev_start >= first_day
    rows = []
    for metric, label, good in KPI_METRICS:
        value = _cell(totals, "current", metric)
        previous = _cell(totals, "previous", metric) if comparable else None
        delta = value - previous if value is not None and previous is not None else None
        delta_pct = delta / abs(previous) if delta is not None and previous else None
        rows.append(
            {
                "metric": metric,
                "label": label,
                "good": good,
                "value": value,
                "previous": previous,
                "delta": delta,
                "delta_pct": delta_pct,
            }
        )
    return pd.DataFrame(rows)


def _cell(frame: pd.DataFrame, period: str, column: str) -> float | None:
    if period not in frame.index:
        return None
    value = frame.at[period, column]
    return None if pd.isna(value) else float(value)


# -- channels and campaigns -----------------------------------------------------------------------


def channel_daily(tenant: str, start: date, end: date) -> pd.DataFrame:
    """One row per (date, channel) in [start, end]; money as float in the tenant's currency."""
    return _channel_daily(_file_key(), tenant, start, end)


@st.cache_data(**CACHE)
def _channel_daily(file_key: tuple, tenant: str, start: date, end: date) -> pd.DataFrame:
    return _frame(
        """
        select
            date,
            channel,
            currency,
            spend::double as spend,
            spend_usd::double as spend_usd,
            impressions,
            clicks,
            platform_conversions::double as platform_conversions,
            platform_conversion_value::double as platform_conversion_value,
            attributed_conversions::double as attributed_conversions,
            attributed_revenue::double as attributed_revenue,
            roas::double as roas,
            platform_roas::double as platform_roas,
        from channel_daily
        where tenant_id = ? and date between ? and ?
        order by date, channel
        """,
        [tenant, start, end],
    )


def channel_summary(tenant: str, start: date, end: date) -> pd.DataFrame:
    """One row per channel over [start, end], ratios recomputed from sums (never averaged):
    ctr, warehouse `roas` (attributed revenue / spend), `platform_roas` (platform-reported value /
    spend) and `overclaim` (platform_roas / roas). Ordered by spend, then revenue."""
    return _channel_summary(_file_key(), tenant, start, end)


@st.cache_data(**CACHE)
def _channel_summary(file_key: tuple, tenant: str, start: date, end: date) -> pd.DataFrame:
    return _frame(
        """
        with sums as (
            select
                channel,
                sum(spend)::double as spend,
                sum(impressions)::bigint as impressions,
                sum(clicks)::bigint as clicks,
                sum(attributed_conversions)::double as attributed_conversions,
                sum(attributed_revenue)::double as attributed_revenue,
                sum(platform_conversions)::double as platform_conversions,
                sum(platform_conversion_value)::double as platform_conversion_value,
            from channel_daily
            where tenant_id = ? and date between ? and ?
            group by channel
        )
        select
            *,
            case when impressions > 0 then clicks / impressions end as ctr,
            case when spend > 0 then attributed_revenue / spend end as roas,
            case when spend > 0 then platform_conversion_value / spend end as platform_roas,
            case when spend > 0 and attributed_conversions > 0 then spend / attributed_conversions end as cpa,
            case when spend > 0 and attributed_revenue > 0
                then platform_conversion_value / attributed_revenue end as overclaim,
        from sums
        order by spend desc, attributed_revenue desc, channel
        """,
        [tenant, start, end],
    )


def campaign_daily(tenant: str, start: date, end: date) -> pd.DataFrame:
    """One row per (date, platform, campaign) in [start, end]; platform-reported numbers only."""
    return _campaign_daily(_file_key(), tenant, start, end)


@st.cache_data(**CACHE)
def _campaign_daily(file_key: tuple, tenant: str, start: date, end: date) -> pd.DataFrame:
    return _frame(
        """
        select
            date,
            platform,
            campaign_id,
            campaign_name,
            currency,
            spend::double as spend,
            impressions,
            clicks,
            platform_conversions::double as platform_conversions,
            platform_conversion_value::double as platform_conversion_value,
        from campaign_daily
        where tenant_id = ? and date between ? and ?
        order by date, platform, campaign_id
        """,
        [tenant, start, end],
    )


# -- forecasts ------------------------------------------------------------------------------------


def forecast(tenant: str) -> pd.DataFrame:
    """Every forecast row of the tenant: channel, metric, model, date, yhat, yhat_lower, yhat_upper,
    interval_level, trained_through."""
    return _forecast(_file_key(), tenant)


@st.cache_data(**CACHE)
def _forecast(file_key: tuple, tenant: str) -> pd.DataFrame:
    return _frame(
        """
        select
            channel,
            metric,
            model,
            date,
            yhat::double as yhat,
            yhat_lower::double as yhat_lower,
            yhat_upper::double as yhat_upper,
            interval_level::double as interval_level,
            trained_through,
        from forecast_channel_daily
        where tenant_id = ?
        order by channel, metric, model, date
        """,
        [tenant],
    )


def forecast_actuals(tenant: str, channel: str, metric: str, through: date, days: int = 90) -> pd.DataFrame:
    """The actuals a forecast continues: `date`, `actual` for the `days` days up to `through`."""
    if metric not in FORECAST_ACTUALS:
        raise ValueError(f"metric must be one of {tuple(FORECAST_ACTUALS)}, got {metric!r}")
    return _forecast_actuals(_file_key(), tenant, channel, metric, through, days)


@st.cache_data(**CACHE)
def _forecast_actuals(
    file_key: tuple, tenant: str, channel: str, metric: str, through: date, days: int
) -> pd.DataFrame:
    # The column is picked by a CASE over the metric (a bound value), so no identifier is formatted in.
    return _frame(
        """
        select
            date,
            case ?
                when 'spend' then spend
                when 'revenue' then attributed_revenue
                when 'conversions' then attributed_conversions
            end::double as actual,
        from channel_daily
        where tenant_id = ? and channel = ? and date between ? and ?
        order by date
        """,
        [metric, tenant, channel, through - timedelta(days=days - 1), through],
    )


def forecast_backtest(tenant: str) -> pd.DataFrame:
    """Backtest per (channel, metric, model): mase (< 1 beats the seasonal-naive baseline),
    baseline_mae, model_mae, n_origins, horizon."""
    return _forecast_backtest(_file_key(), tenant)


@st.cache_data(**CACHE)
def _forecast_backtest(file_key: tuple, tenant: str) -> pd.DataFrame:
    return _frame(
        """
        select
            channel,
            metric,
            model,
            mase::double as mase,
            baseline_mae::double as baseline_mae,
            model_mae::double as model_mae,
            n_origins,
            horizon,
        from forecast_backtest
        where tenant_id = ?
        order by channel, metric, model
        """,
        [tenant],
    )


# -- decisions ------------------------------------------------------------------------------------


def decisions(tenant: str, status: str | None = None, limit: int | None = None) -> pd.DataFrame:
    """The tenant's decisions, newest first; optionally only one status and the first `limit`."""
    if status is not None and status not in DECISION_STATUSES:
        raise ValueError(f"status must be one of {DECISION_STATUSES}, got {status!r}")
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    return _decisions(_file_key(), tenant, status, limit)


@st.cache_data(**CACHE)
def _decisions(file_key: tuple, tenant: str, status: str | None, limit: int | None) -> pd.DataFrame:
    return _frame(
        """
        select
            decision_id,
            run_id,
            platform,
            action,
            entity_type,
            entity_id,
            campaign_id,
            reason,
            evidence,
            expected_impact,
            policy,
            policy_version,
            dry_run,
            status,
            created_at,
            applied_at,
        from decisions
        where tenant_id = ? and (?::varchar is null or status = ?)
        order by created_at desc nulls last, decision_id
        limit coalesce(?::bigint, 9223372036854775807)
        """,
        [tenant, status, status, limit],
    )


# -- marketing science (issue 4: ml.mmm_*, ml.response_curves, ml.budget_plan, ml.attribution_channel) --
# These tables are optional in a snapshot (older pipelines lack them): `science_tables()` says which
# are present, and the Marketing science page explains what is missing instead of failing.

SCIENCE_TABLES = (
    "mmm_channel",
    "mmm_fit",
    "mmm_decomposition",
    "response_curves",
    "budget_plan",
    "attribution_channel",
    "mmm_calibration",
)


def science_tables() -> frozenset[str]:
    """Which of the marketing-science tables the snapshot has."""
    return _science_tables(_file_key())


@st.cache_data(**CACHE)
def _science_tables(file_key: tuple) -> frozenset[str]:
    present = _frame(
        "select table_name from information_schema.tables"
        " where table_schema = current_schema() and table_catalog = current_database()"
    )
    return frozenset(set(present["table_name"]) & set(SCIENCE_TABLES))


def mmm_channel(tenant: str, kpi: str) -> pd.DataFrame:
    """One row per channel of the tenant's media-mix model of `kpi`: ROI and marginal ROI with
    intervals, contribution, spend, fitted parameters."""
    return _mmm_channel(_file_key(), tenant, kpi)


@st.cache_data(**CACHE)
def _mmm_channel(file_key: tuple, tenant: str, kpi: str) -> pd.DataFrame:
    return _frame(
        """
        select channel, roi, roi_lower, roi_upper, mroi, mroi_lower, mroi_upper, contribution_share,
               spend::double as spend, contribution, decay, hill_k, hill_alpha, beta, fitted_at
        from mmm_channel
        where tenant_id = ? and kpi = ?
        order by spend desc, contribution desc, channel
        """,
        [tenant, kpi],
    )


def mmm_fit(tenant: str) -> pd.DataFrame:
    """The tenant's fit diagnostics, one row per KPI: r2, nrmse, oot_mape, n_days, grain."""
    return _mmm_fit(_file_key(), tenant)


@st.cache_data(**CACHE)
def _mmm_fit(file_key: tuple, tenant: str) -> pd.DataFrame:
    return _frame(
        "select kpi, r2, nrmse, oot_mape, n_days, grain from mmm_fit where tenant_id = ? order by kpi",
        [tenant],
    )


def mmm_decomposition(tenant: str, kpi: str, start: date, end: date) -> pd.DataFrame:
    """date, component, value for the tenant's KPI in [start, end] (weekly fits: weeks starting in it)."""
    return _mmm_decomposition(_file_key(), tenant, kpi, start, end)


@st.cache_data(**CACHE)
def _mmm_decomposition(file_key: tuple, tenant: str, kpi: str, start: date, end: date) -> pd.DataFrame:
    return _frame(
        """
        select date, component, value
        from mmm_decomposition
        where tenant_id = ? and kpi = ? and date between ? and ?
        order by date, component
        """,
        [tenant, kpi, start, end],
    )


def response_curves(tenant: str, kpi: str) -> pd.DataFrame:
    """channel, spend (per day), response (KPI per day), mroi on each paid channel's spend grid."""
    return _response_curves(_file_key(), tenant, kpi)


@st.cache_data(**CACHE)
def _response_curves(file_key: tuple, tenant: str, kpi: str) -> pd.DataFrame:
    return _frame(
        """
        select channel, spend, response, mroi
        from response_curves
        where tenant_id = ? and kpi = ?
        order by channel, spend
        """,
        [tenant, kpi],
    )


def budget_plan(tenant: str) -> pd.DataFrame:
    """The pipeline's budget recommendation: one row per channel plus a `total` row (per day)."""
    return _budget_plan(_file_key(), tenant)


@st.cache_data(**CACHE)
def _budget_plan(file_key: tuple, tenant: str) -> pd.DataFrame:
    return _frame(
        """
        select * exclude (tenant_id)
        from budget_plan
        where tenant_id = ?
        order by channel = 'total', recommended_spend desc, channel
        """,
        [tenant],
    )


def mmm_calibration(tenant: str, kpi: str) -> pd.DataFrame:
    """Each lift test the tenant's `kpi` model used: channel, start, end, treatment_spend_scale,
    control_spend_scale, measured, standard_error, modelled, modelled_lower, modelled_upper, z."""
    return _mmm_calibration(_file_key(), tenant, kpi)


@st.cache_data(**CACHE)
def _mmm_calibration(file_key: tuple, tenant: str, kpi: str) -> pd.DataFrame:
    return _frame(
        """
        select channel, start, "end", treatment_spend_scale, control_spend_scale, measured,
               standard_error, modelled, modelled_lower, modelled_upper, z
        from mmm_calibration
        where tenant_id = ? and kpi = ?
        order by channel, start, treatment_spend_scale, control_spend_scale
        """,
        [tenant, kpi],
    )


def attribution_channel(tenant: str) -> pd.DataFrame:
    """Every attribution model's credit per channel (period_start, period_end, model, channel,
    conversions, revenue, share) for the tenant's latest period."""
    return _attribution_channel(_file_key(), tenant)


@st.cache_data(**CACHE)
def _attribution_channel(file_key: tuple, tenant: str) -> pd.DataFrame:
    return _frame(
        """
        with latest as (
            select max(period_end) as period_end from attribution_channel where tenant_id = ?
        )
        select period_start, period_end, model, channel, conversions::double as conversions,
               revenue::double as revenue, share::double as share
        from attribution_channel
        where tenant_id = ? and period_end = (select period_end from latest)
        order by model, channel
        """,
        [tenant, tenant],
    )


# -- end marketing science -------------------------------------------------------------------------
