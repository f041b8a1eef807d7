"""Scale presets and tenant specifications of the simulated marketing world.

A preset fixes the calendar (days, last day) and the volume knobs; a tenant spec fixes a brand's
economics (order value, target ROAS, share of revenue that paid media really causes). The seed jitters
the economics inside the ranges given here, so two seeds give two different but equally plausible worlds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from connectors.sandbox.channels import CHANNELS, PLATFORMS

__all__ = ["PLATFORMS", "PRESETS", "TENANTS", "Preset", "TenantSpec", "get_preset"]


@dataclass(frozen=True)
class TenantSpec:
    tenant_id: str
    name: str
    short: str  # prefix of campaign names, e.g. "NW | Prospecting - Broad"
    currency: str
    timezone: str
    aov: float  # mean order value, account currency
    aov_sigma: float  # log-sd of order values (lognormal)
    roas: tuple[float, float]  # total revenue / paid spend, drawn in this range
    incremental_share: tuple[float, float]  # share of revenue caused by media (paid, email, social)
    spend_shares: dict[str, float]  # paid platform -> share of the paid budget planned on it
    incremental_shares: dict[str, float]  # channel -> share of the media-caused revenue it causes
    categories: tuple[str, ...]  # product themes: ad group names, landing pages
    yearly_peaks: tuple[int, ...]  # months with seasonal demand peaks


TENANTS: tuple[TenantSpec, ...] = (
    TenantSpec(
        tenant_id="northwind",
        name="Northwind Outfitters",
        short="NW",
        currency="USD",
        timezone="America/New_York",
        aov=118.0,
        aov_sigma=0.55,
        roas=(2.5, 3.4),
        incremental_share=(0.34, 0.46),
        spend_shares={"meta": 0.42, "google_ads": 0.33, "linkedin": 0.07, "tiktok": 0.18},
        incremental_shares={
            "meta": 0.37,
            "google_ads": 0.27,
            "linkedin": 0.025,
            "tiktok": 0.165,
            "email": 0.11,
            "organic_social": 0.06,
        },
        categories=("jackets", "boots", "tents", "backpacks", "sleeping-bags", "trail-running"),
        yearly_peaks=(11, 12, 5),
    ),
    TenantSpec(
        tenant_id="bellavista",
        name="Bella Vista Home",
        short="BV",
        currency="EUR",
        timezone="Europe/Berlin",
        aov=94.0,
        aov_sigma=0.6,
        roas=(1.9, 2.8),
        incremental_share=(0.27, 0.38),
        spend_shares={"meta": 0.46, "google_ads": 0.28, "linkedin": 0.05, "tiktok": 0.21},
        incremental_shares={
            "meta": 0.41,
            "google_ads": 0.23,
            "linkedin": 0.015,
            "tiktok": 0.175,
            "email": 0.115,
            "organic_social": 0.055,
        },
        categories=("sofas", "lamps", "rugs", "tableware", "bedding", "outdoor-furniture"),
        yearly_peaks=(1, 11, 4),
    ),
)


for _spec in TENANTS:  # the mappings must cover every channel and add up
    assert set(_spec.spend_shares) == set(PLATFORMS), _spec.tenant_id
    assert set(_spec.incremental_shares) == set(CHANNELS), _spec.tenant_id
    assert abs(sum(_spec.spend_shares.values()) - 1) < 1e-9, _spec.tenant_id
    assert abs(sum(_spec.incremental_shares.values()) - 1) < 1e-9, _spec.tenant_id


@dataclass(frozen=True)
class Preset:
    name: str
    n_days: int
    end_date: date
    conversions_per_day: float  # expected realised conversions per tenant and day
    lead_ratio: float  # non-converting CRM contacts per converting one
    nonpaid_ratio: float  # organic + direct + referral sessions per paid session
    core_only: bool  # only the always-on core campaigns (tiny), else the full marketing plan
    markets: int  # copies of every campaign (geo splits) to scale the account structure
    ad_groups_per_campaign: tuple[int, int]  # inclusive range
    creative_gap_days: float  # mean days between two creative launches in an ad group
    early_pause_share: float  # share of ad groups of long campaigns paused mid-flight

    @property
    def start_date(self) -> date:
        return date.fromordinal(self.end_date.toordinal() - self.n_days + 1)


_END = date(2026, 10, 31)

PRESETS: dict[str, Preset] = {
    "tiny": Preset(
        name="tiny",
        n_days=120,
        end_date=_END,
        conversions_per_day=3.6,
        lead_ratio=2.3,
        nonpaid_ratio=0.6,
        core_only=True,
        markets=1,
        ad_groups_per_campaign=(2, 2),
        creative_gap_days=110.0,
        early_pause_share=0.0,
    ),
    "demo": Preset(
        name="demo",
        n_days=730,
        end_date=_END,
        conversions_per_day=19.0,
        lead_ratio=2.5,
        nonpaid_ratio=0.6,
        core_only=False,
        markets=1,
        ad_groups_per_campaign=(2, 4),
        creative_gap_days=75.0,
        early_pause_share=0.15,
    ),
}
PRESETS["large"] = Preset(
    **{**PRESETS["demo"].__dict__, "name": "large", "conversions_per_day": 190.0, "markets": 10}
)
PRESETS["xl"] = Preset(
    **{**PRESETS["demo"].__dict__, "name": "xl", "conversions_per_day": 1900.0, "markets": 100}
)


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown sandbox preset {name!r}; expected one of {sorted(PRESETS)}") from None
