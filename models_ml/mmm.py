"""Media-mix model: KPI = baseline + sum over channels of beta * Hill(adstock(media)).

Per tenant and KPI (revenue, conversions), at daily (default) or weekly grain:

    y_t = trend_t + weekly_t + yearly_t + events_t + controls_t + sum_c beta_c * hill(adstock_c,t; K_c, alpha_c)

- **Baseline** (linear in its coefficients): intercept and linear trend, day-of-week dummies (daily
  grain), yearly Fourier terms, one indicator per calendar event (default: Black Friday to Cyber Monday,
  22 Nov - 2 Dec) and optional control series.
- **Media**: per channel a geometric (or delayed) adstock of its activity (spend for paid channels,
  volume - emails sent, organic reach - for non-paid ones), then Hill saturation. Transforms in
  `models_ml.media_transforms`, written as the sandbox's true response model.

Fit (variable projection). For fixed non-linear parameters theta = (decay, K, alpha) per channel, the
best baseline coefficients and non-negative betas come from one constrained linear solve: the baseline
is projected out (Frisch-Waugh-Lovell, a QR of the baseline design), then the betas solve a small
non-negative least-squares problem with a ridge penalty on each channel's contribution (and lift-test
rows when given). The profiled error is minimised over theta in a box: a scrambled Sobol sample picks
`n_starts` starting points, L-BFGS-B polishes each, the best wins. Seeded: same input, same output.

Uncertainty: moving-block bootstrap in time (blocks of `block_days`), done as case weights - every day
keeps its place in the series, so adstock carries over exactly as in the data - with the lift tests
redrawn within their standard errors and, per draw, randomised priors: the centres of the prior on
theta and of the ROI pooling prior move by one draw from those priors (randomise-then-optimise). Each
draw refits theta by L-BFGS-B from the point estimate and from its own prior centre, the better wins.
Without the randomised priors every draw shrinks toward the same centres and the intervals describe
the spread of a shrunk estimate, not what the data leave open (on demo-s7 uncalibrated 90 % intervals
covered 5 of 8 true ROIs; with them 8 of 8). Intervals are quantiles of the draws.

Calibration: lift tests (channel, period, measured incremental KPI, standard error) enter as extra
observations of that channel's modelled contribution over the period, weighted by the residual variance
over the test's variance - a penalty that pulls the channel's ROI toward the experiment. A test compares
two spend levels (`LiftTest.treatment_spend_scale` / `control_spend_scale`): a holdout (1 vs 0) observes
beta * sum hill(adstock), a budget-scaling test (e.g. 1.5 vs 1) beta * sum [hill(1.5 adstock) -
hill(adstock)] - still linear in beta, so the profiled solve keeps its form. Holdouts pin the average
ROI; scaling tests pin the curve's slope around today's spend, the marginal ROI budgets move on.
`lift_test_fit` reports the evidence: per test the measured incremental against the fit's own value of
the same quantity (with the draws' interval and z), `MMMOutputs.calibration` / `ml.mmm_calibration`.

Diagnostics: in-sample R^2 and NRMSE (RMSE / mean), and the out-of-time MAPE of a refit that leaves
out the last `holdout_days` (its baseline extrapolated, its media driven by the actual spend).

Units: K is in adstock units of the channel's activity (account currency for spend); beta is KPI per
period (day or week) at saturation; ROI = contribution / spend over the fitted history (conversions per
currency unit for the conversions KPI); marginal ROI = extra contribution from 1 % more spend every
period / that extra spend, as the sandbox's truth defines it.

Pure: frames in, frames out; no I/O, no global state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

import numpy as np
import polars as pl
from numpy.typing import NDArray
from scipy.linalg import solve_triangular
from scipy.optimize import minimize, nnls
from scipy.stats import qmc

from models_ml.media_transforms import (
    delayed_adstock,
    geometric_adstock,
    hill,
    hill_derivative,
)

FloatArray = NDArray[np.float64]
Grain = Literal["day", "week"]
KPIS: tuple[str, ...] = ("revenue", "conversions")


@dataclass(frozen=True)
class Event:
    """A yearly calendar event: an indicator on every day from start to end (month, day), inclusive."""

    name: str
    start: tuple[int, int]
    end: tuple[int, int]


BLACK_FRIDAY_WEEK = Event("black_friday_week", (11, 22), (12, 2))


@dataclass(frozen=True)
class LiftTest:
    """A measured experiment: `incremental` KPI between start and end (inclusive) of the channel run at
    `treatment_spend_scale` x its business-as-usual spend over the channel run at `control_spend_scale` x it.

    A holdout or geo test is (1, 0): the channel's whole contribution in the window (pins its average
    ROI). A budget-scaling test, e.g. +50 % (1.5, 1) or -50 % (1, 0.5), measures the slope of the
    response around today's spend (pins the marginal ROI the budget optimiser acts on). The comparison
    is long-run: carry-over from before the window is scaled alike, as the truth defines marginal ROI.
    `standard_error` defaults to 10 % of `incremental`.
    """

    channel: str
    start: date
    end: date
    incremental: float
    standard_error: float | None = None
    treatment_spend_scale: float = 1.0
    control_spend_scale: float = 0.0


@dataclass(frozen=True)
class MMMConfig:
    grain: Grain = "day"
    adstock: Literal["geometric", "delayed"] = "geometric"
    yearly_harmonics: int = 2
    events: tuple[Event, ...] = (BLACK_FRIDAY_WEEK,)
    decay_bounds: tuple[float, float] = (0.0, 0.85)
    # K relative to the channel's mean adstock at the candidate decay (log-uniform search).
    k_bounds: tuple[float, float] = (0.3, 3.0)
    alpha_bounds: tuple[float, float] = (0.7, 3.0)
    delay_bounds: tuple[float, float] = (0.0, 6.0)  # peak lag in periods (delayed adstock only)
    # Ridge on each channel's contribution (as a share of the KPI mean), relative to the data's weight.
    ridge: float = 1e-3
    # Gaussian prior on the non-linear parameters, as a standard deviation in the unit search box
    # (centred in the box): keeps noise from driving decay/K/alpha to the box's walls.
    prior_sd: float = 0.25
    # Pooling prior on the paid channels' ROIs (None: off): they scatter around their common mean with
    # this standard deviation, as a share of the KPI per unit of total paid spend (KPI mean / mean paid
    # spend per period). Identifies channels the data alone cannot separate; lift tests outweigh it.
    roi_pool_sd: float | None = 0.1
    n_candidates: int = 64
    n_starts: int = 3
    # Draws: the intervals, and the budget plan's expected response (a mean over draws: with 25 its
    # Monte Carlo error moved the half-budget plan on demo-s7 between 92 and 99 % of the oracle by seed;
    # with 50, 96-99 %).
    n_bootstrap: int = 50
    # L-BFGS-B iterations: from each start, and per bootstrap draw / holdout refit (warm-started).
    search_iterations: int = 100
    refit_iterations: int = 30
    # Each bootstrap draw refits from the point estimate and from `refit_starts` more starts (the
    # first at the draw's own prior centre, further ones around the point estimate); the best wins.
    refit_starts: int = 1
    # Randomised priors: each draw moves the centres of the theta prior and of the ROI pooling prior
    # by one draw from themselves, so the draws spread like a posterior, not like the sampling
    # distribution of an estimate shrunk toward a fixed centre (randomise-then-optimise).
    randomised_priors: bool = True
    # Exact (envelope-theorem) gradients for L-BFGS-B with geometric adstock; False: finite differences.
    exact_gradient: bool = True
    block_days: int = 28
    holdout_days: int = 56
    interval_level: float = 0.9
    seed: int = 0

    def __post_init__(self) -> None:
        if self.grain not in ("day", "week"):
            raise ValueError(f"MMMConfig.grain must be 'day' or 'week', got {self.grain!r}")
        if self.adstock not in ("geometric", "delayed"):
            raise ValueError(f"MMMConfig.adstock must be 'geometric' or 'delayed', got {self.adstock!r}")
        if not 0.0 < self.interval_level < 1.0:
            raise ValueError(f"MMMConfig.interval_level must be in (0, 1), got {self.interval_level}")
        if not 0.0 <= self.decay_bounds[0] < self.decay_bounds[1] < 1.0:
            raise ValueError(f"MMMConfig.decay_bounds must lie in [0, 1), got {self.decay_bounds}")


@dataclass(frozen=True)
class ChannelParams:
    """One channel's fitted response. `beta` in KPI per period at saturation; `k` in adstock units."""

    channel: str
    paid: bool
    decay: float
    k: float
    alpha: float
    beta: float
    delay: float = 0.0


@dataclass
class MMMFit:
    """A fitted model of one KPI of one tenant, with its bootstrap draws and diagnostics."""

    kpi: str
    grain: Grain
    adstock: str
    dates: NDArray[np.datetime64]  # period start dates
    channels: tuple[str, ...]
    activity: FloatArray  # periods x channels: spend (paid) or volume (non-paid)
    spend: FloatArray  # periods x channels
    y: FloatArray
    params: tuple[ChannelParams, ...]
    draws: tuple[tuple[ChannelParams, ...], ...]
    baseline: dict[str, FloatArray]  # component -> per-period values
    contributions: FloatArray  # periods x channels
    r2: float
    nrmse: float
    oot_mape: float | None
    interval_level: float
    objective: float
    diagnostics: dict[str, float] = field(default_factory=dict)

    @property
    def fitted(self) -> FloatArray:
        return sum(self.baseline.values(), np.zeros_like(self.y)) + self.contributions.sum(axis=1)

    @property
    def days_per_period(self) -> int:
        return 7 if self.grain == "week" else 1


# -- public entry points -----------------------------------------------------------------------------


@dataclass(frozen=True)
class MMMOutputs:
    """The rows of ml.mmm_channel, ml.mmm_fit, ml.mmm_decomposition, ml.response_curves and
    ml.mmm_calibration (each lift test against the fit: `lift_test_fit`)."""

    channel: pl.DataFrame
    fit: pl.DataFrame
    decomposition: pl.DataFrame
    response_curves: pl.DataFrame
    fits: dict[tuple[str, str], MMMFit]  # (tenant_id, kpi) -> fit, for the budget optimiser
    calibration: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=MMM_CALIBRATION_SCHEMA))


CHANNEL_DAILY_COLUMNS = ("tenant_id", "date", "channel", "spend")
KPI_DAILY_COLUMNS = ("tenant_id", "date")


def run_mmm(
    channel_daily: pl.DataFrame,
    kpi_daily: pl.DataFrame,
    *,
    kpis: Sequence[str] = KPIS,
    config: MMMConfig | None = None,
    lift_tests: pl.DataFrame | None = None,
    controls: pl.DataFrame | None = None,
    fitted_at: datetime | None = None,
    curve_points: int = 41,
) -> MMMOutputs:
    """Fit every tenant and KPI and shape the four output tables.

    channel_daily: tenant_id, date, channel, spend and optionally volume (marts.fct_channel_daily; a
        channel with no spend but a volume is modelled from its volume). Channels with neither are left
        out (organic search, direct, referral are outcomes, not levers).
    kpi_daily: tenant_id, date and one column per KPI (marts.fct_kpi_daily); missing days count as 0.
    lift_tests: tenant_id, kpi, channel, start, end, incremental[, standard_error,
        treatment_spend_scale, control_spend_scale] (optional; scales default to a holdout's 1 and 0).
    controls: tenant_id, date and numeric control columns (optional).
    """
    config = config or MMMConfig()
    fitted_at = fitted_at or datetime(1970, 1, 1)
    _require(channel_daily, CHANNEL_DAILY_COLUMNS, "channel_daily")
    _require(kpi_daily, (*KPI_DAILY_COLUMNS, *kpis), "kpi_daily")
    channel_rows, fit_rows, decomposition_parts, curve_parts, calibration_rows = [], [], [], [], []
    fits: dict[tuple[str, str], MMMFit] = {}
    for tenant in sorted(kpi_daily["tenant_id"].unique().to_list()):
        tenant_media = channel_daily.filter(pl.col("tenant_id") == tenant)
        tenant_kpi = kpi_daily.filter(pl.col("tenant_id") == tenant)
        tenant_controls = controls.filter(pl.col("tenant_id") == tenant) if controls is not None else None
        for kpi in kpis:
            tests = _lift_tests_for(lift_tests, tenant, kpi)
            fit = fit_mmm(
                tenant_media, tenant_kpi, kpi, config=config, lift_tests=tests, controls=tenant_controls
            )
            fits[(tenant, kpi)] = fit
            tested = lift_test_fit(fit, tests)
            calibration_rows += [
                {"tenant_id": tenant, "kpi": kpi, **row, "fitted_at": fitted_at} for row in tested
            ]
            channel_rows += [
                {"tenant_id": tenant, "kpi": kpi, **row, "fitted_at": fitted_at}
                for row in channel_summary(fit)
            ]
            fit_rows.append(
                {
                    "tenant_id": tenant,
                    "kpi": kpi,
                    "r2": fit.r2,
                    "nrmse": fit.nrmse,
                    "oot_mape": fit.oot_mape,
                    "n_days": int(len(fit.y) * fit.days_per_period),
                    "grain": fit.grain,
                    "calibration_mape": calibration_mape(tested),
                }
            )
            decomposition_parts.append(
                decomposition(fit).select(
                    pl.lit(tenant).alias("tenant_id"), pl.lit(kpi).alias("kpi"), pl.all()
                )
            )
            curve_parts.append(
                response_curves(fit, points=curve_points).select(
                    pl.lit(tenant).alias("tenant_id"), pl.lit(kpi).alias("kpi"), pl.all()
                )
            )
    return MMMOutputs(
        channel=pl.DataFrame(channel_rows, schema=MMM_CHANNEL_SCHEMA),
        fit=pl.DataFrame(fit_rows, schema=MMM_FIT_SCHEMA),
        decomposition=_concat(decomposition_parts, MMM_DECOMPOSITION_SCHEMA),
        response_curves=_concat(curve_parts, RESPONSE_CURVES_SCHEMA),
        fits=fits,
        calibration=pl.DataFrame(calibration_rows, schema=MMM_CALIBRATION_SCHEMA),
    )


MMM_CHANNEL_SCHEMA = {
    "tenant_id": pl.String,
    "kpi": pl.String,
    "channel": pl.String,
    "roi": pl.Float64,
    "roi_lower": pl.Float64,
    "roi_upper": pl.Float64,
    "mroi": pl.Float64,
    "mroi_lower": pl.Float64,
    "mroi_upper": pl.Float64,
    "contribution_share": pl.Float64,
    "spend": pl.Float64,
    "contribution": pl.Float64,
    "decay": pl.Float64,
    "hill_k": pl.Float64,
    "hill_alpha": pl.Float64,
    "beta": pl.Float64,
    "fitted_at": pl.Datetime("us"),
}
MMM_FIT_SCHEMA = {
    "tenant_id": pl.String,
    "kpi": pl.String,
    "r2": pl.Float64,
    "nrmse": pl.Float64,
    "oot_mape": pl.Float64,
    "n_days": pl.Int64,
    "grain": pl.String,
    # Median |modelled / measured - 1| over the tenant/KPI's holdout tests (null without one).
    "calibration_mape": pl.Float64,
}
MMM_DECOMPOSITION_SCHEMA = {
    "tenant_id": pl.String,
    "kpi": pl.String,
    "date": pl.Date,
    "component": pl.String,
    "value": pl.Float64,
}
MMM_CALIBRATION_SCHEMA = {
    "tenant_id": pl.String,
    "kpi": pl.String,
    "channel": pl.String,
    "start": pl.Date,
    "end": pl.Date,
    "treatment_spend_scale": pl.Float64,
    "control_spend_scale": pl.Float64,
    "measured": pl.Float64,
    "standard_error": pl.Float64,
    "modelled": pl.Float64,
    "modelled_lower": pl.Float64,
    "modelled_upper": pl.Float64,
    "z": pl.Float64,
    "fitted_at": pl.Datetime("us"),
}
RESPONSE_CURVES_SCHEMA = {
    "tenant_id": pl.String,
    "kpi": pl.String,
    "channel": pl.String,
    "spend": pl.Float64,
    "response": pl.Float64,
    "mroi": pl.Float64,
}


def fit_mmm(
    channel_daily: pl.DataFrame,
    kpi_daily: pl.DataFrame,
    kpi: str,
    *,
    config: MMMConfig | None = None,
    lift_tests: Sequence[LiftTest] = (),
    controls: pl.DataFrame | None = None,
) -> MMMFit:
    """Fit one tenant's KPI. Frames as in `run_mmm`, already restricted to one tenant."""
    from threadpoolctl import threadpool_limits

    # Thousands of tiny linear solves: a multi-threaded BLAS costs several times the CPU on them.
    with threadpool_limits(1, user_api="blas"):
        return _fit(channel_daily, kpi_daily, kpi, config or MMMConfig(), lift_tests, controls)


def _fit(
    channel_daily: pl.DataFrame,
    kpi_daily: pl.DataFrame,
    kpi: str,
    config: MMMConfig,
    lift_tests: Sequence[LiftTest],
    controls: pl.DataFrame | None,
) -> MMMFit:
    data = _prepare(channel_daily, kpi_daily, kpi, config, controls)
    problem = _Problem(data, config, lift_tests)
    rng = np.random.default_rng(config.seed)

    u_best, objective = problem.search(rng)
    point = problem.solve(u_best)

    # Out-of-time: refit without the last holdout periods, score them.
    oot_mape = None
    holdout = config.holdout_days // (7 if config.grain == "week" else 1)
    if holdout > 0 and len(data.y) - holdout >= max(2 * problem.n_baseline, 3 * 7):
        weights = np.ones(len(data.y))
        weights[-holdout:] = 0.0
        held = problem.with_weights(weights)
        held_point = held.solve(held.polish(u_best, maxiter=2 * config.refit_iterations)[0])
        actual, predicted = data.y[-holdout:], held_point.fitted[-holdout:]
        nonzero = actual > 0
        if nonzero.any():
            oot_mape = float(np.mean(np.abs(actual[nonzero] - predicted[nonzero]) / actual[nonzero]))

    # Moving-block bootstrap (case weights) with randomised priors; each draw refitted from the point
    # estimate and from its prior centre.
    draws = []
    block = max(1, config.block_days // (7 if config.grain == "week" else 1))
    for _ in range(config.n_bootstrap):
        weights = _block_bootstrap_weights(len(data.y), block, rng)
        lift_noise = rng.standard_normal(len(lift_tests))
        prior_noise = rng.standard_normal(problem.n_prior_noise) if config.randomised_priors else None
        resampled = problem.with_weights(weights, lift_noise, prior_noise)
        u_draw, best = resampled.polish(u_best, maxiter=config.refit_iterations)
        for i in range(config.refit_starts):
            if i == 0:
                start = np.clip(resampled.prior_centre, 0.0, 1.0)
            else:
                start = np.clip(u_best + 0.15 * rng.standard_normal(len(u_best)), 0.0, 1.0)
            u_try, score = resampled.polish(start, maxiter=config.refit_iterations)
            if score < best:
                u_draw, best = u_try, score
        draws.append(resampled.params(resampled.solve(u_draw)))

    residual = data.y - point.fitted
    ss_res = float(residual @ residual)
    centred = data.y - data.y.mean()
    ss_tot = float(centred @ centred)
    return MMMFit(
        kpi=kpi,
        grain=config.grain,
        adstock=config.adstock,
        dates=data.dates,
        channels=data.channels,
        activity=data.activity,
        spend=data.spend,
        y=data.y,
        params=problem.params(point),
        draws=tuple(draws),
        baseline=point.baseline,
        contributions=point.contributions,
        r2=1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan"),
        nrmse=float(np.sqrt(ss_res / len(data.y)) / data.y.mean()) if data.y.mean() > 0 else float("nan"),
        oot_mape=oot_mape,
        interval_level=config.interval_level,
        objective=objective,
    )


# -- what a fit says ----------------------------------------------------------------------------------


def channel_response(params: ChannelParams, activity: FloatArray, adstock: str = "geometric") -> FloatArray:
    """The channel's modelled KPI per period for an activity series (spend or volume)."""
    return params.beta * hill(_adstock(activity, params, adstock), params.k, params.alpha)


def roi_and_mroi(
    params: ChannelParams, spend: FloatArray, adstock: str = "geometric"
) -> tuple[float, float, float]:
    """(contribution, ROI, marginal ROI) over a spend series, as the sandbox's truth defines them."""
    spend = np.asarray(spend, dtype=np.float64)
    total = float(spend.sum())
    contribution = float(channel_response(params, spend, adstock).sum())
    if total <= 0:
        return contribution, float("nan"), float("nan")
    bumped = float(channel_response(params, spend * 1.01, adstock).sum())
    return contribution, contribution / total, (bumped - contribution) / (0.01 * total)


def steady_state_response(
    params: ChannelParams, spend_per_day: FloatArray, days_per_period: int = 1
) -> FloatArray:
    """KPI per day from spending `spend_per_day` every day for long enough that adstock has settled."""
    per_period = np.asarray(spend_per_day, dtype=np.float64) * days_per_period
    settled = per_period / (1.0 - params.decay)
    return params.beta * hill(settled, params.k, params.alpha) / days_per_period


def steady_state_mroi(
    params: ChannelParams, spend_per_day: FloatArray, days_per_period: int = 1
) -> FloatArray:
    """d(KPI per day) / d(spend per day) of `steady_state_response`."""
    per_period = np.asarray(spend_per_day, dtype=np.float64) * days_per_period
    settled = per_period / (1.0 - params.decay)
    return params.beta * hill_derivative(settled, params.k, params.alpha) / (1.0 - params.decay)


def channel_summary(fit: MMMFit) -> list[dict[str, object]]:
    """One row per channel: ROI and marginal ROI with bootstrap intervals, contribution, parameters."""
    tail = (1.0 - fit.interval_level) / 2.0
    kpi_total = float(fit.y.sum())
    rows = []
    for j, params in enumerate(fit.params):
        spend = fit.spend[:, j]
        contribution = float(fit.contributions[:, j].sum())
        roi = mroi = None
        bounds: dict[str, float | None] = dict.fromkeys(
            ("roi_lower", "roi_upper", "mroi_lower", "mroi_upper")
        )
        if params.paid and spend.sum() > 0:
            _, roi, mroi = roi_and_mroi(params, spend, fit.adstock)
            draws = np.array([roi_and_mroi(d[j], spend, fit.adstock)[1:] for d in fit.draws]).reshape(-1, 2)
            if len(draws):
                low, high = np.quantile(draws, [tail, 1.0 - tail], axis=0)
                bounds = {
                    "roi_lower": float(min(low[0], roi)),
                    "roi_upper": float(max(high[0], roi)),
                    "mroi_lower": float(min(low[1], mroi)),
                    "mroi_upper": float(max(high[1], mroi)),
                }
        rows.append(
            {
                "channel": params.channel,
                "roi": roi,
                "roi_lower": bounds["roi_lower"],
                "roi_upper": bounds["roi_upper"],
                "mroi": mroi,
                "mroi_lower": bounds["mroi_lower"],
                "mroi_upper": bounds["mroi_upper"],
                "contribution_share": contribution / kpi_total if kpi_total > 0 else None,
                "spend": float(spend.sum()),
                "contribution": contribution,
                "decay": params.decay,
                "hill_k": params.k,
                "hill_alpha": params.alpha,
                "beta": params.beta,
            }
        )
    return rows


def decomposition(fit: MMMFit) -> pl.DataFrame:
    """Long frame (date, component, value): baseline components and channels; they sum to the fit."""
    n = len(fit.y)
    names = [*fit.baseline, *fit.channels]
    values = np.column_stack([*fit.baseline.values(), fit.contributions])
    return pl.DataFrame(
        {
            "date": np.tile(fit.dates, len(names)),
            "component": np.repeat(names, n),
            "value": values.T.reshape(-1),
        },
        schema={"date": pl.Date, "component": pl.String, "value": pl.Float64},
    )


def response_curves(fit: MMMFit, points: int = 41, max_multiple: float = 2.5) -> pl.DataFrame:
    """Steady-state daily response of each paid channel on a grid from 0 to `max_multiple` x its
    recent (last 28 days) average daily spend: channel, spend (per day), response (KPI per day),
    mroi (d response / d spend)."""
    frames = []
    for j, params in enumerate(fit.params):
        if not params.paid:
            continue
        current = recent_daily_spend(fit)[params.channel]
        top = max(current, float(fit.spend[:, j].mean()) / fit.days_per_period) * max_multiple
        grid = np.linspace(0.0, top, points)
        frames.append(
            pl.DataFrame(
                {
                    "channel": params.channel,
                    "spend": grid,
                    "response": steady_state_response(params, grid, fit.days_per_period),
                    "mroi": steady_state_mroi(params, grid, fit.days_per_period),
                }
            )
        )
    schema = {"channel": pl.String, "spend": pl.Float64, "response": pl.Float64, "mroi": pl.Float64}
    return pl.concat(frames) if frames else pl.DataFrame(schema=schema)


def recent_daily_spend(fit: MMMFit, days: int = 28) -> dict[str, float]:
    """Average daily spend of each channel over the last `days` days of the fit."""
    periods = max(1, days // fit.days_per_period)
    recent = fit.spend[-periods:].mean(axis=0) / fit.days_per_period
    return {c: float(v) for c, v in zip(fit.channels, recent, strict=True)}


def lift_test_modelled(
    params: ChannelParams,
    activity: FloatArray,
    shares: FloatArray,
    test: LiftTest,
    adstock: str = "geometric",
) -> float:
    """What one channel's parameters say a test measures: beta x sum over the periods of share x
    [hill(treatment x adstock) - hill(control x adstock)], adstock of the channel's whole activity."""
    stock = _adstock(np.asarray(activity, dtype=np.float64), params, adstock)
    arms = hill(test.treatment_spend_scale * stock, params.k, params.alpha) - hill(
        test.control_spend_scale * stock, params.k, params.alpha
    )
    return float(params.beta * np.sum(shares * arms))


def lift_test_fit(fit: MMMFit, tests: Sequence[LiftTest]) -> list[dict[str, object]]:
    """Each lift test against what the fit says of it, one row per test: channel, start, end,
    treatment_spend_scale, control_spend_scale, measured (the test's incremental KPI), standard_error,
    modelled (the point fit's incremental for the test's design over its window), modelled_lower /
    modelled_upper (quantiles of the same over the bootstrap draws at `fit.interval_level`, widened to
    contain the point fit as `channel_summary`'s intervals are) and z = (modelled - measured) /
    standard_error. In the KPI's units. The model sees the same quantity when calibrating."""
    tail = (1.0 - fit.interval_level) / 2.0
    rows = []
    for test in tests:
        j, shares = _test_window(test, fit.channels, fit.dates, fit.grain)
        se = _standard_error(test)
        activity = fit.activity[:, j]
        modelled = lift_test_modelled(fit.params[j], activity, shares, test, fit.adstock)
        lower = upper = None
        if fit.draws:
            drawn = [lift_test_modelled(d[j], activity, shares, test, fit.adstock) for d in fit.draws]
            low, high = np.quantile(drawn, [tail, 1.0 - tail])
            lower, upper = float(min(low, modelled)), float(max(high, modelled))
        rows.append(
            {
                "channel": test.channel,
                "start": test.start,
                "end": test.end,
                "treatment_spend_scale": float(test.treatment_spend_scale),
                "control_spend_scale": float(test.control_spend_scale),
                "measured": float(test.incremental),
                "standard_error": se,
                "modelled": modelled,
                "modelled_lower": lower,
                "modelled_upper": upper,
                "z": (modelled - float(test.incremental)) / se,
            }
        )
    return rows


def calibration_mape(rows: Sequence[dict[str, object]]) -> float | None:
    """Median |modelled / measured - 1| over the holdout tests (spend scales 1 vs 0) among
    `lift_test_fit` rows; None without one."""
    errors = [
        abs(float(r["modelled"]) / float(r["measured"]) - 1.0)  # type: ignore[arg-type]
        for r in rows
        if r["treatment_spend_scale"] == 1.0 and r["control_spend_scale"] == 0.0 and r["measured"]
    ]
    return float(np.median(errors)) if errors else None


# -- data preparation ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Data:
    dates: NDArray[np.datetime64]
    channels: tuple[str, ...]
    paid: tuple[bool, ...]
    activity: FloatArray
    spend: FloatArray
    y: FloatArray
    baseline_design: FloatArray
    baseline_groups: tuple[str, ...]  # component of each design column


def _prepare(
    channel_daily: pl.DataFrame,
    kpi_daily: pl.DataFrame,
    kpi: str,
    config: MMMConfig,
    controls: pl.DataFrame | None,
) -> _Data:
    if kpi_daily.height == 0:
        raise ValueError(f"kpi_daily has no rows: nothing to fit for KPI {kpi!r}")
    if kpi_daily[kpi].null_count() or (kpi_daily[kpi] < 0).any():
        raise ValueError(f"kpi_daily.{kpi} has null or negative values")
    first, last = kpi_daily["date"].min(), kpi_daily["date"].max()
    calendar = pl.DataFrame({"date": pl.date_range(first, last, "1d", eager=True)})
    y = (
        calendar.join(kpi_daily.group_by("date").agg(pl.col(kpi).sum()), on="date", how="left")
        .fill_null(0.0)[kpi]
        .to_numpy()
        .astype(np.float64)
    )
    has_volume = "volume" in channel_daily.columns
    media = (
        channel_daily.filter(pl.col("date").is_between(first, last))
        .group_by("channel")
        .agg(
            pl.col("spend").cast(pl.Float64).sum().alias("total_spend"),
            (pl.col("volume").cast(pl.Float64).sum() if has_volume else pl.lit(0.0)).alias("total_volume"),
        )
    )
    if (channel_daily["spend"].cast(pl.Float64) < 0).any():
        raise ValueError("channel_daily.spend has negative values")
    paid_channels = sorted(media.filter(pl.col("total_spend") > 0)["channel"].to_list())
    volume_channels = sorted(
        media.filter((pl.col("total_spend") <= 0) & (pl.col("total_volume") > 0))["channel"].to_list()
    )
    channels = tuple(paid_channels + volume_channels)
    if not channels:
        raise ValueError("channel_daily has no channel with spend or volume in the KPI's date range")
    wide = calendar
    for name in channels:
        part = (
            channel_daily.filter(pl.col("channel") == name)
            .group_by("date")
            .agg(
                pl.col("spend").cast(pl.Float64).sum().alias(f"spend__{name}"),
                (pl.col("volume").cast(pl.Float64).sum() if has_volume else pl.lit(0.0)).alias(
                    f"volume__{name}"
                ),
            )
        )
        wide = wide.join(part, on="date", how="left")
    wide = wide.fill_null(0.0)
    spend = np.column_stack([wide[f"spend__{c}"].to_numpy() for c in channels]).astype(np.float64)
    volume = np.column_stack([wide[f"volume__{c}"].to_numpy() for c in channels]).astype(np.float64)
    paid = tuple(c in paid_channels for c in channels)
    activity = np.where(np.array(paid)[None, :], spend, volume)
    dates = calendar["date"].to_numpy().astype("datetime64[D]")

    control_values = None
    control_names: list[str] = []
    if controls is not None:
        control_names = [c for c in controls.columns if c not in ("tenant_id", "date")]
        joined = calendar.join(controls.select("date", *control_names), on="date", how="left")
        if joined.select(pl.any_horizontal(pl.col(control_names).is_null())).to_series().any():
            raise ValueError(f"controls lack values on some days between {first} and {last}")
        control_values = joined.select(control_names).to_numpy().astype(np.float64)

    if config.grain == "week":
        dates, y, spend, activity, control_values = _to_weeks(dates, y, spend, activity, control_values)
    design, groups = _baseline_design(dates, config, control_values, control_names)
    return _Data(dates, channels, paid, activity, spend, y, design, groups)


def _to_weeks(dates, y, spend, activity, controls):
    """7-day periods ending on the last day (a partial oldest week is dropped), labelled by first day."""
    n_weeks = len(y) // 7
    start = len(y) - 7 * n_weeks

    def fold(values: FloatArray) -> FloatArray:
        kept = values[start:]
        return kept.reshape(n_weeks, 7, *kept.shape[1:]).sum(axis=1)

    folded_controls = None
    if controls is not None:
        kept = controls[start:]
        folded_controls = kept.reshape(n_weeks, 7, -1).mean(axis=1)
    return dates[start::7], fold(y), fold(spend), fold(activity), folded_controls


def _baseline_design(
    dates: NDArray[np.datetime64],
    config: MMMConfig,
    controls: FloatArray | None,
    control_names: Sequence[str],
) -> tuple[FloatArray, tuple[str, ...]]:
    days = dates.astype(np.int64)
    t_years = (days - days[0]) / 365.25
    columns: list[FloatArray] = [np.ones(len(days)), t_years - t_years.mean()]
    groups: list[str] = ["trend", "trend"]
    if config.grain == "day":
        dow = (days + 3) % 7  # 0 = Monday
        for d in range(1, 7):
            columns.append((dow == d).astype(np.float64) - np.mean(dow == d))
            groups.append("weekly")
    doy = (dates - dates.astype("datetime64[Y]")).astype(np.int64)
    angle = 2 * np.pi * doy / 365.25
    for h in range(1, config.yearly_harmonics + 1):
        columns += [np.cos(h * angle), np.sin(h * angle)]
        groups += ["yearly", "yearly"]
    span = 7 if config.grain == "week" else 1
    for event in config.events:
        share = np.zeros(len(days))
        for offset in range(span):
            day = dates + np.timedelta64(offset, "D")
            md = _month_day(day)
            share += (md >= event.start[0] * 100 + event.start[1]) & (md <= event.end[0] * 100 + event.end[1])
        if share.any():
            columns.append(share / span)
            groups.append(event.name)
    if controls is not None:
        for j, name in enumerate(control_names):
            columns.append(controls[:, j] - controls[:, j].mean())
            groups.append(name)
    return np.column_stack(columns), tuple(groups)


def _month_day(dates: NDArray[np.datetime64]) -> NDArray[np.int64]:
    month = dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
    return month * 100 + (dates - dates.astype("datetime64[M]")).astype(np.int64) + 1


# -- the fit ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Solution:
    sse: float
    theta: FloatArray  # channels x 4: decay, k, alpha, delay (adstock units of the scaled activity)
    beta: FloatArray  # scaled KPI per period at saturation
    baseline: dict[str, FloatArray]  # KPI units
    contributions: FloatArray  # KPI units

    @property
    def fitted(self) -> FloatArray:
        return sum(self.baseline.values(), np.zeros(self.contributions.shape[0])) + self.contributions.sum(
            axis=1
        )


@dataclass(frozen=True)
class _LiftRow:
    """A lift test in a problem's terms: KPI scaled by the problem's KPI mean."""

    channel: int
    mask: FloatArray  # share of each period inside the test
    measured: float
    se: float
    treatment: float
    control: float


class _Problem:
    """The profiled least-squares problem of one fit; `with_weights` gives its bootstrap twins."""

    def __init__(
        self,
        data: _Data,
        config: MMMConfig,
        lift_tests: Sequence[LiftTest],
        weights: FloatArray | None = None,
        lift_noise: FloatArray | None = None,
        prior_noise: FloatArray | None = None,
    ):
        self.data, self.config, self.lift_tests = data, config, tuple(lift_tests)
        n, n_channels = data.activity.shape
        self.n_channels = n_channels
        self.n_baseline = data.baseline_design.shape[1]
        self.weights = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
        self.y_scale = float(data.y.mean()) or 1.0
        self.y = data.y / self.y_scale
        scales = data.activity.mean(axis=0)
        self.x_scale = np.where(scales > 0, scales, 1.0)
        self.x = data.activity / self.x_scale
        root = np.sqrt(self.weights)
        q, _ = np.linalg.qr(data.baseline_design * root[:, None])
        self._root, self._q = root, q
        yw = self.y * root
        self._y_resid = yw - q @ (q.T @ yw)
        self.n_params = 4 if config.adstock == "delayed" else 3
        n_theta = n_channels * self.n_params
        # Randomised priors (a bootstrap draw's prior_noise: standard normals, one per unit-cube
        # coordinate, then one per channel for the ROI pool): each prior's centre moves by one draw
        # from the prior itself.
        self.n_prior_noise = n_theta + n_channels
        noise = np.zeros(self.n_prior_noise) if prior_noise is None else np.asarray(prior_noise, dtype=float)
        if noise.shape != (self.n_prior_noise,):
            raise ValueError(f"prior_noise needs {self.n_prior_noise} values, got shape {noise.shape}")
        self.prior_centre = 0.5 + config.prior_sd * noise[:n_theta]
        self._calibration = self._lift_rows(lift_noise)
        self._y_ss = float(self._y_resid @ self._y_resid)
        # The lift rows' terms, flat: one entry per (test, period in it, arm) with the period, the
        # channel, the test, share x sign (treatment +, control -) and the arm's spend scale - so the
        # modelled sums and their gradient are a few vector operations however many tests there are.
        self._lift_channel = np.array([row.channel for row in self._calibration], dtype=np.int64)
        terms = [
            (t, row.channel, i, row.mask[t] * sign, scale)
            for i, row in enumerate(self._calibration)
            for scale, sign in ((row.treatment, 1.0), (row.control, -1.0))
            if scale > 0
            for t in np.flatnonzero(row.mask)
        ]
        columns = list(zip(*terms, strict=True)) if terms else [(), (), (), (), ()]
        self._term_period, self._term_channel, self._term_test = (
            np.array(c, dtype=np.int64) for c in columns[:3]
        )
        self._term_weight, self._term_scale = (np.array(c, dtype=np.float64) for c in columns[3:])
        self._ridge = config.ridge * float(self.weights.sum())
        # Noise variance of one period, from the baseline-only fit: the scale of the prior penalty.
        self._sigma2 = float(self._y_resid @ self._y_resid) / max(self.weights.sum() - self.n_baseline, 1.0)
        # A lift test is one more observation, weighted by (noise of a period / its standard error)^2.
        self._lift_scale = np.array([np.sqrt(self._sigma2) / row.se for row in self._calibration])
        self._lift_target = np.array([row.measured for row in self._calibration]) * self._lift_scale
        # ROI pooling prior: paid channels' ROIs scatter around their common mean with sd
        # roi_pool_sd x (KPI mean / mean paid spend per period).
        spend_mean = data.spend.mean(axis=0)
        self._pool_idx = np.flatnonzero(np.asarray(data.paid, dtype=bool) & (spend_mean > 0))
        self._pool = None
        if config.roi_pool_sd and len(self._pool_idx) >= 2:
            share = spend_mean[self._pool_idx] / self.y_scale  # spend per period / KPI mean
            tau = config.roi_pool_sd / float(share.sum())  # an ROI sd, KPI per currency unit
            p = len(self._pool_idx)
            centre = (np.sqrt(self._sigma2) / tau) * (np.eye(p) - 1.0 / p)
            # Target of the pooled ROIs' deviations from their mean: 0, or tau x a standard normal.
            self._pool = centre, share, centre @ (tau * noise[n_theta + self._pool_idx])

    def with_weights(
        self,
        weights: FloatArray,
        lift_noise: FloatArray | None = None,
        prior_noise: FloatArray | None = None,
    ) -> _Problem:
        """The same problem with case weights (bootstrap, holdout), lift results moved by
        `lift_noise` standard errors (a parametric bootstrap of the experiments) and the priors'
        centres moved by `prior_noise` of their standard deviations (randomised priors)."""
        return _Problem(self.data, self.config, self.lift_tests, weights, lift_noise, prior_noise)

    # theta <-> unit cube
    def decode(self, u: FloatArray) -> FloatArray:
        """Unit-cube point -> per-channel (decay, k, alpha, delay), k in scaled adstock units."""
        c = self.config
        u = np.clip(np.asarray(u, dtype=np.float64).reshape(self.n_channels, self.n_params), 0.0, 1.0)
        decay = c.decay_bounds[0] + u[:, 0] * (c.decay_bounds[1] - c.decay_bounds[0])
        log_lo, log_hi = np.log(c.k_bounds[0]), np.log(c.k_bounds[1])
        k = np.exp(log_lo + u[:, 1] * (log_hi - log_lo)) / (1.0 - decay)  # mean scaled activity is 1
        alpha = c.alpha_bounds[0] + u[:, 2] * (c.alpha_bounds[1] - c.alpha_bounds[0])
        delay = (
            c.delay_bounds[0] + u[:, 3] * (c.delay_bounds[1] - c.delay_bounds[0])
            if self.n_params == 4
            else np.zeros(self.n_channels)
        )
        return np.column_stack([decay, k, alpha, delay])

    def media(self, theta: FloatArray) -> FloatArray:
        return self._stock_and_media(theta)[1]

    def _stock_and_media(self, theta: FloatArray) -> tuple[FloatArray, FloatArray]:
        """(adstock, hill(adstock)) of every channel, periods x channels, at theta."""
        if self.config.adstock == "delayed":
            stock = np.column_stack(
                [delayed_adstock(self.x[:, j], theta[j, 0], theta[j, 3]) for j in range(self.n_channels)]
            )
        else:
            stock = np.column_stack(
                [geometric_adstock(self.x[:, j], theta[j, 0]) for j in range(self.n_channels)]
            )
        powered = (np.maximum(stock, 0.0) / theta[:, 1]) ** theta[:, 2]
        return stock, powered / (1.0 + powered)

    def _lift_rows(self, noise: FloatArray | None) -> list[_LiftRow]:
        """Each lift test in the problem's terms (scaled KPI, the periods it covers)."""
        rows = []
        for i, test in enumerate(self.lift_tests):
            where = _where(test)
            channel, mask = _test_window(test, self.data.channels, self.data.dates, self.config.grain)
            se = _standard_error(test)
            treatment, control = float(test.treatment_spend_scale), float(test.control_spend_scale)
            if not (np.isfinite([treatment, control]).all() and treatment >= 0 and control >= 0):
                raise ValueError(f"{where}: spend scales must be finite and >= 0, got {treatment}, {control}")
            if treatment == control:
                raise ValueError(f"{where} compares spend scale {treatment} with itself")
            measured = test.incremental + (se * float(noise[i]) if noise is not None else 0.0)
            rows.append(
                _LiftRow(
                    channel,
                    mask,
                    measured / self.y_scale,
                    se / self.y_scale,
                    treatment,
                    control,
                )
            )
        return rows

    def _lift_terms(self, stock: FloatArray, theta: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Per lift term: (scaled adstock, its Hill power (scale a / K)^alpha, hill of it)."""
        j = self._term_channel
        scaled = self._term_scale * np.maximum(stock[self._term_period, j], 0.0)
        powered = (scaled / theta[j, 1]) ** theta[j, 2]
        return scaled, powered, powered / (1.0 + powered)

    def _lift_sums(self, stock: FloatArray, theta: FloatArray) -> FloatArray:
        """Per test: sum over its periods of hill(treatment x adstock) - hill(control x adstock)."""
        _, _, h = self._lift_terms(stock, theta)
        return np.bincount(self._term_test, self._term_weight * h, minlength=len(self._calibration))

    def evaluate(self, u: FloatArray) -> tuple[float, FloatArray, FloatArray]:
        """Profiled objective at u: (objective, theta, beta)."""
        theta = self.decode(u)
        stock, z = self._stock_and_media(theta)
        objective, beta, _ = self._profile(z, u, self._lift_sums(stock, theta) if self._calibration else None)
        return objective, theta, beta

    def _profile(
        self, z: FloatArray, u: FloatArray, lift_sums: FloatArray | None
    ) -> tuple[float, FloatArray, dict[str, FloatArray]]:
        """(objective, beta, pieces for the gradient) for media columns z and the lift tests' modelled
        sums (`_lift_sums`) at unit-cube point u."""
        zw = z * self._root[:, None]
        z_resid = zw - self._q @ (self._q.T @ zw)
        # Normal equations of the stacked problem [Z; ridge; lift rows] beta ~ [y; 0; measured]: the
        # non-negative solve then works on a channels x channels system.
        gram = z_resid.T @ z_resid
        rhs = z_resid.T @ self._y_resid
        constant = self._y_ss
        z_mean = z.mean(axis=0)
        means = np.maximum(z_mean, 1e-9)
        if self._ridge > 0:
            gram[np.diag_indices_from(gram)] += self._ridge * means**2
        if self._pool is not None:
            # ROI_c = beta_c mean(z_c) / share_c; penalty sigma^2 sum_c (ROI_c - mean ROI)^2 / tau^2.
            centre, share, target = self._pool
            idx = self._pool_idx
            a = centre * (means[idx] / share)[None, :]
            gram[np.ix_(idx, idx)] += a.T @ a
            rhs[idx] += a.T @ target
            constant += float(target @ target)
        if lift_sums is not None:
            picked = np.arange(len(self._lift_channel))
            rows = np.zeros((len(picked), self.n_channels))
            rows[picked, self._lift_channel] = lift_sums * self._lift_scale
            gram += rows.T @ rows
            rhs += rows.T @ self._lift_target
            constant += float(self._lift_target @ self._lift_target)
        jitter = 1e-12 * max(float(np.trace(gram)), 1e-300)
        lower = np.linalg.cholesky(gram + jitter * np.eye(self.n_channels))
        whitened = solve_triangular(lower, rhs, lower=True)
        beta, norm = nnls(lower.T, whitened, maxiter=50 * self.n_channels)
        norm = np.sqrt(max(constant - float(whitened @ whitened) + norm**2, 0.0))
        objective = float(norm**2)
        if self.config.prior_sd > 0:
            deviation = (np.clip(u, 0.0, 1.0) - self.prior_centre) / self.config.prior_sd
            objective += self._sigma2 * float(deviation @ deviation)
        pieces = {"z_resid": z_resid, "z_mean": z_mean, "means": means}
        if lift_sums is not None:
            pieces["lift_sums"] = lift_sums
        return objective, beta, pieces

    def value_and_grad(self, u: FloatArray) -> tuple[float, FloatArray]:
        """Objective and its exact gradient in u (geometric adstock).

        Envelope theorem (Danskin): the betas are a minimiser of the stacked least squares at fixed
        theta under constraints that do not move with theta, so the profiled objective's gradient is
        the partial derivative at the fitted betas. One media evaluation plus one carry-over filter per
        channel, instead of one full evaluation per coordinate for finite differences."""
        u = np.clip(np.asarray(u, dtype=np.float64), 0.0, 1.0)
        theta = self.decode(u)
        decay, k, alpha = theta[:, 0], theta[:, 1], theta[:, 2]
        stock, dstock = self._adstock_and_derivative(decay)
        ratio = np.maximum(stock, 0.0) / k
        powered = ratio**alpha
        z = powered / (1.0 + powered)
        objective, beta, pieces = self._profile(
            z, u, self._lift_sums(stock, theta) if self._calibration else None
        )
        n = z.shape[0]

        # d objective / d z[t, j], every term at the fitted betas.
        residual = self._y_resid - pieces["z_resid"] @ beta  # data rows, already projected
        # d/dz of ||P W^1/2 (y - Z b)||^2 = -2 W^1/2 P r b^T (P r = r: r lies in the projection's range)
        g = -2.0 * (self._root * residual)[:, None] * beta[None, :]
        dmean = np.zeros(self.n_channels)  # d objective / d mean(z_j)
        active = pieces["z_mean"] > 1e-9
        if self._ridge > 0:
            dmean += 2.0 * self._ridge * pieces["means"] * beta**2
        if self._pool is not None:
            centre, share, target = self._pool
            idx = self._pool_idx
            v = pieces["means"][idx] / share * beta[idx]
            dmean[idx] += 2.0 * (centre.T @ (centre @ v - target)) * beta[idx] / share
        g += (np.where(active, dmean, 0.0) / n)[None, :]

        # Chain rule through Hill and adstock.
        dh_dp = 1.0 / (1.0 + powered) ** 2
        with np.errstate(divide="ignore", invalid="ignore"):
            log_ratio = np.where(ratio > 0, np.log(np.where(ratio > 0, ratio, 1.0)), 0.0)
            dp_da = np.where(stock > 0, alpha * powered / np.where(stock > 0, stock, 1.0), 0.0)
        d_k = -(alpha / k) * powered * dh_dp  # dz / dK
        d_alpha = powered * log_ratio * dh_dp  # dz / d alpha
        d_decay = dh_dp * dp_da * dstock  # dz / d decay at fixed K
        grad_k = np.einsum("tj,tj->j", g, d_k)
        grad_alpha = np.einsum("tj,tj->j", g, d_alpha)
        grad_decay = np.einsum("tj,tj->j", g, d_decay)
        if "lift_sums" in pieces:
            self._add_lift_gradient(
                pieces["lift_sums"], beta, stock, dstock, k, alpha, grad_k, grad_alpha, grad_decay
            )
        c = self.config
        span_decay = c.decay_bounds[1] - c.decay_bounds[0]
        span_log_k = np.log(c.k_bounds[1]) - np.log(c.k_bounds[0])
        grad = np.empty((self.n_channels, self.n_params))
        # K = exp(...) / (1 - decay): decay moves K too.
        grad[:, 0] = (grad_decay + grad_k * k / (1.0 - decay)) * span_decay
        grad[:, 1] = grad_k * k * span_log_k
        grad[:, 2] = grad_alpha * (c.alpha_bounds[1] - c.alpha_bounds[0])
        grad = grad.reshape(-1)
        if c.prior_sd > 0:
            grad += 2.0 * self._sigma2 * (u - self.prior_centre) / c.prior_sd**2
        return objective, grad

    def _add_lift_gradient(
        self,
        lift_sums: FloatArray,
        beta: FloatArray,
        stock: FloatArray,
        dstock: FloatArray,
        k: FloatArray,
        alpha: FloatArray,
        grad_k: FloatArray,
        grad_alpha: FloatArray,
        grad_decay: FloatArray,
    ) -> None:
        """Add the lift rows' terms to the gradients in K, alpha and decay (at fixed K), in place.

        Row i's squared error (s_i beta_j L_i - target_i)^2, L_i = sum_w share_w sum_arms sign hill(scale a_w):
        each arm is a Hill curve at scale x adstock, so its partials are Hill's at that point (the
        decay's through d(scale a)/d decay = scale da/d decay)."""
        s = self._lift_scale
        j_of = self._lift_channel
        per_test = 2.0 * (s * beta[j_of] * lift_sums - self._lift_target) * s * beta[j_of]
        j = self._term_channel
        scaled, powered, _ = self._lift_terms(stock, np.column_stack([np.zeros_like(k), k, alpha]))
        w = per_test[self._term_test] * self._term_weight
        dh_dp = 1.0 / (1.0 + powered) ** 2
        ratio = scaled / k[j]
        a = np.maximum(stock[self._term_period, j], 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_ratio = np.where(ratio > 0, np.log(np.where(ratio > 0, ratio, 1.0)), 0.0)
            dp_da = np.where(a > 0, alpha[j] * powered / np.where(a > 0, a, 1.0), 0.0)
        n = self.n_channels
        grad_k += np.bincount(j, w * (-(alpha[j] / k[j]) * powered * dh_dp), minlength=n)
        grad_alpha += np.bincount(j, w * powered * log_ratio * dh_dp, minlength=n)
        grad_decay += np.bincount(j, w * dh_dp * dp_da * dstock[self._term_period, j], minlength=n)

    def _adstock_and_derivative(self, decay: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Geometric adstock of every channel and its derivative in the decay (steady-state start)."""
        stock = np.empty_like(self.x)
        dstock = np.empty_like(self.x)
        for j in range(self.n_channels):
            d, x = float(decay[j]), self.x[:, j]
            stock[:, j] = geometric_adstock(x, d)
            # b_t = a_{t-1} + d b_{t-1}, a_{-1} = x_0 / (1 - d), b_{-1} = x_0 / (1 - d)^2
            shifted = np.concatenate(([x[0] / (1.0 - d)], stock[:-1, j]))
            dstock[:, j] = geometric_adstock(shifted, d, previous=x[0] / (1.0 - d) ** 2)
        return stock, dstock

    def objective(self, u: FloatArray) -> float:
        return self.evaluate(u)[0]

    def search(self, rng: np.random.Generator) -> tuple[FloatArray, float]:
        """Sobol candidates, then L-BFGS-B from the best few; returns (u, objective)."""
        dim = self.n_channels * self.n_params
        sobol = qmc.Sobol(dim, scramble=True, seed=rng)
        candidates = sobol.random(self.config.n_candidates)
        scores = np.array([self.objective(u) for u in candidates])
        best_u, best_score = candidates[int(np.argmin(scores))], float(scores.min())
        for index in np.argsort(scores)[: self.config.n_starts]:
            u, score = self.polish(candidates[index], maxiter=self.config.search_iterations)
            if score < best_score:
                best_u, best_score = u, score
        return best_u, best_score

    def polish(self, u0: FloatArray, maxiter: int) -> tuple[FloatArray, float]:
        exact = self.config.adstock == "geometric" and self.config.exact_gradient
        result = minimize(
            self.value_and_grad if exact else self.objective,
            u0,
            jac=True if exact else None,
            method="L-BFGS-B",
            bounds=[(0.0, 1.0)] * len(u0),
            options={"maxiter": maxiter, "eps": 1e-4, "ftol": 1e-8},
        )
        return np.clip(result.x, 0.0, 1.0), float(result.fun)

    def solve(self, u: FloatArray) -> _Solution:
        sse, theta, beta = self.evaluate(u)
        z = self.media(theta)
        contributions = z * beta[None, :] * self.y_scale
        rest = self.data.y - contributions.sum(axis=1)
        design = self.data.baseline_design
        root = self._root
        gamma, *_ = np.linalg.lstsq(design * root[:, None], rest * root, rcond=None)
        baseline: dict[str, FloatArray] = {}
        for name in dict.fromkeys(self.data.baseline_groups):
            cols = [i for i, g in enumerate(self.data.baseline_groups) if g == name]
            baseline[name] = design[:, cols] @ gamma[cols]
        return _Solution(sse, theta, beta, baseline, contributions)

    def params(self, solution: _Solution) -> tuple[ChannelParams, ...]:
        """Fitted parameters in the data's units (K in activity units, beta in KPI per period)."""
        out = []
        for j, name in enumerate(self.data.channels):
            decay, k, alpha, delay = solution.theta[j]
            out.append(
                ChannelParams(
                    channel=name,
                    paid=self.data.paid[j],
                    decay=float(decay),
                    k=float(k * self.x_scale[j]),
                    alpha=float(alpha),
                    beta=float(solution.beta[j] * self.y_scale),
                    delay=float(delay),
                )
            )
        return tuple(out)


def _adstock(activity: FloatArray, params: ChannelParams, kind: str) -> FloatArray:
    if kind == "delayed":
        return delayed_adstock(activity, params.decay, params.delay)
    return geometric_adstock(activity, params.decay)


def _where(test: LiftTest) -> str:
    return f"lift test on {test.channel} ({test.start}..{test.end})"


def _test_window(
    test: LiftTest, channels: Sequence[str], dates: NDArray[np.datetime64], grain: str
) -> tuple[int, FloatArray]:
    """(channel index, share of each period's days inside the test) of a lift test on a fit's periods
    (weekly grain: a week half in the test counts half of its modelled contribution); ValueError when
    the channel has no media or the test lies outside the periods."""
    if test.channel not in channels:
        raise ValueError(f"lift test names channel {test.channel!r}, which has no media in the data")
    start, end = np.datetime64(test.start, "D"), np.datetime64(test.end, "D")
    span = 7 if grain == "week" else 1
    first = np.maximum(dates, start)
    last = np.minimum(dates + np.timedelta64(span - 1, "D"), end)
    mask = np.clip((last - first).astype(np.int64) + 1, 0, span) / span
    if not mask.any():
        raise ValueError(f"{_where(test)} is outside the data")
    return list(channels).index(test.channel), mask


def _standard_error(test: LiftTest) -> float:
    """The test's standard error (default 10 % of |incremental|); ValueError unless positive."""
    se = test.standard_error if test.standard_error else 0.1 * abs(test.incremental)
    if not se > 0:
        raise ValueError(f"{_where(test)} needs a positive standard error")
    return float(se)


def _block_bootstrap_weights(n: int, block: int, rng: np.random.Generator) -> FloatArray:
    """How often each period is drawn by a moving-block bootstrap of n periods in blocks of `block`."""
    block = min(block, n)
    counts = np.zeros(n)
    n_blocks = int(np.ceil(n / block))
    for start in rng.integers(0, n - block + 1, n_blocks):
        counts[start : start + block] += 1.0
    return counts


# -- small helpers ------------------------------------------------------------------------------------


def _require(frame: pl.DataFrame, columns: Sequence[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} lacks columns {missing} (has {frame.columns})")


def _lift_tests_for(lift_tests: pl.DataFrame | None, tenant: str, kpi: str) -> list[LiftTest]:
    if lift_tests is None or lift_tests.height == 0:
        return []
    _require(lift_tests, ("tenant_id", "kpi", "channel", "start", "end", "incremental"), "lift_tests")
    rows = lift_tests.filter((pl.col("tenant_id") == tenant) & (pl.col("kpi") == kpi)).to_dicts()
    return [
        LiftTest(
            channel=r["channel"],
            start=r["start"],
            end=r["end"],
            incremental=float(r["incremental"]),
            standard_error=r.get("standard_error"),
            treatment_spend_scale=_scale_or(r.get("treatment_spend_scale"), 1.0),
            control_spend_scale=_scale_or(r.get("control_spend_scale"), 0.0),
        )
        for r in rows
    ]


def _scale_or(value: object, default: float) -> float:
    """A lift test's spend scale; missing (a holdout/geo read-out without the column) -> the holdout's."""
    return default if value is None else float(value)  # type: ignore[arg-type]


def _concat(parts: list[pl.DataFrame], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    if not parts:
        return pl.DataFrame(schema=schema)
    return pl.concat(parts).cast(schema).select(list(schema))


__all__ = [
    "BLACK_FRIDAY_WEEK",
    "KPIS",
    "MMM_CALIBRATION_SCHEMA",
    "ChannelParams",
    "Event",
    "LiftTest",
    "MMMConfig",
    "MMMFit",
    "MMMOutputs",
    "calibration_mape",
    "channel_response",
    "channel_summary",
    "decomposition",
    "fit_mmm",
    "lift_test_fit",
    "lift_test_modelled",
    "recent_daily_spend",
    "response_curves",
    "roi_and_mroi",
    "run_mmm",
    "steady_state_mroi",
    "steady_state_response",
]
