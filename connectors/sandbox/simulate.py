"""Simulate a window of days for one tenant: delivery, true response, CRM and web touchpoints.

The same function builds the initial world (one window over the whole preset, calibrating the response
model on the planned spend) and every later `SandboxState.advance` (a window of new days, with the saved
parameters and the adstock/baseline state carried over from the last simulated day). All work is
vectorised over rows; the only Python loops run over the (few) channels.

Order of events inside a window:
  1. delivery: each budget owner's daily budget * pacing noise, split over its live ads (weight x creative
     fatigue), in whole cents, times any injected anomaly; impressions from CPM, clicks from the CTR.
  2. truth: channel input (spend; emails delivered / organic reach for the non-paid channels) ->
     adstock -> Hill -> expected incremental conversions; baseline demand.
  3. realised conversions ~ Poisson(baseline + incremental), each with a cause (baseline or a channel).
  4. CRM: every conversion is a customer (lead -> MQL -> SQL -> opportunity -> customer, closedwon deal);
     more leads stop earlier (some opportunities get a closedlost deal). Lead features are drawn per
     class, so the true lead propensity is exact.
  5. journeys: first visit, extra visits and lead session before each lead (the lead features), then for
     customers the causal click of their channel, more visits and the last visit (google search is often
     the last touch); the rest of the clicks (ads, newsletters, posts) and organic/direct/referral
     traffic become anonymous visitors' sessions.
  6. platform-reported conversions: converters who clicked the platform + view-through extras, allocated
     to ads by clicks (integers; Google fractions), cut by tracking anomalies.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, fields, replace
from datetime import date

import numpy as np
import polars as pl
from scipy.special import gammaln

from connectors.sandbox.channels import (
    CAUSES,
    CHANNELS,
    DIRECT,
    EMAIL,
    GOOGLE,
    LAST_MIX,
    N_CHANNELS,
    N_PAID,
    NONPAID,
    NONPAID_SPLIT,
    ORGANIC,
    PLATFORM_MODELS,
    PLATFORMS,
    REFERRAL,
    RESPONSE_RANGES,
    SOCIAL,
    TOUCH_MIX,
)
from connectors.sandbox.media import NonPaidChannel, empty_clicks
from connectors.sandbox.response import adstock, hill

REFERRERS = [
    "blog.trailtalk.example",
    "news.ycombinator.com",
    "pinterest.com",
    "reddit.com",
    "wirecutter.example",
]
EVENT_TYPES = ["session", "lead"]

# Lead propensity. Each contact's features at lead time are drawn from known class-conditional
# distributions (index 0: never buys, 1: becomes a customer), independent given the class, so the
# true P(customer | features) follows exactly by Bayes (truth/lead_propensity):
#   first-touch channel (journey channels 0..8; email cannot come first),
#   extra sessions between the first touch and the lead session ~ Poisson(PRE_SESSIONS),
#   of those, product-page landings ~ Binomial(extra, PRODUCT_VIEW),
#   lead form (the lead event's landing page), marketing opt-in ~ Bernoulli(OPT_IN).
FIRST_TOUCH = np.array(
    [
        [0.22, 0.12, 0.004, 0.18, 0.0, 0.02, 0.268, 0.108, 0.08],
        [0.2, 0.26, 0.002, 0.084, 0.0, 0.01, 0.234, 0.15, 0.06],
    ]
)
PRE_SESSIONS = np.array([0.5, 1.5])
PRODUCT_VIEW = np.array([0.2, 0.5])
LEAD_FORMS = ["/account/register", "/newsletter", "/guides/download", "/contact", "/giveaway"]
LEAD_FORM_P = np.array([[0.12, 0.38, 0.2, 0.08, 0.22], [0.36, 0.25, 0.15, 0.14, 0.10]])
OPT_IN = np.array([0.45, 0.72])

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
    platform: np.ndarray  # index into channels.PLATFORMS
    campaign: np.ndarray  # campaign row (anomalies hit campaigns)
    owner: np.ndarray  # row of the budget matrix that pays for the ad
    active_from: np.ndarray  # first live window day (inclusive)
    active_to: np.ndarray  # last live window day (inclusive); < active_from: not live
    launch_day: np.ndarray  # window day of the creative's launch (negative: before the window)
    weight: np.ndarray  # delivery weight among the owner's ads
    ctr_base: np.ndarray  # click-through rate of a fresh creative
    cpm_base: np.ndarray  # cost per mille
    fatigue_halflife: np.ndarray  # days after the onset until half of the CTR above the floor is gone
    fatigue_floor: np.ndarray  # share of the fresh CTR left when fully fatigued
    fatigue_onset: np.ndarray  # days after launch when wear-out starts; NaN = a stable creative
    campaign_slug: pl.Series  # utm_campaign
    landing_page: pl.Series


@dataclass
class Anomalies:
    """Injected incidents of one window: per anomaly a campaign row, a day range and multipliers."""

    campaign: np.ndarray
    first: np.ndarray  # window day, inclusive
    last: np.ndarray
    spend: np.ndarray  # x delivered spend (budget runaway)
    ctr: np.ndarray  # x click-through rate (broken landing page)
    conversions: np.ndarray  # x platform-reported conversions (tracking outage, conversion drop)

    rng: np.random.Generator | None = None  # the incidents' own draws (None: a fresh seeded stream)

    def _rng(self) -> np.random.Generator:
        if self.rng is None:
            self.rng = np.random.default_rng(0)
        return self.rng

    def apply_delivery(
        self,
        impressions: np.ndarray,
        clicks: np.ndarray,
        cents: np.ndarray,
        cpm: np.ndarray,
        ctr: np.ndarray,
        ctr_x: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Delivery of the incident rows, drawn from the incidents' stream only (the planned rows'
        draws are untouched): a runaway's extra spend buys extra impressions and clicks at the row's
        CPM and CTR; a broken creative keeps each click with probability ctr_x."""
        rng = self._rng()
        impressions, clicks = impressions.copy(), clicks.copy()
        full = np.maximum(np.round(cents / 100.0 / cpm * 1000.0), 1).astype(np.int64)
        extra = np.nonzero(full > impressions)[0]
        if len(extra):
            more = full[extra] - impressions[extra]
            clicks[extra] += rng.binomial(more, ctr[extra])
            impressions[extra] = full[extra]
        broken = np.nonzero(ctr_x < 1.0)[0]
        if len(broken):
            clicks[broken] = rng.binomial(clicks[broken], ctr_x[broken])
        return impressions, clicks

    def apply_landed(
        self, landed: np.ndarray, planned_clicks: np.ndarray, clicks: np.ndarray, land_rate: np.ndarray
    ) -> np.ndarray:
        """Sessions of the incident rows: fewer clicks keep each planned session with probability
        clicks / planned; extra (runaway) clicks land at the row's land rate."""
        rng = self._rng()
        out = landed.copy()
        fewer = np.nonzero(clicks < planned_clicks)[0]
        if len(fewer):
            out[fewer] = rng.binomial(landed[fewer], clicks[fewer] / planned_clicks[fewer])
        more = np.nonzero(clicks > planned_clicks)[0]
        if len(more):
            out[more] += rng.binomial(clicks[more] - planned_clicks[more], land_rate[more])
        return out

    def apply_conversions(self, conv: np.ndarray, conv_x: np.ndarray, integer_rows: np.ndarray) -> np.ndarray:
        """Platform-reported conversions of the incident rows x conv_x (integers thinned binomially
        from the incidents' stream, fractional ones scaled)."""
        out = conv.copy()
        hit = np.nonzero(conv_x < 1.0)[0]
        if len(hit):
            whole = integer_rows[hit]
            out[hit] = np.where(
                whole,
                self._rng().binomial(np.round(conv[hit]).astype(np.int64), np.minimum(conv_x[hit], 1.0)),
                np.round(conv[hit] * conv_x[hit], 2),
            )
        return out

    def factors(self, campaign: np.ndarray, day: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        spend, ctr, conv = np.ones(len(day)), np.ones(len(day)), np.ones(len(day))
        for i in range(len(self.campaign)):  # a handful per tenant
            hit = (campaign == self.campaign[i]) & (day >= self.first[i]) & (day <= self.last[i])
            spend[hit] *= self.spend[i]
            ctr[hit] *= self.ctr[i]
            conv[hit] *= self.conversions[i]
        return spend, ctr, conv


_PER_CHANNEL = {"incremental_share": CHANNELS, "land_rate": PLATFORMS, "view_through": PLATFORMS}


@dataclass(frozen=True)
class TenantParams:
    """Tenant-level truth besides the channel response (saved as truth/tenant_params).

    The per-channel tuples are saved as one column per channel (`incremental_share_meta`, ...)."""

    tenant_id: str
    tenant_num: int
    currency: str
    timezone: str
    roas_target: float
    incremental_share_target: float  # share of revenue caused by all media channels
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
    incremental_share: tuple[float, ...]  # per channel: share of the media-caused revenue
    land_rate: tuple[float, ...]  # per paid platform: share of clicks that arrive as sessions
    view_through: tuple[float, ...]  # per paid platform: claimed extras per incremental conversion

    def to_frame(self) -> pl.DataFrame:
        row = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in _PER_CHANNEL:
                row.update(
                    {f"{f.name}_{c}": float(v) for c, v in zip(_PER_CHANNEL[f.name], value, strict=True)}
                )
            else:
                row[f.name] = value
        return pl.DataFrame([row])

    @classmethod
    def from_row(cls, row: dict) -> TenantParams:
        values = {}
        for f in fields(cls):
            if f.name in _PER_CHANNEL:
                values[f.name] = tuple(float(row[f"{f.name}_{c}"]) for c in _PER_CHANNEL[f.name])
            else:
                values[f.name] = row[f.name]
        return cls(**values)


@dataclass(frozen=True)
class ChannelParams:
    decay: np.ndarray  # per response channel (channels.CHANNELS)
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
        if frame["channel"].to_list() != list(CHANNELS):
            raise ValueError(f"channel_params must have one row per channel {CHANNELS}")
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

    adstock: tuple[float, ...] | None  # per response channel
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
    lead_propensity: pl.DataFrame
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
    tp: TenantParams,
    aov: float,
    inputs: np.ndarray,
    paid_spend: float,
    shape: np.ndarray,
    rng: np.random.Generator,
) -> tuple[ChannelParams, TenantParams]:
    """Draw response parameters so that the planned inputs yield the tenant's target ROAS and shares.

    inputs: [channel, day] spend (paid) or volume (email, organic social). A channel without any input
    causes nothing; its share of the media revenue goes to the others in proportion.
    """
    decay = np.array([rng.uniform(*r.decay) for r in RESPONSE_RANGES])
    alpha = np.array([rng.uniform(*r.alpha) for r in RESPONSE_RANGES])
    kappa = np.array([rng.uniform(*r.kappa) for r in RESPONSE_RANGES])
    rpc = aov * np.array([r.revenue_factor for r in RESPONSE_RANGES]) * rng.lognormal(0.0, 0.05, N_CHANNELS)
    total_revenue = tp.roas_target * paid_spend
    has_input = (inputs > 0).any(axis=1)
    shares = np.array(tp.incremental_share) * has_input
    shares = shares / max(shares.sum(), 1e-12)
    k = np.ones(N_CHANNELS)
    beta = np.zeros(N_CHANNELS)
    for c in np.nonzero(has_input)[0]:
        a = adstock(inputs[c], decay[c])
        k[c] = kappa[c] * float(np.median(a[a > 0]))
        response = hill(a, k[c], alpha[c]).sum()
        beta[c] = tp.incremental_share_target * total_revenue * shares[c] / (rpc[c] * response)
    mean_noise = np.exp(0.5 * tp.noise_sd**2 / (1.0 - tp.noise_rho**2))
    base_revenue = (1.0 - tp.incremental_share_target) * total_revenue
    level = base_revenue / (tp.revenue_per_conversion_baseline * shape.sum() * mean_noise)
    cp = ChannelParams(decay=decay, k=k, alpha=alpha, beta=beta, revenue_per_conversion=rpc)
    return cp, replace(tp, baseline_level=float(level))


def _pacing(owner_platform: np.ndarray, n_days: int, rng: np.random.Generator) -> np.ndarray:
    """Delivered share of each owner's budget per day (social: noisy, may overspend; search: under)."""
    pacing = np.ones((len(owner_platform), n_days))
    for p, m in enumerate(PLATFORM_MODELS):
        sel = owner_platform == p
        shape = (int(sel.sum()), n_days)
        if m.pacing == "lognormal":
            pacing[sel] = np.minimum(rng.lognormal(m.pacing_loc, m.pacing_sd, shape), m.pacing_cap)
        else:
            pacing[sel] = np.clip(rng.normal(m.pacing_loc, m.pacing_sd, shape), 0.3, m.pacing_cap)
    return pacing


def _click_rows(nonpaid: dict[str, NonPaidChannel], n_days: int) -> tuple[np.ndarray, pl.DataFrame]:
    """Non-paid click tables stacked: journey channel per row and the rows (day, utm..., clicks)."""
    frames, chans = [], []
    for c, name in zip((EMAIL, SOCIAL), NONPAID, strict=True):
        channel = nonpaid.get(name)
        if channel is not None and channel.clicks.height:
            frames.append(channel.clicks)
            chans.append(np.full(channel.clicks.height, c, dtype=np.int64))
    if not frames:
        return np.zeros(0, np.int64), empty_clicks()
    return np.concatenate(chans), pl.concat(frames)


def _poisson_logpmf(k: np.ndarray, lam: float) -> np.ndarray:
    return k * np.log(lam) - lam - gammaln(k + 1)


def lead_propensity(
    first_touch: np.ndarray,
    extra: np.ndarray,
    products: np.ndarray,
    form: np.ndarray,
    opt_in: np.ndarray,
    lead_ratio: float,
    time_log_odds: np.ndarray | None = None,
) -> np.ndarray:
    """P(customer | features) under the class-conditional model.

    time_log_odds None: the prior is 1 / (1 + lead_ratio) (the features alone); else the log ratio of
    the two classes' lead-time densities at each lead (``lead_time_log_odds``), which replaces it.
    """
    log_odds = (
        np.full(len(extra), np.log(1.0 / lead_ratio)) if time_log_odds is None else time_log_odds.copy()
    )
    for cls, sign in ((1, 1.0), (0, -1.0)):
        q = PRODUCT_VIEW[cls]
        ll = (
            np.log(FIRST_TOUCH[cls][first_touch])
            + _poisson_logpmf(extra, PRE_SESSIONS[cls])
            + products * np.log(q)
            + (extra - products) * np.log(1 - q)
            + np.log(LEAD_FORM_P[cls][form])
            + np.where(opt_in, np.log(OPT_IN[cls]), np.log(1 - OPT_IN[cls]))
        )
        log_odds += sign * ll  # binomial coefficients cancel
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-log_odds))


# Lead timing. A customer's lead time is derived from its purchase (purchase time minus a gamma lag,
# moved before the causal click of a media conversion, clipped to the window start), a non-customer's
# is drawn directly (lead_ratio x the day's expected conversions, evening-peaked hour profile). The
# two classes therefore differ in *when* they become leads (hour of day, and the day through the
# demand curve and the window edges): the true propensity conditions on the lead time as well.
_CELL = 900  # seconds: lead-time densities are tabulated per quarter hour
_KERNEL_DRAWS = 200_000  # private Monte Carlo draws per cause for the purchase -> lead offset


def _lead_offsets(rng: np.random.Generator, n: int, decays: list[float | None]) -> list[np.ndarray]:
    """Seconds from the start of the purchase day to the lead, for customers of each cause (decay
    None: baseline; else the media channel's adstock decay), drawn as the world draws them (the same
    purchases and lags for every cause: only the causal click differs)."""
    conv = np.maximum(_seconds_of_day(rng, n), 5400 + rng.integers(0, 1800, n))
    last = conv - rng.integers(120, 2700, n)
    lag = np.maximum(rng.gamma(1.3, 6.0 / 1.3, n) * 86400, 7200).astype(np.int64)
    lead = conv - lag
    same_day = (rng.random(n) * last).astype(np.int64)
    other_day = _seconds_of_day(rng, n)
    gap = rng.integers(600, 2 * 86400, n)
    u = rng.random(n)
    out = []
    for decay in decays:
        if decay is None:
            out.append(lead)
            continue
        # geometric(1 - decay) - 1 by inversion of the common uniforms
        lag_days = (
            np.floor(np.log1p(-u) / np.log(decay)).astype(np.int64) if decay > 0 else np.zeros(n, np.int64)
        )
        causal = np.where(lag_days == 0, same_day, -lag_days * 86400 + other_day)
        out.append(np.minimum(lead, np.minimum(causal, last) - gap))
    return out


def lead_time_log_odds(
    lead_seconds: np.ndarray,
    mu: np.ndarray,
    decay: np.ndarray,
    lead_ratio: float,
    seed: int,
) -> np.ndarray:
    """log(customer lead density / non-customer lead density) at each lead time.

    lead_seconds: lead time in local seconds since the window start; mu: [cause, day] expected
    conversions (cause 0 baseline, c > 0 the media channel c - 1 with adstock ``decay[c - 1]``).
    The customer density is the expected purchases convolved with the purchase -> lead offset
    (tabulated per quarter hour from a private Monte Carlo seeded by ``seed``: the world's generator
    is not touched); mass before ``window start + 1800 s`` sits on that instant (the world's clip).
    Approximations: densities are uniform within a quarter hour, and a causal click is never snapped
    to an earlier day (it is when its platform had no delivery that day).
    """
    from scipy.signal import fftconvolve

    rng = np.random.default_rng(seed)
    n_days = mu.shape[1]
    per_day = 86400 // _CELL
    n_cells = n_days * per_day
    customer = np.zeros(n_cells)
    clipped = 0.0
    causes = [c for c in range(mu.shape[0]) if mu[c].any()]
    draws = _lead_offsets(rng, _KERNEL_DRAWS, [None if c == 0 else float(decay[c - 1]) for c in causes])
    for c, lead_offsets in zip(causes, draws, strict=True):
        offsets = lead_offsets // _CELL
        low = int(offsets.min())
        kernel = np.bincount(offsets - low) / len(offsets)
        impulses = np.zeros(n_cells)
        impulses[::per_day] = mu[c]
        full = fftconvolve(impulses, kernel)  # index i <-> cell i + low
        full = np.maximum(full, 0.0)
        cells = np.arange(len(full)) + low
        inside = (cells >= 1800 // _CELL) & (cells < n_cells)
        customer[cells[inside]] += full[inside]
        clipped += float(full[cells < 1800 // _CELL].sum())
    customer[np.abs(customer) < 1e-12] = 0.0
    # non-customers: day intensity x hour profile; hour 0 is max(uniform hour, 900 + U[0, 1800)) s
    hour = _HOURS / _HOURS.sum()
    quarter = np.repeat(hour, 4) / 4.0
    quarter[:4] = hour[0] * np.array([0.0, 0.25, 0.5, 0.25])
    lead = np.outer(lead_ratio * mu.sum(axis=0), quarter).ravel()
    # the clip instant (second 1800 of day 0): its probability under the non-customer draw
    instant = lead_ratio * mu[:, 0].sum() * hour[0] * ((1801 / 3600) / 1800 + (1 / 3600) * (900 / 1800))
    cell = np.clip(lead_seconds // _CELL, 0, n_cells - 1).astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log(customer[cell]) - np.log(lead[cell])
        out[(customer[cell] == 0) & (lead[cell] == 0)] = 0.0  # no lead of either class can be there
        at_clip = lead_seconds == 1800
        out[at_clip] = np.log(clipped) - np.log(instant)
    return out


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
    nonpaid: dict[str, NonPaidChannel] | None = None,
    anomalies: Anomalies | None = None,
) -> TenantResult:
    """Simulate `dates` (consecutive days) for one tenant. cp None: calibrate the response first.

    nonpaid: per non-paid channel its daily volume and click table (see media.py); missing = silent.
    anomalies: incidents applied to delivery before the truth is computed.
    """
    n_days = len(dates)
    day_start = dates.astype("datetime64[D]").astype(np.int64) * 86400  # local seconds since 1970
    win_start, win_end = day_start[0], day_start[-1] + 86399
    nonpaid = nonpaid or {}

    # ---------------------------------------------------------------- 1. delivery
    lens = np.clip(ads.active_to - ads.active_from + 1, 0, None)
    row_ad = np.repeat(np.arange(len(lens)), lens)
    row_day = ads.active_from[row_ad] + (np.arange(len(row_ad)) - np.repeat(np.cumsum(lens) - lens, lens))
    age = np.maximum(row_day - ads.launch_day[row_ad], 0)
    onset = ads.fatigue_onset[row_ad]
    worn = np.where(np.isnan(onset), 0.0, np.maximum(age - np.nan_to_num(onset), 0.0))
    floor = ads.fatigue_floor[row_ad]
    fatigue = floor + (1.0 - floor) * 0.5 ** (worn / ads.fatigue_halflife[row_ad])
    weight = ads.weight[row_ad] * fatigue * rng.lognormal(0.0, 0.1, len(row_ad))
    owner_day = ads.owner[row_ad] * n_days + row_day
    weight_sum = np.bincount(owner_day, weight, minlength=budgets.size)
    owner_spend = (budgets * _pacing(owner_platform, n_days, rng)).ravel()
    share = weight / np.maximum(weight_sum[owner_day], 1e-12)
    if anomalies is not None:
        spend_x, ctr_x, conv_x = anomalies.factors(ads.campaign[row_ad], row_day)
    else:
        spend_x = ctr_x = conv_x = np.ones(len(row_ad))
    planned_cents = np.round(owner_spend[owner_day] * 100.0 * share).astype(np.int64)
    cents = np.round(owner_spend[owner_day] * 100.0 * share * spend_x).astype(np.int64)
    keep = planned_cents > 0
    row_ad, row_day, cents, fatigue = row_ad[keep], row_day[keep], cents[keep], fatigue[keep]
    planned_cents, ctr_x, conv_x = planned_cents[keep], ctr_x[keep], conv_x[keep]
    row_plat = ads.platform[row_ad].astype(np.int64)
    n_rows = len(row_ad)
    md = month_day(dates)
    q4 = ((md >= 1015) & (md <= 1220)).astype(float) + ((md >= 1120) & (md <= 1202))
    uplift = np.array([m.cpm_q4_uplift for m in PLATFORM_MODELS])[row_plat]
    # A worn-out creative also costs more per impression (lower relevance): cost per result worsens.
    cpm = ads.cpm_base[row_ad] * (1.0 + uplift * q4[row_day]) * rng.lognormal(0.0, 0.12, n_rows)
    cpm = cpm / (0.75 + 0.25 * fatigue)
    impressions = np.maximum(np.round(planned_cents / 100.0 / cpm * 1000.0), 1).astype(np.int64)
    ctr = np.minimum(ads.ctr_base[row_ad] * fatigue * rng.lognormal(0.0, 0.1, n_rows), 0.5)
    clicks = rng.binomial(impressions, ctr).astype(np.int64)
    if anomalies is not None:  # incidents draw from their own stream: the rest of the world is unmoved
        planned_clicks = clicks
        impressions, clicks = anomalies.apply_delivery(impressions, clicks, cents, cpm, ctr, ctr_x)

    def per_platform_day(values: np.ndarray) -> np.ndarray:
        return np.bincount(row_plat * n_days + row_day, values, minlength=N_PAID * n_days).reshape(
            N_PAID, n_days
        )

    spend = np.round(per_platform_day(cents)).astype(np.int64) / 100.0
    clicks_by_day = per_platform_day(clicks)
    impressions_by_day = per_platform_day(impressions)

    # Non-paid channels: volume (response input) and click-through rows.
    volume = np.zeros((len(NONPAID), n_days))
    for i, name in enumerate(NONPAID):
        if name in nonpaid:
            volume[i] = np.asarray(nonpaid[name].volume, dtype=np.float64)
    k_chan, k_rows = _click_rows(nonpaid, n_days)
    k_day = k_rows["day"].to_numpy().astype(np.int64)
    k_clicks = k_rows["clicks"].to_numpy().astype(np.int64)
    n_k = len(k_chan)

    # ---------------------------------------------------------------- 2. truth
    inputs = np.vstack([spend, volume])  # [channel, day]: what each channel's adstock runs on
    land_rate = np.array(tp.land_rate)
    shape = baseline_shape(tp, dates)
    if cp is None:
        cp, tp = calibrate(tp, aov, inputs, float(spend.sum()), shape, rng)
        expected_paid = (clicks_by_day * land_rate[:, None]).sum()
        per_baseline = nonpaid_ratio * expected_paid / max(tp.baseline_level * shape.sum(), 1e-9)
        tp = replace(tp, sessions_per_baseline_conversion=float(per_baseline))
    stock = np.zeros((N_CHANNELS, n_days))
    for c in range(N_CHANNELS):
        previous = None if carry.adstock is None else carry.adstock[c]
        stock[c] = adstock(inputs[c], cp.decay[c], previous)
    incremental = cp.beta[:, None] * np.stack(
        [hill(stock[c], cp.k[c], cp.alpha[c]) for c in range(N_CHANNELS)]
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

    # ---------------------------------------------------------------- 4. rows a visit can come from
    # Window delivery rows, then history rows (days before the window), then non-paid click rows.
    h = history or History(
        np.zeros(0, np.int64), np.zeros(0, np.int8), np.zeros(0, np.int64), np.zeros(0, np.int64)
    )
    n_h = len(h.ad)
    r_chan = np.concatenate([row_plat, h.platform.astype(np.int64), k_chan])
    r_day = np.concatenate([row_day, h.day, k_day])
    r_ad = np.concatenate([row_ad, h.ad, np.full(n_k, -1)])
    sampler = _RowSampler(r_chan, r_day, np.concatenate([clicks, h.clicks, k_clicks]) + 0.01)

    def place(ch: np.ndarray, t: np.ndarray, snap: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Visits (channel, local time) -> (channel, time, row). Visits on a channel with rows are
        tied to a row of their day (snap: of the latest earlier day with rows, and moved there);
        a visit with no row to come from arrives another way (google -> organic, else direct)."""
        row = np.full(len(ch), -1, dtype=np.int64)
        sel = np.nonzero(ch < N_CHANNELS)[0]
        day = (t[sel] - win_start) // 86400
        row[sel] = sampler.pick(ch[sel], day, rng.random(len(sel)), snap=snap)
        lost = (ch < N_CHANNELS) & (row < 0)
        ch = np.where(lost, np.where(ch == GOOGLE, ORGANIC, DIRECT), ch)
        if snap:
            row_day_of = np.where(row >= 0, r_day[np.maximum(row, 0)], 0)
            day_all = (t - win_start) // 86400
            move = (row >= 0) & (row_day_of < day_all) & (row_day_of >= 0)
            t = np.where(
                move, day_start[np.clip(row_day_of, 0, n_days - 1)] + _seconds_of_day(rng, len(t)), t
            )
        return ch, t, row

    # ---------------------------------------------------------------- 5. CRM timelines and journeys
    # Contacts: converters first (0..n_conv-1), then non-converting leads.
    conv_t = day_start[conv_day] + np.maximum(
        _seconds_of_day(rng, n_conv), 5400 + rng.integers(0, 1800, n_conv)
    )
    last_t = conv_t - rng.integers(120, 2700, n_conv)
    lag = np.maximum(rng.gamma(1.3, 6.0 / 1.3, n_conv) * 86400, 7200).astype(np.int64)
    c_lead = np.clip(conv_t - lag, win_start + 1800, last_t - 60)

    # The click that caused a media conversion, lagged like the adstock. It comes after the lead
    # (the lead is moved earlier if needed), so sessions before a lead carry only the lead features.
    media = np.nonzero(cause > 0)[0]
    m_ch = cause[media] - 1
    lag_days = rng.geometric(1.0 - cp.decay[m_ch]) - 1
    causal_day = np.maximum(conv_day[media] - lag_days, 0)
    same_day = causal_day == conv_day[media]
    causal_sec = np.where(
        same_day,
        (rng.random(len(media)) * (last_t[media] - day_start[conv_day[media]])).astype(np.int64),
        _seconds_of_day(rng, len(media)),
    )
    m_ch, m_t, m_row = place(m_ch, day_start[causal_day] + causal_sec, snap=True)
    m_t = np.minimum(m_t, last_t[media])
    lead_gap = rng.integers(600, 2 * 86400, len(media))
    c_lead[media] = np.clip(np.minimum(c_lead[media], m_t - lead_gap), win_start + 1800, last_t[media] - 60)
    m_t = np.maximum(m_t, c_lead[media] + 60)
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

    n_contacts = n_conv + n_leads
    is_customer = np.arange(n_contacts) < n_conv
    lead_t = np.concatenate([c_lead, l_lead])
    lead_d = (lead_t - win_start) // 86400
    cls = is_customer.astype(np.int64)

    # Lead features, drawn per class (see FIRST_TOUCH ...): what the true propensity conditions on.
    f_first = _categorical(rng, FIRST_TOUCH[cls])
    f_extra = rng.poisson(PRE_SESSIONS[cls])
    f_products = rng.binomial(f_extra, PRODUCT_VIEW[cls])
    f_form = _categorical(rng, LEAD_FORM_P[cls])
    f_opt_in = rng.random(n_contacts) < OPT_IN[cls]

    traffic = np.vstack(
        [
            clicks_by_day * land_rate[:, None],
            np.stack(
                [
                    np.bincount(k_day[k_chan == c], k_clicks[k_chan == c], minlength=n_days)
                    for c in (EMAIL, SOCIAL)
                ]
            ),
            tp.sessions_per_baseline_conversion * baseline[None, :] * NONPAID_SPLIT[:, None],
        ]
    )  # expected sessions per journey channel and day
    traffic_mix = (traffic + 1e-9) / (traffic + 1e-9).sum(axis=0)

    # Visits: (owner contact, local time, journey channel, row, page kind). Page kinds for visits
    # without a row: 0 any site page, 1 a non-product page, 2 a product page.
    v_owner, v_t, v_ch, v_row, v_page = [], [], [], [], []

    def add(owner, t, ch, row, page) -> None:
        v_owner.append(owner)
        v_t.append(t)
        v_ch.append(ch)
        v_row.append(row)
        v_page.append(np.broadcast_to(page, len(owner)))

    everyone = np.arange(n_contacts)
    lead_sess_t = lead_t - rng.integers(60, 900, n_contacts)
    ls_ch, ls_t, ls_row = place(_categorical(rng, traffic_mix[:, lead_d].T), lead_sess_t, snap=False)
    add(everyone, ls_t, ls_ch, ls_row, 1)
    lead_session_piece = 0
    span = np.minimum(lead_sess_t - (win_start + 60), 14 * 86400)
    ft_t = lead_sess_t - 60 - (rng.random(n_contacts) * np.maximum(span - 60, 0)).astype(np.int64)
    ft_ch, ft_t, ft_row = place(f_first.astype(np.int64), ft_t, snap=True)
    add(everyone, ft_t, ft_ch, ft_row, 1)
    x_owner = np.repeat(everyone, f_extra)
    x_t = (
        ft_t[x_owner]
        + 1
        + (rng.random(len(x_owner)) * (lead_sess_t[x_owner] - ft_t[x_owner] - 2)).astype(np.int64)
    )
    x_is_product = (
        np.arange(len(x_owner)) - np.repeat(np.cumsum(f_extra) - f_extra, f_extra) < f_products[x_owner]
    )
    x_ch = np.where(rng.random(len(x_owner)) < 0.55, ORGANIC, DIRECT)
    add(x_owner, x_t, x_ch, np.full(len(x_owner), -1), np.where(x_is_product, 2, 1))
    # Customers: the causal click, visits between the lead and buying, the last visit before buying.
    add(media, m_t, m_ch, m_row, 0)
    n_after = rng.poisson(1.0, n_conv)
    a_owner = np.repeat(np.arange(n_conv), n_after)
    a_t = (
        c_lead[a_owner]
        + 30
        + (rng.random(len(a_owner)) * (last_t[a_owner] - c_lead[a_owner] - 30)).astype(np.int64)
    )
    a_ch, a_t, a_row = place(_categorical(rng, TOUCH_MIX[cause[a_owner]]), a_t, snap=False)
    add(a_owner, a_t, a_ch, a_row, 0)
    la_ch, la_t, la_row = place(_categorical(rng, LAST_MIX[cause]), last_t, snap=False)
    add(np.arange(n_conv), la_t, la_ch, la_row, 0)

    j_owner = np.concatenate(v_owner)
    j_t = np.concatenate(v_t)
    j_ch = np.concatenate(v_ch).astype(np.int64)
    j_row = np.concatenate(v_row).astype(np.int64)
    j_page = np.concatenate(v_page).astype(np.int64)
    j_day = (j_t - win_start) // 86400
    lead_session = lead_session_piece + everyone  # index of each contact's lead session in j_*

    # ---------------------------------------------------------------- anonymous traffic fills the rest
    if anomalies is None:
        landed = rng.binomial(clicks, land_rate[row_plat])
    else:  # the planned clicks' sessions from the world's stream, the incident's change from its own
        landed = rng.binomial(planned_clicks, land_rate[row_plat])
        landed = anomalies.apply_landed(landed, planned_clicks, clicks, land_rate[row_plat])
    used = np.bincount(j_row[j_row >= 0], minlength=n_rows + n_h + n_k)
    a_left = np.concatenate(
        [np.maximum(landed - used[:n_rows], 0), np.maximum(k_clicks - used[n_rows + n_h :], 0)]
    )
    a_rows = np.concatenate([np.arange(n_rows), n_rows + n_h + np.arange(n_k)])
    an_row_paid = np.repeat(a_rows, a_left)
    nonpaid_expected = tp.sessions_per_baseline_conversion * baseline[None, :] * NONPAID_SPLIT[:, None]
    nonpaid_n = rng.poisson(nonpaid_expected)
    for k, channel in enumerate((ORGANIC, DIRECT, REFERRAL)):
        nonpaid_n[k] -= np.bincount(j_day[j_ch == channel], minlength=n_days)
    nonpaid_n = np.maximum(nonpaid_n, 0)
    a_np_ch = np.repeat(np.repeat(np.array([ORGANIC, DIRECT, REFERRAL]), n_days), nonpaid_n.ravel())
    a_np_day = np.repeat(np.tile(np.arange(n_days), 3), nonpaid_n.ravel())
    an_day = np.concatenate([r_day[an_row_paid], a_np_day])
    an_ch = np.concatenate([r_chan[an_row_paid], a_np_ch])
    an_row = np.concatenate([an_row_paid, np.full(len(a_np_day), -1)])
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
    platform_conv = np.zeros(n_rows)
    for c, model in enumerate(PLATFORM_MODELS):
        touched = np.zeros(n_conv, dtype=bool)
        touched[j_owner[is_conv_session & (j_ch == c)]] = True
        claims = np.bincount(conv_day[touched], minlength=n_days) + rng.poisson(
            tp.view_through[c] * incremental[c]
        )
        rows_c = row_plat == c
        if model.integer_conversions:
            q_day = np.repeat(np.arange(n_days), claims.astype(np.int64))
            picked = sampler.pick(np.full(len(q_day), c, np.int64), q_day, rng.random(len(q_day)), snap=False)
            picked = picked[(picked >= 0) & (picked < n_rows)]
            platform_conv += np.bincount(picked, minlength=n_rows)
        else:
            w = clicks[rows_c] + 0.01
            total = np.bincount(row_day[rows_c], w, minlength=n_days)
            platform_conv[rows_c] = np.round(claims[row_day[rows_c]] * w / total[row_day[rows_c]], 2)
    integer_rows = np.array([m.integer_conversions for m in PLATFORM_MODELS])[row_plat]
    if anomalies is not None:
        platform_conv = anomalies.apply_conversions(platform_conv, conv_x, integer_rows)
    markup = np.array([m.reported_value_markup for m in PLATFORM_MODELS])[row_plat]
    reported_aov = cp.revenue_per_conversion[row_plat] * markup
    platform_value = np.round(platform_conv * reported_aov * rng.lognormal(0.0, 0.15, n_rows), 2)

    # ---------------------------------------------------------------- timestamps -> UTC
    n_j = len(j_t)
    local = np.concatenate([j_t, an_t, lead_t, c_stage.ravel(), conv_t, l_times.ravel()])
    utc = local_to_utc_us(local, tp.timezone)  # one conversion call for everything
    cuts = np.cumsum([n_j, n_an, n_contacts, 3 * n_conv, n_conv])
    j_utc, an_utc, lead_u, c_stage_u, conv_u, l_times_u = np.split(utc, cuts)
    c_stage_u = c_stage_u.reshape(n_conv, 3)
    l_times_u = l_times_u.reshape(n_leads, 4)

    # ---------------------------------------------------------------- contacts and deals
    c_order = np.lexsort((np.arange(n_contacts), lead_u))  # ids grow with creation time
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
    updated = np.max(np.stack([lead_u, mql, sql, opp, customer]), axis=0)

    # Anonymous ids: "<random>.<first seen, unix seconds>" (GA client id style).
    owner_first = np.full(n_contacts, np.iinfo(np.int64).max)
    np.minimum.at(owner_first, j_owner, j_utc)
    owner_first = np.minimum(owner_first, lead_u)
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
            "created_at": _us_to_datetime(lead_u),
            "updated_at": _us_to_datetime(updated),
            "lifecyclestage": pl.Series(stages).gather(stage_idx),
            "lead_date": _us_to_datetime(lead_u),
            "mql_date": stage_col(mql),
            "sql_date": stage_col(sql),
            "opportunity_date": stage_col(opp),
            "customer_date": stage_col(customer),
            "marketing_opt_in": f_opt_in,
            "opt_in_date": stage_col(np.where(f_opt_in, lead_u, null_t)),
            "opt_out_date": stage_col(np.full(n_contacts, null_t)),
            "archived": np.zeros(n_contacts, dtype=bool),
            "archived_at": stage_col(np.full(n_contacts, null_t)),
        }
    )
    lead_propensity_frame = pl.DataFrame(
        {
            "tenant_id": pl.repeat(tp.tenant_id, n_contacts, eager=True),
            "contact_id": contacts["contact_id"],
            "propensity": lead_propensity(
                f_first,
                f_extra,
                f_products,
                f_form,
                f_opt_in,
                tp.lead_ratio,
                time_log_odds=lead_time_log_odds(
                    lead_t - win_start,
                    mu,
                    cp.decay,
                    tp.lead_ratio,
                    seed=zlib.crc32(f"{tp.tenant_id}/{win_start}".encode()),
                ),
            ),
        }
    )

    # Deals: every converter (closedwon) and every non-converting opportunity (closedlost or open).
    lo_idx = np.nonzero(reached[:, 2])[0]
    n_lo = len(lo_idx)
    open_stages = np.array(
        ["qualifiedtobuy", "presentationscheduled", "decisionmakerboughtin", "contractsent"]
    )
    d_contact = np.concatenate([np.arange(n_conv), n_conv + lo_idx])
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
            "archived": np.zeros(len(d_contact), dtype=bool),
        }
    )

    # ---------------------------------------------------------------- touchpoints
    # The lead event copies the utm of the contact's lead session; its landing page is the lead form.
    ev_t = np.concatenate([j_utc, an_utc, lead_u])
    ev_local_day = np.concatenate([j_day, an_day, lead_d])
    ev_ch = np.concatenate([j_ch, an_ch, j_ch[lead_session]])
    ev_row = np.concatenate([j_row, an_row, j_row[lead_session]])
    ev_page = np.concatenate([j_page, np.zeros(n_an, np.int64), np.full(n_contacts, 3)])
    ev_form = np.concatenate([np.zeros(n_j + n_an, np.int64), f_form])
    ev_visitor = np.concatenate([j_owner, an_visitor, everyone])
    ev_type = np.concatenate([np.zeros(n_j + n_an, np.int64), np.ones(n_contacts, np.int64)])
    n_ev = len(ev_t)
    order = np.lexsort((ev_type, ev_visitor, ev_t))
    ev_t, ev_local_day, ev_ch, ev_row, ev_page, ev_form, ev_visitor, ev_type = (
        a[order] for a in (ev_t, ev_local_day, ev_ch, ev_row, ev_page, ev_form, ev_visitor, ev_type)
    )
    per_day = np.bincount(ev_local_day, minlength=n_days)
    day_first = np.cumsum(per_day) - per_day
    by_day = np.argsort(ev_local_day, kind="stable")
    seq_in_day = np.empty(n_ev, dtype=np.int64)
    seq_in_day[by_day] = np.arange(n_ev) - day_first[ev_local_day[by_day]] + 1
    ymd = dates.astype("datetime64[D]").astype(object)
    ymd_num = np.array([d.year * 10000 + d.month * 100 + d.day for d in ymd], dtype=np.int64)
    event_id = tp.tenant_num * 10**15 + ymd_num[ev_local_day] * 10**7 + seq_in_day

    # String pools, gathered by index: [ads | click rows | fixed values].
    n_ads = len(ads.campaign_slug)
    is_ad = (ev_row >= 0) & (ev_ch < N_PAID)
    is_click = (ev_row >= 0) & (ev_ch >= N_PAID) & (ev_ch < N_CHANNELS)
    ad_of = np.where(is_ad, r_ad[np.maximum(ev_row, 0)], 0)
    click_of = np.where(is_click, ev_row - n_rows - n_h, 0)
    # utm_source: paid platforms' sources, then google/(direct)/referrers, then click rows.
    paid_sources = [s for m in PLATFORM_MODELS for s in m.utm_sources]
    src_offset = np.cumsum([0] + [len(m.utm_sources) for m in PLATFORM_MODELS])[:-1]
    src_cdf = np.zeros((N_PAID, max(len(m.utm_sources) for m in PLATFORM_MODELS)))
    for p, m in enumerate(PLATFORM_MODELS):
        src_cdf[p] = 2.0
        src_cdf[p, : len(m.utm_sources)] = np.cumsum(m.utm_source_p)
    u = rng.random(n_ev)
    ch_paid = np.minimum(ev_ch, N_PAID - 1)
    paid_src = src_offset[ch_paid] + (u[:, None] >= src_cdf[ch_paid]).sum(axis=1)
    fixed_src = len(paid_sources)
    source = np.select(
        [is_ad, is_click, ev_ch == ORGANIC, ev_ch == DIRECT],
        [
            paid_src,
            fixed_src + 2 + len(REFERRERS) + click_of,
            np.full(n_ev, fixed_src),
            np.full(n_ev, fixed_src + 1),
        ],
        fixed_src + 2 + rng.integers(0, len(REFERRERS), n_ev),
    )
    source_pool = pl.concat(
        [pl.Series([*paid_sources, "google", "(direct)", *REFERRERS], dtype=pl.String), k_rows["utm_source"]]
    )
    medium = np.select(
        [is_ad, is_click, ev_ch == ORGANIC, ev_ch == DIRECT],
        [ch_paid, N_PAID + 3 + click_of, np.full(n_ev, N_PAID), np.full(n_ev, N_PAID + 1)],
        N_PAID + 2,
    )
    medium_pool = pl.concat(
        [
            pl.Series(
                [m.utm_medium for m in PLATFORM_MODELS] + ["organic", "(none)", "referral"], dtype=pl.String
            ),
            k_rows["utm_medium"],
        ]
    )
    campaign = np.select([is_ad, is_click], [ad_of, n_ads + 1 + click_of], n_ads)
    campaign_pool = pl.concat([ads.campaign_slug, pl.Series([None], dtype=pl.String), k_rows["utm_campaign"]])
    # Landing pages of visits without a row: any site page, or (before a lead) a non-product or a
    # product page as the lead features say; direct visits often land on the home page.
    products = [i for i, p in enumerate(site_pages) if p.startswith("/products/")]
    others = [i for i, p in enumerate(site_pages) if not p.startswith("/products/")]
    any_page = np.where(
        (ev_ch == DIRECT) & (rng.random(n_ev) < 0.55), 0, rng.integers(0, len(site_pages), n_ev)
    )
    page = np.select(
        [ev_page == 1, ev_page == 2],
        [
            np.array(others)[rng.integers(0, len(others), n_ev)],
            np.array(products)[rng.integers(0, len(products), n_ev)],
        ],
        any_page,
    )
    n_site = len(site_pages)
    landing = np.select(
        [ev_page == 3, is_ad, is_click],
        [n_ads + n_site + ev_form, ad_of, n_ads + n_site + len(LEAD_FORMS) + click_of],
        n_ads + page,
    )
    landing_pool = pl.concat(
        [ads.landing_page, pl.Series(site_pages + LEAD_FORMS, dtype=pl.String), k_rows["landing_page"]]
    )
    touchpoints = pl.DataFrame(
        {
            "tenant_id": pl.repeat(tp.tenant_id, n_ev, eager=True),
            "event_id": ids_to_str(event_id),
            "anonymous_id": anon_ids.gather(ev_visitor),
            "event_ts": _us_to_datetime(ev_t),
            "event_type": pl.Series(EVENT_TYPES).gather(ev_type),
            "utm_source": source_pool.gather(source),
            "utm_medium": medium_pool.gather(medium),
            "utm_campaign": campaign_pool.gather(campaign),
            "landing_page": landing_pool.gather(landing),
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
                    "platform_conversions": platform_conv.astype(np.float64),
                    "platform_conversion_value": platform_value,
                }
            ),
        ],
        how="horizontal",
    )
    spend_all = np.vstack([spend, np.zeros((len(NONPAID), n_days))])
    volume_all = np.vstack([impressions_by_day.astype(np.float64), volume])
    channel_daily = pl.DataFrame(
        {
            "tenant_id": pl.repeat(tp.tenant_id, N_CHANNELS * n_days, eager=True),
            "date": pl.concat([date_col] * N_CHANNELS),
            "channel": np.repeat(np.array(CHANNELS), n_days),
            "spend": spend_all.ravel(),
            "volume": volume_all.ravel(),
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
        lead_propensity=lead_propensity_frame,
        channel_params=cp,
        tenant_params=tp,
    )
