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

Method. Without a binding budget each channel is on its own: for a multiplier p >= price its best spend
maximises value * r(s) - p * s on its interval. Hill with alpha > 1 is S-shaped, so that 1-D problem can
have two local maxima: the lower bound (in the convex start) and the point on the concave part where
value * r'(s) = p; both are evaluated and the better taken.

With a binding budget the problem is multi-modal (which channels get past their convex start decides the
basin) but separable, so:
1. a dynamic programme over the channels on a grid of budget units (_GRID_UNITS of what the budget
   leaves after the lower bounds) finds the global optimum of the gridded problem, whatever the curves'
   shapes;
2. the exact optimum of the grid plan's basin: its active set (channels past their last inflection,
   where every curve is concave, so the restricted problem is concave) and every set one channel away
   (near-tied basins the grid could rank wrongly), each solved to its exact KKT point - a table of the
   falling marginal and a bisection on the multiplier for all sets at once, then joint Newton steps on
   log r'(s) = log p and the multiplier that meets the budget; and Newton steps from the grid plan
   itself within a grid unit (a channel may rest inside its convex start when the others bend sharply);
3. the best of these and today's split (moved into the bounds) on the exact objective: the plan never
   earns less than today's split when that split is allowed.
The KKT conditions hold on the curve optimised (the mean over the draws, below), not on a table.

Uncertainty (`draws`): with the MMM's bootstrap draws the objective is each channel's mean response over
the draws (as Meridian optimises the posterior-expected outcome) - still separable, so the same method
applies, each evaluation one numpy pass over (channels, draws); past the last inflection of any draw the
mean marginal falls, and below it (unbudgeted case) the best response is also searched on a grid.
Solve times (bench/bench_mmm.py): see README.

Pure: arrays in, plan out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl
from numpy.typing import NDArray

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
    n_draws: int = 0  # bootstrap draws whose mean response was optimised (0: the point curves)

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

    ensemble = [list(d) for d in draws] if draws else [list(curves)]
    solver = _Solver(ensemble, lo, hi, value)
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
        n_draws=len(draws) if draws else 0,
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
    intervals (the plan and the current split evaluated on every draw's curves).

    One curve basis serves every column: the curve the plan optimised. A plan on the draws' mean
    response (`plan.n_draws` > 0, `draws` the same draws) reports the mean over the draws as expected
    revenue, current revenue and change, with its marginal ROI (the mean curve's); a plan on the point
    curves reports the point curves'. Intervals are the draws' quantiles either way."""
    if plan.n_draws and len(draws) != plan.n_draws:
        raise ValueError(
            f"the plan optimised the mean over {plan.n_draws} draws but {len(draws)} draws were given: "
            "pass the draws the plan was optimised on"
        )
    tail = (1.0 - interval_level) / 2.0
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
    if plan.n_draws:
        at_plan, at_current = plan_draws.mean(axis=0), current_draws.mean(axis=0)
    else:
        at_plan, at_current = evaluate_plan(curves, plan.recommended), evaluate_plan(curves, plan.current)
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


_GRID_UNITS = 160
_NEWTON_STEPS = 20  # budget units of the dynamic programme that picks the basin
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
        for _ in range(30):  # to ~1e-9 of the range; the Newton steps below finish
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
        unbound = ~equality & (np.where(sets, at_price[None, :], self.lo[None, :]).sum(axis=1) <= budget)
        plans = np.where(unbound[:, None], np.where(sets, at_price[None, :], self.lo[None, :]), plans)
        multiplier = np.where(unbound, price, p_high)
        lower = np.where(sets[ok], np.maximum(self.lo, self.start), self.lo)
        upper = np.where(sets[ok], self.hi, self.lo)
        plans = self._newton(plans[ok], multiplier[ok], lower, upper, budget, price, equality)
        out = np.full((len(sets), len(self.lo)), np.nan)
        out[ok] = plans
        return out

    def _newton(
        self,
        plans: FloatArray,
        p: FloatArray,
        lower: FloatArray,
        upper: FloatArray,
        budget: float,
        price: float,
        equality: bool,
        reach: float = np.inf,
    ) -> FloatArray:
        """Exact KKT plans from the table's: Newton steps on log r'(s) = log p in log s for the `on`
        channels inside [max(lo, start), hi] (where every draw's curve is concave, so the restricted
        problem is concave and its KKT point its optimum), jointly with the multiplier p that meets the
        budget. Steps down are taken in log s (in log-log terms a Hill curve's marginal is concave: they
        cannot cross zero), steps up in s (from below, a convex marginal's Newton steps undershoot); each
        moves at most `reach`."""
        sets = upper > lower
        s = np.clip(plans, lower, upper)
        floor = 1e-12 * np.maximum(upper, 1.0)  # a positive start for on channels at zero
        log_price = np.log(price) if price > 0 else -np.inf
        q = np.log(np.maximum(p, 1e-300))
        tol = 1e-13 * max(budget, 1.0)
        for _ in range(_NEWTON_STEPS):
            positive = np.where(sets, np.maximum(s, floor), s)
            marginal, curvature = self._marginal_and_curvature(positive)
            with np.errstate(divide="ignore", invalid="ignore"):
                g = np.log(np.clip(np.nan_to_num(marginal, posinf=1e300), 1e-300, None))
                slope = np.nan_to_num(positive * curvature / marginal, nan=-1e-9)
            slope = np.where(np.abs(slope) < 1e-9, -1e-9, slope)
            # Free: inside the bounds, or at one and pulled inward at the current multiplier.
            free = (
                sets & ~((s <= lower + tol) & (g <= q[:, None])) & ~((s >= upper - tol) & (g >= q[:, None]))
            )
            weight = np.where(free, positive / slope, 0.0)
            gap = budget - s.sum(axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                new_q = (gap + (weight * g).sum(axis=1)) / weight.sum(axis=1)
            new_q = np.where(np.isfinite(new_q), new_q, q)
            if not equality:
                new_q = np.maximum(new_q, log_price)
            step = (new_q[:, None] - g) / slope  # in log s
            with np.errstate(over="ignore", invalid="ignore"):
                target = np.where(
                    step < 0,
                    positive * np.exp(np.maximum(step, -2.0)),
                    positive + weight * (new_q[:, None] - g),
                )
            target = np.clip(np.nan_to_num(target, nan=0.0), positive - reach, positive + reach)
            moved = np.clip(np.where(free, target, s), lower, upper)
            done = np.abs(moved - s).max(initial=0.0) <= tol
            s, q = moved, new_q
            if done:
                break
        out = np.empty_like(s)
        for r in range(len(s)):
            out[r] = self._fill(s[r], s[r], budget) if equality or s[r].sum() > budget else s[r]
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
        # The budget binds. S-curves make the problem multi-modal (which channels get past their convex
        # start decides the basin), but it is separable: a dynamic programme over the channels on a grid
        # of budget units finds the global optimum of the gridded problem in one pass, whatever the
        # curves' shapes (a mean of S-curves included).
        gridded = self._grid_plan(budget, price, equality)
        # Refined on the exact objective: Newton steps from the grid plan (below), and the exact KKT plan
        # of its active set (channels past their inflection) and of each set one channel away (near-tied
        # basins the grid could rank wrongly); the best wins. Today's split (moved into the bounds) is a
        # candidate too, so the plan never does worse than it.
        today = np.clip(start, self.lo, self.hi)
        if not equality and today.sum() > budget:
            today = self.lo + (today - self.lo) * (budget - self.lo.sum()) / max(
                (today - self.lo).sum(), 1e-300
            )
        today = self._fill(today, today, budget) if equality else today
        # The grid plan refined where it is (a channel may rest inside its convex start when the others
        # bend sharply): Newton steps on the KKT conditions from it, small enough to stay in its basin.
        local = self._newton(
            gridded[None, :],
            np.array([self._inner_price(gridded, price)]),
            self.lo[None, :],
            self.hi[None, :],
            budget,
            price,
            equality,
            reach=(budget - self.lo.sum()) / _GRID_UNITS,
        )[0]
        candidates = [gridded, local, today]
        concave = self.start <= self.lo + 1e-12
        active = concave | (gridded >= self.start * (1 - 1e-9))
        movable = np.flatnonzero((self.hi - self.lo > 1e-9) & ~concave)
        sets = np.repeat(active[None, :], len(movable) + 1, axis=0)
        sets[np.arange(1, len(movable) + 1), movable] ^= True
        plans = self.restricted(sets, budget, price, equality)
        plans = plans[np.isfinite(plans).all(axis=1)]
        candidates += list(plans)
        gains = [float((self.response(c) - price * c).sum()) for c in candidates]
        plan = candidates[int(np.argmax(gains))]
        return plan, self._shadow_price(plan, price)

    def _grid_plan(self, budget: float, price: float, equality: bool) -> FloatArray:
        """The best plan with each channel's spend above its lower bound a whole number of budget units
        (1/_GRID_UNITS of what the budget leaves after the lower bounds): a dynamic programme over the
        channels, `value[u]` the best gain of the channels so far spending u units. Global on the grid."""
        room = budget - self.lo.sum()
        if room <= 1e-12 * max(budget, 1.0):
            return self.lo.copy()
        units = _GRID_UNITS
        delta = room / units
        steps = np.minimum(np.floor((self.hi - self.lo) / delta + 1e-9), units).astype(np.int64)
        j = np.arange(int(steps.max()) + 1)
        grid = np.minimum(self.lo[:, None] + j[None, :] * delta, self.hi[:, None])  # (channels, steps)
        gain = self.response(grid.T).T - price * grid
        gain = np.where(j[None, :] <= steps[:, None], gain, -np.inf)
        u = np.arange(units + 1)
        back = u[:, None] - j[None, :]  # (units, steps): the units spent before this channel
        valid = back >= 0
        back = np.maximum(back, 0)
        value = np.full(units + 1, -np.inf)
        value[0] = 0.0
        choice = np.zeros((len(self.lo), units + 1), dtype=np.int64)
        for c in range(len(self.lo)):
            width = steps[c] + 1
            cand = np.where(valid[:, :width], value[back[:, :width]] + gain[c, :width], -np.inf)
            choice[c] = cand.argmax(axis=1)
            value = cand[u, choice[c]]
        reachable = np.flatnonzero(np.isfinite(value))
        # Equality: all the units (when the grid reaches them; the remainder is filled below).
        left = int(reachable[-1]) if equality else int(reachable[np.argmax(value[reachable])])
        spend = self.lo.copy()
        for c in range(len(self.lo) - 1, -1, -1):
            spend[c] = grid[c, choice[c, left]]
            left -= int(choice[c, left])
        return self._fill(spend, spend, budget) if equality else spend

    def _inner_price(self, spend: FloatArray, price: float) -> float:
        """The multiplier a plan suggests: the median marginal of the channels strictly inside their
        bounds (they share it at a KKT point), else the shadow price."""
        margin = 1e-9 * np.maximum(self.hi, 1.0)
        inside = (spend > self.lo + margin) & (spend < self.hi - margin)
        marginal = self.marginal(spend)[inside]
        marginal = marginal[np.isfinite(marginal)]
        if len(marginal):
            return max(price, float(np.median(marginal)))
        return self._shadow_price(spend, price)

    def _shadow_price(self, spend: FloatArray, price: float) -> float:
        """What one more unit of budget earns: the best marginal among channels that can take more
        (at the KKT point, the marginal every channel strictly inside its bounds shares)."""
        room = spend < self.hi - 1e-9 * np.maximum(self.hi, 1.0)
        if not room.any():
            return price
        marginal = self.marginal(spend)[room]
        marginal = marginal[np.isfinite(marginal)]
        return max(price, float(marginal.max(initial=price)))

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

    def _marginal_and_curvature(self, s: FloatArray) -> tuple[FloatArray, FloatArray]:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return self._derivatives(s)

    def _derivatives(self, s: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Mean first and second derivatives of the response (h'' = h' / x ((a - 1) - 2 a t / (1 + t)))."""
        settled = np.maximum(self.settled(s), 1e-300)
        ratio = settled / self.k
        powered = ratio**self.alpha
        slope = self.alpha * powered / (ratio * self.k * (1.0 + powered) ** 2)
        bend = slope / settled * ((self.alpha - 1.0) - 2.0 * self.alpha * powered / (1.0 + powered))
        scale = self.beta / (1.0 - self.decay)
        return (scale * slope).mean(axis=-1), (scale * bend * self.dpp / (1.0 - self.decay)).mean(axis=-1)
