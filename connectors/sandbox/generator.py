"""Generate the sandbox world: `generate_world(preset, seed)` and `ensure_world(preset, seed, root)`.

Deterministic: every random draw comes from a numpy Generator seeded by (seed, stream, tenant, ...),
tables are sorted before saving, and `World.save` writes Parquet without timestamps, so the same
preset and seed give byte-identical files. See README.md for the world model and the truth files.
"""

from __future__ import annotations

import os
import shutil
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from connectors.sandbox.channels import CHANNELS, NONPAID, PLATFORM_MODELS, PLATFORMS
from connectors.sandbox.experiments import lift_tests_truth
from connectors.sandbox.media import (
    NonPaidChannel,
    OwnedMedia,
    build_default_owned_media,
    conform_clicks,
    owned_account_ids,
)
from connectors.sandbox.plan import (
    ANOMALY_KINDS,
    ANOMALY_LOOKBACK,
    build_accounts,
    build_tenant_plan,
    plan_anomalies,
)
from connectors.sandbox.presets import TENANTS, Preset, TenantSpec, get_preset
from connectors.sandbox.response import roi_and_mroi
from connectors.sandbox.schema import TRUTH_SCHEMAS, WORLD_SCHEMAS, conform
from connectors.sandbox.simulate import (
    AdInputs,
    TenantCarry,
    TenantParams,
    TenantResult,
    simulate_tenant,
)
from connectors.sandbox.world import World, WorldMeta, world_dir

try:  # the richer owned-media builder (helper "owned"), when present
    from connectors.sandbox.owned import build_owned_media as _build_owned
except ImportError:  # pragma: no cover - depends on which branches are merged
    _build_owned = build_default_owned_media
try:  # consent, archiving, erasure requests, offline conversions (helper "files"), when present
    from connectors.sandbox.crm_extras import add_crm_extras as _add_crm_extras
except ImportError:  # pragma: no cover
    _add_crm_extras = None

GENERATOR_VERSION = "2"
FX_BASE = {"EUR": 1.08}

# Random streams: np.random.default_rng([seed, STREAM, ...]).
STREAM_PLAN, STREAM_SIMULATE, STREAM_FX, STREAM_ADVANCE = 1, 2, 3, 4
STREAM_OWNED, STREAM_ANOMALY, STREAM_CRM = 5, 6, 7

SORT_KEYS: dict[str, list[str]] = {
    "tenants": ["tenant_id"],
    "accounts": ["tenant_id", "platform"],
    "campaigns": ["tenant_id", "platform", "campaign_id"],
    "ad_groups": ["tenant_id", "platform", "campaign_id", "ad_group_id"],
    "ads": ["tenant_id", "platform", "campaign_id", "ad_group_id", "ad_id"],
    "delivery": ["tenant_id", "date", "platform", "ad_id"],
    "fx_rates": ["date", "currency"],
    "contacts": ["tenant_id", "created_at", "contact_id"],
    "deals": ["tenant_id", "createdate", "deal_id"],
    "touchpoints": ["tenant_id", "event_ts", "event_id"],
    "email_campaigns": ["tenant_id", "send_time", "email_campaign_id"],
    "social_posts": ["tenant_id", "created_at", "platform", "post_id"],
    "social_mentions": ["tenant_id", "created_at", "platform", "mention_id"],
    "influencers": ["tenant_id", "platform", "influencer_id"],
    "erasure_requests": ["tenant_id", "requested_at", "request_id"],
    "offline_conversions": ["tenant_id", "conversion_ts", "order_id"],
    "channel_params": ["tenant_id", "channel"],
    "channel_daily": ["tenant_id", "date", "channel"],
    "baseline_daily": ["tenant_id", "date"],
    "roi": ["tenant_id", "channel"],
    "conversions": ["tenant_id", "date", "deal_id"],
    "ad_params": ["tenant_id", "platform", "ad_id"],
    "tenant_params": ["tenant_id"],
    "lead_propensity": ["tenant_id", "contact_id"],
    "attribution_shares": ["tenant_id", "channel"],
    "anomalies": ["tenant_id", "anomaly_id"],
    "campaign_budgets": ["tenant_id", "platform", "campaign_id", "date"],
    "mention_sentiment": ["mention_id"],
    "lift_tests": ["tenant_id", "test_id", "kpi"],
}


def tidy(name: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Schema-conform (for the documented tables) and sorted: the saved form of a table."""
    schema = WORLD_SCHEMAS.get(name) or TRUTH_SCHEMAS.get(name)
    if schema is not None:
        frame = conform(frame, schema)
    if name == "touchpoints" and _touchpoints_sorted(frame):
        return frame  # simulate_tenant emits them in order; sorting 1e6+ rows by strings is slow
    return frame.sort(SORT_KEYS.get(name, frame.columns[:1]), maintain_order=True)


def _touchpoints_sorted(frame: pl.DataFrame) -> bool:
    """Tenants in order and, within each, event_ts non-decreasing (event ids rise with time)."""
    if not frame["tenant_id"].is_sorted():
        return False
    checked = frame.select(
        ok=(pl.col("event_ts") >= pl.col("event_ts").shift())
        | (pl.col("tenant_id") != pl.col("tenant_id").shift())
    )
    return bool(checked["ok"].fill_null(True).all())


def site_pages(spec: TenantSpec) -> list[str]:
    pages = ["/", "/about", "/sale", "/blog", "/stores", "/faq"]
    for cat in spec.categories:
        pages += [f"/collections/{cat}", f"/blog/{cat}-guide"] + [f"/products/{cat}-{k}" for k in range(1, 5)]
    return pages


def draw_tenant_params(
    spec: TenantSpec, tenant_num: int, preset: Preset, rng: np.random.Generator
) -> TenantParams:
    weekly = np.array([1.04, 1.06, 1.03, 1.0, 0.95, 0.9, 1.02]) * rng.lognormal(0.0, 0.02, 7)
    weekly = weekly / weekly.mean()
    peak1 = 2 * np.pi * (spec.yearly_peaks[0] - 0.5) / 12
    peak2 = 2 * np.pi * (spec.yearly_peaks[-1] - 0.5) / 12
    a1, a2 = rng.uniform(0.12, 0.22), rng.uniform(0.04, 0.1)
    shares = np.array([spec.incremental_shares[c] for c in CHANNELS]) * rng.lognormal(
        0.0, 0.08, len(CHANNELS)
    )
    return TenantParams(
        tenant_id=spec.tenant_id,
        tenant_num=tenant_num,
        currency=spec.currency,
        timezone=spec.timezone,
        roas_target=float(rng.uniform(*spec.roas)),
        incremental_share_target=float(rng.uniform(*spec.incremental_share)),
        aov_sigma=spec.aov_sigma,
        revenue_per_conversion_baseline=float(spec.aov * rng.lognormal(0.0, 0.03)),
        baseline_level=float("nan"),
        trend_per_year=float(rng.uniform(0.03, 0.15)),
        reference_date=preset.start_date,
        weekly_mon=float(weekly[0]),
        weekly_tue=float(weekly[1]),
        weekly_wed=float(weekly[2]),
        weekly_thu=float(weekly[3]),
        weekly_fri=float(weekly[4]),
        weekly_sat=float(weekly[5]),
        weekly_sun=float(weekly[6]),
        yearly_cos1=float(a1 * np.cos(peak1)),
        yearly_sin1=float(a1 * np.sin(peak1)),
        yearly_cos2=float(a2 * np.cos(2 * peak2)),
        yearly_sin2=float(a2 * np.sin(2 * peak2)),
        black_friday_lift=float(rng.uniform(0.25, 0.5)),
        noise_rho=0.6,
        noise_sd=0.06,
        lead_ratio=preset.lead_ratio,
        sessions_per_baseline_conversion=float("nan"),
        incremental_share=tuple(float(x) for x in shares / shares.sum()),
        land_rate=tuple(float(rng.uniform(*m.land_rate)) for m in PLATFORM_MODELS),
        view_through=tuple(float(rng.uniform(*m.view_through)) for m in PLATFORM_MODELS),
    )


def fx_rates(
    dates: np.ndarray, rng: np.random.Generator, previous: dict[str, float] | None = None
) -> pl.DataFrame:
    """USD = 1.0; EUR->USD a mean-reverting random walk around 1.08 (continues from `previous`)."""
    frames = [pl.DataFrame({"date": dates, "currency": "USD", "rate_to_usd": 1.0})]
    for currency, base in FX_BASE.items():
        x = np.log(previous[currency] / base) if previous else rng.normal(0.0, 0.02)
        steps = rng.normal(0.0, 0.004, len(dates))
        path = np.empty(len(dates))
        for i in range(len(dates)):  # one step per day
            x = 0.995 * x + steps[i]
            path[i] = x
        frames.append(
            pl.DataFrame(
                {"date": dates, "currency": currency, "rate_to_usd": np.round(base * np.exp(path), 6)}
            )
        )
    return pl.concat(frames).with_columns(pl.col("date").cast(pl.Date))


def roi_table(channel_params: pl.DataFrame, channel_daily: pl.DataFrame) -> pl.DataFrame:
    """Whole-period ROI and marginal ROI per tenant and channel, from the true model.

    Non-paid channels (no spend) get their incremental revenue and null ROI / mROI."""
    rows = []
    daily = channel_daily.sort("tenant_id", "channel", "date").partition_by(
        "tenant_id", "channel", as_dict=True
    )
    for params in channel_params.sort("tenant_id", "channel").iter_rows(named=True):
        series = daily[(params["tenant_id"], params["channel"])]
        paid = params["channel"] in PLATFORMS
        spend = series["spend"].to_numpy()
        revenue, roi, mroi = roi_and_mroi(
            spend if paid else series["volume"].to_numpy(),
            params["adstock_decay"],
            params["hill_k"],
            params["hill_alpha"],
            params["beta"],
            params["revenue_per_conversion"],
        )
        rows.append(
            {
                "tenant_id": params["tenant_id"],
                "channel": params["channel"],
                "spend": float(spend.sum()),
                "incremental_revenue": revenue,
                "roi": roi if paid else None,
                "mroi": mroi if paid else None,
            }
        )
    return pl.DataFrame(rows, schema=TRUTH_SCHEMAS["roi"])


def attribution_shares(conversions: pl.DataFrame) -> pl.DataFrame:
    """Realised conversions per tenant and media channel by true cause, and each channel's share of
    the tenant's media-caused conversions (baseline sales excluded)."""
    grid = pl.DataFrame({"channel": list(CHANNELS)}).join(
        conversions.select("tenant_id").unique(), how="cross"
    )
    counts = (
        conversions.filter(pl.col("cause") != "baseline")
        .group_by("tenant_id", pl.col("cause").alias("channel"))
        .len()
    )
    out = grid.join(counts, on=["tenant_id", "channel"], how="left").with_columns(
        pl.col("len").fill_null(0).alias("incremental_conversions")
    )
    out = out.with_columns(
        (pl.col("incremental_conversions") / pl.col("incremental_conversions").sum().over("tenant_id")).alias(
            "share"
        )
    )
    return out.select(list(TRUTH_SCHEMAS["attribution_shares"]))


CONSEQUENCE_MOVE = 0.25  # a consequence metric is labelled when it moved >= 25 % the stated way


def campaign_budgets(tenant_id: str, plan, dates: np.ndarray) -> pl.DataFrame:
    """truth/campaign_budgets: the planned daily budget of each campaign (summed over its budget
    owners) on each day it runs: what a platform's change history (Google Ads change_event, Meta
    activity log) tells an advertiser. No randomness: other tables are unaffected."""
    n_camp = plan.campaigns.height
    camp_budget = np.zeros((n_camp, len(dates)))
    np.add.at(camp_budget, plan.owner_campaign, plan.budgets)
    camp, day = np.nonzero(camp_budget > 0)
    return pl.DataFrame(
        {
            "tenant_id": pl.Series([tenant_id] * len(camp), dtype=pl.String),
            "platform": plan.campaigns["platform"].gather(camp),
            "campaign_id": plan.campaigns["campaign_id"].gather(camp),
            "date": pl.Series(dates.astype("datetime64[D]")[day]).cast(pl.Date),
            "daily_budget": camp_budget[camp, day],
        }
    )


def anomaly_truth(
    chosen: list[dict], tenant_id: str, campaigns: pl.DataFrame, delivery: pl.DataFrame, dates: np.ndarray
) -> pl.DataFrame:
    """One row per (anomaly, metric it moves): magnitude = the metric over the anomaly's days divided
    by the same campaign's metric over the ANOMALY_LOOKBACK days before (null when undefined).

    Labelled truthfully: the incident's own metric (the kind's first) is always listed; a consequence
    (e.g. CPA after a spend runaway) only when it really moved the stated way by >= CONSEQUENCE_MOVE
    (a runaway that bought proportionally more conversions did not move CPA)."""
    rows = []
    first_day = dates[0].astype("datetime64[D]").astype(object)
    daily = delivery.group_by("campaign_id", "date", maintain_order=True).agg(
        pl.col("spend_micros").sum() / 1e6,
        pl.col("impressions").sum(),
        pl.col("clicks").sum(),
        pl.col("platform_conversions").sum(),
        pl.col("platform_conversion_value").sum(),
    )
    for i, a in enumerate(chosen):
        camp = campaigns.row(a["campaign"], named=True)
        start = first_day + timedelta(days=a["first"])
        end = first_day + timedelta(days=a["last"])
        ref_start = start - timedelta(days=ANOMALY_LOOKBACK)
        rows_c = daily.filter(pl.col("campaign_id") == camp["campaign_id"])

        def metrics(lo: date, hi: date, n: int, rows_c: pl.DataFrame = rows_c) -> dict[str, float | None]:
            w = rows_c.filter((pl.col("date") >= lo) & (pl.col("date") <= hi))
            spend, impr, clicks = w["spend_micros"].sum(), w["impressions"].sum(), w["clicks"].sum()
            conv, value = w["platform_conversions"].sum(), w["platform_conversion_value"].sum()
            return {
                "spend": spend / n,
                "conversions": conv / n,
                "ctr": clicks / impr if impr else None,
                "cpa": spend / conv if conv else None,
                "roas": value / spend if spend else None,
            }

        during = metrics(start, end, a["last"] - a["first"] + 1)
        before = metrics(ref_start, start - timedelta(days=1), ANOMALY_LOOKBACK)
        for k, (metric, direction) in enumerate(ANOMALY_KINDS[a["kind"]][4]):
            now, ref = during[metric], before[metric]
            magnitude = now / ref if now is not None and ref else None
            moved = magnitude is not None and (
                magnitude >= 1.0 + CONSEQUENCE_MOVE
                if direction == "up"
                else magnitude <= 1.0 - CONSEQUENCE_MOVE
            )
            if k > 0 and not moved:
                continue
            rows.append(
                {
                    "anomaly_id": f"{tenant_id}-{i + 1:03d}",
                    "tenant_id": tenant_id,
                    "platform": camp["platform"],
                    "campaign_id": camp["campaign_id"],
                    "metric": metric,
                    "start_date": start,
                    "end_date": end,
                    "direction": direction,
                    "magnitude": magnitude,
                    "kind": a["kind"],
                }
            )
    return pl.DataFrame(rows, schema=TRUTH_SCHEMAS["anomalies"])


def build_owned(spec: TenantSpec, num: int, dates: np.ndarray, preset: Preset, seed: int) -> OwnedMedia:
    owned = _build_owned(spec, num, dates, preset, np.random.default_rng([seed, STREAM_OWNED, num]))
    for name, channel in owned.channels.items():
        if name not in NONPAID:
            raise ValueError(f"owned media: unknown channel {name!r}; expected one of {NONPAID}")
        if len(channel.volume) != len(dates):
            raise ValueError(
                f"owned media: {name} volume has {len(channel.volume)} days, expected {len(dates)}"
            )
        owned.channels[name] = NonPaidChannel(
            np.asarray(channel.volume, dtype=np.float64), conform_clicks(channel.clicks, len(dates), name)
        )
    return owned


def initial_carry(tenant_num: int, rng: np.random.Generator) -> TenantCarry:
    return TenantCarry(
        adstock=None,
        baseline_z=None,
        next_contact_id=(3 * tenant_num - 2) * 10**10 + int(rng.integers(0, 10**9)),
        next_deal_id=(3 * tenant_num - 1) * 10**10 + int(rng.integers(0, 10**9)),
        contact_seq=0,
    )


def generate_world(preset: str = "demo", seed: int = 7) -> World:
    """A new world for `preset` (tiny, demo, large, xl) and `seed`: tables plus ground truth."""
    p = get_preset(preset)
    dates = np.arange(np.datetime64(p.start_date, "D"), np.datetime64(p.end_date, "D") + 1)
    parts: dict[str, list[pl.DataFrame]] = {}

    def put(name: str, frame: pl.DataFrame) -> None:
        parts.setdefault(name, []).append(frame)

    for num, spec in enumerate(TENANTS, start=1):
        plan_rng = np.random.default_rng([seed, STREAM_PLAN, num])
        mailchimp = owned_account_ids(spec.tenant_id, num)["mailchimp"]
        accounts = build_accounts(num, spec, plan_rng, extra={"mailchimp": mailchimp})
        tp = draw_tenant_params(spec, num, p, plan_rng)
        daily_spend = p.conversions_per_day * spec.aov / tp.roas_target
        plan = build_tenant_plan(spec, p, accounts, daily_spend, plan_rng)
        anomalies, chosen = plan_anomalies(plan, p.n_days, np.random.default_rng([seed, STREAM_ANOMALY, num]))
        owned = build_owned(spec, num, dates, p, seed)
        sim_rng = np.random.default_rng([seed, STREAM_SIMULATE, num, p.start_date.toordinal(), p.n_days])
        result: TenantResult = simulate_tenant(
            tp=tp,
            cp=None,
            aov=spec.aov,
            nonpaid_ratio=p.nonpaid_ratio,
            site_pages=site_pages(spec),
            ads=plan.inputs,
            budgets=plan.budgets,
            owner_platform=plan.owner_platform,
            dates=dates,
            carry=initial_carry(num, plan_rng),
            rng=sim_rng,
            nonpaid=owned.channels,
            anomalies=anomalies,
        )
        contacts, deals = result.contacts, result.deals
        if _add_crm_extras is not None:
            contacts, deals, extra = _add_crm_extras(
                contacts,
                deals,
                result.conversions,
                p.end_date,
                np.random.default_rng([seed, STREAM_CRM, num]),
            )
            for name, frame in extra.items():
                put(name, frame)
        put(
            "tenants",
            pl.DataFrame(
                [
                    {
                        "tenant_id": spec.tenant_id,
                        "name": spec.name,
                        "currency": spec.currency,
                        "timezone": spec.timezone,
                    }
                ]
            ),
        )
        put("accounts", accounts)
        put("campaigns", plan.campaigns)
        put("ad_groups", plan.ad_groups)
        put("ads", plan.ads)
        put("contacts", contacts)
        put("deals", deals)
        for name in (
            "delivery",
            "touchpoints",
            "channel_daily",
            "baseline_daily",
            "conversions",
            "lead_propensity",
        ):
            put(name, getattr(result, name))
        for name, frame in {**owned.tables, **owned.truth}.items():
            put(name, frame)
        put("channel_params", result.channel_params.to_frame(spec.tenant_id))
        put("tenant_params", result.tenant_params.to_frame())
        put("ad_params", ad_params_frame(plan.inputs))
        put("anomalies", anomaly_truth(chosen, spec.tenant_id, plan.campaigns, result.delivery, dates))
        put("campaign_budgets", campaign_budgets(spec.tenant_id, plan, dates))
    put(
        "fx_rates",
        fx_rates(dates, np.random.default_rng([seed, STREAM_FX, p.start_date.toordinal(), p.n_days])),
    )

    tables = {name: tidy(name, _concat(frames)) for name, frames in parts.items()}
    tables["roi"] = tidy("roi", roi_table(tables["channel_params"], tables["channel_daily"]))
    tables["attribution_shares"] = tidy("attribution_shares", attribution_shares(tables["conversions"]))
    tables["lift_tests"] = tidy("lift_tests", lift_tests_truth(tables["channel_daily"], seed, p.end_date))
    truth_names = [name for name in tables if name not in WORLD_SCHEMAS]
    return World(
        meta=WorldMeta(
            preset=p.name,
            seed=seed,
            start_date=p.start_date,
            end_date=p.end_date,
            generator_version=GENERATOR_VERSION,
        ),
        truth={name: tables[name] for name in sorted(truth_names)},
        **{name: tables[name] for name in WORLD_SCHEMAS if name in tables},
    )


def _concat(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """Per-tenant frames stacked in tenant_id order (so per-tenant sorted frames stay sorted)."""
    if all("tenant_id" in f.columns and f.height for f in frames):
        frames = sorted(frames, key=lambda f: f["tenant_id"][0])
    return pl.concat(frames, how="diagonal_relaxed")


def ad_params_frame(inputs: AdInputs) -> pl.DataFrame:
    """Per-ad delivery parameters (truth/ad_params): also what SandboxState.advance serves with."""
    return pl.concat(
        [
            inputs.frame.select("tenant_id", "platform", "ad_id"),
            pl.DataFrame(
                {
                    "delivery_weight": inputs.weight,
                    "ctr_base": inputs.ctr_base,
                    "cpm_base": inputs.cpm_base,
                    "fatigue_halflife_days": inputs.fatigue_halflife,
                    "fatigue_floor": inputs.fatigue_floor,
                    "fatigue_onset_days": pl.Series(inputs.fatigue_onset).fill_nan(None),
                    "fatigues": ~np.isnan(inputs.fatigue_onset),
                    "landing_page": inputs.landing_page,
                }
            ),
        ],
        how="horizontal",
    )


def ensure_world(preset: str = "demo", seed: int = 7, root: Path | str | None = None) -> Path:
    """The world's directory under `root` (default $MOS_SANDBOX_DIR or ./data/sandbox); generated if absent.

    The world is written to a temporary sibling directory and renamed into place, so a crash or a
    concurrent caller never leaves a half-written world behind.
    """
    if root is None:
        root = os.environ.get("MOS_SANDBOX_DIR") or Path(os.environ.get("MOS_HOME", "data")) / "sandbox"
    target = world_dir(Path(root), preset, seed)
    if (target / "meta.json").exists():
        return target
    world = generate_world(preset, seed)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    world.save(tmp)
    try:
        tmp.rename(target)
    except OSError:  # another process won the race (or a stale, incomplete dir is in the way)
        shutil.rmtree(tmp, ignore_errors=True)
        if not (target / "meta.json").exists():
            raise
    return target


__all__ = ["ensure_world", "generate_world"]
