"""Data-driven multi-touch attribution from path counts: Markov removal effects and Shapley values.

Both work on aggregates built in SQL (dbt marts `fct_attribution_transitions` and
`fct_attribution_coalitions`), never on events, so the cost does not grow with traffic (DESIGN.md §7).

Markov chain (first and higher order)
    States are the last k channels of a journey's path (consecutive repeats collapsed), plus
    `(start)` and the absorbing `(conversion)` and `(null)`. Transition probabilities are the counts
    divided by each state's outgoing total. The probability of conversion from `(start)` is solved
    exactly from the absorbing chain: with Q the transient-to-transient block and r the one-step
    conversion probabilities, x = (I - Q)^-1 r and P(conversion) = x[start] (a sparse linear solve,
    no simulation). Removing channel c sends every state that contains c to `(null)`; the removal
    effect is 1 - P_without_c / P. Credited conversions are the removal effects normalised to sum
    to one, times the period's conversions (revenue likewise).

Shapley values
    Players are channels, a coalition is the set of distinct channels on a journey, and the
    characteristic function is count-based: v(S) = conversions of the journeys whose channel set is
    a subset of S (v(empty) = 0, v(all) = every conversion, so the values add up to the period's
    conversions with no scaling). Values are exact over all 2^n subsets (subset sums by a zeta
    transform, n <= MAX_SHAPLEY_CHANNELS). For this game the Shapley value has a closed form (each
    converting journey's conversion split evenly over its distinct channels); it is computed the
    general way so other games can be plugged in (`characteristic="rate"`).
    Why count-based: the rate-based game v(S) = conversion rate of the journeys within S was
    measured on the sandbox and gives Meta almost nothing (total variation to the true shares
    0.57-0.64, worse than last click): most Meta journeys are single prospecting clicks of visitors
    who never buy in the window, so every coalition Meta joins converts at a lower rate, although
    Meta causes more sales than Google. Coalition conversion rates reward the channels of people
    who are already about to buy (brand search) - selection, not cause. The count-based game at
    least gives every channel on a converting path its part.

What these numbers are, honestly
    Both methods explain observed paths; neither sees what would have happened without the ads.
    A removal effect asks "how many conversions pass through c", so a channel that sits on the
    journeys of people who would have bought anyway (brand search before a purchase, a newsletter
    click of a loyal customer) is credited with conversions it did not cause. Baseline customers'
    journeys are the bulk of every path set, so removal effects of the channels they touch are
    inflated in proportion to how often they touch them. Compared with the true incremental shares
    (a channel's caused conversions / all channel-caused conversions), Markov and Shapley shares
    differ from last click mainly by giving assisting channels (Meta prospecting, which is clicked
    days before buying) their part, so they move towards the truth without reaching it: on the
    demo world the total variation distance to the true shares drops from ~0.45-0.50 (last click)
    to ~0.17-0.22 (second-order Markov) and ~0.21-0.27 (first order, Shapley). The tests
    and `bench/bench_attribution.py` state the distance for each model; experiments and the media-mix
    model are the tools for incrementality.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from math import factorial
from typing import Literal

import numpy as np
import polars as pl
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve

START = "(start)"
CONVERSION = "(conversion)"
NULL = "(null)"
STATE_SEPARATOR = ">"
COALITION_SEPARATOR = ","
MAX_SHAPLEY_CHANNELS = 20  # 2^20 coalitions: ~8 MB per array, still exact in about a second

ATTRIBUTION_COLUMNS: dict[str, pl.DataType] = {
    "tenant_id": pl.String(),
    "period_start": pl.Date(),
    "period_end": pl.Date(),
    "model": pl.String(),
    "channel": pl.String(),
    "conversions": pl.Float64(),
    "revenue": pl.Float64(),
    "share": pl.Float64(),
}


class AttributionInputError(ValueError):
    """Path counts that cannot be attributed (missing columns, negative counts, too many channels)."""


# ----------------------------------------------------------------------------------------- Markov


@dataclass(frozen=True)
class RemovalEffects:
    """Markov removal effects of one path set."""

    channels: tuple[str, ...]
    removal_effects: np.ndarray  # 1 - P(conversion without c) / P(conversion), per channel
    conversion_probability: float  # P(conversion) from (start) with every channel present

    @property
    def shares(self) -> np.ndarray:
        total = self.removal_effects.sum()
        return self.removal_effects / total if total > 0 else np.zeros_like(self.removal_effects)

    def to_frame(self) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "channel": list(self.channels),
                "removal_effect": self.removal_effects,
                "share": self.shares,
            },
            schema={"channel": pl.String, "removal_effect": pl.Float64, "share": pl.Float64},
        )


def state_channels(state: str) -> tuple[str, ...]:
    """The channels of a Markov state ('meta>google_ads' -> ('meta', 'google_ads'))."""
    return tuple(state.split(STATE_SEPARATOR))


def markov_removal_effects(transitions: pl.DataFrame) -> RemovalEffects:
    """Exact removal effects from transition counts (columns from_state, to_state, transitions).

    Works for any order: a state is a '>'-joined tuple of channels and is removed with any of them.
    """
    _require_columns(transitions, ("from_state", "to_state", "transitions"), "transition counts")
    counts = transitions.select(
        pl.col("from_state").cast(pl.String),
        pl.col("to_state").cast(pl.String),
        pl.col("transitions").cast(pl.Float64),
    ).filter(pl.col("transitions") != 0)
    if counts["transitions"].lt(0).any():
        raise AttributionInputError("transition counts: negative `transitions`")
    if counts.filter(pl.col("from_state").is_in([CONVERSION, NULL])).height:
        raise AttributionInputError("transition counts: a transition leaves an absorbing state")
    if counts.filter(pl.col("to_state") == START).height:
        raise AttributionInputError("transition counts: a transition enters (start)")

    visited = (set(counts["from_state"]) | set(counts["to_state"])) - {START, CONVERSION, NULL}
    transient = [START, *sorted(visited)]
    index = {state: i for i, state in enumerate(transient)}
    channels = tuple(sorted({ch for state in transient[1:] for ch in state_channels(state)}))
    n = len(transient)

    rows = np.array([index[s] for s in counts["from_state"]], dtype=np.int64)
    weight = counts["transitions"].to_numpy()
    out_total = np.bincount(rows, weights=weight, minlength=n)
    to = counts["to_state"].to_list()
    to_transient = np.array([t in index for t in to])
    cols = np.array([index.get(t, 0) for t in to], dtype=np.int64)
    probability = np.divide(weight, out_total[rows], out=np.zeros_like(weight), where=out_total[rows] > 0)
    q = sp.csr_matrix((probability[to_transient], (rows[to_transient], cols[to_transient])), shape=(n, n))
    converts = np.array([t == CONVERSION for t in to])
    r = np.bincount(rows[converts], weights=probability[converts], minlength=n)

    p_all = _absorption_probability(q, r, np.ones(n, dtype=bool))
    effects = np.zeros(len(channels))
    if p_all > 0:
        contains = {ch: np.zeros(n, dtype=bool) for ch in channels}
        for i, state in enumerate(transient[1:], start=1):
            for ch in set(state_channels(state)):
                contains[ch][i] = True
        for k, ch in enumerate(channels):
            p_without = _absorption_probability(q, r, ~contains[ch])
            effects[k] = max(0.0, 1.0 - p_without / p_all)  # clip -1e-16 round-off
    return RemovalEffects(channels=channels, removal_effects=effects, conversion_probability=p_all)


def _absorption_probability(q: sp.csr_matrix, r: np.ndarray, kept: np.ndarray) -> float:
    """P(conversion) from state 0 when the states outside `kept` lead straight to (null)."""
    keep = np.flatnonzero(kept)
    q_kept = q[keep][:, keep]
    system = (sp.identity(len(keep), format="csc") - q_kept).tocsc()
    if len(keep) == 1:  # only (start) is left, and it never converts in one step
        return float(r[keep[0]])
    return float(np.atleast_1d(spsolve(system, r[keep]))[0])


def transition_counts(paths: Iterable[tuple[Sequence[str], bool]], order: int = 1) -> pl.DataFrame:
    """Transition counts of small in-memory paths, exactly as the dbt mart counts them.

    For tests and the benchmark's cross-check: in production the counts come from SQL.
    """
    if order < 1:
        raise AttributionInputError(f"Markov order must be >= 1, got {order}")
    counter: dict[tuple[str, str], int] = {}
    for path, converted in paths:
        collapsed = [ch for i, ch in enumerate(path) if i == 0 or path[i - 1] != ch]
        previous = START
        for i in range(len(collapsed)):
            state = STATE_SEPARATOR.join(collapsed[max(0, i - order + 1) : i + 1])
            counter[(previous, state)] = counter.get((previous, state), 0) + 1
            previous = state
        end = CONVERSION if converted else NULL
        counter[(previous, end)] = counter.get((previous, end), 0) + 1
    return pl.DataFrame(
        [(f, t, c) for (f, t), c in counter.items()],
        schema={"from_state": pl.String, "to_state": pl.String, "transitions": pl.Int64},
        orient="row",
    )


# ---------------------------------------------------------------------------------------- Shapley


@dataclass(frozen=True)
class ShapleyValues:
    channels: tuple[str, ...]
    values: np.ndarray  # Shapley value of each channel (the rate game's may be negative)

    @property
    def shares(self) -> np.ndarray:
        positive = np.clip(self.values, 0.0, None)
        total = positive.sum()
        return positive / total if total > 0 else np.zeros_like(positive)

    def to_frame(self) -> pl.DataFrame:
        return pl.DataFrame(
            {"channel": list(self.channels), "shapley_value": self.values, "share": self.shares},
            schema={"channel": pl.String, "shapley_value": pl.Float64, "share": pl.Float64},
        )


def shapley_values(
    coalitions: pl.DataFrame, *, characteristic: Literal["count", "rate"] = "count"
) -> ShapleyValues:
    """Exact Shapley values from coalition counts (channel_set comma-separated, journeys, conversions).

    characteristic "count": v(S) = conversions of the journeys whose channel set is within S;
    "rate": v(S) = those conversions / those journeys (see the module docstring for the choice).
    """
    if characteristic not in ("count", "rate"):
        raise AttributionInputError(f"unknown Shapley characteristic function {characteristic!r}")
    _require_columns(coalitions, ("channel_set", "journeys", "conversions"), "coalition counts")
    frame = coalitions.select(
        pl.col("channel_set").cast(pl.String),
        pl.col("journeys").cast(pl.Float64),
        pl.col("conversions").cast(pl.Float64),
    )
    if frame["journeys"].lt(0).any() or frame["conversions"].lt(0).any():
        raise AttributionInputError("coalition counts: negative journeys or conversions")
    if frame.filter(pl.col("conversions") > pl.col("journeys")).height:
        raise AttributionInputError("coalition counts: more conversions than journeys in a coalition")
    sets = [tuple(s.split(COALITION_SEPARATOR)) if s else () for s in frame["channel_set"].to_list()]
    channels = tuple(sorted({ch for s in sets for ch in s}))
    n = len(channels)
    if n > MAX_SHAPLEY_CHANNELS:
        raise AttributionInputError(
            f"coalition counts: {n} channels; exact Shapley is limited to {MAX_SHAPLEY_CHANNELS}"
        )
    bit = {ch: 1 << i for i, ch in enumerate(channels)}
    masks = np.array([sum(bit[ch] for ch in set(s)) for s in sets], dtype=np.int64)
    journeys = _subset_sums(np.bincount(masks, weights=frame["journeys"].to_numpy(), minlength=1 << n), n)
    conversions = _subset_sums(
        np.bincount(masks, weights=frame["conversions"].to_numpy(), minlength=1 << n), n
    )
    if characteristic == "count":
        value = conversions
    else:
        value = np.divide(conversions, journeys, out=np.zeros_like(conversions), where=journeys > 0)
    return ShapleyValues(channels=channels, values=_exact_shapley(value, n))


def _subset_sums(per_mask: np.ndarray, n: int) -> np.ndarray:
    """f(S) = sum of per_mask[T] over T subset of S, for every S (zeta transform, n * 2^n adds)."""
    f = per_mask.astype(np.float64).copy()
    for i in range(n):
        view = f.reshape(-1, 2, 1 << i)
        view[:, 1, :] += view[:, 0, :]
    return f


def _exact_shapley(value: np.ndarray, n: int) -> np.ndarray:
    """phi_i = sum over S without i of |S|!(n-|S|-1)!/n! * (v(S + i) - v(S))."""
    masks = np.arange(1 << n, dtype=np.int64)
    sizes = np.zeros(1 << n, dtype=np.int64)
    for i in range(n):
        sizes += (masks >> i) & 1
    weight_by_size = np.array([factorial(s) * factorial(n - s - 1) / factorial(n) for s in range(n)])
    phi = np.zeros(n)
    for i in range(n):
        without = masks[(masks >> i) & 1 == 0]
        phi[i] = float(np.sum(weight_by_size[sizes[without]] * (value[without | (1 << i)] - value[without])))
    return phi


# ------------------------------------------------------------------------------ the output table


def attribute_periods(
    transitions: pl.DataFrame,
    coalitions: pl.DataFrame,
    rule_based: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """ml.attribution_channel: data-driven and rule-based credit per tenant, period and channel.

    transitions: tenant_id, period_start, period_end, markov_order, from_state, to_state, transitions
    coalitions:  tenant_id, period_start, period_end, channel_set, journeys, conversions, revenue
    rule_based:  tenant_id, period_start, period_end, model, channel, conversions, revenue
                 (the rule-based mart summed over each period)
    Models: markov_order_<k> for every order present, shapley, and the rule-based models. Markov
    and Shapley credit = share x the period's conversions (and revenue).
    """
    _require_columns(
        transitions,
        ("tenant_id", "period_start", "period_end", "markov_order", "from_state", "to_state", "transitions"),
        "transition counts",
    )
    _require_columns(
        coalitions,
        ("tenant_id", "period_start", "period_end", "channel_set", "journeys", "conversions", "revenue"),
        "coalition counts",
    )
    keys = ["tenant_id", "period_start", "period_end"]
    totals = coalitions.group_by(keys).agg(
        pl.col("conversions").cast(pl.Float64).sum(), pl.col("revenue").cast(pl.Float64).sum()
    )
    total_of = {
        (row["tenant_id"], row["period_start"], row["period_end"]): (row["conversions"], row["revenue"])
        for row in totals.iter_rows(named=True)
    }
    parts: list[pl.DataFrame] = []
    for (tenant, start, end, order), group in transitions.group_by(
        [*keys, "markov_order"], maintain_order=True
    ):
        effects = markov_removal_effects(group)
        conversions, revenue = total_of.get((tenant, start, end), (0.0, 0.0))
        parts.append(
            _credit_frame(
                tenant,
                start,
                end,
                f"markov_order_{order}",
                effects.channels,
                effects.shares,
                conversions,
                revenue,
            )
        )
    for (tenant, start, end), group in coalitions.group_by(keys, maintain_order=True):
        shapley = shapley_values(group)
        conversions, revenue = total_of[(tenant, start, end)]
        parts.append(
            _credit_frame(
                tenant, start, end, "shapley", shapley.channels, shapley.shares, conversions, revenue
            )
        )
    if rule_based is not None and rule_based.height:
        _require_columns(
            rule_based, (*keys, "model", "channel", "conversions", "revenue"), "rule-based credit"
        )
        parts.append(
            rule_based.select(*keys, "model", "channel", "conversions", "revenue")
            .with_columns(pl.col("conversions").cast(pl.Float64), pl.col("revenue").cast(pl.Float64))
            .with_columns(
                (pl.col("conversions") / pl.col("conversions").sum().over([*keys, "model"])).alias("share")
            )
        )
    if not parts:
        return pl.DataFrame(schema=ATTRIBUTION_COLUMNS)
    return (
        pl.concat([p.cast(ATTRIBUTION_COLUMNS) for p in parts])  # type: ignore[arg-type]
        .select(list(ATTRIBUTION_COLUMNS))
        .sort(["tenant_id", "period_start", "period_end", "model", "channel"])
    )


def _credit_frame(
    tenant: object,
    start: object,
    end: object,
    model: str,
    channels: Sequence[str],
    shares: np.ndarray,
    conversions: float,
    revenue: float,
) -> pl.DataFrame:
    n = len(channels)
    return pl.DataFrame(
        {
            "tenant_id": [tenant] * n,
            "period_start": [start] * n,
            "period_end": [end] * n,
            "model": [model] * n,
            "channel": list(channels),
            "conversions": shares * conversions,
            "revenue": shares * revenue,
            "share": shares,
        }
    )


# ------------------------------------------------------------------------- comparison to a truth


def total_variation_distance(model_shares: Mapping[str, float], true_shares: Mapping[str, float]) -> float:
    """Total variation distance between a model's shares and the true shares, on the true channels.

    The model's credit to channels that cannot cause a sale in the truth (direct, organic search,
    referral) is left out and the rest renormalised: the truth describes how the channel-caused
    conversions split, so that is the split compared. 0 = identical, 1 = disjoint.
    """
    channels = sorted(true_shares)
    truth = np.array([max(true_shares[c], 0.0) for c in channels])
    model = np.array([max(model_shares.get(c, 0.0), 0.0) for c in channels])
    if truth.sum() <= 0:
        raise AttributionInputError("true shares sum to zero")
    truth = truth / truth.sum()
    model = model / model.sum() if model.sum() > 0 else model
    return 0.5 * float(np.abs(model - truth).sum()) if model.sum() > 0 else 1.0


def _require_columns(frame: pl.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise AttributionInputError(f"{what}: missing column(s) {', '.join(missing)}")
