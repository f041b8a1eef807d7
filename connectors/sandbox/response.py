"""The true media response model of the sandbox (pure numpy; documented in README.md).

    adstock_t = spend_t + decay * adstock_{t-1}      adstock_{-1} = spend_0 / (1 - decay) (steady state)
    hill(a)   = a^alpha / (a^alpha + K^alpha)
    incremental_conversions_t = beta * hill(adstock_t)
    incremental_revenue_t     = incremental_conversions_t * revenue_per_conversion

The generator, SandboxState.advance and the tests all call these functions, so the saved truth and
any recomputation agree to the last bit.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter


def adstock(spend: np.ndarray, decay: float, previous: float | None = None) -> np.ndarray:
    """Geometric adstock. `previous` is adstock of the day before `spend[0]` (None: steady state)."""
    x = np.asarray(spend, dtype=np.float64)
    if x.size == 0:
        return x.copy()
    if previous is None:
        previous = x[0] / (1.0 - decay)
    y, _ = lfilter([1.0], [1.0, -decay], x, zi=[decay * previous])
    return y


def hill(a: np.ndarray, k: float, alpha: float) -> np.ndarray:
    a = np.maximum(np.asarray(a, dtype=np.float64), 0.0)
    ak = (a / k) ** alpha
    return ak / (1.0 + ak)


def incremental_conversions(
    spend: np.ndarray,
    decay: float,
    k: float,
    alpha: float,
    beta: float,
    previous: float | None = None,
) -> np.ndarray:
    return beta * hill(adstock(spend, decay, previous), k, alpha)


def roi_and_mroi(
    spend: np.ndarray, decay: float, k: float, alpha: float, beta: float, revenue_per_conversion: float
) -> tuple[float, float, float]:
    """(incremental revenue, ROI, marginal ROI) over a whole spend series.

    ROI = incremental revenue / spend. Marginal ROI = extra revenue from spending 1% more on every day,
    divided by that extra spend (finite difference through adstock and Hill on spend * 1.01).
    """
    spend = np.asarray(spend, dtype=np.float64)
    total = float(spend.sum())
    revenue = float(incremental_conversions(spend, decay, k, alpha, beta).sum() * revenue_per_conversion)
    bumped = float(
        incremental_conversions(spend * 1.01, decay, k, alpha, beta).sum() * revenue_per_conversion
    )
    if total <= 0:
        return revenue, float("nan"), float("nan")
    return revenue, revenue / total, (bumped - revenue) / (0.01 * total)
