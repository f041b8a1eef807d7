"""models_ml._ets: the vectorised ETS(A,Ad,A) is statsmodels' ETSModel, estimated well, honest intervals."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from models_ml._ets import (
    EtsFit,
    _filter_sse,
    fit_ets_damped,
    forecast_ets_damped,
    initial_states,
    statsmodels_start_params,
)


def _simulate_ets(
    rng: np.random.Generator, n: int, alpha: float, beta: float, gamma: float, phi: float, sigma: float
) -> np.ndarray:
    level, trend = 100.0, 0.2
    season = list(10.0 * np.sin(2 * np.pi * np.arange(7) / 7))
    y = np.empty(n)
    for t in range(n):
        s = season[t % 7]
        e = rng.normal(0.0, sigma)
        y[t] = level + phi * trend + s + e
        level = level + phi * trend + alpha * e
        trend = phi * trend + beta * e
        season[t % 7] = s + gamma * e
    return y


def test_filter_and_intervals_match_statsmodels_etsmodel() -> None:
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    rng = np.random.default_rng(1)
    n = 200
    t = np.arange(n)
    y = 50 + 0.2 * t + 8 * np.sin(2 * np.pi * t / 7) + rng.normal(0, 3, n)
    level0, trend0, season0 = initial_states(y[None, :], 7)
    alpha, beta, gamma, phi = 0.3, 0.05, 0.1, 0.9
    par = [np.array([[v]]) for v in (alpha, beta, gamma, phi)]
    sse, level, trend, season = _filter_sse(y[:, None].copy(), *par, level0, trend0, season0)

    model = ETSModel(
        pd.Series(y, index=pd.date_range("2025-01-01", periods=n, freq="D")),
        error="add",
        trend="add",
        damped_trend=True,
        seasonal="add",
        seasonal_periods=7,
        initialization_method="known",
        initial_level=level0[0],
        initial_trend=trend0[0],
        initial_seasonal=season0[:, 0],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = model.smooth([alpha, beta, gamma, phi])
        frame = ref.get_prediction(start=n, end=n + 27).summary_frame(alpha=0.2)
    assert sse[0, 0] == pytest.approx(ref.sse, rel=1e-10)

    fit = EtsFit(
        alpha=np.array([alpha]),
        beta=np.array([beta]),
        gamma=np.array([gamma]),
        phi=np.array([phi]),
        level=level[:, 0],
        trend=trend[:, 0],
        season=season[:, :, 0],
        sigma2=np.array([ref.mse]),
        n_obs=n,
        initial_level=level0,
        initial_trend=trend0,
        initial_season=season0,
    )
    mean, var = forecast_ets_damped(fit, 28)
    z = 1.2815515655446004  # N(0,1) 90% quantile
    np.testing.assert_allclose(mean[0], frame["mean"].to_numpy(), rtol=1e-10)
    np.testing.assert_allclose(mean[0] - z * np.sqrt(var[0]), frame["pi_lower"].to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(mean[0] + z * np.sqrt(var[0]), frame["pi_upper"].to_numpy(), rtol=1e-8)


def test_fit_is_close_to_statsmodels_least_squares() -> None:
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    rng = np.random.default_rng(5)
    ys = np.stack([_simulate_ets(rng, 364, 0.15, 0.01, 0.05, 0.95, 3.0) for _ in range(4)])
    fit = fit_ets_damped(ys)
    ours = fit.sigma2 * (364 - 12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = np.array(
            [
                ExponentialSmoothing(y, trend="add", damped_trend=True, seasonal="add", seasonal_periods=7)
                .fit(use_brute=False)
                .sse
                for y in ys
            ]
        )
    # heuristic initial states vs statsmodels' jointly estimated ones: within a few percent of SSE
    assert np.all(ours <= ref * 1.05), ours / ref


def test_interval_coverage_on_data_from_the_model() -> None:
    rng = np.random.default_rng(11)
    n, h = 364, 28
    ys = np.stack([_simulate_ets(rng, n + h, 0.2, 0.02, 0.05, 0.9, 2.0) for _ in range(60)])
    mean, var = forecast_ets_damped(fit_ets_damped(ys[:, :n]), h)
    z = 1.2815515655446004
    inside = np.abs(ys[:, n:] - mean) <= z * np.sqrt(var)
    assert 0.74 <= inside.mean() <= 0.86, inside.mean()


def test_batched_fit_equals_one_at_a_time() -> None:
    # bit for bit: the statsmodels refit in models_ml.forecast amplifies last-bit differences, and one
    # series' forecast must not depend on which other series share its batch
    rng = np.random.default_rng(2)
    ys = np.stack([_simulate_ets(rng, 120, 0.3, 0.03, 0.1, 0.9, 1.0) for _ in range(40)])
    batch = fit_ets_damped(ys)
    for i in range(40):
        single = fit_ets_damped(ys[i : i + 1])
        for name in ("alpha", "beta", "gamma", "phi", "level", "trend", "sigma2", "initial_level"):
            np.testing.assert_array_equal(getattr(batch, name)[i], getattr(single, name)[0], err_msg=name)
        for name in ("season", "initial_season"):
            np.testing.assert_array_equal(
                getattr(batch, name)[:, i], getattr(single, name)[:, 0], err_msg=name
            )
        np.testing.assert_array_equal(statsmodels_start_params(batch)[i], statsmodels_start_params(single)[0])


def test_parameters_stay_in_the_admissible_region() -> None:
    rng = np.random.default_rng(4)
    ys = np.stack(
        [
            np.zeros(100),
            np.full(100, 5.0),
            rng.poisson(0.3, 100).astype(float),
            np.cumsum(rng.normal(size=100)),
        ]
    )
    fit = fit_ets_damped(ys)
    assert np.all((fit.alpha > 0) & (fit.alpha < 1))
    assert np.all((fit.beta > 0) & (fit.beta < fit.alpha))
    assert np.all((fit.gamma > 0) & (fit.gamma < 1 - fit.alpha))
    assert np.all((fit.phi >= 0.8) & (fit.phi <= 0.98))
    mean, var = forecast_ets_damped(fit, 28)
    assert np.all(np.isfinite(mean)) and np.all(var >= 0)
    np.testing.assert_allclose(mean[0], 0.0, atol=1e-12)
    np.testing.assert_allclose(mean[1], 5.0, atol=1e-9)


def test_too_short_raises() -> None:
    with pytest.raises(ValueError, match="at least 14"):
        fit_ets_damped(np.ones((1, 13)))


def test_statsmodels_start_params_reproduce_the_numpy_fit() -> None:
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    rng = np.random.default_rng(8)
    n = 364
    ys = np.stack([_simulate_ets(rng, n, 0.2, 0.02, 0.05, 0.9, 2.0) for _ in range(3)])
    fit = fit_ets_damped(ys)
    starts = statsmodels_start_params(fit)
    mean, _ = forecast_ets_damped(fit, 28)
    assert starts.shape == (3, 6 + 7)
    alpha, beta, gamma, phi = starts[:, :4].T
    # inside statsmodels' default bounds (it optimises beta / alpha and gamma / (1 - alpha))
    assert np.all((beta / alpha > 0) & (beta / alpha < 1) & (gamma / (1 - alpha) > 0))
    assert np.all((gamma / (1 - alpha) < 1) & (phi >= 0.8) & (phi <= 0.98))
    np.testing.assert_array_equal(starts[:, -1], 0.0)  # statsmodels fixes s_{-m} at 0
    for i, y in enumerate(ys):
        model = ETSModel(
            pd.Series(y), error="add", trend="add", damped_trend=True, seasonal="add", seasonal_periods=7
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = model.smooth(starts[i])
            ref_mean = ref.forecast(28).to_numpy()
        # the start point is the numpy fit: same SSE (sigma2 = SSE / (n - 12)), same forecasts
        assert ref.sse == pytest.approx(fit.sigma2[i] * (n - 12), rel=1e-9)
        np.testing.assert_allclose(ref_mean, mean[i], rtol=1e-9)
