"""28-day channel and campaign forecasts with prediction intervals, backtested against seasonal naive.

Input: ``marts.fct_channel_daily`` reduced to ``tenant_id, channel, date`` and the metric columns
(INTERFACES.md §5), or campaign-day rows for ``forecast_campaign_metrics`` (the top N campaigns per
tenant by recent spend; ``channel`` is then the platform and ``campaign_id`` is added). Output: the
rows of ``ml.forecast_channel_daily`` / ``ml.forecast_backtest`` (INTERFACES.md §6) and of
``ml.forecast_campaign_daily`` / ``ml.forecast_campaign_backtest``. Pure: frames in, frames out.

Three candidates compete per series: ETS(A,Ad,A) on raw and on ``log1p`` values (below) and a
regression on weekly Fourier terms with AR(2) errors (``fourier_ar``: statsmodels ``AutoReg`` with the
Fourier terms as exogenous regressors, conditional least squares, a few ms per fit, so it is fitted
directly at every backtest origin; its final forecast and analytic intervals come from the same
model). A full seasonal SARIMAX by maximum likelihood was measured at 150-450 ms per fit on this
machine, i.e. about a minute for the demo's backtests: the AR-error regression is the fast member of
that family.

Two engines fit the same model, ETS(A,Ad,A):

- **numpy** (``models_ml._ets``): every backtest fit and the model choice. The backtest needs
  (origins + 1) x candidates fits per series (demo, 36 series: 280 fits); statsmodels would take
  12-40 s for them, the vectorised numpy engine fits them all at once in well under a second. It
  estimates the smoothing parameters by least squares from heuristic initial states, and is tested
  equal to statsmodels' ``ETSModel`` at the same parameters and states.
- **statsmodels** (``statsmodels.tsa.exponential_smoothing.ets.ETSModel``): the final forecast and
  prediction intervals of every series whose chosen model is ETS, one fit per such series (demo: 28).
  It estimates the smoothing parameters and the initial states jointly by maximum likelihood,
  starting from the numpy fit of the same window, so it converges in a few dozen L-BFGS iterations
  (capped at ``_SM_MAXITER``). Should statsmodels fail or return non-finite values for a series, that
  series keeps the numpy engine's forecast and says so: ``model`` gets the suffix ``_numpy_fallback``.

Method, per series (tenant, channel, metric):

1. **Dense daily series.** Each (tenant, channel) runs from its first date to the tenant's last date
   (``trained_through``); missing days and nulls are 0 (a channel that existed but did not report).
2. **Candidates.** ETS(A,Ad,A) (additive error, damped additive trend, weekly additive seasonality;
   see ``models_ml._ets``) fitted on the raw values (``ets_damped``) and on ``log1p`` values
   (``ets_damped_log1p``, for non-negative series; its point forecast is ``expm1`` of the log-scale
   mean, i.e. the median, which is the MAE-optimal point forecast). Each fit uses at most the last
   ``train_window`` days before its origin.
3. **Rolling-origin backtest.** Origins ``o_k = n - k * horizon`` for ``k = 1..n_origins`` (the
   last ``n_origins`` non-overlapping ``horizon``-day blocks), kept when ``o_k >= min_history``.
   At every origin each candidate is re-estimated on data before the origin and forecasts
   ``horizon`` days; the baseline is the weekly seasonal naive forecast from the same origin,
   ``yhat_{o+h} = y_{o+h-7*ceil(h/7)}`` (the last observed week, repeated). Point forecasts are
   clipped at 0 as in production. Then, pooling all origins and steps::

       model_mae    = mean over origins k and steps h of |y_{o_k+h} - yhat^model_{o_k+h}|
       baseline_mae = mean over the same (k, h) of       |y_{o_k+h} - yhat^snaive_{o_k+h}|
       mase         = model_mae / baseline_mae            (null when baseline_mae == 0)

   This is the out-of-sample relative MAE against seasonal naive ("MASE" scaled by the baseline's
   out-of-sample error on the same origins, not by an in-sample scale; ``mase()`` below is the
   classical in-sample-scaled MASE of Hyndman & Koehler 2006, for single forecasts).
4. **Choice.** The candidate (ETS raw, ETS log1p or ``fourier_ar``) with the lowest ``model_mae`` is
   used when its ``mase < 1``;
   otherwise the forecast is ``seasonal_naive`` (and says so in ``model``). Series that are all zero,
   or too short for a single origin (``n < min_history + horizon``), go straight to
   ``seasonal_naive`` (``naive``, the last value, when shorter than one week).
5. **Final forecast and intervals.** ETS: statsmodels' ``ETSModel(error="add", trend="add",
   damped_trend=True, seasonal="add", seasonal_periods=7)`` on the last ``train_window`` days (raw or
   ``log1p``, as chosen), started at the numpy fit of that window; point forecast and analytic
   Gaussian intervals from ``get_prediction(...).summary_frame(alpha=1 - interval_level)``. For
   ``log1p`` every column is mapped back with ``expm1``, so ``yhat`` is the median. (Numpy fallback:
   the same formulas from the numpy fit.) Seasonal naive: ``yhat`` plus the empirical quantiles of
   the historical k-week seasonal differences ``y_t - y_{t-7k}`` (``k = ceil(h/7)``, which is exactly
   the error of a k-week-ahead seasonal naive forecast) over the last ``train_window`` days, widened
   to contain ``yhat``. All values are clipped at 0 (spend, conversions and revenue are non-negative).

Backtest grain: one row per (tenant_id, channel, metric, model) evaluated: each ETS candidate that
was fitted and the ``seasonal_naive`` baseline itself (``mase = 1``). The forecast's ``model`` joins to
its row (after removing a ``_numpy_fallback`` suffix). A series too short for a backtest has one
``seasonal_naive``/``naive`` row with ``n_origins = 0`` and null errors. The ETS rows score the numpy
engine; the statsmodels refit of the final forecast starts from that engine's fit and only raises the
likelihood. On the demo data (``bench/bench_forecast.py``) the refit moves the point forecasts by 0.4 %
of their level on median (1.7 % at most), and refitted at the backtest origins it is as accurate as the
numpy fit (pooled MAE +0.2 %), so the backtest rows stand for the final forecasts too.
"""

from __future__ import annotations

import math
import warnings
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from statistics import NormalDist

import numpy as np
import polars as pl
from numpy.typing import ArrayLike, NDArray

from models_ml._ets import fit_ets_damped, forecast_ets_damped, statsmodels_start_params

__all__ = [
    "BACKTEST_SCHEMA",
    "CAMPAIGN_BACKTEST_SCHEMA",
    "CAMPAIGN_FORECAST_SCHEMA",
    "CANDIDATE_MODELS",
    "FORECAST_SCHEMA",
    "MODEL_ETS",
    "MODEL_ETS_LOG1P",
    "MODEL_FOURIER_AR",
    "MODEL_NAIVE",
    "MODEL_SEASONAL_NAIVE",
    "ForecastResult",
    "chosen_models",
    "forecast_campaign_metrics",
    "forecast_channel_metrics",
    "mase",
    "top_campaigns_by_spend",
]

SEASON = 7
MODEL_ETS = "ets_damped"
MODEL_ETS_LOG1P = "ets_damped_log1p"
MODEL_FOURIER_AR = "fourier_ar"
MODEL_SEASONAL_NAIVE = "seasonal_naive"
MODEL_NAIVE = "naive"
CANDIDATE_MODELS: tuple[str, ...] = (MODEL_ETS, MODEL_ETS_LOG1P, MODEL_FOURIER_AR)
_ETS_MODELS = frozenset({MODEL_ETS, MODEL_ETS_LOG1P})

FORECAST_SCHEMA: dict[str, pl.DataType] = {
    "tenant_id": pl.String(),
    "channel": pl.String(),
    "metric": pl.String(),
    "date": pl.Date(),
    "yhat": pl.Float64(),
    "yhat_lower": pl.Float64(),
    "yhat_upper": pl.Float64(),
    "interval_level": pl.Float64(),
    "model": pl.String(),
    "trained_through": pl.Date(),
}
BACKTEST_SCHEMA: dict[str, pl.DataType] = {
    "tenant_id": pl.String(),
    "channel": pl.String(),
    "metric": pl.String(),
    "model": pl.String(),
    "mase": pl.Float64(),
    "baseline_mae": pl.Float64(),
    "model_mae": pl.Float64(),
    "n_origins": pl.Int64(),
    "horizon": pl.Int64(),
}
# Campaign level: the same columns with the campaign after its channel (the platform).
CAMPAIGN_FORECAST_SCHEMA: dict[str, pl.DataType] = {
    "tenant_id": pl.String(),
    "channel": pl.String(),
    "campaign_id": pl.String(),
    **{k: v for k, v in FORECAST_SCHEMA.items() if k not in ("tenant_id", "channel")},
}
CAMPAIGN_BACKTEST_SCHEMA: dict[str, pl.DataType] = {
    "tenant_id": pl.String(),
    "channel": pl.String(),
    "campaign_id": pl.String(),
    **{k: v for k, v in BACKTEST_SCHEMA.items() if k not in ("tenant_id", "channel")},
}
_AR_LAGS = 2  # AR order of the Fourier regression's errors (2 lags: level shifts and short memory)
_FOURIER_K = 3  # weekly harmonics: 3 pairs span every weekday profile (7 days = constant + 6 terms)

_LOG_CAP = 700.0  # expm1 overflows float64 a little above 709
_MAX_BATCH = 256  # jobs per vectorised fit: bounds memory (the coarse grid is 180 filters per job)
_MIN_DIFFS = 2 * SEASON  # fewest k-week differences used directly for seasonal-naive quantiles
_SM_MAXITER = 100  # L-BFGS iterations of a final statsmodels fit (from the numpy fit: median ~25)
_NUMPY_FALLBACK = "_numpy_fallback"  # ``model`` suffix of an ETS forecast statsmodels could not make

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class ForecastResult:
    """Rows for ``ml.forecast_channel_daily`` and ``ml.forecast_backtest``."""

    forecasts: pl.DataFrame
    backtest: pl.DataFrame


@dataclass(frozen=True)
class _Series:
    key: tuple[str, ...]  # values of the key columns (tenant_id first)
    metric: str
    trained_through: date
    y: FloatArray


@dataclass(frozen=True)
class _Job:
    """One ETS fit: series ``series``, candidate ``model``, trained on ``y[start:origin]``."""

    series: int
    model: str
    origin: int  # len(y) for the final fit
    start: int


@dataclass(frozen=True)
class _Path:
    """A numpy-engine fit of one ``_Job``: forecast bands and the fit as statsmodels start values."""

    yhat: FloatArray  # original scale, clipped at 0
    lower: FloatArray
    upper: FloatArray
    start_params: FloatArray  # ``statsmodels_start_params`` on the fitted (raw or log1p) scale


def mase(actual: ArrayLike, forecast: ArrayLike, insample: ArrayLike, season: int = 7) -> float:
    """Mean absolute scaled error (Hyndman & Koehler 2006).

    ``mean|actual - forecast| / mean|insample[t] - insample[t - season]|``: the forecast's MAE in
    units of the in-sample MAE of the seasonal naive one-season-ahead forecast. ``nan`` when both are
    zero, ``inf`` when only the scale is zero.
    """
    a = np.asarray(actual, dtype=np.float64)
    f = np.asarray(forecast, dtype=np.float64)
    x = np.asarray(insample, dtype=np.float64)
    if a.shape != f.shape or a.ndim != 1 or a.size == 0:
        raise ValueError(f"actual and forecast must be equally long 1-d arrays, got {a.shape} and {f.shape}")
    if season < 1 or x.ndim != 1 or x.size <= season:
        raise ValueError(f"insample needs more than season={season} values, got {x.size}")
    error = float(np.mean(np.abs(a - f)))
    scale = float(np.mean(np.abs(x[season:] - x[:-season])))
    if scale == 0.0:
        return math.nan if error == 0.0 else math.inf
    return error / scale


def forecast_channel_metrics(
    daily: pl.DataFrame,
    *,
    horizon: int = 28,
    interval_level: float = 0.8,
    metrics: Sequence[str] = ("spend", "conversions", "revenue"),
    min_history: int = 56,
    n_origins: int = 4,
    train_window: int = 364,
    models: Sequence[str] = CANDIDATE_MODELS,
    chosen: pl.DataFrame | None = None,
    backtest_only: bool = False,
) -> ForecastResult:
    """Forecast each (tenant, channel, metric) ``horizon`` days ahead with intervals; see module doc.

    ``daily``: one row per (tenant_id, channel, date) with the ``metrics`` columns (other columns are
    ignored). ``min_history``: fewest days a model fit may use (each backtest origin needs that many
    days before it). ``n_origins``: backtest origins, ``horizon`` days apart. ``train_window``: most
    recent days each fit sees. ``models``: the candidates to backtest (a subset of ``CANDIDATE_MODELS``;
    seasonal naive is always the baseline). ``chosen``: a model already selected per series
    (``chosen_models`` of an earlier backtest: the weekly selection); those series skip the backtest
    and only refit their model on the new data (no backtest rows), the others are selected as usual.
    ``backtest_only``: the backtest (the selection) without the final fits; ``forecasts`` is empty.
    """
    return _forecast(
        daily,
        ("tenant_id", "channel"),
        FORECAST_SCHEMA,
        BACKTEST_SCHEMA,
        horizon=horizon,
        interval_level=interval_level,
        metrics=metrics,
        min_history=min_history,
        n_origins=n_origins,
        train_window=train_window,
        models=models,
        chosen=chosen,
        backtest_only=backtest_only,
    )


def top_campaigns_by_spend(daily: pl.DataFrame, top_n: int, rank_window_days: int = 90) -> pl.DataFrame:
    """The ``top_n`` campaigns of each tenant by spend over its last ``rank_window_days`` days.

    ``daily``: one row per (tenant_id, platform, campaign_id, date) with ``spend``. Returns
    tenant_id, platform, campaign_id, spend (over the window), rank (1 = largest); ties broken by
    platform and campaign id, so the choice is deterministic. Ranking on recent spend keeps campaigns
    that stopped long ago out of the forecast.
    """
    if top_n < 1:
        raise ValueError(f"top_n must be >= 1, got {top_n}")
    if rank_window_days < 1:
        raise ValueError(f"rank_window_days must be >= 1, got {rank_window_days}")
    missing = [c for c in ("tenant_id", "platform", "campaign_id", "date", "spend") if c not in daily.columns]
    if missing:
        raise ValueError(f"campaign daily frame is missing column(s) {missing}; it has {daily.columns}")
    return (
        daily.with_columns(pl.col("date").max().over("tenant_id").alias("_end"))
        .filter(pl.col("date") > pl.col("_end") - pl.duration(days=rank_window_days))
        .group_by("tenant_id", "platform", "campaign_id")
        .agg(pl.col("spend").cast(pl.Float64).fill_null(0.0).sum())
        .filter(pl.col("spend") > 0.0)
        .sort(["tenant_id", "spend", "platform", "campaign_id"], descending=[False, True, False, False])
        .with_columns(pl.int_range(1, pl.len() + 1).over("tenant_id").alias("rank"))
        .filter(pl.col("rank") <= top_n)
        .with_columns(pl.col("rank").cast(pl.Int64))
    )


def forecast_campaign_metrics(
    daily: pl.DataFrame,
    *,
    top_n: int = 5,
    rank_window_days: int = 90,
    horizon: int = 28,
    interval_level: float = 0.8,
    metrics: Sequence[str] = ("spend", "conversions", "revenue"),
    min_history: int = 56,
    n_origins: int = 4,
    train_window: int = 364,
    models: Sequence[str] = CANDIDATE_MODELS,
    chosen: pl.DataFrame | None = None,
    backtest_only: bool = False,
) -> ForecastResult:
    """Forecast the largest campaigns of each tenant, exactly as ``forecast_channel_metrics`` does.

    ``daily``: one row per (tenant_id, platform, campaign_id, date) with ``spend`` and the ``metrics``
    columns. The ``top_n`` campaigns per tenant by spend over the last ``rank_window_days`` days
    (``top_campaigns_by_spend``) are forecast; each series runs from the campaign's first day to the
    tenant's last day. Output: ``CAMPAIGN_FORECAST_SCHEMA`` / ``CAMPAIGN_BACKTEST_SCHEMA`` rows, whose
    ``channel`` is the campaign's platform.
    """
    top = top_campaigns_by_spend(daily, top_n, rank_window_days)
    frame = daily.with_columns(
        pl.col("tenant_id", "platform", "campaign_id").cast(pl.String),
        pl.col("date").max().over("tenant_id").alias("_tenant_end"),
    )
    picked = frame.join(
        top.select("tenant_id", "platform", "campaign_id"), on=["tenant_id", "platform", "campaign_id"]
    )
    # the tenant's last date comes along as an explicit row so every campaign runs to it
    ends = (
        picked.group_by("tenant_id", "platform", "campaign_id")
        .agg(pl.col("_tenant_end").first().alias("date"), pl.col("date").max().alias("_last"))
        .filter(pl.col("date") > pl.col("_last"))
        .drop("_last")
    )
    picked = pl.concat([picked.drop("_tenant_end"), ends], how="diagonal_relaxed").rename(
        {"platform": "channel"}
    )
    return _forecast(
        picked,
        ("tenant_id", "channel", "campaign_id"),
        CAMPAIGN_FORECAST_SCHEMA,
        CAMPAIGN_BACKTEST_SCHEMA,
        horizon=horizon,
        interval_level=interval_level,
        metrics=metrics,
        min_history=min_history,
        n_origins=n_origins,
        train_window=train_window,
        models=models,
        chosen=chosen,
        backtest_only=backtest_only,
    )


def _forecast(
    daily: pl.DataFrame,
    keys: tuple[str, ...],
    forecast_schema: dict[str, pl.DataType],
    backtest_schema: dict[str, pl.DataType],
    *,
    horizon: int,
    interval_level: float,
    metrics: Sequence[str],
    min_history: int,
    n_origins: int,
    train_window: int,
    models: Sequence[str],
    chosen: pl.DataFrame | None = None,
    backtest_only: bool = False,
) -> ForecastResult:
    """The forecast of every (keys..., metric) series; see the module doc."""
    _check_arguments(
        daily, keys, horizon, interval_level, metrics, min_history, n_origins, train_window, models
    )
    series = _dense_series(daily, keys, list(metrics))
    stored = _chosen_lookup(chosen, keys) if chosen is not None else {}
    z = NormalDist().inv_cdf(0.5 + interval_level / 2.0)
    ets_models = [m for m in CANDIDATE_MODELS if m in models and m in _ETS_MODELS]
    use_ar = MODEL_FOURIER_AR in models

    # Plan every ETS fit (backtest origins and the final fit, for each candidate) for one batch run.
    origins: list[list[int]] = []
    candidates: list[list[str]] = []
    jobs: list[_Job] = []
    refit: dict[int, str] = {}  # series -> its stored model: refit on the new data, no backtest
    for i, s in enumerate(series):
        n = len(s.y)
        model_then = stored.get((*s.key, s.metric))
        if model_then is not None:
            refit[i] = model_then
            origins.append([])
            candidates.append([model_then] if model_then in _ETS_MODELS and np.any(s.y != 0.0) else [])
            if model_then in _ETS_MODELS and np.any(s.y != 0.0):
                jobs.append(_Job(i, model_then, n, max(0, n - train_window)))
            continue
        series_origins = [n - k * horizon for k in range(1, n_origins + 1) if n - k * horizon >= min_history]
        origins.append(series_origins)
        series_models: list[str] = []
        if series_origins and np.any(s.y != 0.0):
            series_models = [m for m in ets_models if m == MODEL_ETS or np.all(s.y >= 0.0)]
        candidates.append(series_models)
        for model in series_models:
            for origin in series_origins if backtest_only else [*series_origins, n]:
                jobs.append(_Job(i, model, origin, max(0, origin - train_window)))
    paths = _run_jobs(series, jobs, horizon, z)
    if use_ar:  # one statsmodels AutoReg fit per origin: a few ms each, no batching needed
        for i, s in enumerate(series):
            if refit.get(i) == MODEL_FOURIER_AR and np.any(s.y != 0.0):
                n = len(s.y)
                path = _fourier_ar_forecast(s.y[max(0, n - train_window) :], horizon, interval_level)
                if path is not None:
                    candidates[i].append(MODEL_FOURIER_AR)
                    paths[(i, MODEL_FOURIER_AR, n)] = path
                continue
            if i in refit or not origins[i] or not np.any(s.y != 0.0):
                continue
            ar_paths = {
                o: _fourier_ar_forecast(s.y[max(0, o - train_window) : o], horizon, interval_level)
                for o in (origins[i] if backtest_only else [*origins[i], len(s.y)])
            }
            if all(path is not None for path in ar_paths.values()):
                candidates[i].append(MODEL_FOURIER_AR)
                for o, path in ar_paths.items():
                    paths[(i, MODEL_FOURIER_AR, o)] = path  # type: ignore[assignment]

    fc_parts: list[dict[str, object]] = []
    bt_rows: list[dict[str, object]] = []
    for i, s in enumerate(series):
        n = len(s.y)
        key: dict[str, object] = {**dict(zip(keys, s.key, strict=True)), "metric": s.metric}
        base_model = MODEL_SEASONAL_NAIVE if n >= SEASON else MODEL_NAIVE
        series_origins = origins[i]
        if i in refit:
            # the stored choice, refitted; a stored model that cannot be fitted now (the series went
            # all zero, or the fit failed) gives way to the baseline, as in a selection
            chosen_model = refit[i] if refit[i] in candidates[i] else base_model
        elif not series_origins:
            bt_rows.append(
                {**key, "model": base_model, "mase": None, "baseline_mae": None, "model_mae": None}
                | {"n_origins": 0, "horizon": horizon}
            )
            chosen_model = base_model
        else:
            actual = np.concatenate([s.y[o : o + horizon] for o in series_origins])
            snaive = np.concatenate([_seasonal_naive_point(s.y[:o], horizon) for o in series_origins])
            baseline_mae = float(np.mean(np.abs(actual - snaive)))
            scored: list[tuple[float, str]] = []
            for model in candidates[i]:
                pred = np.concatenate([paths[(i, model, o)].yhat for o in series_origins])
                scored.append((float(np.mean(np.abs(actual - pred))), model))
            for model_mae, model in [(baseline_mae, MODEL_SEASONAL_NAIVE), *scored]:
                bt_rows.append(
                    {**key, "model": model, "mase": _ratio(model_mae, baseline_mae)}
                    | {"baseline_mae": baseline_mae, "model_mae": model_mae}
                    | {"n_origins": len(series_origins), "horizon": horizon}
                )
            best_mae, best_model = min(scored, default=(math.inf, MODEL_SEASONAL_NAIVE))
            chosen_model = best_model if best_mae < baseline_mae else MODEL_SEASONAL_NAIVE

        if backtest_only:
            continue
        if chosen_model in _ETS_MODELS:
            final = paths[(i, chosen_model, n)]
            bands = _statsmodels_forecast(
                s.y[max(0, n - train_window) :],
                chosen_model == MODEL_ETS_LOG1P,
                final.start_params,
                horizon,
                interval_level,
            )
            if bands is None:  # statsmodels failed: keep the numpy engine's forecast, and say so
                bands = (final.yhat, final.lower, final.upper)
                chosen_model += _NUMPY_FALLBACK
            yhat, lower, upper = bands
        elif chosen_model == MODEL_FOURIER_AR:
            final = paths[(i, chosen_model, n)]
            yhat, lower, upper = final.yhat, final.lower, final.upper
        else:
            yhat, lower, upper = _naive_with_intervals(s.y[-train_window:], horizon, interval_level)
        fc_parts.append(
            {**key, "trained_through": s.trained_through, "model": chosen_model}
            | {"yhat": yhat, "yhat_lower": lower, "yhat_upper": upper}
        )

    return ForecastResult(
        forecasts=_forecast_frame(fc_parts, keys, forecast_schema, horizon, interval_level),
        backtest=pl.DataFrame(bt_rows, schema=backtest_schema).sort(*keys, "metric", "model"),
    )


def chosen_models(backtest: pl.DataFrame) -> pl.DataFrame:
    """The model each series of a backtest chose (step 4 of the module doc), one row per series.

    ``backtest``: ``BACKTEST_SCHEMA`` or ``CAMPAIGN_BACKTEST_SCHEMA`` rows (``ml.forecast_backtest``,
    ``ml.forecast_campaign_backtest``). Returns the key columns, ``metric`` and ``model``: the
    candidate with the lowest ``model_mae`` (ties: the first model name) when it beats the
    seasonal-naive baseline's ``baseline_mae``, else the baseline; a series without backtest
    origins keeps its single row's model (``seasonal_naive`` or ``naive``).
    """
    keys = [c for c in ("tenant_id", "channel", "campaign_id") if c in backtest.columns]
    missing = [
        c
        for c in ("tenant_id", "channel", "metric", "model", "model_mae", "baseline_mae", "n_origins")
        if c not in backtest.columns
    ]
    if missing:
        raise ValueError(f"backtest frame is missing column(s) {missing}; it has {backtest.columns}")
    group = [*keys, "metric"]
    baseline = backtest.filter(~pl.col("model").is_in(list(CANDIDATE_MODELS)))
    best = (
        backtest.filter(pl.col("model").is_in(list(CANDIDATE_MODELS)) & pl.col("model_mae").is_not_null())
        .sort(*group, "model_mae", "model")
        .group_by(group, maintain_order=True)
        .first()
        .select(*group, pl.col("model").alias("_best"), pl.col("model_mae").alias("_best_mae"))
    )
    return (
        baseline.select(*group, "model", "baseline_mae", "n_origins")
        .join(best, on=group, how="left")
        .select(
            *group,
            pl.when(
                (pl.col("n_origins") > 0)
                & pl.col("_best").is_not_null()
                & (pl.col("_best_mae") < pl.col("baseline_mae"))
            )
            .then(pl.col("_best"))
            .otherwise(pl.col("model"))
            .alias("model"),
        )
        .sort(*group)
    )


def _chosen_lookup(chosen: pl.DataFrame, keys: tuple[str, ...]) -> dict[tuple[object, ...], str]:
    """``chosen`` rows as {(keys..., metric): model}; every model must be one this module makes."""
    missing = [c for c in (*keys, "metric", "model") if c not in chosen.columns]
    if missing:
        raise ValueError(f"chosen frame is missing column(s) {missing}; it has {chosen.columns}")
    known = {*CANDIDATE_MODELS, MODEL_SEASONAL_NAIVE, MODEL_NAIVE}
    unknown = sorted(set(chosen["model"].to_list()) - known)
    if unknown:
        raise ValueError(f"chosen frame names unknown model(s) {unknown}; known: {sorted(known)}")
    frame = chosen.select(
        *[pl.col(k).cast(pl.String) for k in keys], pl.col("metric").cast(pl.String), "model"
    )
    return {tuple(row[:-1]): str(row[-1]) for row in frame.iter_rows()}


def _check_arguments(
    daily: pl.DataFrame,
    keys: tuple[str, ...],
    horizon: int,
    interval_level: float,
    metrics: Sequence[str],
    min_history: int,
    n_origins: int,
    train_window: int,
    models: Sequence[str],
) -> None:
    if isinstance(metrics, str):
        raise ValueError("metrics must be a sequence of column names, not a single string")
    if isinstance(models, str) or not set(models) <= set(CANDIDATE_MODELS):
        raise ValueError(f"models must be a sequence drawn from {list(CANDIDATE_MODELS)}, got {models!r}")
    missing = [c for c in (*keys, "date", *metrics) if c not in daily.columns]
    if missing:
        raise ValueError(f"daily is missing column(s) {missing}; it has {daily.columns}")
    if len(set(metrics)) != len(metrics) or not metrics:
        raise ValueError(f"metrics must be distinct and non-empty, got {list(metrics)}")
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    if not 0.0 < interval_level < 1.0:
        raise ValueError(f"interval_level must be in (0, 1), got {interval_level}")
    if min_history < 2 * SEASON:
        raise ValueError(f"min_history must be >= {2 * SEASON} days (two weeks), got {min_history}")
    if n_origins < 1:
        raise ValueError(f"n_origins must be >= 1, got {n_origins}")
    if train_window < min_history:
        raise ValueError(f"train_window ({train_window}) must be >= min_history ({min_history})")


def _dense_series(daily: pl.DataFrame, keys: tuple[str, ...], metrics: list[str]) -> list[_Series]:
    """One gap-free daily array per (keys..., metric), sorted by those keys."""
    key_list = list(keys)
    frame = daily.select(
        *[pl.col(k).cast(pl.String) for k in key_list],
        pl.col("date").cast(pl.Date),
        *[pl.col(m).cast(pl.Float64).fill_null(0.0).fill_nan(0.0) for m in metrics],
    )
    infinite = frame.filter(pl.any_horizontal(pl.col(m).is_infinite() for m in metrics))
    if infinite.height:
        raise ValueError(
            f"daily has {infinite.height} row(s) with infinite metric values, e.g. {infinite.row(0)}"
        )
    names = "/".join([*key_list, "date"])
    bad = frame.filter(pl.any_horizontal(pl.col(*key_list, "date").is_null()))
    if bad.height:
        raise ValueError(f"daily has {bad.height} row(s) with null {names}, e.g. {bad.row(0)}")
    dupes = frame.filter(pl.struct(*key_list, "date").is_duplicated())
    if dupes.height:
        raise ValueError(
            f"daily must have one row per ({', '.join([*key_list, 'date'])}); {dupes.height} rows are "
            f"duplicated, e.g. {dupes.select(*key_list, 'date').row(0)}"
        )
    frame = (
        frame.with_columns(
            pl.col("date").max().over("tenant_id").alias("_end"),
            pl.col("date").min().over(key_list).alias("_start"),
        )
        .with_columns((pl.col("date") - pl.col("_start")).dt.total_days().alias("_offset"))
        .sort(*key_list, "date")
    )
    out: list[_Series] = []
    for part in frame.partition_by(key_list, maintain_order=True):
        start: date = part["_start"][0]
        end: date = part["_end"][0]
        offset = part["_offset"].to_numpy()
        n = (end - start).days + 1
        key = tuple(part[k][0] for k in key_list)
        for metric in metrics:
            y = np.zeros(n)
            y[offset] = part[metric].to_numpy()
            out.append(_Series(key, metric, end, y))
    return out


def _run_jobs(
    series: list[_Series], jobs: list[_Job], horizon: int, z: float
) -> dict[tuple[int, str, int], _Path]:
    """Fit every job with the numpy engine, batched by length -> {(series, model, origin): _Path}.

    Values are on the original scale and clipped at 0; ``lower``/``upper`` are the ``mean -/+ z sd``
    bounds of the Gaussian forecast distribution (on the log scale for ``log1p`` jobs).
    """
    by_length: dict[int, list[int]] = defaultdict(list)
    for j, job in enumerate(jobs):
        by_length[job.origin - job.start].append(j)
    out: dict[tuple[int, str, int], _Path] = {}
    for length in sorted(by_length):
        members = by_length[length]
        for first in range(0, len(members), _MAX_BATCH):
            batch = [jobs[j] for j in members[first : first + _MAX_BATCH]]
            out.update(_run_batch(series, batch, horizon, z))
    return out


def _run_batch(
    series: list[_Series], batch: list[_Job], horizon: int, z: float
) -> dict[tuple[int, str, int], _Path]:
    """Fit equally long jobs in one vectorised call; see ``_run_jobs``."""
    out: dict[tuple[int, str, int], _Path] = {}
    y = np.stack([series[job.series].y[job.start : job.origin] for job in batch])
    is_log = np.array([job.model == MODEL_ETS_LOG1P for job in batch])[:, None]
    y = np.where(is_log, np.log1p(np.maximum(y, 0.0)), y)
    fit = fit_ets_damped(y, SEASON)
    mean, var = forecast_ets_damped(fit, horizon)
    starts = statsmodels_start_params(fit)
    sd = np.sqrt(var)
    bands = np.stack([mean, mean - z * sd, mean + z * sd])  # (3, jobs, horizon)
    bands = np.where(is_log[None], np.expm1(np.minimum(bands, _LOG_CAP)), bands)
    bands = np.maximum(bands, 0.0)
    for row, job in enumerate(batch):
        out[(job.series, job.model, job.origin)] = _Path(
            bands[0, row], bands[1, row], bands[2, row], starts[row]
        )
    return out


def _statsmodels_forecast(
    window: FloatArray, log: bool, start_params: FloatArray, horizon: int, level: float
) -> tuple[FloatArray, FloatArray, FloatArray] | None:
    """Final ETS forecast by statsmodels: ``(yhat, lower, upper)``, or ``None`` if it fails.

    Fits ``ETSModel(error="add", trend="add", damped_trend=True, seasonal="add", seasonal_periods=7)``
    (estimated initial states) to ``window`` (``log1p(window)`` when ``log``) by maximum likelihood,
    starting L-BFGS at the numpy engine's fit of the same window (``start_params``) and stopping after
    ``_SM_MAXITER`` iterations; point forecast and ``level`` intervals from ``get_prediction``
    (``method="exact"``: analytic, no simulation). ``log``: every column mapped back with ``expm1``
    (the mean on the log scale becomes the median). Clipped at 0. ``None`` when statsmodels raises
    or returns anything non-finite. Warnings and floating-point flags are silenced locally.
    """
    values = np.log1p(np.maximum(window, 0.0)) if log else window
    n = values.size
    try:
        # imported outside the warnings block: statsmodels adds warning filters when first imported,
        # which would otherwise take precedence over the block's "ignore" (and be dropped at its exit)
        import pandas as pd
        from statsmodels.tsa.exponential_smoothing.ets import ETSModel
        from threadpoolctl import threadpool_limits

        # One BLAS thread: the optimiser's matrices are tiny, and multi-threaded OpenBLAS spends
        # several times the work on synchronisation (scipy issues 22438, 23191).
        with warnings.catch_warnings(), np.errstate(all="ignore"), threadpool_limits(1, user_api="blas"):
            warnings.simplefilter("ignore")  # convergence chatter, local to this block
            model = ETSModel(
                pd.Series(values),  # RangeIndex: out-of-sample steps are n .. n + horizon - 1
                error="add",
                trend="add",
                damped_trend=True,
                seasonal="add",
                seasonal_periods=SEASON,
            )
            fitted = model.fit(start_params=start_params, maxiter=_SM_MAXITER, disp=False)
            frame = fitted.get_prediction(start=n, end=n + horizon - 1, method="exact").summary_frame(
                alpha=1.0 - level
            )
            bands = frame[["mean", "pi_lower", "pi_upper"]].to_numpy(dtype=np.float64).T
    except Exception:  # any statsmodels/scipy failure: the caller falls back to the numpy engine
        return None
    if bands.shape != (3, horizon) or not np.isfinite(bands).all():
        return None
    if log:
        bands = np.expm1(np.minimum(bands, _LOG_CAP))
    bands = np.maximum(bands, 0.0)
    return bands[0].copy(), bands[1].copy(), bands[2].copy()


def _fourier_ar_forecast(window: FloatArray, horizon: int, level: float) -> _Path | None:
    """Regression on weekly Fourier terms with AR(2) errors, fitted to ``window``; ``None`` on failure.

    statsmodels ``AutoReg(y, lags=2, trend="c", exog=F)``: ``y_t = c + F_t b + a_1 y_{t-1} + a_2 y_{t-2}
    + e_t`` by conditional least squares, ``F_t`` the ``_FOURIER_K`` sine/cosine pairs of period 7
    of the day index within the window (three pairs span every weekday profile, so the phase does not
    matter). Because lagged Fourier terms are linear combinations of the same terms, this is
    exactly a regression on Fourier terms whose errors are AR(2), unrestricted. Forecasts are
    dynamic; intervals are statsmodels' analytic ``mean -/+ z * se`` (the AR psi-weights), clipped at 0.
    """
    try:
        from statsmodels.tsa.ar_model import AutoReg
        from threadpoolctl import threadpool_limits

        n = window.size
        t = np.arange(n + horizon, dtype=np.float64)
        angle = 2.0 * np.pi * t[:, None] * np.arange(1, _FOURIER_K + 1)[None, :] / SEASON
        fourier = np.column_stack([np.sin(angle), np.cos(angle)])
        with warnings.catch_warnings(), np.errstate(all="ignore"), threadpool_limits(1, user_api="blas"):
            warnings.simplefilter("ignore")
            fitted = AutoReg(window, lags=_AR_LAGS, trend="c", exog=fourier[:n]).fit()
            frame = fitted.get_prediction(start=n, end=n + horizon - 1, exog_oos=fourier[n:]).summary_frame(
                alpha=1.0 - level
            )
            bands = frame[["mean", "mean_ci_lower", "mean_ci_upper"]].to_numpy(dtype=np.float64).T
    except Exception:  # singular design (e.g. a constant window) or any statsmodels failure
        return None
    if bands.shape != (3, horizon) or not np.isfinite(bands).all():
        return None
    bands = np.maximum(bands, 0.0)
    return _Path(bands[0].copy(), bands[1].copy(), bands[2].copy(), np.empty(0))


def _ratio(num: float, den: float) -> float | None:
    return num / den if den > 0.0 else None


def _seasonal_naive_point(history: FloatArray, horizon: int) -> FloatArray:
    """``yhat_{n+h} = y_{n+h-7*ceil(h/7)}``: the last week repeated (last value if under a week)."""
    if history.size >= SEASON:
        return np.resize(history[-SEASON:], horizon)
    return np.full(horizon, history[-1])


def _naive_with_intervals(
    history: FloatArray, horizon: int, level: float
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Seasonal naive (naive under a week) with empirical-quantile intervals, clipped at 0.

    Step ``h`` is ``k = ceil(h/7)`` weeks ahead; its error is distributed like the historical
    differences ``y_t - y_{t-7k}``. Fewer than two weeks of such differences: the 1-week differences
    scaled by ``sqrt(k)``; history under a week: the spread of the observed values.
    """
    q = np.array([(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    yhat = _seasonal_naive_point(history, horizon)
    n = history.size
    lower = np.empty(horizon)
    upper = np.empty(horizon)
    if n < SEASON:
        lower[:], upper[:] = np.quantile(history, q)
    else:
        week1 = history[SEASON:] - history[:-SEASON]
        for k in range(1, math.ceil(horizon / SEASON) + 1):
            lag = k * SEASON
            diffs = history[lag:] - history[:-lag] if n > lag else np.empty(0)
            if diffs.size >= _MIN_DIFFS:
                lo, hi = np.quantile(diffs, q)
            elif week1.size >= 2:
                lo, hi = np.quantile(week1, q) * math.sqrt(k)
            else:
                lo, hi = np.quantile(history - history.mean(), q)
            steps = slice(lag - SEASON, min(lag, horizon))
            lower[steps] = yhat[steps] + lo
            upper[steps] = yhat[steps] + hi
    yhat = np.maximum(yhat, 0.0)
    lower = np.maximum(np.minimum(lower, yhat), 0.0)
    upper = np.maximum(upper, yhat)
    return yhat, lower, upper


def _forecast_frame(
    parts: list[dict[str, object]],
    keys: tuple[str, ...],
    schema: dict[str, pl.DataType],
    horizon: int,
    level: float,
) -> pl.DataFrame:
    if not parts:
        return pl.DataFrame(schema=schema)
    steps = np.arange(1, horizon + 1)
    through = np.array([p["trained_through"] for p in parts], dtype="datetime64[D]")
    columns: dict[str, object] = {
        key: np.repeat(np.array([p[key] for p in parts], dtype=object), horizon) for key in (*keys, "metric")
    }
    columns["date"] = (through[:, None] + steps[None, :]).ravel()
    for key in ("yhat", "yhat_lower", "yhat_upper"):
        columns[key] = np.concatenate([p[key] for p in parts])  # type: ignore[misc]
    columns["interval_level"] = np.full(len(parts) * horizon, level)
    columns["model"] = np.repeat(np.array([p["model"] for p in parts], dtype=object), horizon)
    columns["trained_through"] = np.repeat(through, horizon)
    return pl.DataFrame(columns, schema=schema).select(list(schema)).sort(*keys, "metric", "date")
