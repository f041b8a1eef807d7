"""Media transforms of a media-mix model: carry-over (adstock) and diminishing returns (Hill).

Pure numpy. Conventions match the sandbox's true response model (connectors/sandbox/response.py), so a
model fitted with these transforms can recover the world's parameters one for one:

    geometric adstock   a_t = x_t + decay * a_{t-1},   a_{-1} = x_0 / (1 - decay)  (steady state)
    Hill saturation     h(a) = a^alpha / (a^alpha + K^alpha)
    response            beta * h(a)      (beta: KPI per day at saturation)

A delayed adstock (weights decay^((l - peak)^2), normalised to sum 1/(1 - decay) like the geometric's
infinite sum, so K keeps its meaning) is offered for channels whose effect peaks days after the spend.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.signal import lfilter

FloatArray = NDArray[np.float64]


def geometric_adstock(x: ArrayLike, decay: float, previous: float | None = None) -> FloatArray:
    """Geometric carry-over of `x`; `previous` is the adstock of the day before (None: steady state)."""
    values = np.asarray(x, dtype=np.float64)
    if not 0.0 <= decay < 1.0:
        raise ValueError(f"adstock decay must be in [0, 1), got {decay}")
    if values.size == 0:
        return values.copy()
    if previous is None:
        previous = values[0] / (1.0 - decay)
    out, _ = lfilter([1.0], [1.0, -decay], values, zi=[decay * previous])
    return out


def delayed_adstock(x: ArrayLike, decay: float, peak: float, max_lag: int = 21) -> FloatArray:
    """Carry-over peaking `peak` days after the spend: weights decay^((lag - peak)^2), lags 0..max_lag.

    The weights are scaled to sum to 1 / (1 - decay), the total weight of a geometric adstock with the
    same decay, so a constant spend s settles at the same adstock s / (1 - decay) either way. Days before
    the series are taken as equal to its first day (steady state), as in `geometric_adstock`.
    """
    values = np.asarray(x, dtype=np.float64)
    if not 0.0 <= decay < 1.0:
        raise ValueError(f"adstock decay must be in [0, 1), got {decay}")
    if values.size == 0:
        return values.copy()
    lags = np.arange(max_lag + 1, dtype=np.float64)
    weights = decay ** ((lags - peak) ** 2) if decay > 0 else (lags == round(peak)).astype(np.float64)
    weights *= (1.0 / (1.0 - decay)) / weights.sum()
    padded = np.concatenate([np.full(max_lag, values[0]), values])
    return np.convolve(padded, weights, mode="full")[max_lag : max_lag + values.size]


def hill(a: ArrayLike, k: float, alpha: float) -> FloatArray:
    """Hill saturation in [0, 1): half of saturation at a = k; S-shaped when alpha > 1."""
    ratio = np.maximum(np.asarray(a, dtype=np.float64), 0.0) / k
    powered = ratio**alpha
    return powered / (1.0 + powered)


def hill_derivative(a: ArrayLike, k: float, alpha: float) -> FloatArray:
    """d hill / d a = alpha / a * h * (1 - h), written to stay finite at a = 0."""
    ratio = np.maximum(np.asarray(a, dtype=np.float64), 0.0) / k
    powered = ratio**alpha
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = alpha * ratio ** (alpha - 1.0) / (k * (1.0 + powered) ** 2)
    return np.nan_to_num(slope, nan=0.0, posinf=0.0)


def hill_inflection(k: float, alpha: float) -> float:
    """Adstock where the S-shaped Hill turns concave (0 when alpha <= 1: concave everywhere)."""
    if alpha <= 1.0:
        return 0.0
    return float(k * ((alpha - 1.0) / (alpha + 1.0)) ** (1.0 / alpha))
