"""The shared frame around every page: snapshot checks, tenant selector, date range, freshness.

`app.py` calls `render()` once per rerun before running the page; pages call `filters()` to learn
which tenant and period they show. The selection lives in `st.session_state`, so it survives page
switches.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import streamlit as st

from dashboards import queries

FILTERS_KEY = "mos_filters"
TENANT_KEY = "tenant_id"
RANGE_KEY = "date_range"
DEFAULT_DAYS = 28
STALE_AFTER = timedelta(hours=36)
RUN_FIRST = "Run `make demo` first: it builds the warehouse and publishes the snapshot the dashboards read."


@dataclass(frozen=True)
class Filters:
    tenant_id: str
    tenant_name: str
    currency: str
    timezone: str
    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def filters() -> Filters:
    """The current selection; only valid inside a page run by `app.py`."""
    selection = st.session_state.get(FILTERS_KEY)
    if selection is None:
        st.error("Open the dashboards through `streamlit run dashboards/app.py`.")
        st.stop()
    return selection


def snapshot_problem(status: queries.SnapshotStatus | None = None, error: Exception | None = None) -> None:
    """A clear message instead of a traceback when the snapshot is absent, incomplete or unreadable."""
    if status is not None and not status.exists:
        st.info(f"**No data to show yet.** There is no serving snapshot at `{status.path}`.\n\n{RUN_FIRST}")
        st.caption(
            "The dashboards read the file named by `MOS_SERVING` "
            "(default `$MOS_HOME/serving/snapshot.duckdb`, `MOS_HOME` defaulting to `./data`)."
        )
        return
    if status is not None and (status.missing_tables or status.missing_columns):
        lines = [f"- table `{t}` is missing" for t in status.missing_tables]
        lines += [
            f"- table `{t}` lacks columns {', '.join(f'`{c}`' for c in cols)}"
            for t, cols in status.missing_columns.items()
        ]
        st.warning(
            f"**The serving snapshot at `{status.path}` is incomplete.**\n\n"
            + "\n".join(lines)
            + f"\n\nIt may come from an older pipeline version. {RUN_FIRST}"
        )
        return
    detail = str(error) if error is not None else (status.error if status is not None else "")
    st.error(
        f"**The serving snapshot cannot be read right now.** {detail}\n\n"
        "Reload in a moment (the pipeline may be publishing). If this persists, republish it with `make demo`."
    )


def render() -> Filters | None:
    """Draw the sidebar and return the selection, or None (with a message shown) when there is nothing
    to show."""
    status = queries.snapshot_status()
    if not status.ok:
        snapshot_problem(status)
        return None

    tenants = queries.tenants()
    if tenants.empty:
        st.info(f"The serving snapshot has no tenants yet. {RUN_FIRST}")
        return None
    by_id = tenants.set_index("tenant_id")

    with st.sidebar:
        st.header("Marketing OS")
        if st.session_state.get(TENANT_KEY) not in by_id.index:
            st.session_state[TENANT_KEY] = str(tenants["tenant_id"].iloc[0])
        tenant_id = st.selectbox(
            "Tenant",
            options=list(by_id.index),
            format_func=lambda t: str(by_id.at[t, "name"]),
            key=TENANT_KEY,
        )
        tenant = by_id.loc[tenant_id]

        first, last = queries.date_bounds(tenant_id)
        if first is None or last is None:
            st.info(f"No channel data for {tenant['name']} in this snapshot.")
            _freshness()
            return None
        _ensure_range(first, last)
        picked = st.date_input(
            "Date range",
            min_value=first,
            max_value=last,
            key=RANGE_KEY,
            format="YYYY-MM-DD",
            help=f"Data from {first:%Y-%m-%d} to {last:%Y-%m-%d}. KPIs compare with the equal period before.",
        )
        _freshness()

    if not isinstance(picked, tuple) or len(picked) != 2:
        st.info("Pick the end of the date range in the sidebar.")
        return None
    selection = Filters(
        tenant_id=str(tenant_id),
        tenant_name=str(tenant["name"]),
        currency=str(tenant["currency"]),
        timezone=str(tenant["timezone"]),
        start=picked[0],
        end=picked[1],
    )
    st.session_state[FILTERS_KEY] = selection
    return selection


def _ensure_range(first: date, last: date) -> None:
    """Default to the last four weeks; clamp a kept range into the (new) tenant's data."""
    kept = st.session_state.get(RANGE_KEY)
    default = (max(first, last - timedelta(days=DEFAULT_DAYS - 1)), last)
    if not isinstance(kept, tuple) or len(kept) != 2:
        st.session_state[RANGE_KEY] = default
        return
    start, end = min(max(kept[0], first), last), max(min(kept[1], last), first)
    if (start, end) != kept:
        st.session_state[RANGE_KEY] = (start, end) if start <= end else default


def _freshness() -> None:
    info = queries.snapshot_info()
    if info.empty or pd.isna(info.at[0, "published_at"]):
        st.caption("Snapshot: publish time unknown.")
        return
    published = pd.Timestamp(info.at[0, "published_at"])
    published = published.tz_localize("UTC") if published.tzinfo is None else published.tz_convert("UTC")
    age = datetime.now(UTC) - published.to_pydatetime()
    st.caption(
        f"Snapshot published {published:%Y-%m-%d %H:%M} UTC ({duration(age)} ago) · "
        f"run `{info.at[0, 'run_id']}`"
    )
    if age > STALE_AFTER:
        st.warning(
            f"The snapshot is {duration(age)} old: the daily pipeline may not have run.",
            icon=":material/schedule:",
        )


def duration(age: timedelta) -> str:
    """`5 min`, `7 h`, `3 days`."""
    minutes = max(int(age.total_seconds() // 60), 0)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} days"
