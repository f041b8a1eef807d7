"""Mutable sandbox: the saved world plus a replayable mutation log.

`SandboxState(world_dir)` loads the generated world and replays `<world_dir>/state/mutations.jsonl`.
Writes (status, daily budget) change the entity tables at once and are logged with
`effective_date = today + 1`: they only shape days simulated later. `advance(days)` simulates new days
after `today` with the current statuses and budgets (same model as the generator, adstock and baseline
carried over, parameters from the saved truth) and appends their rows; past days never change.
Everything is deterministic given the world's seed and the log, so a fresh `SandboxState` on the same
directory rebuilds exactly the same world.
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from connectors.sandbox.channels import CHANNELS, PLATFORM_MODELS, PLATFORMS
from connectors.sandbox.generator import (
    STREAM_ADVANCE,
    STREAM_FX,
    attribution_shares,
    fx_rates,
    roi_table,
    site_pages,
    tidy,
)
from connectors.sandbox.plan import slugify
from connectors.sandbox.presets import TENANTS, get_preset
from connectors.sandbox.simulate import (
    AdInputs,
    ChannelParams,
    History,
    TenantCarry,
    TenantParams,
    baseline_shape,
    simulate_tenant,
)
from connectors.sandbox.world import World

ENTITY_TABLES: dict[str, tuple[str, str]] = {
    "campaign": ("campaigns", "campaign_id"),
    "ad_group": ("ad_groups", "ad_group_id"),
    "ad": ("ads", "ad_id"),
}
STATUSES = ("ACTIVE", "PAUSED")
BUDGET_OWNER = {m.name: m.budget_level for m in PLATFORM_MODELS}
HISTORY_DAYS = 60  # delivery rows before a new window that a lagged causal click may point to


class EntityNotFoundError(KeyError):
    """No campaign / ad group / ad with that id on that platform."""


class InvalidMutationError(ValueError):
    """A write the platform would reject (unknown status, budget on the wrong level, bad amount)."""


class SandboxState:
    def __init__(self, world_dir: Path | str):
        self.world_dir = Path(world_dir)
        self._world = World.load(self.world_dir)
        self._today = self._world.meta.end_date
        self._log_path = self.world_dir / "state" / "mutations.jsonl"
        self._lock = threading.RLock()
        self._seq = 0
        if self._log_path.exists():
            for number, line in enumerate(self._log_path.read_text().splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{self._log_path}:{number}: not a JSON mutation ({exc})") from exc
                self._apply(entry)
                self._seq = int(entry.get("seq", self._seq + 1))

    # ------------------------------------------------------------------ reads
    @property
    def world(self) -> World:
        return self._world

    @property
    def today(self) -> date:
        """The last simulated day."""
        return self._today

    def find_entity(self, platform: str, entity_id: str) -> dict | None:
        for entity_type, (table, id_col) in ENTITY_TABLES.items():
            frame = self._world.table(table)
            hit = frame.filter((pl.col("platform") == platform) & (pl.col(id_col) == str(entity_id)))
            if hit.height:
                return {**hit.row(0, named=True), "entity_type": entity_type}
        return None

    def touchpoints_for_day(self, day: date, tenant_id: str | None = None) -> pl.DataFrame:
        """Touchpoints whose event_ts falls on `day` in the tenant's time zone (one tenant or all)."""
        return touchpoints_for_day(self._world, day, tenant_id)

    # ------------------------------------------------------------------ writes
    def set_status(self, platform: str, entity_type: str, entity_id: str, status: str) -> dict:
        if status not in STATUSES:
            raise InvalidMutationError(f"status must be one of {STATUSES}, got {status!r}")
        return self._write("set_status", platform, entity_type, entity_id, status)

    def set_daily_budget(self, platform: str, entity_type: str, entity_id: str, amount: float) -> dict:
        owner = BUDGET_OWNER.get(platform)
        if entity_type != owner:
            raise InvalidMutationError(
                f"{platform} daily budgets live on the {owner}, not on a {entity_type}"
            )
        try:
            value = round(float(amount), 2)
        except (TypeError, ValueError):
            raise InvalidMutationError(f"daily budget must be a number, got {amount!r}") from None
        if not math.isfinite(value) or value < 0.01:
            raise InvalidMutationError(f"daily budget must be a positive amount, got {amount!r}")
        return self._write("set_daily_budget", platform, entity_type, entity_id, value)

    def advance(self, days: int = 1) -> None:
        """Simulate `days` new days after `today` with the current statuses and budgets."""
        if int(days) != days or days < 1:
            raise ValueError(f"days must be a positive integer, got {days!r}")
        with self._lock:
            start = self._today + timedelta(days=1)
            entry = {
                "op": "advance",
                "days": int(days),
                "from": start.isoformat(),
                "to": (self._today + timedelta(days=int(days))).isoformat(),
            }
            self._apply(entry)
            self._append_log(entry)

    # ------------------------------------------------------------------ internals
    def _write(self, op: str, platform: str, entity_type: str, entity_id: str, value) -> dict:
        if platform not in PLATFORMS:
            raise InvalidMutationError(f"platform must be one of {PLATFORMS}, got {platform!r}")
        if entity_type not in ENTITY_TABLES:
            raise InvalidMutationError(
                f"entity_type must be one of {tuple(ENTITY_TABLES)}, got {entity_type!r}"
            )
        with self._lock:
            entry = {
                "op": op,
                "platform": platform,
                "entity_type": entity_type,
                "entity_id": str(entity_id),
                "value": value,
                "effective_date": (self._today + timedelta(days=1)).isoformat(),
            }
            row = self._apply(entry)
            self._append_log(entry)
            return row

    def _append_log(self, entry: dict) -> None:
        self._seq += 1
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        with self._log_path.open("a") as fh:
            fh.write(json.dumps({"seq": self._seq, **entry}, sort_keys=True) + "\n")

    def _apply(self, entry: dict) -> dict | None:
        op = entry["op"]
        if op == "advance":
            expected = (self._today + timedelta(days=1)).isoformat()
            if entry["from"] != expected:
                raise ValueError(
                    f"mutation log out of order: advance from {entry['from']}, world is at {expected}"
                )
            self._world = advance_world(self._world, self._today, int(entry["days"]))
            self._today = self._today + timedelta(days=int(entry["days"]))
            return None
        table, id_col = ENTITY_TABLES[entry["entity_type"]]
        column = {"set_status": "status", "set_daily_budget": "daily_budget"}[op]
        frame = self._world.table(table)
        hit = (pl.col("platform") == entry["platform"]) & (pl.col(id_col) == entry["entity_id"])
        if not frame.select(hit.any()).item():
            raise EntityNotFoundError(
                f"no {entry['entity_type']} {entry['entity_id']!r} on {entry['platform']}"
            )
        value = pl.lit(entry["value"], dtype=frame.schema[column])
        frame = frame.with_columns(pl.when(hit).then(value).otherwise(pl.col(column)).alias(column))
        self._world = replace(self._world, **{table: frame})
        return {**frame.filter(hit).row(0, named=True), "entity_type": entry["entity_type"]}


def touchpoints_for_day(world: World, day: date, tenant_id: str | None = None) -> pl.DataFrame:
    """Touchpoints of `day` (tenant-local date of event_ts, which is stored as naive UTC)."""
    frames = []
    for tid, tz in world.tenants.select("tenant_id", "timezone").iter_rows():
        if tenant_id is not None and tid != tenant_id:
            continue
        local_day = pl.col("event_ts").dt.replace_time_zone("UTC").dt.convert_time_zone(tz).dt.date()
        frames.append(world.touchpoints.filter((pl.col("tenant_id") == tid) & (local_day == day)))
    if not frames:
        return world.touchpoints.clear()
    return pl.concat(frames)


# ---------------------------------------------------------------------- simulation of new days
def advance_world(world: World, today: date, days: int) -> World:
    """A copy of `world` with `days` more days simulated after `today`."""
    first = today + timedelta(days=1)
    dates = np.arange(np.datetime64(first, "D"), np.datetime64(first, "D") + days)
    preset = get_preset(world.meta.preset)
    specs = {spec.tenant_id: spec for spec in TENANTS}
    truth = world.truth
    new: dict[str, list[pl.DataFrame]] = {}
    for row in truth["tenant_params"].sort("tenant_num").iter_rows(named=True):
        tp = TenantParams.from_row(row)
        spec = specs[tp.tenant_id]
        cp = ChannelParams.from_frame(truth["channel_params"].filter(pl.col("tenant_id") == tp.tenant_id))
        ads, budgets, owner_platform = _inputs_from_tables(world, tp.tenant_id, dates)
        result = simulate_tenant(
            tp=tp,
            cp=cp,
            aov=spec.aov,
            nonpaid_ratio=preset.nonpaid_ratio,
            site_pages=site_pages(spec),
            ads=ads,
            budgets=budgets,
            owner_platform=owner_platform,
            dates=dates,
            carry=_carry(world, tp, today),
            rng=np.random.default_rng(
                [world.meta.seed, STREAM_ADVANCE, tp.tenant_num, first.toordinal(), days]
            ),
            history=_history(world, tp.tenant_id, ads, first),
        )
        for name in (
            "delivery",
            "contacts",
            "deals",
            "touchpoints",
            "channel_daily",
            "baseline_daily",
            "conversions",
            "lead_propensity",
        ):
            new.setdefault(name, []).append(getattr(result, name))
    last_rates = dict(
        world.fx_rates.filter(pl.col("date") == today).select("currency", "rate_to_usd").iter_rows()
    )
    fx_rng = np.random.default_rng([world.meta.seed, STREAM_FX, first.toordinal(), days])
    new["fx_rates"] = [fx_rates(dates, fx_rng, previous=last_rates)]

    def extended(name: str, current: pl.DataFrame) -> pl.DataFrame:
        return pl.concat([current, tidy(name, pl.concat(new[name]))], rechunk=False)

    tables = {
        name: extended(name, world.table(name))
        for name in ("delivery", "contacts", "deals", "touchpoints", "fx_rates")
    }
    new_truth = dict(truth)
    for name in ("channel_daily", "baseline_daily", "conversions", "lead_propensity"):
        new_truth[name] = extended(name, truth[name])
    if (
        "campaign_budgets" in truth
    ):  # the plan as the change logs (Meta activities, Google change_event) show it
        new_truth["campaign_budgets"] = tidy(
            "campaign_budgets",
            pl.concat(
                [truth["campaign_budgets"], *(_planned_budgets(world, tid, dates) for tid in specs)],
                how="vertical_relaxed",
            ),
        )
    new_truth["roi"] = tidy("roi", roi_table(truth["channel_params"], new_truth["channel_daily"]))
    new_truth["attribution_shares"] = tidy("attribution_shares", attribution_shares(new_truth["conversions"]))
    meta = replace(world.meta, end_date=today + timedelta(days=days))
    return replace(world, meta=meta, truth=new_truth, **tables)


def _inputs_from_tables(
    world: World, tenant_id: str, dates: np.ndarray
) -> tuple[AdInputs, np.ndarray, np.ndarray]:
    """Ads of a tenant as simulation inputs: live if the ad, its ad group and campaign are ACTIVE and
    the campaign's flight covers the day; budgets constant at the current daily_budget."""
    n_days = len(dates)
    first = dates[0].astype("datetime64[D]").astype(np.int64)
    camps = world.campaigns.filter(pl.col("tenant_id") == tenant_id).with_row_index("camp_row")
    groups = world.ad_groups.filter(pl.col("tenant_id") == tenant_id).with_row_index("group_row")
    params = world.truth["ad_params"].filter(pl.col("tenant_id") == tenant_id).drop("tenant_id")
    ads = (
        world.ads.filter(pl.col("tenant_id") == tenant_id)
        .join(params, on=["platform", "ad_id"], how="left", validate="1:1", maintain_order="left")
        .join(
            camps.select(
                "platform",
                "campaign_id",
                "camp_row",
                pl.col("status").alias("campaign_status"),
                "start_date",
                "end_date",
                "campaign_name",
            ),
            on=["platform", "campaign_id"],
            how="left",
            maintain_order="left",
        )
        .join(
            groups.select("platform", "ad_group_id", "group_row", pl.col("status").alias("group_status")),
            on=["platform", "ad_group_id"],
            how="left",
            maintain_order="left",
        )
    )
    if ads["delivery_weight"].null_count():
        raise ValueError(
            f"ads of {tenant_id} without truth/ad_params rows: was the world generated by this version?"
        )

    def day_index(col: str) -> np.ndarray:
        return ads[col].cast(pl.Date).cast(pl.Int64).to_numpy() - first

    live = (
        (ads["status"] == "ACTIVE") & (ads["group_status"] == "ACTIVE") & (ads["campaign_status"] == "ACTIVE")
    ).to_numpy()
    launch = day_index("launch_date")
    start = day_index("start_date")
    end = ads["end_date"].cast(pl.Int64).fill_null(10**9).to_numpy() - first
    active_from = np.maximum(np.maximum(launch, start), 0)
    active_to = np.where(live, np.minimum(end, n_days - 1), -1)

    platform = ads["platform"].replace_strict(list(PLATFORMS), list(range(len(PLATFORMS)))).to_numpy()
    # Budget owners: ad groups on ad-group-budget platforms, then campaigns on campaign-budget ones.
    group_level = [m.name for m in PLATFORM_MODELS if m.budget_level == "ad_group"]
    owner_groups = groups.filter(pl.col("platform").is_in(group_level))
    owner_camps = camps.filter(~pl.col("platform").is_in(group_level))
    group_owner = np.full(groups.height, -1)
    group_owner[owner_groups["group_row"].to_numpy()] = np.arange(owner_groups.height)
    camp_owner = np.full(camps.height, -1)
    camp_owner[owner_camps["camp_row"].to_numpy()] = owner_groups.height + np.arange(owner_camps.height)
    by_group = ads["platform"].is_in(group_level).to_numpy()
    owner = np.where(
        by_group, group_owner[ads["group_row"].to_numpy()], camp_owner[ads["camp_row"].to_numpy()]
    )
    daily = np.concatenate(
        [
            owner_groups["daily_budget"].fill_null(0.0).to_numpy(),
            owner_camps["daily_budget"].fill_null(0.0).to_numpy(),
        ]
    )
    budgets = np.repeat(daily[:, None], n_days, axis=1)
    owner_platform = (
        pl.concat([owner_groups["platform"], owner_camps["platform"]])
        .replace_strict(list(PLATFORMS), list(range(len(PLATFORMS))))
        .cast(pl.Int8)
        .to_numpy()
    )

    inputs = AdInputs(
        frame=ads.select("tenant_id", "platform", "account_id", "campaign_id", "ad_group_id", "ad_id"),
        platform=platform.astype(np.int8),
        campaign=ads["camp_row"].cast(pl.Int64).to_numpy(),
        owner=owner,
        active_from=active_from,
        active_to=active_to,
        launch_day=launch,
        weight=ads["delivery_weight"].to_numpy(),
        ctr_base=ads["ctr_base"].to_numpy(),
        cpm_base=ads["cpm_base"].to_numpy(),
        fatigue_halflife=ads["fatigue_halflife_days"].to_numpy(),
        fatigue_floor=ads["fatigue_floor"].to_numpy(),
        fatigue_onset=ads["fatigue_onset_days"].cast(pl.Float64).fill_null(float("nan")).to_numpy(),
        campaign_slug=slugify(ads["campaign_name"]),
        landing_page=ads["landing_page"],
    )
    return inputs, budgets, owner_platform


def _planned_budgets(world: World, tenant_id: str, dates: np.ndarray) -> pl.DataFrame:
    """truth/campaign_budgets rows of the new days: each ACTIVE campaign inside its flight with the
    current daily budgets of its ACTIVE budget owners summed (as `advance` serves them), so budget
    writes (the activation layer's rebalances) appear in the platforms' change logs from the day they
    take effect."""
    group_level = [m.name for m in PLATFORM_MODELS if m.budget_level == "ad_group"]
    camps = world.campaigns.filter((pl.col("tenant_id") == tenant_id) & (pl.col("status") == "ACTIVE"))
    owners = pl.concat(
        [
            world.ad_groups.filter(
                (pl.col("tenant_id") == tenant_id)
                & pl.col("platform").is_in(group_level)
                & (pl.col("status") == "ACTIVE")
            ).select("platform", "campaign_id", "daily_budget"),
            camps.filter(~pl.col("platform").is_in(group_level)).select(
                "platform", "campaign_id", "daily_budget"
            ),
        ]
    )
    per_campaign = owners.group_by("platform", "campaign_id").agg(pl.col("daily_budget").fill_null(0.0).sum())
    days = pl.DataFrame({"date": pl.Series(dates.astype("datetime64[D]")).cast(pl.Date)})
    return (
        camps.select("tenant_id", "platform", "campaign_id", "start_date", "end_date")
        .join(per_campaign, on=["platform", "campaign_id"])
        .join(days, how="cross")
        .filter(
            (pl.col("daily_budget") > 0)
            & (pl.col("date") >= pl.col("start_date"))
            & (pl.col("end_date").is_null() | (pl.col("date") <= pl.col("end_date")))
        )
        .select("tenant_id", "platform", "campaign_id", "date", pl.col("daily_budget").cast(pl.Float64))
    )


def _carry(world: World, tp: TenantParams, today: date) -> TenantCarry:
    truth = world.truth
    last = truth["channel_daily"].filter((pl.col("tenant_id") == tp.tenant_id) & (pl.col("date") == today))
    adstock = dict(last.select("channel", "adstock").iter_rows())
    base = truth["baseline_daily"].filter((pl.col("tenant_id") == tp.tenant_id) & (pl.col("date") == today))
    if base.height != 1 or len(adstock) != len(CHANNELS):
        raise ValueError(f"truth has no row for {tp.tenant_id} on {today}: cannot continue the simulation")
    shape = baseline_shape(tp, np.array([np.datetime64(today, "D")]))[0]
    z = float(np.log(base["baseline_conversions"][0] / (tp.baseline_level * shape)))
    contacts = world.contacts.filter(pl.col("tenant_id") == tp.tenant_id)
    deals = world.deals.filter(pl.col("tenant_id") == tp.tenant_id)
    return TenantCarry(
        adstock=tuple(adstock[c] for c in CHANNELS),
        baseline_z=z,
        next_contact_id=int(contacts["contact_id"].cast(pl.Int64).max() or 0),
        next_deal_id=int(deals["deal_id"].cast(pl.Int64).max() or 0),
        contact_seq=contacts.height,
    )


def _history(world: World, tenant_id: str, ads: AdInputs, first: date) -> History:
    since = first - timedelta(days=HISTORY_DAYS)
    rows = (
        world.delivery.filter(
            (pl.col("tenant_id") == tenant_id) & (pl.col("date") >= since) & (pl.col("date") < first)
        )
        .select("platform", "ad_id", "date", "clicks")
        .join(
            ads.frame.select("platform", "ad_id").with_row_index("ad"),
            on=["platform", "ad_id"],
            how="inner",
            maintain_order="left",
        )
    )
    return History(
        ad=rows["ad"].cast(pl.Int64).to_numpy(),
        platform=rows["platform"].replace_strict(list(PLATFORMS), list(range(len(PLATFORMS)))).to_numpy(),
        day=rows["date"].cast(pl.Int64).to_numpy() - (first - date(1970, 1, 1)).days,
        clicks=rows["clicks"].to_numpy(),
    )
