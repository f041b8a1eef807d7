"""Policy `pause_high_cpa` v1: pause active ads whose cost per conversion is far above target.

Rule, over a look-back window ending `as_of` (inclusive):
- the ad and its campaign are active, and the campaign has a target CPA (else the campaign is recorded
  as 'skipped' with the reason);
- CPA >= `cpa_ratio_threshold` x target CPA (an ad with spend and no conversion has infinite CPA);
- spend >= `min_spend_multiple` x target CPA (enough money spent to judge);
- a one-sided Poisson test: if the ad converted at the target rate it would expect
  `spend / target_cpa` conversions; the probability of seeing at most the observed count is below
  `alpha`. Fractional (modelled) conversions are rounded *up* before the test, the conservative side.

Guardrails, in this order:
1. never pause the last active ad of an ad group: when every active ad of a group qualifies, the best
   of them (most conversions per unit spend, then least significant, then ad id) is kept and recorded
   as 'skipped'. Every ad group that has an active ad keeps one, so every campaign keeps one too;
2. at most `max_pauses_per_run` pauses per tenant, worst first (largest excess spend over what the
   target CPA would justify); the rest are recorded as 'skipped';
3. the kill switch turns every would-be pause into 'skipped'.

Pure: frames in, decisions out. Vectorised with polars; Python only touches the qualifying rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import polars as pl
from scipy.stats import poisson

from activations.decisions import (
    ACTION_PAUSE_AD,
    ENTITY_AD,
    ENTITY_CAMPAIGN,
    Decision,
    make_decision_id,
)

POLICY = "pause_high_cpa"
POLICY_VERSION = "1"

_KEY = ["tenant_id", "platform", "ad_id"]
_GROUP = ["tenant_id", "platform", "campaign_id", "ad_group_id"]
_CAMPAIGN = ["tenant_id", "platform", "campaign_id"]

_REQUIRED = {
    "ad_perf": ("tenant_id", "date", "platform", "account_id", "campaign_id", "ad_group_id", "ad_id",
                "currency", "spend", "platform_conversions"),
    "campaigns": ("tenant_id", "platform", "campaign_id", "status", "currency", "target_cpa"),
    "ads": ("tenant_id", "platform", "ad_id", "campaign_id", "ad_group_id", "status"),
}  # fmt: skip


@dataclass(frozen=True)
class PauseHighCpaConfig:
    lookback_days: int = 14
    cpa_ratio_threshold: float = 2.0
    min_spend_multiple: float = 3.0
    alpha: float = 0.05
    max_pauses_per_run: int = 20
    kill_switch: bool = False
    active_statuses: frozenset[str] = field(default_factory=lambda: frozenset({"ACTIVE", "ENABLED"}))

    def __post_init__(self) -> None:
        if self.lookback_days < 1:
            raise ValueError(f"lookback_days must be >= 1, got {self.lookback_days}")
        if self.cpa_ratio_threshold <= 1.0:
            raise ValueError(f"cpa_ratio_threshold must be > 1, got {self.cpa_ratio_threshold}")
        if self.min_spend_multiple <= 0:
            raise ValueError(f"min_spend_multiple must be > 0, got {self.min_spend_multiple}")
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")
        if self.max_pauses_per_run < 0:
            raise ValueError(f"max_pauses_per_run must be >= 0, got {self.max_pauses_per_run}")

    def thresholds(self) -> dict[str, Any]:
        return {
            "cpa_ratio_threshold": self.cpa_ratio_threshold,
            "min_spend_multiple": self.min_spend_multiple,
            "alpha": self.alpha,
            "max_pauses_per_run": self.max_pauses_per_run,
        }


@dataclass(frozen=True)
class PauseHighCpaResult:
    """Decisions (proposed and skipped) plus how many ads were evaluated (for activation.runs)."""

    decisions: list[Decision]
    n_evaluated: int

    @property
    def proposed(self) -> list[Decision]:
        return [d for d in self.decisions if d.status == "proposed"]


def propose_pauses(
    ad_perf: pl.DataFrame,
    campaigns: pl.DataFrame,
    ads: pl.DataFrame,
    *,
    as_of: date,
    config: PauseHighCpaConfig | None = None,
) -> list[Decision]:
    """Proposed and skipped `pause_ad` decisions; see the module docstring for the rule."""
    return evaluate_pauses(ad_perf, campaigns, ads, as_of=as_of, config=config).decisions


def evaluate_pauses(
    ad_perf: pl.DataFrame,
    campaigns: pl.DataFrame,
    ads: pl.DataFrame,
    *,
    as_of: date,
    config: PauseHighCpaConfig | None = None,
) -> PauseHighCpaResult:
    cfg = config or PauseHighCpaConfig()
    _require_columns(ad_perf=ad_perf, campaigns=campaigns, ads=ads)
    start = as_of - timedelta(days=cfg.lookback_days - 1)
    window = {"start": start.isoformat(), "end": as_of.isoformat(), "days": cfg.lookback_days}
    active = [s.upper() for s in cfg.active_statuses]

    perf = (
        ad_perf.lazy()
        .with_columns(pl.col("date").cast(pl.Date))
        .filter(pl.col("date").is_between(pl.lit(start), pl.lit(as_of), closed="both"))
        .with_columns(
            *(pl.col(c).cast(pl.Utf8) for c in ("tenant_id", "platform", "account_id", "ad_id", "currency")),
            pl.col("spend").cast(pl.Float64).fill_null(0.0),
            pl.col("platform_conversions").cast(pl.Float64).fill_null(0.0),
        )
        .group_by(_KEY)
        .agg(
            pl.col("account_id").first(),
            pl.col("currency").first(),
            pl.col("currency").n_unique().alias("n_currencies"),
            pl.col("spend").sum(),
            pl.col("platform_conversions").sum().alias("conversions"),
        )
    )
    active_ads = _active_ads(ads, active)
    camps = (
        campaigns.lazy()
        .select(
            *(pl.col(c).cast(pl.Utf8) for c in _CAMPAIGN),
            pl.col("status").cast(pl.Utf8).str.to_uppercase().alias("campaign_status"),
            pl.col("currency").cast(pl.Utf8).alias("campaign_currency"),
            pl.col("target_cpa").cast(pl.Float64),
        )
        .unique(subset=_CAMPAIGN, keep="first")
    )
    # Ads that are live now (ad and campaign active) and delivered in the window: the evaluated set.
    evaluated = (
        perf.join(active_ads, on=_KEY, how="inner")
        .join(camps, on=_CAMPAIGN, how="left")
        .filter(pl.col("spend") > 0)
        .filter(pl.col("campaign_status").is_null() | pl.col("campaign_status").is_in(active))
        .collect()
    )

    has_target = pl.col("target_cpa").is_not_null() & (pl.col("target_cpa") > 0)
    no_target = evaluated.filter(~has_target)
    judged = evaluated.filter(has_target)
    currency_ok = (pl.col("n_currencies") == 1) & (
        pl.col("campaign_currency").is_null() | (pl.col("campaign_currency") == pl.col("currency"))
    )
    mismatched = judged.filter(~currency_ok)
    judged = _score(judged.filter(currency_ok), cfg)
    candidates = judged.filter(pl.col("qualifies"))
    candidates = _guard_last_active(candidates, active_ads.collect())
    candidates = _cap_per_tenant(candidates, cfg.max_pauses_per_run)

    decisions: list[Decision] = []
    decisions += [
        _campaign_skip(row, window, as_of) for row in _campaign_rollup(no_target).iter_rows(named=True)
    ]
    decisions += [
        _ad_decision(
            row,
            cfg,
            window,
            as_of,
            status="skipped",
            reason=(
                f"Ad {row['ad_id']} was not judged: its delivery currency ({row['currency']}) does not "
                f"match campaign {row['campaign_id']}'s currency ({row['campaign_currency']}), so its "
                "target CPA cannot be compared."
            ),
        )
        for row in mismatched.with_columns(_empty_score_columns()).iter_rows(named=True)
    ]
    for row in candidates.iter_rows(named=True):
        decisions.append(_ad_decision(row, cfg, window, as_of, *_status_and_reason(row, cfg, window)))

    decisions.sort(
        key=lambda d: (
            d.tenant_id,
            d.platform,
            d.campaign_id or "",
            d.ad_group_id or "",
            d.entity_type,
            d.entity_id,
        )
    )
    return PauseHighCpaResult(decisions=decisions, n_evaluated=evaluated.height)


# --- steps -----------------------------------------------------------------------------------------


def _require_columns(**frames: pl.DataFrame) -> None:
    for name, frame in frames.items():
        missing = [c for c in _REQUIRED[name] if c not in frame.columns]
        if missing:
            raise ValueError(f"pause_high_cpa: input frame '{name}' is missing columns {missing}")


def _active_ads(ads: pl.DataFrame, active: list[str]) -> pl.LazyFrame:
    return (
        ads.lazy()
        .select(
            *(
                pl.col(c).cast(pl.Utf8)
                for c in ("tenant_id", "platform", "ad_id", "campaign_id", "ad_group_id")
            ),
            pl.col("status").cast(pl.Utf8).str.to_uppercase(),
        )
        .filter(pl.col("status").is_in(active))
        .drop("status")
        .unique(subset=_KEY, keep="first")
    )


def _score(frame: pl.DataFrame, cfg: PauseHighCpaConfig) -> pl.DataFrame:
    spend = frame["spend"].to_numpy().astype(np.float64)
    conversions = frame["conversions"].to_numpy().astype(np.float64)
    target = frame["target_cpa"].to_numpy().astype(np.float64)
    expected = spend / target if frame.height else np.zeros(0)
    observed = np.ceil(np.round(conversions, 9))  # conservative for fractional conversions
    p_value = poisson.cdf(observed, expected) if frame.height else np.zeros(0)
    qualifies = (
        (spend >= cfg.cpa_ratio_threshold * target * conversions)  # CPA >= ratio x target (inf when 0 conv)
        & (spend >= cfg.min_spend_multiple * target)
        & (p_value < cfg.alpha)
    )
    return frame.with_columns(
        pl.Series("expected_conversions", expected, dtype=pl.Float64),
        pl.Series("observed_for_test", observed, dtype=pl.Float64),
        pl.Series("p_value", p_value, dtype=pl.Float64),
        pl.Series("qualifies", qualifies, dtype=pl.Boolean),
        # Money the ad spent beyond what its conversions justify at the target CPA: the cap's priority.
        (pl.col("spend") - pl.col("conversions") * pl.col("target_cpa")).alias("excess_spend"),
        (pl.col("conversions") / pl.col("spend")).alias("conv_per_spend"),
    )


def _empty_score_columns() -> list[pl.Expr]:
    return [
        pl.lit(None, dtype=pl.Float64).alias(c)
        for c in ("expected_conversions", "observed_for_test", "p_value", "excess_spend")
    ] + [pl.lit(None, dtype=pl.Boolean).alias("qualifies"), pl.lit(None, dtype=pl.Utf8).alias("guard")]


def _guard_last_active(candidates: pl.DataFrame, active_ads: pl.DataFrame) -> pl.DataFrame:
    """Set `guard='last_active'` on the best candidate of every ad group whose active ads all qualify.

    Best = most conversions per unit spend, then the least significant (highest p-value), then ad id.
    """
    active_per_group = active_ads.group_by(_GROUP).agg(pl.len().alias("n_active"))
    ranked = candidates.join(active_per_group, on=_GROUP, how="left").sort(
        [*_GROUP, "conv_per_spend", "p_value", "ad_id"],
        descending=[False] * len(_GROUP) + [True, True, False],
        nulls_last=True,
    )
    return ranked.with_columns(
        pl.when(
            (pl.len().over(_GROUP) >= pl.col("n_active").fill_null(0))
            & (pl.int_range(pl.len()).over(_GROUP) == 0)
        )
        .then(pl.lit("last_active"))
        .otherwise(pl.lit(None, dtype=pl.Utf8))
        .alias("guard")
    )


def _cap_per_tenant(candidates: pl.DataFrame, cap: int) -> pl.DataFrame:
    order = candidates.sort(["excess_spend", "p_value", "ad_id"], descending=[True, False, False])
    return (
        order.with_columns(
            (pl.col("guard").is_null().cast(pl.Int64).cum_sum().over("tenant_id")).alias("_nth")
        )
        .with_columns(
            pl.when(pl.col("guard").is_null() & (pl.col("_nth") > cap))
            .then(pl.lit("cap"))
            .otherwise(pl.col("guard"))
            .alias("guard")
        )
        .drop("_nth")
    )


# --- decisions -------------------------------------------------------------------------------------


def _campaign_rollup(no_target: pl.DataFrame) -> pl.DataFrame:
    return (
        no_target.group_by(_CAMPAIGN)
        .agg(
            pl.col("account_id").first(),
            pl.col("currency").first(),
            pl.col("campaign_status").is_not_null().any().alias("campaign_known"),
            pl.len().alias("n_ads"),
            pl.col("spend").sum(),
            pl.col("conversions").sum(),
        )
        .sort(_CAMPAIGN)
    )


def _campaign_skip(row: dict[str, Any], window: dict[str, Any], as_of: date) -> Decision:
    if row["campaign_known"]:
        why = "has no target CPA"
    else:
        why = "is not in marts.dim_campaigns, so it has no target CPA"
    reason = (
        f"Campaign {row['campaign_id']} {why}; pause_high_cpa needs one to judge its "
        f"{row['n_ads']} active ad(s) that spent {row['spend']:.2f} {row['currency']} in the window, "
        "so they were not evaluated."
    )
    return Decision(
        decision_id=make_decision_id(
            policy=POLICY,
            policy_version=POLICY_VERSION,
            tenant_id=row["tenant_id"],
            platform=row["platform"],
            entity_type=ENTITY_CAMPAIGN,
            entity_id=row["campaign_id"],
            action=ACTION_PAUSE_AD,
            as_of=as_of,
        ),
        policy=POLICY,
        policy_version=POLICY_VERSION,
        tenant_id=row["tenant_id"],
        platform=row["platform"],
        account_id=row["account_id"],
        action=ACTION_PAUSE_AD,
        entity_type=ENTITY_CAMPAIGN,
        entity_id=row["campaign_id"],
        campaign_id=row["campaign_id"],
        ad_group_id=None,
        as_of=as_of,
        reason=reason,
        evidence={
            "window": window,
            "account_id": row["account_id"],
            "currency": row["currency"],
            "n_ads": row["n_ads"],
            "spend": round(row["spend"], 2),
            "conversions": row["conversions"],
            "target_cpa": None,
            "skip": "no_target_cpa",
        },
        expected_impact={},
        status="skipped",
    )


def _finding(row: dict[str, Any], window: dict[str, Any]) -> str:
    cur = row["currency"]
    conv = row["conversions"]
    target = f"{row['target_cpa']:.2f} {cur}"
    if conv > 0:
        cpa = row["spend"] / conv
        versus = f"CPA {cpa:.2f} {cur}, {cpa / row['target_cpa']:.1f}x the target CPA of {target}"
    else:
        versus = f"no conversion against a target CPA of {target}"
    return (
        f"Ad {row['ad_id']} (campaign {row['campaign_id']}, ad group {row['ad_group_id']}) spent "
        f"{row['spend']:.2f} {cur} from {window['start']} to {window['end']} for {conv:g} conversion(s) "
        f"({versus}); converting at the target rate it would have expected "
        f"{row['expected_conversions']:.1f}, and the chance of so few is {row['p_value']:.3g}."
    )


def _status_and_reason(
    row: dict[str, Any], cfg: PauseHighCpaConfig, window: dict[str, Any]
) -> tuple[str, str]:
    finding = _finding(row, window)
    if row["guard"] == "last_active":
        return "skipped", (
            f"{finding} Not paused: every active ad of ad group {row['ad_group_id']} qualifies and the "
            "group must keep one live ad; this is the best of them."
        )
    if row["guard"] == "cap":
        return "skipped", (
            f"{finding} Not paused: the cap of {cfg.max_pauses_per_run} pauses per run for tenant "
            f"{row['tenant_id']} is reached."
        )
    if cfg.kill_switch:
        return "skipped", f"{finding} Not paused: the activation kill switch is on."
    return "proposed", f"{finding} Pause it."


def _num(value: float | None, digits: int) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)


def _sig(value: float | None, digits: int) -> float | None:
    """Round to significant digits (p-values span many orders of magnitude)."""
    if value is None or not math.isfinite(value):
        return None
    return float(f"{float(value):.{digits}g}")


def _ad_decision(
    row: dict[str, Any],
    cfg: PauseHighCpaConfig,
    window: dict[str, Any],
    as_of: date,
    status: str,
    reason: str,
) -> Decision:
    spend = float(row["spend"])
    conv = float(row["conversions"])
    target = row["target_cpa"]
    cpa = spend / conv if conv > 0 else None
    ratio = cpa / target if (cpa is not None and target) else None
    days = window["days"]
    evidence = {
        "window": window,
        "account_id": row["account_id"],
        "ad_group_id": row["ad_group_id"],
        "currency": row["currency"],
        "spend": _num(spend, 2),
        "conversions": conv,
        "conversions_tested": row["observed_for_test"],  # rounded up when fractional
        "cpa": _num(cpa, 2),
        "target_cpa": _num(target, 2),
        "ratio": _num(ratio, 4),
        "expected_conversions": _num(row["expected_conversions"], 4),
        "p_value": _sig(row["p_value"], 6),
        "thresholds": cfg.thresholds(),
        "guardrail": row.get("guard"),
    }
    expected_impact = {
        "daily_spend_saved": _num(spend / days, 2),
        "daily_conversions_lost": _num(conv / days, 4),
        "currency": row["currency"],
    }
    return Decision(
        decision_id=make_decision_id(
            policy=POLICY,
            policy_version=POLICY_VERSION,
            tenant_id=row["tenant_id"],
            platform=row["platform"],
            entity_type=ENTITY_AD,
            entity_id=row["ad_id"],
            action=ACTION_PAUSE_AD,
            as_of=as_of,
        ),
        policy=POLICY,
        policy_version=POLICY_VERSION,
        tenant_id=row["tenant_id"],
        platform=row["platform"],
        account_id=row["account_id"],
        action=ACTION_PAUSE_AD,
        entity_type=ENTITY_AD,
        entity_id=row["ad_id"],
        campaign_id=row["campaign_id"],
        ad_group_id=row["ad_group_id"],
        as_of=as_of,
        reason=reason,
        evidence=evidence,
        expected_impact=expected_impact,
        status=status,  # type: ignore[arg-type]
    )
