"""models_ml.forecast: accuracy vs seasonal naive, interval coverage, fallbacks, shapes, determinism."""

from __future__ import annotations

import math
import sys
import warnings
from datetime import date, timedelta
from statistics import NormalDist

import numpy as np
import pandas as pd
import polars as pl
import pytest

from models_ml._ets import fit_ets_damped, forecast_ets_damped, statsmodels_start_params
from models_ml.forecast import (
    _SM_MAXITER,
    BACKTEST_SCHEMA,
    CANDIDATE_MODELS,
    FORECAST_SCHEMA,
    MODEL_ETS,
    MODEL_ETS_LOG1P,
    MODEL_NAIVE,
    MODEL_SEASONAL_NAIVE,
    chosen_models,
    forecast_channel_metrics,
    mase,
)

END = date(2026, 10, 31)
HORIZON = 28


def _frame(series: dict[tuple[str, str], dict[str, np.ndarray]], end: date = END) -> pl.DataFrame:
    """fct_channel_daily-like frame; every series ends at ``end``."""
    frames = []
    for (tenant, channel), values in series.items():
        n = len(next(iter(values.values())))
        dates = [end - timedelta(days=n - 1 - i) for i in range(n)]
        frames.append(pl.DataFrame({"tenant_id": tenant, "channel": channel, "date": dates, **values}))
    return pl.concat(frames, how="vertical")


def _trend_season_noise(rng: np.random.Generator, n: int) -> np.ndarray:
    t = np.arange(n)
    level = rng.uniform(50.0, 500.0)
    slope = level * rng.uniform(-0.4, 0.8) / n
    weekly = level * rng.uniform(0.1, 0.3) * np.sin(2 * np.pi * (t + rng.integers(7)) / 7)
    noise = rng.normal(0.0, level * rng.uniform(0.05, 0.15), n)
    return np.maximum(level + slope * t + weekly + noise, 0.0)


@pytest.fixture(scope="module")
def synthetic() -> tuple[pl.DataFrame, dict[tuple[str, str, str], np.ndarray], object]:
    """12 channels x 3 metrics of trend + weekly seasonality + noise; last 28 days held out."""
    rng = np.random.default_rng(20261031)
    n_train = 700
    n = n_train + HORIZON
    train: dict[tuple[str, str], dict[str, np.ndarray]] = {}
    held_out: dict[tuple[str, str, str], np.ndarray] = {}
    for k in range(12):
        key = (f"t{k % 2}", f"ch{k:02d}")
        full = {m: _trend_season_noise(rng, n) for m in ("spend", "conversions", "revenue")}
        train[key] = {m: v[:n_train] for m, v in full.items()}
        for m, v in full.items():
            held_out[(*key, m)] = v[n_train:]
    daily = _frame(train, end=END)
    return daily, held_out, forecast_channel_metrics(daily)


def _history(daily: pl.DataFrame, tenant: str, channel: str, metric: str) -> np.ndarray:
    part = daily.filter((pl.col("tenant_id") == tenant) & (pl.col("channel") == channel))
    return part.sort("date")[metric].to_numpy().astype(np.float64)


def _bands(fc: pl.DataFrame, tenant: str, channel: str, metric: str) -> tuple[str, np.ndarray]:
    """(model, (3, horizon) array of yhat, yhat_lower, yhat_upper) of one forecast series."""
    rows = fc.filter(
        (pl.col("tenant_id") == tenant) & (pl.col("channel") == channel) & (pl.col("metric") == metric)
    ).sort("date")
    return rows["model"][0], rows.select("yhat", "yhat_lower", "yhat_upper").to_numpy().T


def _statsmodels_reference(
    history: np.ndarray, log: bool, *, warm_start: bool, level: float = 0.8, window: int = 364
) -> np.ndarray:
    """A direct ``ETSModel`` fit on the forecast's window -> (3, HORIZON) yhat, lower, upper.

    ``warm_start``: started at the numpy engine's fit with the module's iteration cap (the recipe
    ``forecast_channel_metrics`` documents); otherwise statsmodels' own start values and defaults.
    """
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    values = history[-window:]
    values = np.log1p(values) if log else values
    n = values.size
    model = ETSModel(
        pd.Series(values), error="add", trend="add", damped_trend=True, seasonal="add", seasonal_periods=7
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if warm_start:
            start = statsmodels_start_params(fit_ets_damped(values[None, :]))[0]
            fitted = model.fit(start_params=start, maxiter=_SM_MAXITER, disp=False)
        else:
            fitted = model.fit(disp=False)
        frame = fitted.get_prediction(start=n, end=n + HORIZON - 1).summary_frame(alpha=1.0 - level)
    bands = frame[["mean", "pi_lower", "pi_upper"]].to_numpy().T
    return np.maximum(np.expm1(bands) if log else bands, 0.0)


def _numpy_engine_reference(history: np.ndarray, log: bool, level: float = 0.8, window: int = 364):
    """The numpy engine's forecast on the forecast's window -> (3, HORIZON) yhat, lower, upper."""
    values = history[-window:]
    values = np.log1p(values) if log else values
    mean, var = forecast_ets_damped(fit_ets_damped(values[None, :]), HORIZON)
    z = NormalDist().inv_cdf(0.5 + level / 2.0)
    bands = np.concatenate([mean, mean - z * np.sqrt(var), mean + z * np.sqrt(var)])
    return np.maximum(np.expm1(bands) if log else bands, 0.0)


def test_mase_helper_exact() -> None:
    # MAE = (|3-2| + |5-7|) / 2 = 1.5
    # season 1: scale = (|2-1| + |4-2| + |8-4|) / 3 = 7/3 -> 1.5 / (7/3) = 9/14
    assert mase([3.0, 5.0], [2.0, 7.0], [1.0, 2.0, 4.0, 8.0], season=1) == pytest.approx(9 / 14, abs=1e-15)
    # season 2: scale = (|4-1| + |8-2|) / 2 = 4.5 -> 1.5 / 4.5 = 1/3
    assert mase([3.0, 5.0], [2.0, 7.0], [1.0, 2.0, 4.0, 8.0], season=2) == pytest.approx(1 / 3, abs=1e-15)
    assert mase([1.0], [1.0], [5.0] * 8) != mase([1.0], [1.0], [5.0] * 8)  # 0/0 -> nan
    assert mase([1.0], [2.0], [5.0] * 8) == math.inf
    with pytest.raises(ValueError, match="more than season"):
        mase([1.0], [1.0], [1.0] * 7, season=7)
    with pytest.raises(ValueError, match="equally long"):
        mase([1.0, 2.0], [1.0], [1.0] * 9)


def test_beats_seasonal_naive_on_trend_plus_season(synthetic) -> None:
    daily, held_out, result = synthetic
    fc = result.forecasts
    model_err, naive_err = [], []
    for (tenant, channel, metric), actual in held_out.items():
        rows = fc.filter(
            (pl.col("tenant_id") == tenant) & (pl.col("channel") == channel) & (pl.col("metric") == metric)
        )
        history = (
            daily.filter((pl.col("tenant_id") == tenant) & (pl.col("channel") == channel))
            .sort("date")[metric]
            .to_numpy()
        )
        model_err.append(np.abs(actual - rows["yhat"].to_numpy()))
        naive_err.append(np.abs(actual - np.resize(history[-7:], HORIZON)))
    held_out_mase = np.concatenate(model_err).mean() / np.concatenate(naive_err).mean()
    assert held_out_mase < 0.9, held_out_mase

    chosen = fc.select("tenant_id", "channel", "metric", "model").unique()
    assert set(chosen["model"]) <= set(CANDIDATE_MODELS)  # a fitted model wins on every series here
    bt = result.backtest.join(chosen, on=["tenant_id", "channel", "metric", "model"])
    assert bt.height == len(held_out)
    assert (bt["mase"] < 1.0).all()
    assert (bt["n_origins"] == 4).all() and (bt["horizon"] == HORIZON).all()


def test_interval_coverage_near_nominal(synthetic) -> None:
    _, held_out, result = synthetic
    fc = result.forecasts.sort("tenant_id", "channel", "metric", "date")
    actual = np.concatenate([held_out[key] for key in sorted(held_out)])
    inside = (actual >= fc["yhat_lower"].to_numpy()) & (actual <= fc["yhat_upper"].to_numpy())
    assert 0.70 <= inside.mean() <= 0.90, inside.mean()


def test_output_shapes_columns_and_dtypes(synthetic) -> None:
    _, held_out, result = synthetic
    assert result.forecasts.schema == pl.Schema(FORECAST_SCHEMA)
    assert result.backtest.schema == pl.Schema(BACKTEST_SCHEMA)
    assert list(result.forecasts.columns) == [
        "tenant_id",
        "channel",
        "metric",
        "date",
        "yhat",
        "yhat_lower",
        "yhat_upper",
        "interval_level",
        "model",
        "trained_through",
    ]
    assert list(result.backtest.columns) == [
        "tenant_id",
        "channel",
        "metric",
        "model",
        "mase",
        "baseline_mae",
        "model_mae",
        "n_origins",
        "horizon",
    ]
    fc = result.forecasts
    assert fc.height == len(held_out) * HORIZON
    assert fc.select("tenant_id", "channel", "metric", "date").is_unique().all()
    assert (fc["interval_level"] == 0.8).all()
    assert (fc["trained_through"] == END).all()
    assert fc["date"].min() == END + timedelta(days=1)
    assert fc["date"].max() == END + timedelta(days=HORIZON)
    assert fc.null_count().sum_horizontal().item() == 0
    # backtest: the seasonal-naive baseline row of every series has mase exactly 1
    base = result.backtest.filter(pl.col("model") == MODEL_SEASONAL_NAIVE)
    assert base.height == len(held_out) and (base["mase"] == 1.0).all()
    assert result.backtest.select("tenant_id", "channel", "metric", "model").is_unique().all()


def test_bounds_are_ordered_and_non_negative(synthetic) -> None:
    fc = synthetic[2].forecasts
    assert (fc["yhat_lower"] >= 0.0).all()
    assert (fc["yhat_lower"] <= fc["yhat"]).all()
    assert (fc["yhat"] <= fc["yhat_upper"]).all()


def test_lower_bounds_clipped_for_low_counts() -> None:
    rng = np.random.default_rng(3)
    counts = rng.poisson(0.7, 400).astype(np.float64)
    result = forecast_channel_metrics(
        _frame({("t", "email"): {"conversions": counts}}), metrics=("conversions",)
    )
    fc = result.forecasts
    assert (fc["yhat_lower"] >= 0.0).all() and (fc["yhat"] >= 0.0).all()
    assert (fc["yhat_lower"] == 0.0).any()


def test_deterministic_and_independent_of_row_order(synthetic) -> None:
    daily, _, first = synthetic
    again = forecast_channel_metrics(daily)
    shuffled = forecast_channel_metrics(daily.sample(fraction=1.0, shuffle=True, seed=1))
    for other in (again, shuffled):
        assert first.forecasts.equals(other.forecasts)
        assert first.backtest.equals(other.backtest)


def test_all_zero_series_gives_zeros_without_warnings() -> None:
    daily = _frame({("t", "organic_search"): {m: np.zeros(400) for m in ("spend", "conversions", "revenue")}})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = forecast_channel_metrics(daily)
    fc = result.forecasts
    assert fc.height == 3 * HORIZON
    assert (fc["model"] == MODEL_SEASONAL_NAIVE).all()
    for col in ("yhat", "yhat_lower", "yhat_upper"):
        assert (fc[col] == 0.0).all()
    bt = result.backtest
    assert (bt["model"] == MODEL_SEASONAL_NAIVE).all() and bt.height == 3
    assert bt["mase"].null_count() == 3 and (bt["baseline_mae"] == 0.0).all()


def test_short_series_falls_back_to_seasonal_naive() -> None:
    week = np.array([10.0, 12.0, 14.0, 11.0, 9.0, 5.0, 4.0])
    y = np.tile(week, 10)[:60] + np.linspace(0.0, 3.0, 60)  # 60 < min_history + horizon = 84
    result = forecast_channel_metrics(_frame({("t", "meta"): {"spend": y}}), metrics=("spend",))
    fc = result.forecasts
    assert (fc["model"] == MODEL_SEASONAL_NAIVE).all()
    np.testing.assert_array_equal(fc["yhat"].to_numpy(), np.resize(y[-7:], HORIZON))
    assert (fc["yhat_lower"] <= fc["yhat"]).all() and (fc["yhat"] <= fc["yhat_upper"]).all()
    assert (fc["yhat_upper"] > fc["yhat_lower"]).all()
    bt = result.backtest.row(0, named=True)
    assert bt["model"] == MODEL_SEASONAL_NAIVE and bt["n_origins"] == 0
    assert bt["mase"] is None and bt["model_mae"] is None


def test_under_a_week_of_history_uses_naive() -> None:
    y = np.array([3.0, 5.0, 4.0])
    fc = forecast_channel_metrics(_frame({("t", "meta"): {"spend": y}}), metrics=("spend",)).forecasts
    assert (fc["model"] == MODEL_NAIVE).all() and (fc["yhat"] == 4.0).all()
    assert (fc["yhat_lower"] >= 3.0).all() and (fc["yhat_upper"] <= 5.0).all()


def test_model_that_cannot_beat_seasonal_naive_reports_it() -> None:
    # An exactly repeating week: seasonal naive is perfect (baseline MAE 0), so ETS cannot beat it.
    y = np.tile([10.0, 12.0, 14.0, 11.0, 9.0, 5.0, 4.0], 60)
    result = forecast_channel_metrics(_frame({("t", "meta"): {"spend": y}}), metrics=("spend",))
    assert (result.forecasts["model"] == MODEL_SEASONAL_NAIVE).all()
    np.testing.assert_array_equal(result.forecasts["yhat"].to_numpy(), np.resize(y[-7:], HORIZON))
    bt = result.backtest
    assert set(bt["model"]) == {MODEL_SEASONAL_NAIVE, *CANDIDATE_MODELS}
    assert (bt["baseline_mae"] == 0.0).all() and bt["mase"].null_count() == bt.height


def test_missing_days_are_zero_and_channels_start_at_first_row() -> None:
    n = 30
    y = np.full(n, 7.0)
    daily = _frame({("t", "meta"): {"spend": y}, ("t", "email"): {"spend": y[:10]}})
    # drop one day of meta in the last week: seasonal naive must see it as 0
    gap_day = END - timedelta(days=3)
    daily = daily.filter(~((pl.col("channel") == "meta") & (pl.col("date") == gap_day)))
    fc = forecast_channel_metrics(daily, metrics=("spend",)).forecasts
    meta = fc.filter(pl.col("channel") == "meta").sort("date")
    assert meta["yhat"].to_list()[:7] == [7.0, 7.0, 7.0, 0.0, 7.0, 7.0, 7.0]
    # email exists for 10 days only; both channels share the tenant's trained_through
    assert (fc["trained_through"] == END).all()


def test_empty_input_gives_empty_frames_with_schema() -> None:
    empty = pl.DataFrame(
        schema={"tenant_id": pl.String, "channel": pl.String, "date": pl.Date}
        | {m: pl.Float64 for m in ("spend", "conversions", "revenue")}
    )
    result = forecast_channel_metrics(empty)
    assert result.forecasts.height == 0 and result.forecasts.schema == pl.Schema(FORECAST_SCHEMA)
    assert result.backtest.height == 0 and result.backtest.schema == pl.Schema(BACKTEST_SCHEMA)


def test_bad_input_is_named() -> None:
    daily = _frame({("t", "meta"): {"spend": np.ones(20)}})
    with pytest.raises(ValueError, match="missing column"):
        forecast_channel_metrics(daily)  # no conversions / revenue
    with pytest.raises(ValueError, match="one row per"):
        forecast_channel_metrics(pl.concat([daily, daily.head(1)]), metrics=("spend",))
    with pytest.raises(ValueError, match="interval_level"):
        forecast_channel_metrics(daily, metrics=("spend",), interval_level=80.0)


def test_decimal_and_integer_metrics_are_accepted() -> None:
    y = np.round(np.linspace(10.0, 20.0, 120), 2)
    daily = _frame({("t", "meta"): {"spend": y, "conversions": np.arange(120)}}).with_columns(
        pl.col("spend").cast(pl.Decimal(18, 2))
    )
    fc = forecast_channel_metrics(daily, metrics=("spend", "conversions")).forecasts
    assert fc.schema == pl.Schema(FORECAST_SCHEMA) and fc.height == 2 * HORIZON


def test_seasonal_naive_intervals_cover_near_nominal() -> None:
    from models_ml.forecast import _naive_with_intervals

    # Weekly pattern + noise: seasonal naive is unbiased and its k-week error is y_t - y_{t-7k}.
    rng = np.random.default_rng(9)
    week = np.array([30.0, 34.0, 38.0, 33.0, 29.0, 18.0, 15.0])
    inside = []
    for _ in range(200):
        y = np.tile(week, 60) + rng.normal(0.0, 3.0, 420)
        _, lower, upper = _naive_with_intervals(y[:392], HORIZON, 0.8)
        inside.append((y[392:] >= lower) & (y[392:] <= upper))
    assert 0.75 <= np.mean(inside) <= 0.85, np.mean(inside)


def test_ets_forecasts_are_statsmodels_fits(synthetic) -> None:
    daily, held_out, _ = synthetic
    fc = forecast_channel_metrics(daily, models=(MODEL_ETS, MODEL_ETS_LOG1P)).forecasts
    picked: dict[str, list[tuple[str, str, str]]] = {MODEL_ETS: [], MODEL_ETS_LOG1P: []}
    for key in sorted(held_out):
        model, _ = _bands(fc, *key)
        if len(picked[model]) < 2:
            picked[model].append(key)
    assert all(len(keys) == 2 for keys in picked.values()), picked  # both transforms are covered
    for model, keys in picked.items():
        log = model == MODEL_ETS_LOG1P
        for key in keys:
            history = _history(daily, *key)
            _, ours = _bands(fc, *key)
            # exactly the documented recipe: ETSModel on the last 364 days, started at the numpy fit
            warm = _statsmodels_reference(history, log, warm_start=True)
            np.testing.assert_allclose(ours, warm, rtol=1e-12, atol=1e-12)
            # ... which is not the numpy engine's forecast (statsmodels re-estimated it) ...
            assert not np.allclose(ours, _numpy_engine_reference(history, log), rtol=1e-6)
            # ... and agrees with statsmodels' own fit from its default start values (the likelihood
            # is flat, so the two optima differ a little: under 1 % of the level on these series)
            cold = _statsmodels_reference(history, log, warm_start=False)
            gap = np.abs(ours - cold).mean(axis=1) / cold[0].mean()
            assert np.all(gap < 0.02), (key, model, gap)


def _small_daily(seed: int = 10, n: int = 400) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    series = {
        ("t", channel): {m: _trend_season_noise(rng, n) for m in ("spend", "conversions")}
        for channel in ("meta", "email")
    }
    return _frame(series)


@pytest.mark.parametrize("failure", ["fit_raises", "non_finite", "not_installed"])
def test_statsmodels_failure_falls_back_to_numpy_engine(monkeypatch, failure: str) -> None:
    import statsmodels.tsa.exponential_smoothing.ets as sm_ets

    daily = _small_daily()
    metrics = ("spend", "conversions")
    normal = forecast_channel_metrics(daily, metrics=metrics)
    chosen = normal.forecasts.select("tenant_id", "channel", "metric", "model").unique()
    assert set(chosen["model"]) == {MODEL_ETS, MODEL_ETS_LOG1P}  # the data exercises both transforms

    if failure == "fit_raises":

        def fit(self, *args, **kwargs):
            raise np.linalg.LinAlgError("forced failure")

        monkeypatch.setattr(sm_ets.ETSModel, "fit", fit)
    elif failure == "non_finite":
        summary_frame = sm_ets.PredictionResults.summary_frame
        monkeypatch.setattr(
            sm_ets.PredictionResults,
            "summary_frame",
            lambda self, endog=0, alpha=0.05: summary_frame(self, endog, alpha) * np.nan,
        )
    else:
        monkeypatch.setitem(sys.modules, "statsmodels.tsa.exponential_smoothing.ets", None)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fallback = forecast_channel_metrics(daily, metrics=metrics)

    assert fallback.backtest.equals(normal.backtest)  # backtest and choice never touch statsmodels
    fc = fallback.forecasts
    assert fc.schema == pl.Schema(FORECAST_SCHEMA) and fc.height == normal.forecasts.height
    assert fc["model"].to_list() == [f"{m}_numpy_fallback" for m in normal.forecasts["model"]]
    for tenant, channel, metric, model in chosen.iter_rows():
        _, ours = _bands(fc, tenant, channel, metric)
        expected = _numpy_engine_reference(_history(daily, tenant, channel, metric), model == MODEL_ETS_LOG1P)
        np.testing.assert_array_equal(ours, expected)
    assert (fc["yhat_lower"] <= fc["yhat"]).all() and (fc["yhat"] <= fc["yhat_upper"]).all()
    assert (fc["yhat_lower"] >= 0.0).all()


def test_statsmodels_warnings_stay_local_and_level_is_used() -> None:
    import statsmodels.tsa.exponential_smoothing.ets  # noqa: F401  (its import-time filters first)

    daily = _small_daily(seed=13)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        filters = list(warnings.filters)
        result = forecast_channel_metrics(daily, metrics=("spend",), interval_level=0.95)
        assert warnings.filters == filters  # no filter added or left behind
    assert caught == []  # statsmodels' convergence chatter did not escape
    fc = result.forecasts
    assert not fc["model"].str.ends_with("_numpy_fallback").any()
    for channel in ("email", "meta"):
        model, ours = _bands(fc, "t", channel, "spend")
        history = _history(daily, "t", channel, "spend")
        expected = _statsmodels_reference(history, model == MODEL_ETS_LOG1P, warm_start=True, level=0.95)
        np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-12)


def test_fourier_ar_forecast_is_statsmodels_autoreg() -> None:
    from statsmodels.tsa.ar_model import AutoReg

    from models_ml.forecast import MODEL_FOURIER_AR

    # a level with a weekly pattern and AR(1) noise: what this candidate models (no trend)
    rng = np.random.default_rng(21)
    noise = np.zeros(300)
    for i in range(1, 300):
        noise[i] = 0.7 * noise[i - 1] + rng.normal(0.0, 5.0)
    y = 100.0 + 15.0 * np.sin(2 * np.pi * np.arange(300) / 7) + noise
    result = forecast_channel_metrics(
        _frame({("t", "meta"): {"spend": y}}), metrics=("spend",), models=(MODEL_FOURIER_AR,)
    )
    model, ours = _bands(result.forecasts, "t", "meta", "spend")
    assert model == MODEL_FOURIER_AR
    t = np.arange(300 + HORIZON)
    angle = 2 * np.pi * t[:, None] * np.arange(1, 4)[None, :] / 7
    fourier = np.column_stack([np.sin(angle), np.cos(angle)])
    fitted = AutoReg(y, lags=2, trend="c", exog=fourier[:300]).fit()
    frame = fitted.get_prediction(start=300, end=300 + HORIZON - 1, exog_oos=fourier[300:]).summary_frame(
        alpha=0.2
    )
    expected = np.maximum(frame[["mean", "mean_ci_lower", "mean_ci_upper"]].to_numpy().T, 0.0)
    np.testing.assert_allclose(ours, expected, rtol=1e-9, atol=1e-9)
    bt = result.backtest
    assert set(bt["model"]) == {MODEL_SEASONAL_NAIVE, MODEL_FOURIER_AR}


def test_campaign_forecasts_cover_the_top_campaigns_to_the_tenant_end() -> None:
    from models_ml.forecast import CAMPAIGN_FORECAST_SCHEMA, forecast_campaign_metrics, top_campaigns_by_spend

    rng = np.random.default_rng(3)
    rows = []
    for tenant in ("a", "b"):
        for k, level in enumerate((50.0, 400.0, 200.0, 10.0)):
            n = 200 if k != 2 else 150  # campaign 2 stopped 50 days before the end
            dates = [END - timedelta(days=199 - i) for i in range(n)]
            spend = level * rng.lognormal(0.0, 0.1, n)
            rows.append(
                pl.DataFrame(
                    {"tenant_id": tenant, "platform": "meta", "campaign_id": f"{tenant}{k}", "date": dates}
                ).with_columns(spend=pl.Series(spend), conversions=pl.Series(rng.poisson(5, n).astype(float)))
            )
    daily = pl.concat(rows)
    top = top_campaigns_by_spend(daily, top_n=2, rank_window_days=30)
    assert top.sort("tenant_id", "rank")["campaign_id"].to_list() == ["a1", "a0", "b1", "b0"]  # a2/b2 stopped
    result = forecast_campaign_metrics(daily, top_n=2, rank_window_days=30, metrics=("spend", "conversions"))
    fc = result.forecasts
    assert fc.schema == pl.Schema(CAMPAIGN_FORECAST_SCHEMA)
    assert set(fc["campaign_id"]) == {"a1", "a0", "b1", "b0"} and set(fc["channel"]) == {"meta"}
    assert (fc["trained_through"] == END).all() and fc.height == 4 * 2 * HORIZON
    assert set(result.backtest["campaign_id"]) == {"a1", "a0", "b1", "b0"}


def test_stored_choice_refits_only_the_chosen_model(synthetic) -> None:
    """The daily cadence: the weekly backtest's choice per series, refitted on today's data, gives
    the forecast a full selection gives wherever that selection picks the same model; series the
    choice does not know are selected as usual."""
    daily = synthetic[0]
    extra = _frame(
        {
            ("t0", "short"): {m: np.full(40, 3.0) for m in ("spend", "conversions", "revenue")},
            ("t1", "zero"): {m: np.zeros(120) for m in ("spend", "conversions", "revenue")},
        }
    )
    daily = pl.concat([daily, extra])
    full = forecast_channel_metrics(daily)
    chosen = chosen_models(full.backtest)
    assert chosen.height == daily.select("tenant_id", "channel").unique().height * 3
    forecast_models = full.forecasts.select("tenant_id", "channel", "metric", "model").unique()
    assert (
        chosen.join(
            forecast_models.with_columns(pl.col("model").str.replace("_numpy_fallback$", "")),
            on=["tenant_id", "channel", "metric", "model"],
        ).height
        == chosen.height
    ), "chosen_models disagrees with the selection the forecast made"
    # the short and the all-zero channels keep the baseline, the trended ones a fitted model
    assert set(chosen.filter(pl.col("channel").is_in(["short", "zero"]))["model"]) == {MODEL_SEASONAL_NAIVE}
    assert set(chosen["model"]) & set(CANDIDATE_MODELS)

    # the weekly selection alone (no final fits) is the same backtest
    selection = forecast_channel_metrics(daily, backtest_only=True)
    assert selection.backtest.equals(full.backtest) and selection.forecasts.height == 0

    # same data, stored choice: the forecasts of a full selection, and no backtest rows
    again = forecast_channel_metrics(daily, chosen=chosen)
    assert again.forecasts.equals(full.forecasts)
    assert again.backtest.height == 0

    # a day later, with a channel the choice never saw
    later = END + timedelta(days=1)
    rng = np.random.default_rng(5)
    new_day = daily.filter(pl.col("date") == END).with_columns(
        pl.lit(later).alias("date"),
        *[(pl.col(m) * rng.uniform(0.9, 1.1)) for m in ("spend", "conversions", "revenue")],
    )
    newcomer = _frame(
        {("t0", "new"): {m: _trend_season_noise(rng, 200) for m in ("spend", "conversions", "revenue")}},
        end=later,
    )
    tomorrow = pl.concat([daily, new_day, newcomer])
    refit = forecast_channel_metrics(tomorrow, chosen=chosen)
    reselected = forecast_channel_metrics(tomorrow)
    assert (refit.forecasts["trained_through"] == later).all()
    assert set(refit.backtest["channel"]) == {"new"}  # only the newcomer was backtested
    assert refit.backtest.equals(reselected.backtest.filter(pl.col("channel") == "new"))
    keys = ["tenant_id", "channel", "metric"]
    refit_models = refit.forecasts.select(*keys, "model").unique()
    kept = refit_models.join(chosen, on=keys).filter(
        pl.col("model").str.replace("_numpy_fallback$", "") != pl.col("model_right")
    )
    assert kept.height == 0, f"refit changed the stored model: {kept}"
    same = refit_models.join(reselected.forecasts.select(*keys, "model").unique(), on=[*keys, "model"])
    assert same.height >= 0.8 * refit_models.height  # one more day rarely changes the choice
    for name in ("yhat", "yhat_lower", "yhat_upper"):
        a = refit.forecasts.join(same, on=[*keys, "model"]).sort(*keys, "date")[name]
        b = reselected.forecasts.join(same, on=[*keys, "model"]).sort(*keys, "date")[name]
        assert (a - b).abs().max() == 0.0, name

    with pytest.raises(ValueError, match="unknown model"):
        forecast_channel_metrics(daily, chosen=chosen.with_columns(pl.lit("prophet").alias("model")))
    with pytest.raises(ValueError, match="missing column"):
        chosen_models(full.backtest.drop("baseline_mae"))
