"""The channels of the sandbox world and their per-channel models (delivery, journeys, true response).

Three index spaces share one order so that an index means the same channel everywhere:
  - paid platforms `PLATFORMS` (0..3): ad accounts, delivery, budgets;
  - response channels `CHANNELS` (0..5): the paid platforms, then `email` and `organic_social`, which
    answer to their volume (emails delivered / organic reach) instead of spend;
  - journey channels `JOURNEY` (0..8): the response channels, then organic search, direct, referral.
A conversion's cause is `baseline` or a response channel: cause index = channel index + 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PLATFORMS: tuple[str, ...] = ("meta", "google_ads", "linkedin", "tiktok")
META, GOOGLE, LINKEDIN, TIKTOK = 0, 1, 2, 3
NONPAID: tuple[str, ...] = ("email", "organic_social")
CHANNELS: tuple[str, ...] = PLATFORMS + NONPAID
EMAIL, SOCIAL = 4, 5
JOURNEY: tuple[str, ...] = (*CHANNELS, "organic", "direct", "referral")
ORGANIC, DIRECT, REFERRAL = 6, 7, 8
CAUSES: tuple[str, ...] = ("baseline", *CHANNELS)
N_PAID, N_CHANNELS, N_JOURNEY = len(PLATFORMS), len(CHANNELS), len(JOURNEY)


@dataclass(frozen=True)
class PlatformModel:
    """How a paid platform delivers and reports (ranges are drawn per tenant or per ad)."""

    name: str
    budget_level: str  # "ad_group" (Meta ad set, LinkedIn campaign, TikTok ad group) or "campaign" (Google)
    pacing: str  # "lognormal": spend = budget x lognormal, capped; "under": budget x normal, <= budget
    pacing_loc: float
    pacing_sd: float
    pacing_cap: float
    pacing_mean: float  # average delivered share of a budget, used to plan budgets
    calendar_gamma: float  # how strongly budgets follow the shared marketing calendar
    cpm_q4_uplift: float
    utm_sources: tuple[str, ...]
    utm_source_p: tuple[float, ...]
    utm_medium: str
    land_rate: tuple[float, float]  # share of clicks that arrive as a tracked session
    view_through: tuple[float, float]  # extra claimed conversions per incremental conversion
    integer_conversions: bool
    reported_value_markup: float  # platform conversion value / true revenue per conversion
    creative_gap_factor: float  # x the preset's gap between creative launches
    fatigue_halflife: tuple[float, float]  # days after the onset until half the CTR above the floor is gone
    fatigue_floor: tuple[float, float]
    fatigue_onset: tuple[float, float]  # days after launch when a fatiguing creative starts to wear out


PLATFORM_MODELS: tuple[PlatformModel, ...] = (
    PlatformModel(
        name="meta",
        budget_level="ad_group",
        pacing="lognormal",
        pacing_loc=-0.035,
        pacing_sd=0.1,
        pacing_cap=1.25,
        pacing_mean=0.97,
        calendar_gamma=1.0,
        cpm_q4_uplift=0.18,
        utm_sources=("facebook", "instagram"),
        utm_source_p=(0.68, 0.32),
        utm_medium="paid_social",
        land_rate=(0.85, 0.95),
        view_through=(0.3, 0.6),
        integer_conversions=True,
        reported_value_markup=1.08,
        creative_gap_factor=1.0,
        fatigue_halflife=(15.0, 45.0),
        fatigue_floor=(0.45, 0.7),
        fatigue_onset=(10.0, 40.0),
    ),
    PlatformModel(
        name="google_ads",
        budget_level="campaign",
        pacing="under",
        pacing_loc=0.93,
        pacing_sd=0.06,
        pacing_cap=1.0,
        pacing_mean=0.93,
        calendar_gamma=0.7,
        cpm_q4_uplift=0.08,
        utm_sources=("google",),
        utm_source_p=(1.0,),
        utm_medium="cpc",
        land_rate=(0.85, 0.95),
        view_through=(0.05, 0.15),
        integer_conversions=False,
        reported_value_markup=1.08,
        creative_gap_factor=1.0,
        fatigue_halflife=(60.0, 160.0),
        fatigue_floor=(0.75, 0.9),
        fatigue_onset=(45.0, 120.0),
    ),
    PlatformModel(
        name="linkedin",
        budget_level="ad_group",
        pacing="lognormal",
        pacing_loc=-0.09,
        pacing_sd=0.12,
        pacing_cap=1.2,
        pacing_mean=0.92,
        calendar_gamma=0.5,
        cpm_q4_uplift=0.05,
        utm_sources=("linkedin",),
        utm_source_p=(1.0,),
        utm_medium="paid_social",
        land_rate=(0.8, 0.9),
        view_through=(0.4, 0.8),
        integer_conversions=True,
        reported_value_markup=1.15,
        creative_gap_factor=1.3,
        fatigue_halflife=(25.0, 60.0),
        fatigue_floor=(0.5, 0.75),
        fatigue_onset=(20.0, 50.0),
    ),
    PlatformModel(
        name="tiktok",
        budget_level="ad_group",
        pacing="lognormal",
        pacing_loc=-0.03,
        pacing_sd=0.14,
        pacing_cap=1.3,
        pacing_mean=0.98,
        calendar_gamma=1.25,
        cpm_q4_uplift=0.22,
        utm_sources=("tiktok",),
        utm_source_p=(1.0,),
        utm_medium="paid_social",
        land_rate=(0.75, 0.9),
        view_through=(0.5, 0.9),
        integer_conversions=True,
        reported_value_markup=1.1,
        creative_gap_factor=0.4,
        fatigue_halflife=(6.0, 18.0),
        fatigue_floor=(0.3, 0.55),
        fatigue_onset=(10.0, 25.0),
    ),
)


@dataclass(frozen=True)
class ResponseRange:
    """Ranges of a channel's true response parameters (drawn per tenant)."""

    decay: tuple[float, float]
    alpha: tuple[float, float]
    kappa: tuple[float, float]  # hill_k / median positive adstock
    revenue_factor: float  # revenue per incremental conversion / tenant AOV


RESPONSE_RANGES: tuple[ResponseRange, ...] = (
    ResponseRange((0.5, 0.7), (1.3, 2.2), (0.7, 1.1), 0.92),  # meta
    ResponseRange((0.1, 0.3), (0.9, 1.5), (0.6, 1.0), 1.05),  # google_ads
    ResponseRange((0.3, 0.5), (0.9, 1.3), (0.9, 1.4), 1.25),  # linkedin: B2B orders, weak
    ResponseRange((0.4, 0.6), (1.5, 2.5), (0.7, 1.0), 0.85),  # tiktok: S-shaped, impulse buys
    ResponseRange((0.2, 0.4), (1.0, 1.5), (0.8, 1.2), 0.95),  # email, on emails delivered
    ResponseRange((0.5, 0.7), (1.1, 1.8), (0.8, 1.2), 0.9),  # organic_social, on organic reach
)

# Journeys. Per journey channel: share of a baseline converter's ordinary visits (touch) and of its
# last visit before buying (last: Google brand search navigation is common). A converter caused by
# channel c mixes in its own channel with the weights below.
BASE_TOUCH = np.array([0.075, 0.12, 0.005, 0.04, 0.05, 0.02, 0.31, 0.33, 0.05])
BASE_LAST = np.array([0.03, 0.32, 0.005, 0.01, 0.04, 0.01, 0.24, 0.325, 0.02])
SELF_TOUCH = np.array([0.3, 0.3, 0.25, 0.3, 0.35, 0.25])
SELF_LAST = np.array([0.14, 0.6, 0.08, 0.12, 0.3, 0.12])
# Traffic split of organic search, direct and referral sessions.
NONPAID_SPLIT = np.array([0.5, 0.4, 0.1])


def touch_mix(self_weight: np.ndarray, base: np.ndarray) -> np.ndarray:
    """[cause, journey channel] probabilities: baseline row = base, channel rows lean on themselves."""
    rows = [base]
    for c in range(N_CHANNELS):
        row = base * (1.0 - self_weight[c])
        row[c] += self_weight[c]
        rows.append(row)
    mix = np.array(rows)
    return mix / mix.sum(axis=1, keepdims=True)


TOUCH_MIX = touch_mix(SELF_TOUCH, BASE_TOUCH)
LAST_MIX = touch_mix(SELF_LAST, BASE_LAST)
