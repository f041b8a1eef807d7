"""Budget optimiser on media-mix response curves.

Each paid channel's curve is its steady-state daily response (`models_ml.mmm.steady_state_response`):
spend s per day, every day, settles adstock at s / (1 - decay) and brings

    r(s) = beta * hill(s * days_per_period / (1 - decay); K, alpha) / days_per_period   KPI per day.

The plan maximises  sum_c value * r_c(s_c) - price * sum_c s_c  over daily spends s_c with

- per-channel bounds: min/max spend, a maximum relative change from the current spend, locked
  channels (kept at their current spend);
- objective `revenue`: spend exactly `total_budget` (value 1, price 0);
- objective `profit`: value = margin (profit per unit of revenue), price 1 - spend at most
  `total_budget` (when given), stopping where another unit of spend earns less than it costs;
- objective `target`: spend as much as keeps marginal ROAS at or above `target_mroas` (value 1,
  price = target), at most `total_budget` when given.

Method (KKT / water-filling). For a multiplier p >= price, each channel's best spend maximises
value * r(s) - p * s on its interval. Hill with alpha > 1 is S-shaped, so that 1-D problem can have two
local maxima: the lower bound (in the convex start) and the point on the concave part where
value * r'(s) = p. Both are evaluated and the better is taken, so each channel's answer is exact. Total
spend falls with p; bisection on p meets the budget. Where a channel's best answer jumps across the
budget (the non-concave case) the remainder goes to the channels between their two answers, and a
short SLSQP polish with analytic gradients on the true (non-concave) objective finishes the plan;
two other starts (filling the jumping channels one at a time, and today's split) are polished too and
the best plan wins, so the plan never earns less than today's split when that split is allowed.
S-curves make the problem multi-modal (which channels pass their convex start decides the basin), so an
even split and the single-channel-heavy corners (each channel filled first; the best few by unpolished
revenue) are further starts; every start gets a few SLSQP steps and the best is polished to convergence.

Uncertainty (`draws`): with the MMM's bootstrap draws the objective is each channel's mean response over
the draws (as Meridian optimises the posterior-expected outcome) - still separable, so the same method
applies; past the last inflection of any draw the mean marginal falls, and below it the best response
is also searched on a grid (a mean of S-curves may have a local maximum there).
30 channels take ~50 ms on point curves, ~70 ms with 25 draws (up to ~130 ms at half budget).

Pure: arrays in, plan out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl
from numpy.typing import NDArray
from scipy.optimize import minimize

from models_ml.media_transforms import hill, hill_derivative, hill_inflection

FloatArray = NDArray[np.float64]
Objective = Literal["revenue", "profit", "target"]


@dataclass(frozen=True)
class ResponseCurve:
    """A channel's steady-state daily response to daily spend (parameters as `ml.mmm_channel`)."""

    channel: str
    decay: float
    k: float
    alpha: float
    beta: float
    days_per_period: int = 1

    def response(self, spend: FloatArray) -> FloatArray:
        settled = np.asarray(spend, dtype=np.float64) * self.days_per_period / (1.0 - self.decay)
        return self.beta * hill(settled, self.k, self.alpha) / self.days_per_period

    def marginal(self, spend: FloatArray) -> FloatArray:
        settled = np.asarray(spend, dtype=np.float64) * self.days_per_period / (1.0 - self.decay)
        return self.beta * hill_derivative(settled, self.k, self.alpha) / (1.0 - self.decay)

    @property
    def inflection(self) -> float:
        """Daily spend where the curve turns concave (0 when it is concave everywhere)."""
        return hill_inflection(self.k, self.alpha) * (1.0 - self.decay) / self.days_per_period


@dataclass(frozen=True)
class BudgetPlan:
    channels: tuple[str, ...]
    current: FloatArray
    recommended: FloatArray
    lower: FloatArray
    upper: FloatArray
    locked: tuple[bool, ...]
    response: FloatArray  # KPI per day at the recommended spend (value not applied)
    marginal: FloatArray  # d response / d spend at the recommended spend (marginal ROAS for revenue)
    shadow_price: float  # the multiplier p: what one more unit of budget is worth at the optimum
    objective: Objective

    @property
    def total(self) -> float:
        return float(self.recommended.sum())


class InfeasibleBudget(ValueError):
    """The constraints admit no plan (e.g. a budget below the sum of the minimum spends)."""


def optimise_budget(
    curves: Sequence[ResponseCurve],
    current: Mapping[str, float],
    *,
    total_budget: float | None = None,
    objective: Objective = "revenue",
    margin: float = 1.0,
    target_mroas: float | None = None,
    min_spend: Mapping[str, float] | None = None,
    max_spend: Mapping[str, float] | None = None,
    max_change: float | None = None,
    locked: Iterable[str] = (),
    draws: Sequence[Sequence[ResponseCurve]] | None = None,
) -> BudgetPlan:
    """The best daily split of the budget over `curves` under the constraints (see module doc).

    `current`: today's daily spend per channel (the reference of `max_change` and of locked channels).
    `total_budget` defaults to the current total for `revenue`. `max_change` is relative (0.3: +-30 %).
    `draws`: the fit's bootstrap draws, each a list of curves in the order of `curves`. When given (and
    not empty) the plan maximises the EXPECTED response over the draws (each channel's mean curve, as
    Meridian does) instead of the point curve's; the plan's `response` and `marginal` are then means
    over the draws too. None or empty: the point curves (`curves`).
    """
    if not curves:
        raise ValueError("optimise_budget needs at least one response curve")
    channels = tuple(c.channel for c in curves)
    if len(set(channels)) != len(channels):
        raise ValueError(f"response curves repeat a channel: {channels}")
    for n, draw in enumerate(draws or ()):
        names = tuple(c.channel for c in draw)
        if names != channels:
            raise ValueError(f"draw {n} lists channels {names}, expected those of `curves`: {channels}")
    missing = [c for c in channels if c not in current]
    if missing:
        raise ValueError(f"current spend missing for channels {missing}")
    locked_set = set(locked)
    unknown = locked_set - set(channels)
    if unknown:
        raise ValueError(f"locked channels {sorted(unknown)} have no response curve")
    cur = np.array([float(current[c]) for c in channels])
    if (cur < 0).any() or not np.isfinite(cur).all():
        raise ValueError("current spend must be finite and non-negative")

    value, price = _value_and_price(objective, margin, target_mroas)
    if objective == "revenue" and total_budget is None:
        total_budget = float(cur.sum())
    if total_budget is not None and (total_budget < 0 or not np.isfinite(total_budget)):
        raise ValueError(f"total_budget must be finite and non-negative, got {total_budget}")

    lo, hi = _bounds(curves, cur, min_spend, max_spend, max_change, locked_set)
    if objective == "revenue":
        assert total_budget is not None
        if total_budget < lo.sum() - 1e-9 * max(1.0, total_budget):
            raise InfeasibleBudget(
                f"budget {total_budget:.2f} is below the minimum the constraints require ({lo.sum():.2f})"
            )
        if total_budget > hi.sum() + 1e-9 * max(1.0, total_budget):
            raise InfeasibleBudget(
                f"budget {total_budget:.2f} is above the maximum the constraints allow ({hi.sum():.2f})"
            )
    elif total_budget is not None and total_budget < lo.sum() - 1e-9 * max(1.0, total_budget):
        raise InfeasibleBudget(
            f"budget {total_budget:.2f} is below the minimum the constraints require ({lo.sum():.2f})"
        )

    from threadpoolctl import threadpool_limits

    ensemble = [list(d) for d in draws] if draws else [list(curves)]
    solver = _Solver(ensemble, lo, hi, value)
    # SLSQP's small dense steps: a multi-threaded BLAS makes them many times slower, not faster.
    with threadpool_limits(1, user_api="blas"):
        spend, p = solver.solve(price, total_budget, equality=objective == "revenue", start=cur)
    spend = np.clip(spend, lo, hi)
    response = solver.response(spend) / value
    marginal = solver.marginal(spend) / value
    return BudgetPlan(
        channels=channels,
        current=cur,
        recommended=spend,
        lower=lo,
        upper=hi,
        locked=tuple(c in locked_set for c in channels),
        response=response,
        marginal=marginal,
        shadow_price=p,
        objective=objective,
    )


def evaluate_plan(curves: Sequence[ResponseCurve], spend: Mapping[str, float] | FloatArray) -> FloatArray:
    """Response (KPI per day) of each curve at the given spend."""
    if isinstance(spend, Mapping):
        spend = np.array([float(spend[c.channel]) for c in curves])
    return np.array([float(c.response(s)) for c, s in zip(curves, spend, strict=True)])


BUDGET_PLAN_SCHEMA = {
    "tenant_id": pl.String,
    "channel": pl.String,
    "current_spend": pl.Float64,
    "recommended_spend": pl.Float64,
    "expected_revenue": pl.Float64,
    "expected_revenue_lower": pl.Float64,
    "expected_revenue_upper": pl.Float64,
    "marginal_roi": pl.Float64,
    "locked": pl.Boolean,
    # Beyond the pinned columns: the revenue of the current split and the change the plan brings.
    "current_revenue": pl.Float64,
    "revenue_change": pl.Float64,
    "revenue_change_lower": pl.Float64,
    "revenue_change_upper": pl.Float64,
}
TOTAL_ROW = "total"


def budget_plan_table(
    tenant_id: str,
    plan: BudgetPlan,
    curves: Sequence[ResponseCurve],
    draws: Sequence[Sequence[ResponseCurve]],
    interval_level: float = 0.9,
) -> pl.DataFrame:
    """Rows of `ml.budget_plan`: one per channel plus a `total` row, revenue per day with bootstrap
    intervals (the plan and the current split evaluated on every draw's curves)."""
    tail = (1.0 - interval_level) / 2.0
    at_plan = evaluate_plan(curves, plan.recommended)
    at_current = evaluate_plan(curves, plan.current)
    if draws:
        plan_draws = np.array([evaluate_plan(d, plan.recommended) for d in draws])
        current_draws = np.array([evaluate_plan(d, plan.current) for d in draws])
        change_draws = plan_draws - current_draws
        totals = np.column_stack([plan_draws, plan_draws.sum(axis=1)])
        changes = np.column_stack([change_draws, change_draws.sum(axis=1)])
        low, high = np.quantile(totals, [tail, 1 - tail], axis=0)
        change_low, change_high = np.quantile(changes, [tail, 1 - tail], axis=0)
    else:
        nan = np.full(len(curves) + 1, np.nan)
        low = high = change_low = change_high = nan
    expected = np.append(at_plan, at_plan.sum())
    change = np.append(at_plan - at_current, (at_plan - at_current).sum())
    return pl.DataFrame(
        {
            "tenant_id": tenant_id,
            "channel": [*plan.channels, TOTAL_ROW],
            "current_spend": np.append(plan.current, plan.current.sum()),
            "recommended_spend": np.append(plan.recommended, plan.recommended.sum()),
            "expected_revenue": expected,
            "expected_revenue_lower": np.minimum(low, expected),
            "expected_revenue_upper": np.maximum(high, expected),
            "marginal_roi": np.append(plan.marginal, plan.shadow_price),
            "locked": [*plan.locked, all(plan.locked)],
            "current_revenue": np.append(at_current, at_current.sum()),
            "revenue_change": change,
            "revenue_change_lower": np.minimum(change_low, change),
            "revenue_change_upper": np.maximum(change_high, change),
        },
        schema=BUDGET_PLAN_SCHEMA,
    )


# -- internals ----------------------------------------------------------------------------------------


def _value_and_price(objective: str, margin: float, target_mroas: float | None) -> tuple[float, float]:
    if objective == "revenue":
        return 1.0, 0.0
    if objective == "profit":
        if not 0 < margin <= 1e6:
            raise ValueError(f"margin must be positive, got {margin}")
        return float(margin), 1.0
    if objective == "target":
        if target_mroas is None or not target_mroas > 0:
            raise ValueError(f"objective 'target' needs a positive target_mroas, got {target_mroas}")
        return 1.0, float(target_mroas)
    raise ValueError(f"objective must be 'revenue', 'profit' or 'target', got {objective!r}")


def _bounds(
    curves: Sequence[ResponseCurve],
    cur: FloatArray,
    min_spend: Mapping[str, float] | None,
    max_spend: Mapping[str, float] | None,
    max_change: float | None,
    locked: set[str],
) -> tuple[FloatArray, FloatArray]:
    # Without an upper bound, stop where the curve is flat: 20x the larger of today's spend and the
    # spend at half saturation (response there is > 99.9 % of saturation for any alpha >= 0.7).
    natural = np.array([20.0 * max(c.k * (1.0 - c.decay) / c.days_per_period, 1.0) for c in curves])
    lo = np.zeros(len(curves))
    hi = np.maximum(natural, 20.0 * cur)
    for i, curve in enumerate(curves):
        if min_spend and curve.channel in min_spend:
            lo[i] = max(lo[i], float(min_spend[curve.channel]))
        if max_spend and curve.channel in max_spend:
            hi[i] = min(hi[i], float(max_spend[curve.channel]))
    if max_change is not None:
        if max_change < 0:
            raise ValueError(f"max_change must be >= 0, got {max_change}")
        lo = np.maximum(lo, cur * (1.0 - max_change))
        hi = np.minimum(hi, cur * (1.0 + max_change))
    for i, curve in enumerate(curves):
        if curve.channel in locked:
            lo[i] = hi[i] = cur[i]
    bad = [curves[i].channel for i in np.flatnonzero(lo > hi + 1e-9)]
    if bad:
        raise InfeasibleBudget(f"channels {bad}: minimum spend above maximum spend under the constraints")
    return lo, np.maximum(hi, lo)


_TABLE_POINTS = 128


_CORNERS_POLISHED = 3  # single-channel-heavy starts polished (best unpolished first)
_QUICK_STEPS = 6  # SLSQP steps on each start before the best one is polished to convergence
_LOW_POINTS = 48  # grid on [lo, start] where a mean of S-curves may have a local maximum


class _Solver:
    """Vectorised best responses and the bisection on the multiplier.

    `ensemble`: one or more sets of curves (bootstrap draws), each in the same channel order; the
    objective is each channel's mean response over the sets (one set: the point curve). Parameters are
    held as (channels, sets) arrays; responses and marginals are means over the sets."""

    def __init__(
        self, ensemble: Sequence[Sequence[ResponseCurve]], lo: FloatArray, hi: FloatArray, value: float
    ):
        self.lo, self.hi, self.value = lo, hi, value

        def stack(attr: str) -> FloatArray:
            return np.array([[float(getattr(c, attr)) for c in set_] for set_ in ensemble]).T

        self.decay, self.k, self.alpha = stack("decay"), stack("k"), stack("alpha")
        self.beta = stack("beta") * value
        self.dpp = stack("days_per_period")
        inflection = np.array([[c.inflection for c in set_] for set_ in ensemble]).T
        # Past the last inflection of any set the mean marginal falls (a sum of falling functions);
        # below it a mean of S-curves may have a local maximum, so [lo, start] is searched on a grid.
        self.start = np.clip(inflection.max(axis=1), lo, hi)
        self.mixed = inflection.min(axis=1) < self.start - 1e-12  # sets disagree on the inflection
        self.peak_marginal = self.marginal(self.start)
        # A table of the falling marginal on [start, hi] brackets each root before the bisection.
        steps = np.linspace(0.0, 1.0, _TABLE_POINTS)[None, :]
        self.grid = self.start[:, None] + (self.hi - self.start)[:, None] * steps**2
        self.grid_marginal = self.marginal(self.grid.T).T
        if self.mixed.any():
            low_steps = np.linspace(0.0, 1.0, _LOW_POINTS)[None, :]
            self.low_grid = self.lo[:, None] + (self.start - self.lo)[:, None] * low_steps
            self.low_response = self.response(self.low_grid.T).T

    def settled(self, s: FloatArray) -> FloatArray:
        return np.maximum(s, 0.0)[..., None] * self.dpp / (1.0 - self.decay)

    def response(self, s: FloatArray) -> FloatArray:
        """Per channel (broadcast on the last axis): the mean response over the sets."""
        ratio = (self.settled(s) / self.k) ** self.alpha
        return (self.beta * ratio / (1.0 + ratio) / self.dpp).mean(axis=-1)

    def marginal(self, s: FloatArray) -> FloatArray:
        """Per channel (broadcast on the last axis); infinite at 0 when alpha < 1."""
        ratio = np.maximum(self.settled(s) / self.k, 1e-300)
        powered = ratio**self.alpha
        slope = self.alpha * powered / (ratio * self.k * (1.0 + powered) ** 2)
        return (self.beta * slope / (1.0 - self.decay)).mean(axis=-1)

    def interior(self, p: float) -> FloatArray:
        """argmax over [start, hi] of value * r(s) - p s per channel: where the falling marginal is p."""
        # On [start, hi] the marginal falls: the table brackets marginal = p, then 24 halvings of the
        # bracket (~1e-7 of a table step).
        index = np.clip((self.grid_marginal > p).sum(axis=1), 1, _TABLE_POINTS - 1)
        rows = np.arange(len(index))
        a, b = self.grid[rows, index - 1], self.grid[rows, index]
        for _ in range(24):
            mid = 0.5 * (a + b)
            above = self.marginal(mid) > p
            a = np.where(above, mid, a)
            b = np.where(above, b, mid)
        return np.where(
            self.marginal(self.hi) >= p, self.hi, np.where(self.peak_marginal <= p, self.start, a)
        )

    def restricted(self, sets: NDArray[np.bool_], budget: float, price: float, equality: bool) -> FloatArray:
        """Approximate KKT plans, one per row of `sets`: the `on` channels on their concave parts (their
        spend read off the marginal table by linear interpolation), the others at their lower bounds,
        one bisection on the multiplier for all sets at once. Rows that cannot meet the budget are NaN."""
        gm, grid = self.grid_marginal, self.grid
        rows = np.arange(len(self.lo))

        def spend(p: FloatArray) -> FloatArray:
            idx = np.clip((gm[None, :, :] > p[:, None, None]).sum(axis=2), 1, _TABLE_POINTS - 1)
            m0, m1 = gm[rows, idx - 1], gm[rows, idx]
            g0, g1 = grid[rows, idx - 1], grid[rows, idx]
            with np.errstate(divide="ignore", invalid="ignore"):
                t = np.clip(np.nan_to_num((m0 - p[:, None]) / (m0 - m1), nan=1.0), 0.0, 1.0)
            inner = np.where(gm[None, :, -1] >= p[:, None], grid[None, :, -1], g0 + t * (g1 - g0))
            inner = np.where(gm[None, :, 0] <= p[:, None], self.start[None, :], inner)
            return np.where(sets, inner, self.lo[None, :])

        finite = gm[:, 1:][np.isfinite(gm[:, 1:])]  # (at the start it can be ~1e149: alpha < 1)
        p_low = np.full(len(sets), price)
        p_high = np.full(len(sets), 2.0 * max(price * 2.0 + 1.0, float(finite.max(initial=0.0))))
        for _ in range(50):
            mid = 0.5 * (p_low + p_high)
            over = spend(mid).sum(axis=1) > budget
            p_low, p_high = np.where(over, mid, p_low), np.where(over, p_high, mid)
        plans = spend(p_high)
        at_price = spend(p_low[:1] * 0 + price)[0]
        lowest = np.where(sets, self.start, self.lo).sum(axis=1)
        highest = np.where(sets, self.hi, self.lo).sum(axis=1)
        ok = lowest <= budget * (1 + 1e-12) + 1e-12
        if equality:
            ok &= highest >= budget * (1 - 1e-12)
        out = np.full(plans.shape, np.nan)
        for r in np.flatnonzero(ok):
            if not equality and np.where(sets[r], at_price, self.lo).sum() <= budget:
                out[r] = np.where(sets[r], at_price, self.lo)
            else:
                out[r] = self._fill(plans[r], plans[r], budget)
        return out

    def best_response(self, p: float) -> FloatArray:
        """argmax over [lo, hi] of value * r(s) - p s, per channel (exact for S-shaped curves)."""
        interior = self.interior(p)
        gain_interior = self.response(interior) - p * interior
        gain_low = self.response(self.lo) - p * self.lo
        best = np.where(gain_low > gain_interior, self.lo, interior)
        if self.mixed.any():
            # A mean of S-curves: the best grid point of [lo, start] where it beats both.
            gains = self.low_response - p * self.low_grid
            j = np.argmax(gains, axis=1)
            rows = np.arange(len(j))
            better = self.mixed & (gains[rows, j] > np.maximum(gain_low, gain_interior))
            best = np.where(better, self.low_grid[rows, j], best)
        return best

    def solve(
        self, price: float, budget: float | None, *, equality: bool, start: FloatArray
    ) -> tuple[FloatArray, float]:
        spend = self.best_response(price)
        if budget is None or (not equality and spend.sum() <= budget):
            return spend, price
        p_low, p_high = (
            price,
            max(price, float(np.max(self.peak_marginal[np.isfinite(self.peak_marginal)], initial=0.0))),
        )
        p_high = max(p_high * 2.0 + 1.0, 1.0)
        while self.best_response(p_high).sum() > budget and p_high < 1e12:
            p_high *= 4.0
        for _ in range(60):
            mid = 0.5 * (p_low + p_high)
            if self.best_response(mid).sum() > budget:
                p_low = mid
            else:
                p_high = mid
        more, less = self.best_response(p_low), self.best_response(p_high)
        # Where S-shaped channels jump, spreading the remainder over all of them can sit in their convex
        # starts; filling them one at a time (best average return first) does not. Keep the better.
        # Today's split (moved into the bounds) is a third start, so the plan never does worse than it.
        today = np.clip(start, self.lo, self.hi)
        if not equality and today.sum() > budget:
            today = self.lo + (today - self.lo) * (budget - self.lo.sum()) / max(
                (today - self.lo).sum(), 1e-300
            )
        candidates = [
            self._fill(less, more, budget),
            self._fill_in_turn(less, more, budget, price),
            self._fill(today, today, budget) if equality else today,
        ]
        # S-curves make the problem multi-modal: which channels get past their convex start decides
        # the basin. More starts: an even split, and each channel filled first from the lower bounds
        # (a single-channel-heavy corner); the corners are ranked unpolished and the best few polished.
        even = self.lo + np.minimum(self.hi - self.lo, max(budget - self.lo.sum(), 0.0) / len(self.lo))
        candidates.append(self._fill(even, even, budget))
        corners = [self._corner(i, budget, price) for i in np.flatnonzero(self.hi - self.lo > 1e-9)]
        corner_gains = [float((self.response(c) - price * c).sum()) for c in corners]
        candidates += [corners[i] for i in np.argsort(corner_gains)[::-1][:_CORNERS_POLISHED]]
        # A few SLSQP steps on every start pick the basin; the best is then polished to convergence.
        polished = [self._polish(c, budget, equality, price, _QUICK_STEPS) for c in candidates]
        # SLSQP's steps can leave a basin; the exact KKT plan of each start's active set (channels past
        # their inflection) and of each single-channel set stays in it.
        concave = self.start <= self.lo + 1e-12
        active = {tuple(concave | (c >= self.start * (1 - 1e-9))) for c in candidates + polished}
        for i in np.flatnonzero(self.hi - self.lo > 1e-9):
            single = concave.copy()
            single[i] = True
            active.add(tuple(single))
        plans = self.restricted(np.array(sorted(active)), budget, price, equality)
        plans = plans[np.isfinite(plans).all(axis=1)]
        if len(plans):
            plan_gains = (self.response(plans) - price * plans).sum(axis=1)
            for r in np.argsort(plan_gains)[::-1][:_CORNERS_POLISHED]:
                polished.append(self._polish(plans[r], budget, equality, price, _QUICK_STEPS))
        gains = [float((self.response(c) - price * c).sum()) for c in polished]
        return self._polish(polished[int(np.argmax(gains))], budget, equality, price), p_high

    def _corner(self, first: int, budget: float, price: float) -> FloatArray:
        """Channel `first` filled from its lower bound toward its upper one, the rest in turn by average
        return (the remainder after it: on the others' best responses at that multiplier)."""
        spend = self.lo.copy()
        spend[first] = min(self.hi[first], self.lo[first] + max(budget - self.lo.sum(), 0.0))
        remainder = budget - spend.sum()
        if remainder > 1e-12 * max(budget, 1.0):
            others = np.ones(len(spend), dtype=bool)
            others[first] = False
            top = np.where(others, self.hi, spend)
            return self._fill(spend, top, budget)
        return spend

    def _fill_in_turn(self, less: FloatArray, more: FloatArray, budget: float, price: float) -> FloatArray:
        spend = less.copy()
        gap = more - less
        with np.errstate(divide="ignore", invalid="ignore"):
            average = (self.response(more) - self.response(less)) / gap - price
        for i in np.argsort(-np.nan_to_num(average, nan=-np.inf)):
            remainder = budget - spend.sum()
            if remainder <= 0 or gap[i] <= 0:
                continue
            spend[i] += min(gap[i], remainder)
        return self._fill(spend, spend, budget)

    def _fill(self, less: FloatArray, more: FloatArray, budget: float) -> FloatArray:
        """Move from `less` (sum <= budget) toward `more` (sum >= budget) until the budget is met."""
        gap = more - less
        remainder = budget - less.sum()
        if gap.sum() <= 0 or remainder <= 0:
            spend = less.copy()
        else:
            spend = less + gap * min(remainder / gap.sum(), 1.0)
        # Whatever rounding leaves goes where there is room (equality plans must sum to the budget).
        remainder = budget - spend.sum()
        room = (self.hi - spend) if remainder > 0 else (spend - self.lo)
        if abs(remainder) > 0 and room.sum() > 0:
            spend = spend + np.sign(remainder) * room * min(abs(remainder) / room.sum(), 1.0)
        return np.clip(spend, self.lo, self.hi)

    def _response_and_marginal(self, s: FloatArray) -> tuple[FloatArray, FloatArray]:
        ratio = np.maximum(self.settled(s) / self.k, 1e-300)
        powered = ratio**self.alpha
        response = (self.beta * powered / (1.0 + powered) / self.dpp).mean(axis=-1)
        slope = self.alpha * powered / (ratio * self.k * (1.0 + powered) ** 2)
        return response, (self.beta * slope / (1.0 - self.decay)).mean(axis=-1)

    def _polish(
        self, spend: FloatArray, budget: float, equality: bool, price: float, steps: int = 30
    ) -> FloatArray:
        """Up to `steps` SLSQP steps on the exact objective; kept only when feasible and better."""
        free = self.hi - self.lo > 1e-9
        if free.sum() < 2:
            return spend
        scale = max(float(self.hi[free].max()), 1e-9)

        def gain(s: FloatArray) -> float:
            return float((self.response(s) - price * s).sum())

        def negative(x: FloatArray) -> tuple[float, FloatArray]:
            s = spend.copy()
            s[free] = x * scale
            response, marginal = self._response_and_marginal(s)
            grad = (marginal - price)[free] * scale
            return -float((response - price * s).sum()), -np.nan_to_num(grad, posinf=1e12)

        fixed = float(spend[~free].sum())
        constraint = {
            "type": "eq" if equality else "ineq",
            "fun": lambda x: (budget - fixed) / scale - x.sum(),
            "jac": lambda x: -np.ones_like(x),
        }
        result = minimize(
            negative,
            spend[free] / scale,
            jac=True,
            method="SLSQP",
            bounds=list(zip(self.lo[free] / scale, self.hi[free] / scale, strict=True)),
            constraints=[constraint],
            options={"maxiter": steps, "ftol": 1e-10},
        )
        candidate = spend.copy()
        candidate[free] = np.clip(result.x * scale, self.lo[free], self.hi[free])
        total = candidate.sum()
        feasible = (
            abs(total - budget) <= 1e-7 * max(budget, 1.0) if equality else total <= budget * (1 + 1e-9)
        )
        if feasible and gain(candidate) > gain(spend):
            return self._fill(candidate, candidate, budget) if equality else candidate
        return spend
