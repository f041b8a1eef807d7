"""Generate the sandbox world: `generate_world(preset, seed)` and `ensure_world(preset, seed, root)`.

Deterministic: every random draw comes from a numpy Generator seeded by (seed, stream, tenant, ...),
tables are sorted before saving, and `World.save` writes Parquet without timestamps, so the same
preset and seed give byte-identical files. See README.md for the world model and the truth files.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import polars as pl

from connectors.sandbox.plan import build_accounts, build_tenant_plan
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

GENERATOR_VERSION = "1"
FX_BASE = {"EUR": 1.08}

# Random streams: np.random.default_rng([seed, STREAM, ...]).
STREAM_PLAN, STREAM_SIMULATE, STREAM_FX, STREAM_ADVANCE = 1, 2, 3, 4

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
    "channel_params": ["tenant_id", "channel"],
    "channel_daily": ["tenant_id", "date", "channel"],
    "baseline_daily": ["tenant_id", "date"],
    "roi": ["tenant_id", "channel"],
    "conversions": ["tenant_id", "date", "deal_id"],
    "ad_params": ["tenant_id", "platform", "ad_id"],
    "tenant_params": ["tenant_id"],
}


def tidy(name: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Schema-conform (for the documented tables) and sorted: the saved form of a table."""
    schema = WORLD_SCHEMAS.get(name) or TRUTH_SCHEMAS.get(name)
    if schema is not None:
        frame = conform(frame, schema)
    return frame.sort(SORT_KEYS[name], maintain_order=True)


def site_pages(spec: TenantSpec) -> list[str]:
    pages = ["/", "/about", "/sale", "/blog", "/stores", "/contact"]
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
    return TenantParams(
        tenant_id=spec.tenant_id,
        tenant_num=tenant_num,
        currency=spec.currency,
        timezone=spec.timezone,
        roas_target=float(rng.uniform(*spec.roas)),
        incremental_share_target=float(rng.uniform(*spec.incremental_share)),
        meta_incremental_share=float(np.clip(spec.meta_incremental_share + rng.normal(0, 0.04), 0.2, 0.8)),
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
        land_rate_meta=float(rng.uniform(0.85, 0.95)),
        land_rate_google=float(rng.uniform(0.85, 0.95)),
        meta_view_through=float(rng.uniform(0.3, 0.6)),
        google_view_through=float(rng.uniform(0.05, 0.15)),
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
    """Whole-period ROI and marginal ROI per tenant and channel, from the true model."""
    rows = []
    for params in channel_params.sort("tenant_id", "channel").iter_rows(named=True):
        spend = (
            channel_daily.filter(
                (pl.col("tenant_id") == params["tenant_id"]) & (pl.col("channel") == params["channel"])
            )
            .sort("date")["spend"]
            .to_numpy()
        )
        revenue, roi, mroi = roi_and_mroi(
            spend,
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
                "roi": roi,
                "mroi": mroi,
            }
        )
    return pl.DataFrame(rows, schema=TRUTH_SCHEMAS["roi"])


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
        accounts = build_accounts(num, spec, plan_rng)
        tp = draw_tenant_params(spec, num, p, plan_rng)
        daily_spend = p.conversions_per_day * spec.aov / tp.roas_target
        plan = build_tenant_plan(spec, p, accounts, daily_spend, plan_rng)
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
        )
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
        for name in (
            "delivery",
            "contacts",
            "deals",
            "touchpoints",
            "channel_daily",
            "baseline_daily",
            "conversions",
        ):
            put(name, getattr(result, name))
        put("channel_params", result.channel_params.to_frame(spec.tenant_id))
        put("tenant_params", result.tenant_params.to_frame())
        put("ad_params", ad_params_frame(plan.inputs))
    put(
        "fx_rates",
        fx_rates(dates, np.random.default_rng([seed, STREAM_FX, p.start_date.toordinal(), p.n_days])),
    )

    tables = {name: tidy(name, pl.concat(frames)) for name, frames in parts.items()}
    tables["roi"] = tidy("roi", roi_table(tables["channel_params"], tables["channel_daily"]))
    truth_names = (
        "channel_params",
        "channel_daily",
        "baseline_daily",
        "roi",
        "conversions",
        "ad_params",
        "tenant_params",
    )
    return World(
        meta=WorldMeta(
            preset=p.name,
            seed=seed,
            start_date=p.start_date,
            end_date=p.end_date,
            generator_version=GENERATOR_VERSION,
        ),
        truth={name: tables[name] for name in truth_names},
        **{name: tables[name] for name in WORLD_SCHEMAS},
    )


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
