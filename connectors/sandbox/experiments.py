"""The sandbox's experimentation programme: geo and holdout lift tests on the paid channels.

Every tenant runs `TESTS_PER_YEAR` experiments per paid channel per year of history (at least one),
each 2-4 weeks long (`DURATIONS_DAYS`), one per equal slot of the history so they spread over time
and never overlap on a channel. A measurement vendor reads each out `READOUT_DAYS` after it ends and
drops the result as CSV (`export_lift_tests`):

    <inbox>/lift_tests/<tenant_id>/<YYYY-MM-DD>.csv     one file per readout day (the drop day)

with the columns test_id, channel, method, kpi, start_date, end_date, incremental, standard_error
(one row per test and KPI: revenue in the tenant's currency, conversions as a count).

What a test measures: the channel's true incremental KPI over the test days, from the world's response
model (truth/channel_daily `incremental_revenue` / `incremental_conversions`), plus Gaussian
measurement noise whose standard deviation is the stated `standard_error` = `RELATIVE_SE` x the true
incremental (a design with ~10 % precision; the vendor states it with the result). Tests whose readout
falls after the world's end are in the truth but not dropped.

Ground truth: `truth/lift_tests` (one row per test and KPI: design, measured and stated error, true
incremental and readout day). Randomness: its own stream `np.random.default_rng([seed, STREAM, i])`
per tenant (i = position in `presets.TENANTS`), drawn after the world is simulated, so adding the
programme changes no other table of the world.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from connectors.sandbox.channels import PLATFORMS
from connectors.sandbox.presets import TENANTS

STREAM = 20  # the generator numbers its streams from 1 up (plan, simulate, fx, ...): kept well clear
TESTS_PER_YEAR = 2.0  # per paid channel
DURATIONS_DAYS: tuple[int, ...] = (14, 21, 28)
READOUT_DAYS = 7  # the vendor's result lands this many days after the test's last day
RELATIVE_SE = 0.10
METHODS: tuple[str, ...] = ("geo", "holdout")
KPI_COLUMNS = {"revenue": "incremental_revenue", "conversions": "incremental_conversions"}
DROP_COLUMNS: tuple[str, ...] = (
    "test_id",
    "channel",
    "method",
    "kpi",
    "start_date",
    "end_date",
    "incremental",
    "standard_error",
)
TRUTH_COLUMNS: dict[str, pl.DataType] = {
    "tenant_id": pl.String(),
    "test_id": pl.String(),
    "channel": pl.String(),
    "method": pl.String(),
    "kpi": pl.String(),
    "start_date": pl.Date(),
    "end_date": pl.Date(),
    "readout_date": pl.Date(),
    "incremental": pl.Float64(),
    "standard_error": pl.Float64(),
    "true_incremental": pl.Float64(),
}


def schedule(first: date, last: date, rng: np.random.Generator) -> list[tuple[date, date]]:
    """Non-overlapping test windows of one channel between `first` and `last - READOUT_DAYS`."""
    usable = (last - first).days + 1 - READOUT_DAYS
    if usable < max(DURATIONS_DAYS):
        return []
    n_tests = max(1, round(TESTS_PER_YEAR * usable / 365.25))
    slot = usable // n_tests
    windows = []
    for i in range(n_tests):
        duration = int(rng.choice([d for d in DURATIONS_DAYS if d <= slot] or [min(DURATIONS_DAYS)]))
        offset = int(rng.integers(0, max(slot - duration, 0) + 1))
        start = first + timedelta(days=i * slot + offset)
        windows.append((start, start + timedelta(days=duration - 1)))
    return windows


def lift_tests_truth(channel_daily: pl.DataFrame, seed: int, world_end: date | None = None) -> pl.DataFrame:
    """Every tenant's lift tests on its paid channels (with spend) and what they measured: truth/lift_tests.

    `channel_daily` is truth/channel_daily; `world_end` defaults to its last day."""
    world_end = world_end or channel_daily["date"].max()
    rows: list[dict[str, Any]] = []
    order = {spec.tenant_id: i for i, spec in enumerate(TENANTS, start=1)}
    tenants = sorted(channel_daily["tenant_id"].unique().to_list(), key=lambda t: (order.get(t, 999), t))
    for position, tenant in enumerate(tenants, start=1):
        rng = np.random.default_rng([seed, STREAM, order.get(tenant, 1000 + position)])
        mine = channel_daily.filter(pl.col("tenant_id") == tenant)
        number = 0
        for channel in PLATFORMS:
            series = mine.filter(pl.col("channel") == channel).sort("date")
            if series.height == 0 or float(series["spend"].sum()) <= 0:
                continue
            for start, end in schedule(series["date"].min(), series["date"].max(), rng):
                number += 1
                method = str(rng.choice(METHODS))
                window = series.filter(pl.col("date").is_between(start, end))
                for kpi, column in KPI_COLUMNS.items():
                    true_value = float(window[column].sum())
                    se = RELATIVE_SE * abs(true_value)
                    measured = true_value + se * float(rng.standard_normal())
                    rows.append(
                        {
                            "tenant_id": tenant,
                            "test_id": f"LT-{tenant[:3].upper()}-{number:03d}",
                            "channel": channel,
                            "method": method,
                            "kpi": kpi,
                            "start_date": start,
                            "end_date": end,
                            "readout_date": end + timedelta(days=READOUT_DAYS),
                            "incremental": round(measured, 2 if kpi == "revenue" else 3),
                            "standard_error": round(se, 2 if kpi == "revenue" else 3),
                            "true_incremental": true_value,
                        }
                    )
    frame = pl.DataFrame(rows, schema=TRUTH_COLUMNS)
    return frame.filter(pl.col("readout_date") <= world_end).sort("tenant_id", "test_id", "kpi")


def world_lift_tests(state_or_world: Any) -> pl.DataFrame:
    """The world's truth/lift_tests, or (a world generated before the programme) derived from its
    truth/channel_daily with the world's seed."""
    world = getattr(state_or_world, "world", state_or_world)
    table = world.truth.get("lift_tests")
    if table is not None:
        return table
    cached = getattr(world, "_lift_tests_cache", None)
    if cached is None:
        cached = lift_tests_truth(world.truth["channel_daily"], world.meta.seed, world.meta.end_date)
        world._lift_tests_cache = cached
    return cached


def lift_tests_drop_path(inbox: Path, tenant_id: str, day: date) -> Path:
    return Path(inbox) / "lift_tests" / tenant_id / f"{day.isoformat()}.csv"


def export_lift_tests(
    state_or_world: Any, inbox: Path, start: date, end: date, tenants: Iterable[str] | None = None
) -> list[Path]:
    """Write the vendor's drop of every readout day in [start, end] (days without a readout get no file)."""
    table = world_lift_tests(state_or_world).filter(pl.col("readout_date").is_between(start, end))
    if tenants is not None:
        table = table.filter(pl.col("tenant_id").is_in(list(tenants)))
    paths = []
    for (tenant, day), part in sorted(table.partition_by("tenant_id", "readout_date", as_dict=True).items()):
        path = lift_tests_drop_path(inbox, str(tenant), day)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = part.sort("test_id", "kpi").select(DROP_COLUMNS).write_csv()
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text)
        tmp.replace(path)
        paths.append(path)
    return paths


__all__ = [
    "DROP_COLUMNS",
    "RELATIVE_SE",
    "TRUTH_COLUMNS",
    "export_lift_tests",
    "lift_tests_drop_path",
    "lift_tests_truth",
    "world_lift_tests",
]
