"""Vectorised ETS(A,Ad,A): additive error, additive damped trend, additive seasonality.

The state-space model (Hyndman, Koehler, Ord & Snyder 2008, "Forecasting with Exponential Smoothing",
class 1; the same model as ``statsmodels.tsa.exponential_smoothing.ets.ETSModel(error="add",
trend="add", damped_trend=True, seasonal="add")``)::

    yhat_t = l_{t-1} + phi * b_{t-1} + s_{t-m}
    e_t    = y_t - yhat_t
    l_t    = l_{t-1} + phi * b_{t-1} + alpha * e_t
    b_t    = phi * b_{t-1} + beta * e_t
    s_t    = s_{t-m} + gamma * e_t

Why not call statsmodels for every fit: the forecast's backtest needs (origins + 1) x candidates fits
per series (demo: 280 fits for 36 series); statsmodels costs 10-150 ms per fit (``use_brute`` on/off),
i.e. seconds to a minute. Here all series, origins and parameter candidates run through one numpy
recursion over time, so the cost is one loop of ``n`` steps over wide arrays, not a loop over fits.
This engine does the backtest and the model choice; the final forecast of a series that chose ETS is
refitted by statsmodels, started from this engine's fit (see ``models_ml.forecast``).

Estimation: least squares (= Gaussian maximum likelihood for additive errors) over the smoothing
parameters, by a coarse grid followed by a shrinking pattern search, with parameters kept inside the
usual region 0 < alpha < 1, 0 < beta < alpha, 0 < gamma < 1 - alpha, 0.8 <= phi <= 0.98 through
``beta = alpha * beta_star``, ``gamma = (1 - alpha) * gamma_star``. Initial states come from a
regression of the first weeks on an intercept, a linear trend and sum-to-zero weekday effects
(the "heuristic" initialisation). Forecast variances are analytic:
``v_h = sigma^2 * (1 + sum_{j=1}^{h-1} c_j^2)``, ``c_j = alpha + beta * (phi + ... + phi^j) + gamma * [j % m == 0]``.

``statsmodels_start_params`` turns a fit into ``start_params`` for statsmodels' ``ETSModel`` with
estimated initial states, so that statsmodels can refine a numpy fit (joint maximum likelihood of the
smoothing parameters and the initial states) in a few L-BFGS iterations: ``models_ml.forecast`` does
this for its final forecasts.

Everything is deterministic (no random numbers) and pure (arrays in, arrays out).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

PHI_MIN = 0.8
PHI_MAX = 0.98
_UNIT_EPS = 1e-4  # keeps smoothing parameters strictly inside (0, 1)

# Coarse grid (alpha, beta_star, gamma_star, phi); the pattern search refines around the best point.
_GRID_ALPHA = (0.02, 0.08, 0.2, 0.4, 0.7)
_GRID_BETA_STAR = (0.005, 0.05, 0.25)
_GRID_GAMMA_STAR = (0.01, 0.05, 0.2, 0.5)
_GRID_PHI = (0.85, 0.95, 0.98)
_REFINE_STEPS = (0.8, 0.4, 0.2)  # step sizes of the pattern search, in logit units


@dataclass(frozen=True)
class EtsFit:
    """Fitted ETS(A,Ad,A) for a batch of equally long series (one entry per row)."""

    alpha: FloatArray
    beta: FloatArray
    gamma: FloatArray
    phi: FloatArray
    level: FloatArray  # final level l_n
    trend: FloatArray  # final trend b_n
    season: FloatArray  # (m, rows): season[(n + h - 1) % m] is the seasonal term of forecast step h
    sigma2: FloatArray  # residual variance, SSE / (n - number of estimated parameters)
    n_obs: int
    initial_level: FloatArray  # l_0, the heuristic initial states the fit started from (rows,)
    initial_trend: FloatArray  # b_0 (rows,)
    initial_season: FloatArray  # (m, rows): initial_season[j] is s_{j-m}, j = 0..m-1 (s_{-m} first)


def _logit(p: FloatArray) -> FloatArray:
    return np.log(p) - np.log1p(-p)


def _expit(x: FloatArray) -> FloatArray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _to_params(u: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Unconstrained (..., 4) -> (alpha, beta, gamma, phi) inside the admissible region."""
    lo, hi = _UNIT_EPS, 1.0 - _UNIT_EPS
    alpha = np.clip(_expit(u[..., 0]), lo, hi)
    beta = alpha * np.clip(_expit(u[..., 1]), lo, hi)
    gamma = (1.0 - alpha) * np.clip(_expit(u[..., 2]), lo, hi)
    phi = PHI_MIN + (PHI_MAX - PHI_MIN) * _expit(u[..., 3])
    return alpha, beta, gamma, phi


def _coarse_grid() -> FloatArray:
    a, bs, gs, ph = np.meshgrid(_GRID_ALPHA, _GRID_BETA_STAR, _GRID_GAMMA_STAR, _GRID_PHI, indexing="ij")
    phi_unit = np.clip((ph - PHI_MIN) / (PHI_MAX - PHI_MIN), _UNIT_EPS, 1.0 - _UNIT_EPS)
    u = np.stack([_logit(a), _logit(bs), _logit(gs), _logit(phi_unit)], axis=-1)
    return u.reshape(-1, 4)


def initial_states(y: FloatArray, m: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Heuristic initial states (l_0, b_0, s_{1-m..0}) for each row of ``y`` (rows, n).

    Weekday effects: classical decomposition over the whole window (mean of ``y`` minus its centred
    m-day moving average, by weekday, centred to sum to zero): the seasonal shape is estimated from
    all data, which matters when gamma is small. Level and trend: least squares of the deseasonalised
    first ``min(n, 8m)`` observations on an intercept and a linear trend. Returns level (rows,),
    trend (rows,) and the seasonal buffer (m, rows) laid out so that ``buffer[t % m]`` is ``s_{t-m}``
    when step ``t`` (0-based) is filtered.
    """
    rows, n = y.shape
    csum = np.concatenate([np.zeros((rows, 1)), np.cumsum(y, axis=1)], axis=1)
    if m % 2:
        half = m // 2
        moving = (csum[:, m:] - csum[:, :-m]) / m  # moving[:, i] is centred on i + half
        centre = np.arange(half, n - half)
    else:  # 2 x m moving average for an even period
        half = m // 2
        first = (csum[:, m:] - csum[:, :-m]) / m
        moving = 0.5 * (first[:, :-1] + first[:, 1:])
        centre = np.arange(half, n - half)
    detrended = y[:, centre] - moving
    pos = centre % m
    seasonal = np.stack([detrended[:, pos == j].mean(axis=1) for j in range(m)])  # (m, rows)
    seasonal -= seasonal.mean(axis=0, keepdims=True)

    k = min(n, 8 * m)
    t = np.arange(k, dtype=np.float64) - (k - 1) / 2.0  # centred time: closed-form least squares
    deseason = y[:, :k] - seasonal[np.arange(k) % m].T
    trend = (deseason * t).sum(axis=1) / (t * t).sum()
    level_at_0 = deseason.mean(axis=1) - trend * (k - 1) / 2.0
    return level_at_0 - trend, trend, seasonal


def _filter_sse(
    y_t: FloatArray,
    alpha: FloatArray,
    beta: FloatArray,
    gamma: FloatArray,
    phi: FloatArray,
    level0: FloatArray,
    trend0: FloatArray,
    season0: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Run the recursion for all (row, candidate) pairs at once.

    ``y_t`` is (n, rows); parameters broadcast to (rows, candidates); initial states are (rows,) and
    (m, rows). Returns SSE (rows, candidates) and the final level, trend (rows, candidates) and
    seasonal buffer (m, rows, candidates).
    """
    n = y_t.shape[0]
    m = season0.shape[0]
    shape = np.broadcast_shapes(alpha.shape, beta.shape, gamma.shape, phi.shape, (y_t.shape[1], 1))
    level = np.broadcast_to(level0[:, None], shape).copy()
    trend = np.broadcast_to(trend0[:, None], shape).copy()
    season = np.broadcast_to(season0[:, :, None], (m, *shape)).copy()
    sse = np.zeros(shape)
    damped = np.empty(shape)
    err = np.empty(shape)
    tmp = np.empty(shape)
    for t in range(n):
        s_old = season[t % m]
        np.multiply(phi, trend, out=damped)
        np.add(level, damped, out=level)  # l_{t-1} + phi b_{t-1}
        np.add(level, s_old, out=tmp)  # one-step forecast
        np.subtract(y_t[t][:, None], tmp, out=err)
        np.multiply(err, err, out=tmp)
        sse += tmp
        np.multiply(alpha, err, out=tmp)
        level += tmp
        np.multiply(beta, err, out=tmp)
        np.add(damped, tmp, out=trend)
        np.multiply(gamma, err, out=tmp)
        s_old += tmp  # in place: becomes s_t in the buffer slot of s_{t-m}
    return sse, level, trend, season


def fit_ets_damped(y: FloatArray, m: int = 7) -> EtsFit:
    """Fit ETS(A,Ad,A) to each row of ``y`` (rows, n); rows share the length n (>= 2m), no NaN.

    Each row's fit is bit-for-bit the fit of that row alone, whatever else is in the batch.
    """
    y = np.ascontiguousarray(y, dtype=np.float64)
    rows, n = y.shape
    if n < 2 * m:
        raise ValueError(f"ETS needs at least {2 * m} observations, got {n}")
    y_t = np.ascontiguousarray(y.T)
    # Initial states one row at a time: numpy's reductions over a batch may sum in another order
    # than over one row (it depends on the array layout), and the statsmodels refit in
    # models_ml.forecast turns such last-bit differences into ~1 % forecast differences, i.e. one
    # series' forecast would depend on which other series share its batch. The filter is elementwise.
    per_row = [initial_states(y[r : r + 1], m) for r in range(rows)]
    level0 = np.concatenate([state[0] for state in per_row])
    trend0 = np.concatenate([state[1] for state in per_row])
    season0 = np.concatenate([state[2] for state in per_row], axis=1)

    grid = _coarse_grid()  # (P, 4)
    a, b, g, p = _to_params(grid[None, :, :])  # (1, P)
    sse, *_ = _filter_sse(y_t, a, b, g, p, level0, trend0, season0)
    best_u = grid[np.argmin(sse, axis=1)]  # (rows, 4)

    offsets = np.stack(np.meshgrid(*([np.array([-1.0, 0.0, 1.0])] * 4), indexing="ij"), axis=-1).reshape(
        -1, 4
    )
    centre = int(np.flatnonzero(~offsets.any(axis=1))[0])
    for step in _REFINE_STEPS:
        cand = best_u[:, None, :] + step * offsets[None, :, :]  # (rows, 81, 4)
        a, b, g, p = _to_params(cand)
        sse, *_ = _filter_sse(y_t, a, b, g, p, level0, trend0, season0)
        pick = np.argmin(sse, axis=1)
        # ties (flat SSE surfaces, e.g. constant series) keep the centre: deterministic and stable
        keep = sse[np.arange(rows), pick] >= sse[:, centre]
        pick = np.where(keep, centre, pick)
        best_u = cand[np.arange(rows), pick]

    a, b, g, p = _to_params(best_u[:, None, :])
    sse, level, trend, season = _filter_sse(y_t, a, b, g, p, level0, trend0, season0)
    n_params = 4 + 2 + (m - 1)
    return EtsFit(
        alpha=a[:, 0],
        beta=b[:, 0],
        gamma=g[:, 0],
        phi=p[:, 0],
        level=level[:, 0],
        trend=trend[:, 0],
        season=season[:, :, 0],
        sigma2=sse[:, 0] / max(n - n_params, 1),
        n_obs=n,
        initial_level=level0,
        initial_trend=trend0,
        initial_season=season0,
    )


def statsmodels_start_params(fit: EtsFit) -> FloatArray:
    """``start_params`` for statsmodels' ``ETSModel`` (A, Ad, A, estimated initial states), per row.

    Returns (rows, 6 + m): ``alpha, beta, gamma, phi, l_{-1}, b_{-1}, s_{-1}, ..., s_{-m}`` in
    statsmodels' order, for ``ETSModel(y, error="add", trend="add", damped_trend=True, seasonal="add",
    seasonal_periods=m).fit(start_params=row)`` on the same ``y`` as the fit. statsmodels fixes the
    last seasonal state ``s_{-m}`` at 0 (the states are otherwise determined only up to a constant), so
    ``s_{-m}`` is moved into the level: ``l + c`` and ``s - c`` give identical fitted values, hence the
    returned point has exactly the numpy fit's likelihood.
    """
    shift = fit.initial_season[0]  # s_{-m}
    season = (fit.initial_season - shift[None, :])[::-1].T  # (rows, m): s_{-1}, ..., s_{-m}
    return np.column_stack(
        [fit.alpha, fit.beta, fit.gamma, fit.phi, fit.initial_level + shift, fit.initial_trend, season]
    )


def forecast_ets_damped(fit: EtsFit, horizon: int) -> tuple[FloatArray, FloatArray]:
    """Point forecasts and forecast variances, each (rows, horizon)."""
    m = fit.season.shape[0]
    h = np.arange(1, horizon + 1)
    powers = fit.phi[:, None] ** h[None, :]  # phi^h
    phi_cum = np.cumsum(powers, axis=1)  # phi_h = phi + ... + phi^h
    seasonal = fit.season[(fit.n_obs + h - 1) % m].T  # (rows, horizon)
    mean = fit.level[:, None] + phi_cum * fit.trend[:, None] + seasonal
    # c_j for j = 1..horizon-1; v_h = sigma^2 (1 + sum_{j<h} c_j^2)
    c = fit.alpha[:, None] + fit.beta[:, None] * phi_cum + fit.gamma[:, None] * (h % m == 0)[None, :]
    c2 = np.cumsum(c[:, :-1] ** 2, axis=1)
    var = fit.sigma2[:, None] * np.concatenate([np.ones((c.shape[0], 1)), 1.0 + c2], axis=1)
    return mean, var
