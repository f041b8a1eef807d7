"""The sandbox's experimentation programme: geo and holdout lift tests, and budget-scaling tests, on the
paid channels.

Every tenant runs `TESTS_PER_YEAR` experiments per paid channel per year of history (at least one),
each 2-4 weeks long (`DURATIONS_DAYS`), one per equal slot of the history so they spread over time
and never overlap on a channel. A measurement vendor reads each out `READOUT_DAYS` after it ends and
drops the result as CSV (`export_lift_tests`):

    <inbox>/lift_tests/<tenant_id>/<YYYY-MM-DD>.csv     one file per readout day (the drop day)

with the columns test_id, channel, method, kpi, start_date, end_date, incremental, standard_error,
treatment_spend_scale, control_spend_scale (one row per test and KPI: revenue in the tenant's currency,
conversions as a count). A test compares the channel run at `treatment_spend_scale` x its
business-as-usual spend against `control_spend_scale` x it; `incremental` = KPI(treatment) -
KPI(control) over the test days. A geo or holdout test is (1.0, 0.0): the channel's whole contribution.

Scale tests (method `scale`, test_id `ST-<TEN>-<nnn>`): per paid channel one per slot of the holdout
schedule, in the slot's days at least `SCALE_GAP_DAYS` clear of every holdout window of the channel
(21 or 28 days long, `SCALE_DURATIONS_DAYS`; a slot without room has none), designs alternating by slot
(`SCALE_DESIGNS`): even slots "+50 %" (1.5, 1.0), odd slots "-50 %" (1.0, 0.5, control geos at half
spend). They measure the top of the response curve - what a marginal ROI needs and a holdout leaves
open.

What a test measures: the channel's true incremental KPI over the test days, from the world's response
model, plus Gaussian measurement noise whose standard deviation is the stated `standard_error`. For a
holdout that is truth/channel_daily `incremental_revenue` / `incremental_conversions` summed over the
window, with `standard_error` = `RELATIVE_SE` x it (a design with ~10 % precision; the vendor states it
with the result). For a scale test it is

    sum_t beta_kpi * (hill(s_T * adstock_t) - hill(s_C * adstock_t))

over the window (adstock_t from truth/channel_daily, K, alpha, beta and revenue_per_conversion from
truth/channel_params; the revenue beta is beta x revenue_per_conversion): the long-run comparison, the
carry-over from before the window scaled alike, as the truth's marginal ROI is defined. Its
`standard_error` is `RELATIVE_SE` x the window's holdout contribution (not x the scale test's own
smaller effect): a geo design's noise scales with the market's KPI, not with the spend change, so a
scale test is relatively noisier than a holdout. Tests whose readout falls after the world's end are in
the truth but not dropped.

Ground truth: `truth/lift_tests` (one row per test and KPI: design, spend scales, measured and stated
error, true incremental and readout day). Randomness: its own stream
`np.random.default_rng([seed, STREAM, i])` per tenant (i = position in `presets.TENANTS`) for the
holdout/geo tests and `[seed, STREAM + 1, i]` for the scale tests, drawn after the world is simulated,
so adding the programme changes no other table of the world and the scale tests leave the holdout rows
bit-identical.
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
from connectors.sandbox.response import hill

STREAM = 20  # the generator numbers its streams from 1 up (plan, simulate, fx, ...): kept well clear
TESTS_PER_YEAR = 2.0  # per paid channel
DURATIONS_DAYS: tuple[int, ...] = (14, 21, 28)
READOUT_DAYS = 7  # the vendor's result lands this many days after the test's last day
RELATIVE_SE = 0.10
METHODS: tuple[str, ...] = ("geo", "holdout")
SCALE_METHOD = "scale"
SCALE_DURATIONS_DAYS: tuple[int, ...] = (21, 28)
SCALE_GAP_DAYS = 7  # days at least between a scale test and any holdout/geo window of its channel
# (treatment_spend_scale, control_spend_scale) by slot parity: "+50 %" on even slots, "-50 %" on odd.
SCALE_DESIGNS: tuple[tuple[float, float], ...] = ((1.5, 1.0), (1.0, 0.5))
HOLDOUT_SCALES = (1.0, 0.0)
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
    "treatment_spend_scale",
    "control_spend_scale",
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
    "treatment_spend_scale": pl.Float64(),
    "control_spend_scale": pl.Float64(),
}


def slots(first: date, last: date) -> list[tuple[date, date]]:
    """The equal slots of one channel's history between `first` and `last - READOUT_DAYS` (first and
    last day of each), one test per slot; none when the history is shorter than the longest test."""
    usable = (last - first).days + 1 - READOUT_DAYS
    if usable < max(DURATIONS_DAYS):
        return []
    n_tests = max(1, round(TESTS_PER_YEAR * usable / 365.25))
    slot = usable // n_tests
    return [
        (first + timedelta(days=i * slot), first + timedelta(days=(i + 1) * slot - 1)) for i in range(n_tests)
    ]


def schedule(first: date, last: date, rng: np.random.Generator) -> list[tuple[date, date]]:
    """Non-overlapping test windows of one channel between `first` and `last - READOUT_DAYS`."""
    windows = []
    for slot_start, slot_end in slots(first, last):
        slot = (slot_end - slot_start).days + 1
        duration = int(rng.choice([d for d in DURATIONS_DAYS if d <= slot] or [min(DURATIONS_DAYS)]))
        offset = int(rng.integers(0, max(slot - duration, 0) + 1))
        start = slot_start + timedelta(days=offset)
        windows.append((start, start + timedelta(days=duration - 1)))
    return windows


def scale_window(
    slot: tuple[date, date], holdouts: list[tuple[date, date]], rng: np.random.Generator
) -> tuple[date, date] | None:
    """A scale test's window in `slot`, `SCALE_GAP_DAYS` clear of every holdout window of the channel
    (None when the slot has no room for the shortest scale test)."""
    free = [slot]  # free day ranges, inclusive
    gap = timedelta(days=SCALE_GAP_DAYS)
    for h_start, h_end in holdouts:
        blocked_from, blocked_to = h_start - gap, h_end + gap
        pieces = []
        for a, b in free:
            if blocked_to < a or blocked_from > b:
                pieces.append((a, b))
                continue
            if blocked_from > a:
                pieces.append((a, blocked_from - timedelta(days=1)))
            if blocked_to < b:
                pieces.append((blocked_to + timedelta(days=1), b))
        free = pieces
    lengths = [(b - a).days + 1 for a, b in free]
    durations = [d for d in SCALE_DURATIONS_DAYS if any(n >= d for n in lengths)]
    if not durations:
        return None
    duration = int(rng.choice(durations))
    fits = [piece for piece, n in zip(free, lengths, strict=True) if n >= duration]
    a, b = fits[int(rng.integers(0, len(fits)))]
    start = a + timedelta(days=int(rng.integers(0, (b - a).days + 1 - duration + 1)))
    return start, start + timedelta(days=duration - 1)


def scaled_incremental(
    adstock: np.ndarray, params: dict[str, float], treatment_scale: float, control_scale: float
) -> dict[str, float]:
    """True incremental KPIs of running the channel at `treatment_scale` x its spend against
    `control_scale` x it over the days whose business-as-usual adstock is `adstock` (long run: the
    carry-over from before the window scaled alike)."""
    k, alpha = params["hill_k"], params["hill_alpha"]
    lift = hill(treatment_scale * adstock, k, alpha) - hill(control_scale * adstock, k, alpha)
    conversions = float(params["beta"] * lift.sum())
    revenue = float(params["beta"] * params["revenue_per_conversion"] * lift.sum())
    return {"conversions": conversions, "revenue": revenue}


def lift_tests_truth(
    channel_daily: pl.DataFrame,
    channel_params: pl.DataFrame,
    seed: int,
    world_end: date | None = None,
) -> pl.DataFrame:
    """Every tenant's lift tests on its paid channels (with spend) and what they measured: truth/lift_tests.

    `channel_daily` is truth/channel_daily, `channel_params` truth/channel_params (the response curve
    the scale tests measure); `world_end` defaults to channel_daily's last day."""
    world_end = world_end or channel_daily["date"].max()
    rows: list[dict[str, Any]] = []
    order = {spec.tenant_id: i for i, spec in enumerate(TENANTS, start=1)}
    tenants = sorted(channel_daily["tenant_id"].unique().to_list(), key=lambda t: (order.get(t, 999), t))
    for position, tenant in enumerate(tenants, start=1):
        index = order.get(tenant, 1000 + position)
        rng = np.random.default_rng([seed, STREAM, index])
        scale_rng = np.random.default_rng([seed, STREAM + 1, index])
        mine = channel_daily.filter(pl.col("tenant_id") == tenant)
        params = {
            r["channel"]: r
            for r in channel_params.filter(pl.col("tenant_id") == tenant).iter_rows(named=True)
        }
        tag = tenant[:3].upper()
        number = scale_number = 0
        for channel in PLATFORMS:
            series = mine.filter(pl.col("channel") == channel).sort("date")
            if series.height == 0 or float(series["spend"].sum()) <= 0:
                continue
            first, last = series["date"].min(), series["date"].max()
            holdouts = schedule(first, last, rng)
            for start, end in holdouts:
                number += 1
                method = str(rng.choice(METHODS))
                window = series.filter(pl.col("date").is_between(start, end))
                for kpi, column in KPI_COLUMNS.items():
                    true_value = float(window[column].sum())
                    se = RELATIVE_SE * abs(true_value)
                    measured = true_value + se * float(rng.standard_normal())
                    rows.append(
                        _row(tenant, f"LT-{tag}-{number:03d}", channel, method, kpi, start, end,
                             measured, se, true_value, HOLDOUT_SCALES)
                    )  # fmt: skip
            if not SCALE_DESIGNS:
                continue
            if channel not in params:
                raise ValueError(f"channel_params has no row for tenant {tenant!r}, channel {channel!r}")
            for i, slot in enumerate(slots(first, last)):
                placed = scale_window(slot, holdouts, scale_rng)
                if placed is None:
                    continue
                start, end = placed
                scale_number += 1
                scales = SCALE_DESIGNS[i % len(SCALE_DESIGNS)]
                window = series.filter(pl.col("date").is_between(start, end))
                truth = scaled_incremental(window["adstock"].to_numpy(), params[channel], *scales)
                for kpi, column in KPI_COLUMNS.items():
                    se = RELATIVE_SE * abs(float(window[column].sum()))
                    measured = truth[kpi] + se * float(scale_rng.standard_normal())
                    rows.append(
                        _row(tenant, f"ST-{tag}-{scale_number:03d}", channel, SCALE_METHOD, kpi, start, end,
                             measured, se, truth[kpi], scales)
                    )  # fmt: skip
    frame = pl.DataFrame(rows, schema=TRUTH_COLUMNS)
    return frame.filter(pl.col("readout_date") <= world_end).sort("tenant_id", "test_id", "kpi")


def _row(
    tenant: str,
    test_id: str,
    channel: str,
    method: str,
    kpi: str,
    start: date,
    end: date,
    measured: float,
    se: float,
    true_value: float,
    scales: tuple[float, float],
) -> dict[str, Any]:
    digits = 2 if kpi == "revenue" else 3
    return {
        "tenant_id": tenant,
        "test_id": test_id,
        "channel": channel,
        "method": method,
        "kpi": kpi,
        "start_date": start,
        "end_date": end,
        "readout_date": end + timedelta(days=READOUT_DAYS),
        "incremental": round(measured, digits),
        "standard_error": round(se, digits),
        "true_incremental": true_value,
        "treatment_spend_scale": scales[0],
        "control_spend_scale": scales[1],
    }


def world_lift_tests(state_or_world: Any) -> pl.DataFrame:
    """The world's truth/lift_tests, or (a world generated before the programme) derived from its
    truth/channel_daily with the world's seed."""
    world = getattr(state_or_world, "world", state_or_world)
    table = world.truth.get("lift_tests")
    if table is not None:
        return table
    cached = getattr(world, "_lift_tests_cache", None)
    if cached is None:
        cached = lift_tests_truth(
            world.truth["channel_daily"], world.truth["channel_params"], world.meta.seed, world.meta.end_date
        )
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
    "scaled_incremental",
    "world_lift_tests",
]
