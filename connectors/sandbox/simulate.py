"""Simulate a window of days for one tenant: delivery, true response, CRM and web touchpoints.

The same function builds the initial world (one window over the whole preset, calibrating the response
model on the planned spend) and every later `SandboxState.advance` (a window of new days, with the saved
parameters and the adstock/baseline state carried over from the last simulated day). All work is
vectorised over rows; the only Python loops run over the (few) channels.

Order of events inside a window:
  1. delivery: each budget owner's daily budget * pacing noise, split over its live ads (weight x creative
     fatigue), in whole cents; impressions from CPM, clicks from the ad's CTR.
  2. truth: channel spend -> adstock -> Hill -> expected incremental conversions; baseline demand.
  3. realised conversions ~ Poisson(baseline + incremental), each with a cause (baseline or a channel).
  4. CRM: every conversion is a customer (lead -> MQL -> SQL -> opportunity -> customer, closedwon deal);
     more leads stop earlier (some opportunities get a closedlost deal).
  5. journeys: sessions of each contact (a converter caused by a channel has a click from it; google
     search is often the last touch); the rest of the clicks and organic/direct/referral traffic become
     anonymous visitors' sessions.
  6. platform-reported conversions: converters who clicked the platform + view-through extras, allocated
     to ads by clicks (Meta integers, Google fractions).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import date

import numpy as np
import polars as pl

from connectors.sandbox.response import adstock, hill

CHANNELS: tuple[str, ...] = ("meta", "google_ads")
META, GOOGLE, ORGANIC, DIRECT, REFERRAL = 0, 1, 2, 3, 4
CAUSES: tuple[str, ...] = ("baseline", "meta", "google_ads")

SOURCES = ["facebook", "instagram", "google", "(direct)"]
REFERRERS = [
    "blog.trailtalk.example",
    "news.ycombinator.com",
    "pinterest.com",
    "reddit.com",
    "wirecutter.example",
]
MEDIUMS = ["paid_social", "cpc", "organic", "(none)", "referral"]
EVENT_TYPES = ["session", "lead"]

# Local hour-of-day profile of web traffic (evening peak).
_HOURS = np.array(
    [
        1.0,
        0.6,
        0.4,
        0.3,
        0.3,
        0.5,
        1.0,
        2.0,
        3.0,
        3.5,
        3.8,
        4.0,
        4.0,
        3.8,
        3.6,
        3.6,
        3.8,
        4.2,
        4.8,
        5.2,
        5.2,
        4.6,
        3.4,
        2.0,
    ]
)
_HOUR_CDF = np.cumsum(_HOURS) / _HOURS.sum()

# Journey channel mixes (meta, google, organic, direct, referral) by conversion cause.
_TOUCH_MIX = np.array(
    [[0.08, 0.12, 0.35, 0.38, 0.07], [0.32, 0.14, 0.19, 0.30, 0.05], [0.08, 0.36, 0.19, 0.32, 0.05]]
)
_LAST_MIX = np.array(
    [[0.03, 0.32, 0.26, 0.37, 0.02], [0.16, 0.40, 0.14, 0.28, 0.02], [0.02, 0.72, 0.07, 0.18, 0.01]]
)
_NONPAID_SPLIT = np.array([0.5, 0.4, 0.1])  # organic, direct, referral

_FIRST_NAMES = {
    "USD": "james mary robert patricia john jennifer michael linda david elizabeth william barbara richard susan "
    "joseph jessica thomas sarah charles karen chris nancy daniel lisa matthew betty anthony emily mark ashley "
    "paul olivia steven emma andrew ava joshua mia kevin abigail brian harper",
    "EUR": "lena anna marie sophie laura julia lea hannah emma mia lukas leon finn jonas paul felix maximilian "
    "elias ben noah giulia chiara francesca sara martina alessandro lorenzo matteo marco luca andrea lucas "
    "sofia clara ella nina tim jan moritz niklas",
}
_LAST_NAMES = {
    "USD": "smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez lopez gonzalez "
    "wilson anderson thomas taylor moore jackson martin lee perez thompson white harris sanchez clark ramirez "
    "lewis robinson walker young allen king wright scott torres nguyen hill flores",
    "EUR": "mueller schmidt schneider fischer weber meyer wagner becker schulz hoffmann koch richter klein wolf "
    "schroeder neumann schwarz zimmermann braun krueger rossi russo ferrari esposito bianchi romano colombo "
    "ricci marino greco bruno gallo conti deluca costa giordano mancini rizzo lombardi moretti",
}


@dataclass
class AdInputs:
    """Per-ad arrays of one tenant, aligned with the rows of `frame` (the delivery key columns)."""

    frame: pl.DataFrame  # tenant_id, platform, account_id, campaign_id, ad_group_id, ad_id
    platform: np.ndarray  # 0 meta, 1 google_ads
    owner: np.ndarray  # row of the budget matrix that pays for the ad
    active_from: np.ndarray  # first live window day (inclusive)
    active_to: np.ndarray  # last live window day (inclusive); < active_from: not live
    launch_day: np.ndarray  # window day of the creative's launch (negative: before the window)
    weight: np.ndarray  # delivery weight among the owner's ads
    ctr_base: np.ndarray  # click-through rate of a fresh creative
    cpm_base: np.ndarray  # cost per mille
    fatigue_halflife: np.ndarray  # days until half of the CTR above the floor is gone
    fatigue_floor: np.ndarray  # share of the fresh CTR left when fully fatigued
    campaign_slug: pl.Series  # utm_campaign
    landing_page: pl.Series


@dataclass(frozen=True)
class TenantParams:
    """Tenant-level truth besides the channel response (saved as truth/tenant_params)."""

    tenant_id: str
    tenant_num: int
    currency: str
    timezone: str
    roas_target: float
    incremental_share_target: float
    meta_incremental_share: float
    aov_sigma: float
    revenue_per_conversion_baseline: float
    baseline_level: float  # expected baseline conversions/day before shape (NaN until calibrated)
    trend_per_year: float
    reference_date: date
    weekly_mon: float
    weekly_tue: float
    weekly_wed: float
    weekly_thu: float
    weekly_fri: float
    weekly_sat: float
    weekly_sun: float
    yearly_cos1: float
    yearly_sin1: float
    yearly_cos2: float
    yearly_sin2: float
    black_friday_lift: float
    noise_rho: float
    noise_sd: float
    lead_ratio: float
    sessions_per_baseline_conversion: float  # organic+direct+referral sessions (NaN until calibrated)
    land_rate_meta: float
    land_rate_google: float
    meta_view_through: float
    google_view_through: float

    def to_frame(self) -> pl.DataFrame:
        return pl.DataFrame([{f.name: getattr(self, f.name) for f in fields(self)}])

    @classmethod
    def from_row(cls, row: dict) -> TenantParams:
        return cls(**{f.name: row[f.name] for f in fields(cls)})


@dataclass(frozen=True)
class ChannelParams:
    decay: np.ndarray  # per channel (meta, google_ads)
    k: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray
    revenue_per_conversion: np.ndarray

    def to_frame(self, tenant_id: str) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "tenant_id": [tenant_id] * len(CHANNELS),
                "channel": list(CHANNELS),
                "adstock_decay": self.decay,
                "hill_k": self.k,
                "hill_alpha": self.alpha,
                "beta": self.beta,
                "revenue_per_conversion": self.revenue_per_conversion,
            }
        )

    @classmethod
    def from_frame(cls, frame: pl.DataFrame) -> ChannelParams:
        frame = frame.sort(pl.col("channel").replace_strict(list(CHANNELS), list(range(len(CHANNELS)))))
        return cls(
            decay=frame["adstock_decay"].to_numpy(),
            k=frame["hill_k"].to_numpy(),
            alpha=frame["hill_alpha"].to_numpy(),
            beta=frame["beta"].to_numpy(),
            revenue_per_conversion=frame["revenue_per_conversion"].to_numpy(),
        )


@dataclass(frozen=True)
class TenantCarry:
    """State of a tenant at the end of the previous window (None adstock/z: start in steady state)."""

    adstock: tuple[float, float] | None
    baseline_z: float | None
    next_contact_id: int
    next_deal_id: int
    contact_seq: int


@dataclass
class TenantResult:
    delivery: pl.DataFrame
    channel_daily: pl.DataFrame
    baseline_daily: pl.DataFrame
    conversions: pl.DataFrame
    contacts: pl.DataFrame
    deals: pl.DataFrame
    touchpoints: pl.DataFrame
    channel_params: ChannelParams
    tenant_params: TenantParams


@dataclass
class History:
    """Delivery rows of the days just before the window (their day index is negative)."""

    ad: np.ndarray
    platform: np.ndarray
    day: np.ndarray
    clicks: np.ndarray


def ids_to_str(values: np.ndarray) -> pl.Series:
    return pl.Series(np.asarray(values, dtype=np.int64)).cast(pl.String)


def day_of_week(dates: np.ndarray) -> np.ndarray:
    """0 = Monday."""
    return (dates.astype("datetime64[D]").astype(np.int64) + 3) % 7


def month_day(dates: np.ndarray) -> np.ndarray:
    month = dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
    return month * 100 + (dates - dates.astype("datetime64[M]")).astype(np.int64) + 1


def baseline_shape(tp: TenantParams, dates: np.ndarray) -> np.ndarray:
    """Deterministic part of the baseline (multiplies baseline_level): trend, week, year, Black Friday."""
    days = dates.astype("datetime64[D]").astype(np.int64)
    t_years = (days - np.datetime64(tp.reference_date, "D").astype(np.int64)) / 365.25
    weekly = np.array(
        [
            tp.weekly_mon,
            tp.weekly_tue,
            tp.weekly_wed,
            tp.weekly_thu,
            tp.weekly_fri,
            tp.weekly_sat,
            tp.weekly_sun,
        ]
    )[day_of_week(dates)]
    doy = (dates - dates.astype("datetime64[Y]")).astype(np.int64)
    angle = 2 * np.pi * doy / 365.25
    yearly = np.exp(
        tp.yearly_cos1 * np.cos(angle)
        + tp.yearly_sin1 * np.sin(angle)
        + tp.yearly_cos2 * np.cos(2 * angle)
        + tp.yearly_sin2 * np.sin(2 * angle)
    )
    md = month_day(dates)
    black_friday = 1.0 + tp.black_friday_lift * ((md >= 1122) & (md <= 1202))
    trend = np.maximum(1.0 + tp.trend_per_year * t_years, 0.3)
    return trend * weekly * yearly * black_friday


def local_to_utc_us(local_seconds: np.ndarray, tz: str) -> np.ndarray:
    """Local wall-clock seconds since 1970 (naive) -> UTC microseconds.

    Ambiguous times (autumn) take the earlier offset; times skipped in spring move to the end of the gap,
    so the local date never changes and the order of events is kept. Days without a DST change use one
    offset per day (cheap); only rows on change days go through the time-zone database.
    """
    local_seconds = np.asarray(local_seconds, dtype=np.int64)
    if local_seconds.size == 0:
        return local_seconds.copy()
    day = local_seconds // 86400
    first = int(day.min())
    days = np.arange(first, int(day.max()) + 2)
    edges = _to_utc_exact(days * 86400, tz)  # UTC of each local midnight
    offset = days[:-1] * 86400 * 1_000_000 - edges[:-1]  # local - utc at the start of the day
    regular = (edges[1:] - edges[:-1]) == 86400 * 1_000_000
    idx = day - first
    out = local_seconds * 1_000_000 - offset[idx]
    odd = ~regular[idx]
    if odd.any():
        out[odd] = _to_utc_exact(local_seconds[odd], tz)
    return out


def _to_utc_exact(local_seconds: np.ndarray, tz: str) -> np.ndarray:
    naive = pl.Series(np.asarray(local_seconds, dtype=np.int64) * 1_000_000).cast(pl.Datetime("us"))
    aware = naive.dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")
    if aware.null_count():
        shifted = naive.dt.truncate("1h").dt.offset_by("1h")
        fixed = shifted.dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")
        aware = pl.select(pl.coalesce(aware, fixed)).to_series()
    return aware.dt.convert_time_zone("UTC").dt.replace_time_zone(None).cast(pl.Int64).to_numpy()


def _us_to_datetime(values: np.ndarray) -> pl.Series:
    return pl.Series(values).cast(pl.Datetime("us"))


def _seconds_of_day(rng: np.random.Generator, n: int) -> np.ndarray:
    hour = np.searchsorted(_HOUR_CDF, rng.random(n), side="right")
    return hour * 3600 + rng.integers(0, 3600, n)


def _categorical(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One draw per row of a [n, k] probability matrix."""
    cdf = np.cumsum(probs, axis=1)
    u = rng.random(len(probs)) * cdf[:, -1]
    return (u[:, None] >= cdf).sum(axis=1)


class _RowSampler:
    """Pick delivery rows of (platform, day), weighted by clicks."""

    _BIG = 10**7
    _OFFSET = 10**6

    def __init__(self, platform: np.ndarray, day: np.ndarray, weight: np.ndarray):
        key = platform.astype(np.int64) * self._BIG + day.astype(np.int64) + self._OFFSET
        self.order = np.argsort(key, kind="stable")
        self.key = key[self.order]
        self.cum = np.cumsum(weight[self.order].astype(np.float64))

    def pick(self, platform: np.ndarray, day: np.ndarray, u: np.ndarray, snap: bool) -> np.ndarray:
        """Row per query, -1 if none. snap: use the latest earlier day with rows (else the first day)."""
        n = len(platform)
        if n == 0 or len(self.key) == 0:
            return np.full(n, -1, dtype=np.int64)
        qk = platform.astype(np.int64) * self._BIG + day.astype(np.int64) + self._OFFSET
        lo = np.searchsorted(self.key, qk, "left")
        hi = np.searchsorted(self.key, qk, "right")
        if snap:
            empty = lo == hi
            before = np.clip(lo - 1, 0, len(self.key) - 1)
            same_platform = (lo > 0) & (self.key[before] // self._BIG == platform)
            first = np.searchsorted(self.key, platform.astype(np.int64) * self._BIG, "left")
            first_ok = (first < len(self.key)) & (
                self.key[np.clip(first, 0, len(self.key) - 1)] // self._BIG == platform
            )
            alt_key = np.where(
                same_platform,
                self.key[before],
                np.where(first_ok, self.key[np.clip(first, 0, len(self.key) - 1)], -1),
            )
            qk = np.where(empty, alt_key, qk)
            lo = np.where(empty, np.searchsorted(self.key, qk, "left"), lo)
            hi = np.where(empty, np.searchsorted(self.key, qk, "right"), hi)
            hi = np.where(qk < 0, lo, hi)
        found = hi > lo
        base = np.where(lo > 0, self.cum[np.clip(lo - 1, 0, None)], 0.0)
        top = self.cum[np.clip(hi - 1, 0, None)]
        j = np.searchsorted(self.cum, base + u * (top - base), "right")
        j = np.clip(j, lo, np.maximum(hi - 1, lo))
        out = np.where(found, self.order[np.clip(j, 0, len(self.order) - 1)], -1)
        return out.astype(np.int64)


def calibrate(
    tp: TenantParams, aov: float, spend: np.ndarray, shape: np.ndarray, rng: np.random.Generator
) -> tuple[ChannelParams, TenantParams]:
    """Draw response parameters so that the planned spend yields the tenant's target ROAS and share."""
    decay = np.array([rng.uniform(0.5, 0.7), rng.uniform(0.1, 0.3)])
    alpha = np.array([rng.uniform(1.3, 2.2), rng.uniform(0.9, 1.5)])
    kappa = np.array([rng.uniform(0.7, 1.1), rng.uniform(0.6, 1.0)])
    rpc = aov * np.array([0.92, 1.05]) * rng.lognormal(0.0, 0.05, 2)
    total_revenue = tp.roas_target * spend.sum()
    shares = np.array([tp.meta_incremental_share, 1.0 - tp.meta_incremental_share])
    k = np.ones(2)
    beta = np.zeros(2)
    for c in range(len(CHANNELS)):
        a = adstock(spend[c], decay[c])
        if (a > 0).any():
            k[c] = kappa[c] * float(np.median(a[a > 0]))
            response = hill(a, k[c], alpha[c]).sum()
            beta[c] = tp.incremental_share_target * total_revenue * shares[c] / (rpc[c] * response)
    mean_noise = np.exp(0.5 * tp.noise_sd**2 / (1.0 - tp.noise_rho**2))
    base_revenue = (1.0 - tp.incremental_share_target) * total_revenue
    level = base_revenue / (tp.revenue_per_conversion_baseline * shape.sum() * mean_noise)
    cp = ChannelParams(decay=decay, k=k, alpha=alpha, beta=beta, revenue_per_conversion=rpc)
    return cp, replace(tp, baseline_level=float(level))


def simulate_tenant(
    *,
    tp: TenantParams,
    cp: ChannelParams | None,
    aov: float,
    nonpaid_ratio: float,
    site_pages: list[str],
    ads: AdInputs,
    budgets: np.ndarray,
    owner_platform: np.ndarray,
    dates: np.ndarray,
    carry: TenantCarry,
    rng: np.random.Generator,
    history: History | None = None,
) -> TenantResult:
    """Simulate `dates` (consecutive days) for one tenant. cp None: calibrate the response first."""
    n_days = len(dates)
    day_start = dates.astype("datetime64[D]").astype(np.int64) * 86400  # local seconds since 1970
    win_start, win_end = day_start[0], day_start[-1] + 86399

    # ---------------------------------------------------------------- 1. delivery
    lens = np.clip(ads.active_to - ads.active_from + 1, 0, None)
    row_ad = np.repeat(np.arange(len(lens)), lens)
    row_day = ads.active_from[row_ad] + (np.arange(len(row_ad)) - np.repeat(np.cumsum(lens) - lens, lens))
    age = np.maximum(row_day - ads.launch_day[row_ad], 0)
    floor = ads.fatigue_floor[row_ad]
    fatigue = floor + (1.0 - floor) * 0.5 ** (age / ads.fatigue_halflife[row_ad])
    weight = ads.weight[row_ad] * fatigue * rng.lognormal(0.0, 0.1, len(row_ad))
    owner_day = ads.owner[row_ad] * n_days + row_day
    weight_sum = np.bincount(owner_day, weight, minlength=budgets.size)
    meta_pacing = np.minimum(rng.lognormal(-0.035, 0.1, budgets.shape), 1.25)
    google_pacing = np.clip(rng.normal(0.93, 0.06, budgets.shape), 0.3, 1.0)
    pacing = np.where((owner_platform == META)[:, None], meta_pacing, google_pacing)
    owner_spend = (budgets * pacing).ravel()
    cents = np.round(owner_spend[owner_day] * 100.0 * weight / np.maximum(weight_sum[owner_day], 1e-12))
    cents = cents.astype(np.int64)
    keep = cents > 0
    row_ad, row_day, cents, fatigue = row_ad[keep], row_day[keep], cents[keep], fatigue[keep]
    row_plat = ads.platform[row_ad]
    n_rows = len(row_ad)
    md = month_day(dates)
    q4 = ((md >= 1015) & (md <= 1220)).astype(float) + ((md >= 1120) & (md <= 1202))
    cpm_season = 1.0 + np.where(row_plat == META, 0.18, 0.08) * q4[row_day]
    cpm = ads.cpm_base[row_ad] * cpm_season * rng.lognormal(0.0, 0.12, n_rows)
    impressions = np.maximum(np.round(cents / 100.0 / cpm * 1000.0), 1).astype(np.int64)
    ctr = np.minimum(ads.ctr_base[row_ad] * fatigue * rng.lognormal(0.0, 0.1, n_rows), 0.5)
    clicks = rng.binomial(impressions, ctr).astype(np.int64)

    spend_cents = np.zeros((len(CHANNELS), n_days), dtype=np.int64)
    for c in range(len(CHANNELS)):
        sel = row_plat == c
        spend_cents[c] = np.bincount(row_day[sel], cents[sel], minlength=n_days).round().astype(np.int64)
    spend = spend_cents / 100.0
    clicks_by_day = np.stack(
        [
            np.bincount(row_day[row_plat == c], clicks[row_plat == c], minlength=n_days)
            for c in range(len(CHANNELS))
        ]
    )

    # ---------------------------------------------------------------- 2. truth
    shape = baseline_shape(tp, dates)
    if cp is None:
        cp, tp = calibrate(tp, aov, spend, shape, rng)
        expected_paid = (clicks_by_day * np.array([[tp.land_rate_meta], [tp.land_rate_google]])).sum()
        per_baseline = nonpaid_ratio * expected_paid / max(tp.baseline_level * shape.sum(), 1e-9)
        tp = replace(tp, sessions_per_baseline_conversion=float(per_baseline))
    stock = np.zeros((len(CHANNELS), n_days))
    for c in range(len(CHANNELS)):
        previous = None if carry.adstock is None else carry.adstock[c]
        stock[c] = adstock(spend[c], cp.decay[c], previous)
    incremental = cp.beta[:, None] * np.stack(
        [hill(stock[c], cp.k[c], cp.alpha[c]) for c in range(len(CHANNELS))]
    )
    z = np.empty(n_days)
    eps = rng.normal(0.0, tp.noise_sd, n_days)
    prev_z = (
        carry.baseline_z
        if carry.baseline_z is not None
        else rng.normal(0.0, tp.noise_sd / np.sqrt(1 - tp.noise_rho**2))
    )
    for i in range(n_days):  # AR(1) demand noise, one step per day
        prev_z = tp.noise_rho * prev_z + eps[i]
        z[i] = prev_z
    baseline = tp.baseline_level * shape * np.exp(z)

    # ---------------------------------------------------------------- 3. realised conversions
    mu = np.vstack([baseline, incremental])  # [cause, day]
    n_conv_day = rng.poisson(mu.sum(axis=0))
    conv_day = np.repeat(np.arange(n_days), n_conv_day)
    n_conv = len(conv_day)
    cause = _categorical(rng, (mu / mu.sum(axis=0))[:, conv_day].T)
    rpc_cause = np.concatenate([[tp.revenue_per_conversion_baseline], cp.revenue_per_conversion])
    sigma = tp.aov_sigma
    amount_cents = np.maximum(
        np.round(rng.lognormal(np.log(rpc_cause[cause]) - sigma**2 / 2, sigma) * 100.0), 100
    ).astype(np.int64)

    # ---------------------------------------------------------------- 4. CRM timelines (local seconds)
    conv_t = day_start[conv_day] + np.maximum(
        _seconds_of_day(rng, n_conv), 5400 + rng.integers(0, 1800, n_conv)
    )
    last_t = conv_t - rng.integers(120, 2700, n_conv)
    lag = np.maximum(rng.gamma(1.3, 6.0 / 1.3, n_conv) * 86400, 7200).astype(np.int64)
    c_lead = np.clip(conv_t - lag, win_start + 1800, last_t - 60)
    stage_u = np.sort(rng.random((n_conv, 3)), axis=1)
    c_stage = c_lead[:, None] + (stage_u * (conv_t - c_lead)[:, None]).astype(np.int64)  # mql, sql, opp

    n_lead_day = rng.poisson(tp.lead_ratio * mu.sum(axis=0))
    lead_day = np.repeat(np.arange(n_days), n_lead_day)
    n_leads = len(lead_day)
    l_lead = day_start[lead_day] + np.maximum(
        _seconds_of_day(rng, n_leads), 900 + rng.integers(0, 1800, n_leads)
    )
    final_stage = _categorical(rng, np.tile([0.55, 0.25, 0.1, 0.1], (n_leads, 1)))  # 0 lead .. 3 opportunity
    gaps = rng.gamma(1.5, np.array([2.0, 4.0, 6.0, 12.0]) / 1.5, (n_leads, 4)) * 86400
    l_times = l_lead[:, None] + np.cumsum(gaps, axis=1).astype(np.int64)  # mql, sql, opp, close
    reached = (np.arange(1, 4)[None, :] <= final_stage[:, None]) & (l_times[:, :3] <= win_end)
    reached = np.cumprod(reached, axis=1).astype(bool)
    l_final = reached.sum(axis=1)
    lost = rng.random(n_leads) < 0.75
    l_closed = reached[:, 2] & lost & (l_times[:, 3] <= win_end)

    # ---------------------------------------------------------------- 5. journeys
    # Contacts: converters first (0..n_conv-1), then non-converting leads.
    n_contacts = n_conv + n_leads
    traffic = np.vstack(
        [
            clicks_by_day * np.array([[tp.land_rate_meta], [tp.land_rate_google]]),
            tp.sessions_per_baseline_conversion * baseline[None, :] * _NONPAID_SPLIT[:, None],
        ]
    )  # expected sessions per channel and day
    traffic_mix = (traffic + 1e-9) / (traffic + 1e-9).sum(axis=0)
    pieces_owner, pieces_t, pieces_ch, pieces_forced = [], [], [], []

    def add(owner: np.ndarray, t: np.ndarray, ch: np.ndarray, forced: bool) -> None:
        pieces_owner.append(owner)
        pieces_t.append(t)
        pieces_ch.append(ch)
        pieces_forced.append(np.full(len(owner), forced))

    conv_idx = np.arange(n_conv)
    add(conv_idx, last_t, _categorical(rng, _LAST_MIX[cause]), False)  # last touch before buying
    c_lead_sess = c_lead - rng.integers(60, 900, n_conv)
    add(conv_idx, c_lead_sess, _categorical(rng, _TOUCH_MIX[cause]), False)
    n_extra = rng.poisson(1.0, n_conv)
    e_owner = np.repeat(conv_idx, n_extra)
    e_lo = np.maximum(win_start, c_lead[e_owner] - 10 * 86400)
    e_t = e_lo + (rng.random(len(e_owner)) * (last_t[e_owner] - e_lo)).astype(np.int64)
    add(e_owner, e_t, _categorical(rng, _TOUCH_MIX[cause[e_owner]]), False)
    paid_cause = np.nonzero(cause > 0)[0]  # the click that caused it: lagged like the adstock
    ch = cause[paid_cause] - 1
    lag_days = rng.geometric(1.0 - cp.decay[ch]) - 1
    causal_day = np.maximum(conv_day[paid_cause] - lag_days, 0)
    causal_sec = np.where(
        causal_day == conv_day[paid_cause],
        (rng.random(len(paid_cause)) * (last_t[paid_cause] - day_start[conv_day[paid_cause]])).astype(
            np.int64
        ),
        _seconds_of_day(rng, len(paid_cause)),
    )
    add(paid_cause, day_start[causal_day] + causal_sec, ch, True)

    lead_idx = n_conv + np.arange(n_leads)
    l_sess = l_lead - rng.integers(60, 900, n_leads)
    add(lead_idx, l_sess, _categorical(rng, traffic_mix[:, lead_day].T), False)
    n_pre = rng.poisson(0.7, n_leads)
    p_owner = np.repeat(np.arange(n_leads), n_pre)
    p_lo = np.maximum(win_start, l_lead[p_owner] - 10 * 86400)
    p_t = p_lo + (rng.random(len(p_owner)) * (l_sess[p_owner] - p_lo)).astype(np.int64)
    add(n_conv + p_owner, p_t, _categorical(rng, traffic_mix[:, lead_day[p_owner]].T), False)

    j_owner = np.concatenate(pieces_owner)
    j_t = np.concatenate(pieces_t)
    j_ch = np.concatenate(pieces_ch).astype(np.int64)
    j_forced = np.concatenate(pieces_forced)
    j_day = (j_t - win_start) // 86400

    # Paid journey sessions -> a delivery row (the ad clicked). History rows let a causal click that
    # happened before the window keep its ad when the channel is not delivering now.
    h = history or History(
        np.zeros(0, np.int64), np.zeros(0, np.int8), np.zeros(0, np.int64), np.zeros(0, np.int64)
    )
    all_ad = np.concatenate([row_ad, h.ad])
    all_day = np.concatenate([row_day, h.day])
    sampler = _RowSampler(
        np.concatenate([row_plat, h.platform]), all_day, np.concatenate([clicks, h.clicks]) + 0.01
    )
    j_row = np.full(len(j_t), -1, dtype=np.int64)
    paid = j_ch <= GOOGLE
    for snap in (False, True):
        sel = np.nonzero(paid & (j_forced == snap))[0]
        j_row[sel] = sampler.pick(j_ch[sel], j_day[sel], rng.random(len(sel)), snap=snap)
    no_ad = paid & (j_row < 0)  # no ad of that platform ran: the visitor came another way
    j_ch = np.where(no_ad & (j_ch == META), DIRECT, np.where(no_ad, ORGANIC, j_ch))
    # A causal click on an earlier day moves to that day (still inside the window).
    moved = j_forced & (j_row >= 0)
    moved_day = np.where(moved, all_day[np.maximum(j_row, 0)], j_day)
    move = moved & (moved_day < j_day) & (moved_day >= 0)
    j_t = np.where(move, day_start[np.clip(moved_day, 0, n_days - 1)] + _seconds_of_day(rng, len(j_t)), j_t)
    j_day = np.where(move, moved_day, j_day)

    # ---------------------------------------------------------------- anonymous traffic fills the rest
    landed = rng.binomial(clicks, np.where(row_plat == META, tp.land_rate_meta, tp.land_rate_google))
    in_window = (j_row >= 0) & (j_row < n_rows)
    used = np.bincount(j_row[in_window], minlength=n_rows)
    a_paid = np.maximum(landed - used, 0)
    a_row = np.repeat(np.arange(n_rows), a_paid)
    nonpaid_expected = tp.sessions_per_baseline_conversion * baseline[None, :] * _NONPAID_SPLIT[:, None]
    nonpaid_n = rng.poisson(nonpaid_expected)
    for k, channel in enumerate((ORGANIC, DIRECT, REFERRAL)):
        nonpaid_n[k] -= np.bincount(j_day[j_ch == channel], minlength=n_days)
    nonpaid_n = np.maximum(nonpaid_n, 0)
    a_np_ch = np.repeat(np.repeat(np.array([ORGANIC, DIRECT, REFERRAL]), n_days), nonpaid_n.ravel())
    a_np_day = np.repeat(np.tile(np.arange(n_days), 3), nonpaid_n.ravel())
    an_day = np.concatenate([row_day[a_row], a_np_day])
    an_ch = np.concatenate([row_plat[a_row].astype(np.int64), a_np_ch])
    an_row = np.concatenate([a_row, np.full(len(a_np_day), -1)])
    an_t = day_start[an_day] + _seconds_of_day(rng, len(an_day))
    order = np.lexsort((an_ch, an_t))
    an_day, an_ch, an_row, an_t = an_day[order], an_ch[order], an_row[order], an_t[order]
    n_an = len(an_t)
    # Visitors: a session is a return visit of an earlier session's visitor with p = 0.35.
    max_lag = max(int(7 * n_an / n_days), 1)
    parent = np.arange(n_an) - rng.integers(1, max_lag + 1, n_an)
    parent = np.where((rng.random(n_an) < 0.35) & (parent >= 0), parent, np.arange(n_an))
    while True:
        grand = parent[parent]
        if np.array_equal(grand, parent):
            break
        parent = grand
    visitor_of_root = np.cumsum(parent == np.arange(n_an)) - 1
    an_visitor = n_contacts + visitor_of_root[parent]

    # ---------------------------------------------------------------- platform-reported conversions
    # Converters who clicked a platform's ad are claimed by it, plus view-through extras.
    is_conv_session = j_owner < n_conv
    claims = np.zeros((len(CHANNELS), n_days))
    view_through = np.array([tp.meta_view_through, tp.google_view_through])
    for c in range(len(CHANNELS)):
        touched = np.zeros(n_conv, dtype=bool)
        touched[j_owner[is_conv_session & (j_ch == c)]] = True
        claims[c] = np.bincount(conv_day[touched], minlength=n_days) + rng.poisson(
            view_through[c] * incremental[c]
        )
    platform_conv = np.zeros(n_rows)
    meta_claims = claims[META].astype(np.int64)
    q_day = np.repeat(np.arange(n_days), meta_claims)
    picked = sampler.pick(np.zeros(len(q_day), np.int64), q_day, rng.random(len(q_day)), snap=False)
    picked = picked[(picked >= 0) & (picked < n_rows)]
    platform_conv += np.bincount(picked, minlength=n_rows)
    g_rows = row_plat == GOOGLE
    g_weight = clicks[g_rows] + 0.01
    g_total = np.bincount(row_day[g_rows], g_weight, minlength=n_days)
    platform_conv[g_rows] = np.round(claims[GOOGLE][row_day[g_rows]] * g_weight / g_total[row_day[g_rows]], 2)
    reported_aov = np.where(
        row_plat == META, cp.revenue_per_conversion[META], cp.revenue_per_conversion[GOOGLE]
    )
    platform_value = np.round(platform_conv * reported_aov * 1.08 * rng.lognormal(0.0, 0.15, n_rows), 2)

    # ---------------------------------------------------------------- timestamps -> UTC
    n_j = len(j_t)
    local = np.concatenate(
        [j_t, an_t, c_lead, c_stage.ravel(), conv_t, l_lead, l_times.ravel()]
    )  # one conversion call for everything
    utc = local_to_utc_us(local, tp.timezone)
    cuts = np.cumsum([n_j, n_an, n_conv, 3 * n_conv, n_conv, n_leads])
    j_utc, an_utc, c_lead_u, c_stage_u, conv_u, l_lead_u, l_times_u = np.split(utc, cuts)
    c_stage_u = c_stage_u.reshape(n_conv, 3)
    l_times_u = l_times_u.reshape(n_leads, 4)

    # ---------------------------------------------------------------- contacts and deals
    contact_lead_u = np.concatenate([c_lead_u, l_lead_u])
    c_order = np.lexsort((np.arange(n_contacts), contact_lead_u))  # ids grow with creation time
    rank = np.empty(n_contacts, dtype=np.int64)
    rank[c_order] = np.arange(n_contacts)
    contact_ids = carry.next_contact_id + np.cumsum(rng.integers(1, 60, n_contacts, dtype=np.int64))
    my_contact_id = contact_ids[rank]
    seq = carry.contact_seq + rank + 1
    first_names = _FIRST_NAMES.get(tp.currency, _FIRST_NAMES["USD"]).split()
    last_names = _LAST_NAMES.get(tp.currency, _LAST_NAMES["USD"]).split()
    fn_idx = rng.integers(0, len(first_names), n_contacts)
    ln_idx = rng.integers(0, len(last_names), n_contacts)
    fn, ln = pl.Series(first_names).gather(fn_idx), pl.Series(last_names).gather(ln_idx)
    null_t = np.iinfo(np.int64).min
    mql = np.concatenate([c_stage_u[:, 0], np.where(reached[:, 0], l_times_u[:, 0], null_t)])
    sql = np.concatenate([c_stage_u[:, 1], np.where(reached[:, 1], l_times_u[:, 1], null_t)])
    opp = np.concatenate([c_stage_u[:, 2], np.where(reached[:, 2], l_times_u[:, 2], null_t)])
    customer = np.concatenate([conv_u, np.full(n_leads, null_t)])
    stage_idx = np.concatenate([np.full(n_conv, 4), l_final])
    updated = np.max(np.stack([contact_lead_u, mql, sql, opp, customer]), axis=0)

    # Anonymous ids: "<random>.<first seen, unix seconds>" (GA client id style).
    owner_first = np.full(n_contacts, np.iinfo(np.int64).max)
    np.minimum.at(owner_first, j_owner, j_utc)
    owner_first = np.minimum(owner_first, contact_lead_u)
    n_visitors = int(visitor_of_root[-1] + 1) if n_an else 0
    root_first = an_utc[parent == np.arange(n_an)]
    first_seen = np.concatenate([owner_first, root_first]) // 1_000_000
    anon_rand = rng.integers(10**8, 2 * 10**9, n_contacts + n_visitors)
    anon_ids = pl.select(
        pl.concat_str(
            [
                pl.lit(pl.Series(anon_rand)).cast(pl.String),
                pl.lit("."),
                pl.lit(pl.Series(first_seen)).cast(pl.String),
            ]
        )
    ).to_series()

    def stage_col(values: np.ndarray) -> pl.Series:
        return (
            pl.Series(np.where(values == null_t, 0, values))
            .cast(pl.Datetime("us"))
            .scatter(np.nonzero(values == null_t)[0], None)
        )

    stages = ["lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer"]
    contacts = pl.DataFrame(
        {
            "tenant_id": pl.repeat(tp.tenant_id, n_contacts, eager=True),
            "contact_id": ids_to_str(my_contact_id),
            "email": pl.select(
                pl.concat_str(
                    [
                        pl.lit(fn),
                        pl.lit("."),
                        pl.lit(ln),
                        pl.lit("."),
                        pl.lit(pl.Series(seq)).cast(pl.String),
                        pl.lit("@example.com"),
                    ]
                )
            ).to_series(),
            "firstname": pl.Series([n.capitalize() for n in first_names]).gather(fn_idx),
            "lastname": pl.Series([n.capitalize() for n in last_names]).gather(ln_idx),
            "anonymous_id": anon_ids.head(n_contacts),
            "created_at": _us_to_datetime(contact_lead_u),
            "updated_at": _us_to_datetime(updated),
            "lifecyclestage": pl.Series(stages).gather(stage_idx),
            "lead_date": _us_to_datetime(contact_lead_u),
            "mql_date": stage_col(mql),
            "sql_date": stage_col(sql),
            "opportunity_date": stage_col(opp),
            "customer_date": stage_col(customer),
        }
    )

    # Deals: every converter (closedwon) and every non-converting opportunity (closedlost or open).
    lo_idx = np.nonzero(reached[:, 2])[0]
    n_lo = len(lo_idx)
    open_stages = np.array(
        ["qualifiedtobuy", "presentationscheduled", "decisionmakerboughtin", "contractsent"]
    )
    d_contact = np.concatenate([conv_idx, n_conv + lo_idx])
    d_create = np.concatenate([c_stage_u[:, 2], l_times_u[lo_idx, 2]])
    closed = l_closed[lo_idx]
    expected_close = l_times_u[lo_idx, 2] + 30 * 86400 * 1_000_000
    d_close = np.concatenate(
        [conv_u, np.where(closed, l_times_u[lo_idx, 3], np.maximum(expected_close, l_times_u[lo_idx, 3]))]
    )
    d_stage = np.concatenate(
        [np.full(n_conv, "closedwon"), np.where(closed, "closedlost", open_stages[rng.integers(0, 4, n_lo)])]
    )
    lo_amount = np.round(rng.lognormal(np.log(aov) - sigma**2 / 2, sigma, n_lo) * 100).astype(np.int64)
    d_amount = np.concatenate([amount_cents, np.maximum(lo_amount, 100)]) / 100.0
    d_updated = np.concatenate([conv_u, np.where(closed, l_times_u[lo_idx, 3], l_times_u[lo_idx, 2])])
    d_order = np.lexsort((d_contact, d_create))
    d_rank = np.empty(len(d_order), dtype=np.int64)
    d_rank[d_order] = np.arange(len(d_order))
    deal_ids = (carry.next_deal_id + np.cumsum(rng.integers(1, 80, len(d_order), dtype=np.int64)))[d_rank]
    d_label = np.where(np.arange(len(d_contact)) < n_conv, "Order - ", "Opportunity - ")
    deals = pl.DataFrame(
        {
            "tenant_id": pl.repeat(tp.tenant_id, len(d_contact), eager=True),
            "deal_id": ids_to_str(deal_ids),
            "contact_id": ids_to_str(my_contact_id[d_contact]),
            "dealname": pl.select(
                pl.concat_str(
                    [
                        pl.lit(pl.Series(d_label)),
                        contacts["firstname"].gather(d_contact),
                        pl.lit(" "),
                        contacts["lastname"].gather(d_contact),
                    ]
                )
            ).to_series(),
            "amount": d_amount,
            "dealstage": d_stage,
            "pipeline": pl.repeat("default", len(d_contact), eager=True),
            "createdate": _us_to_datetime(d_create),
            "closedate": _us_to_datetime(d_close),
            "updated_at": _us_to_datetime(d_updated),
        }
    )

    # ---------------------------------------------------------------- touchpoints
    # The lead event copies the utm of the contact's lead session (pieces 1 and 4 above).
    piece_start = np.cumsum([0] + [len(p) for p in pieces_owner])
    lead_session = np.concatenate([piece_start[1] + conv_idx, piece_start[4] + np.arange(n_leads)])
    lead_owner = np.arange(n_contacts)
    ev_t = np.concatenate([j_utc, an_utc, contact_lead_u])
    ev_local_day = np.concatenate([j_day, an_day, np.concatenate([(c_lead - win_start) // 86400, lead_day])])
    ev_ch = np.concatenate([j_ch, an_ch, j_ch[lead_session]])
    ev_row = np.concatenate([j_row, an_row, j_row[lead_session]])
    ev_visitor = np.concatenate([j_owner, an_visitor, lead_owner])
    ev_type = np.concatenate([np.zeros(n_j + n_an, np.int64), np.ones(n_contacts, np.int64)])
    n_ev = len(ev_t)
    order = np.lexsort((ev_type, ev_visitor, ev_t))
    ev_t, ev_local_day, ev_ch, ev_row, ev_visitor, ev_type = (
        a[order] for a in (ev_t, ev_local_day, ev_ch, ev_row, ev_visitor, ev_type)
    )
    per_day = np.bincount(ev_local_day, minlength=n_days)
    day_first = np.cumsum(per_day) - per_day
    by_day = np.argsort(ev_local_day, kind="stable")
    seq_in_day = np.empty(n_ev, dtype=np.int64)
    seq_in_day[by_day] = np.arange(n_ev) - day_first[ev_local_day[by_day]] + 1
    ymd = dates.astype("datetime64[D]").astype(object)
    ymd_num = np.array([d.year * 10000 + d.month * 100 + d.day for d in ymd], dtype=np.int64)
    event_id = tp.tenant_num * 10**15 + ymd_num[ev_local_day] * 10**7 + seq_in_day

    source = np.select(
        [ev_ch == META, ev_ch <= ORGANIC, ev_ch == DIRECT],
        [rng.choice([0, 1], n_ev, p=[0.68, 0.32]), np.full(n_ev, 2), np.full(n_ev, 3)],
        4 + rng.integers(0, len(REFERRERS), n_ev),
    )
    n_ads = len(ads.campaign_slug)
    paid_ev = ev_ch <= GOOGLE
    ad_of_event = np.where(paid_ev, all_ad[np.maximum(ev_row, 0)], n_ads)
    page_pick = np.where(
        (ev_ch == DIRECT) & (rng.random(n_ev) < 0.55), 0, rng.integers(0, len(site_pages), n_ev)
    )
    page_idx = np.where(paid_ev, ad_of_event, n_ads + page_pick)
    landing_all = pl.concat([ads.landing_page, pl.Series(site_pages, dtype=pl.String)])
    slug_all = pl.concat([ads.campaign_slug, pl.Series([None], dtype=pl.String)])
    touchpoints = pl.DataFrame(
        {
            "tenant_id": pl.repeat(tp.tenant_id, n_ev, eager=True),
            "event_id": ids_to_str(event_id),
            "anonymous_id": anon_ids.gather(ev_visitor),
            "event_ts": _us_to_datetime(ev_t),
            "event_type": pl.Series(EVENT_TYPES).gather(ev_type),
            "utm_source": pl.Series(SOURCES + REFERRERS).gather(source),
            "utm_medium": pl.Series(MEDIUMS).gather(ev_ch),
            "utm_campaign": slug_all.gather(ad_of_event),
            "landing_page": landing_all.gather(page_idx),
        }
    )

    # ---------------------------------------------------------------- frames
    date_col = pl.Series(dates).cast(pl.Date)
    delivery = pl.concat(
        [
            ads.frame[row_ad],
            pl.DataFrame(
                {
                    "date": date_col.gather(row_day),
                    "spend_micros": cents * 10_000,
                    "impressions": impressions,
                    "clicks": clicks,
                    "platform_conversions": platform_conv,
                    "platform_conversion_value": platform_value,
                }
            ),
        ],
        how="horizontal",
    )
    channel_daily = pl.DataFrame(
        {
            "tenant_id": pl.repeat(tp.tenant_id, 2 * n_days, eager=True),
            "date": pl.concat([date_col, date_col]),
            "channel": np.repeat(np.array(CHANNELS), n_days),
            "spend": spend.ravel(),
            "adstock": stock.ravel(),
            "incremental_conversions": incremental.ravel(),
            "incremental_revenue": (incremental * cp.revenue_per_conversion[:, None]).ravel(),
        }
    )
    baseline_daily = pl.DataFrame(
        {
            "tenant_id": pl.repeat(tp.tenant_id, n_days, eager=True),
            "date": date_col,
            "baseline_conversions": baseline,
            "total_conversions": n_conv_day.astype(np.int64),
            "total_revenue": np.bincount(conv_day, amount_cents, minlength=n_days).round() / 100.0,
        }
    )
    conversions = pl.DataFrame(
        {
            "tenant_id": pl.repeat(tp.tenant_id, n_conv, eager=True),
            "date": date_col.gather(conv_day),
            "deal_id": deals["deal_id"].head(n_conv),
            "contact_id": contacts["contact_id"].head(n_conv),
            "cause": pl.Series(CAUSES).gather(cause),
            "amount": amount_cents / 100.0,
        }
    )
    return TenantResult(
        delivery=delivery,
        channel_daily=channel_daily,
        baseline_daily=baseline_daily,
        conversions=conversions,
        contacts=contacts,
        deals=deals,
        touchpoints=touchpoints,
        channel_params=cp,
        tenant_params=tp,
    )
