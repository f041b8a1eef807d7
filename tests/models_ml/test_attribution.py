"""Data-driven attribution on hand-checked path sets: exact Markov removal effects and Shapley values."""

from datetime import date
from itertools import permutations
from math import factorial

import numpy as np
import polars as pl
import pytest

from models_ml.attribution import (
    ATTRIBUTION_COLUMNS,
    AttributionInputError,
    attribute_periods,
    markov_removal_effects,
    shapley_values,
    total_variation_distance,
    transition_counts,
)

ISSUE_PATHS = [(["C1", "C2", "C3"], True), (["C1"], False), (["C2", "C3"], False)]


def test_issue_example_removal_effects_and_shares() -> None:
    result = markov_removal_effects(transition_counts(ISSUE_PATHS))
    assert result.channels == ("C1", "C2", "C3")
    # P(conv) = (2/3 * 1/2 + 1/3) * 1 * 1/2 = 1/3; without C1 only start -> C2 -> C3 is left: 1/6
    assert result.conversion_probability == pytest.approx(1 / 3)
    np.testing.assert_allclose(result.removal_effects, [0.5, 1.0, 1.0])
    np.testing.assert_allclose(result.shares, [0.2, 0.4, 0.4])


def test_repeats_are_collapsed_and_do_not_change_first_order_effects() -> None:
    repeated = [(["C1", "C1", "C2", "C3", "C3"], True), (["C1"], False), (["C2", "C2", "C3"], False)]
    assert (
        transition_counts(repeated)
        .sort("from_state", "to_state")
        .equals(transition_counts(ISSUE_PATHS).sort("from_state", "to_state"))
    )


def test_higher_order_sees_what_first_order_cannot() -> None:
    # A converts only when B came before it; C -> A never converts. First order mixes both into
    # one state A; second order keeps "B>A" and "C>A" apart, so C gets no credit.
    paths = [(["B", "A"], True)] * 3 + [(["C", "A"], False)] * 3
    first = markov_removal_effects(transition_counts(paths, order=1))
    second = markov_removal_effects(transition_counts(paths, order=2))
    assert first.channels == second.channels == ("A", "B", "C")
    # first order: A converts half the time whatever came before, P = 1/2; removing B or C halves
    # it, so C (never on a converting path) is credited like B
    assert first.conversion_probability == pytest.approx(0.5)
    np.testing.assert_allclose(first.removal_effects, [1.0, 0.5, 0.5])
    np.testing.assert_allclose(second.removal_effects, [1.0, 1.0, 0.0])
    np.testing.assert_allclose(second.shares, [0.5, 0.5, 0.0])
    assert second.conversion_probability == pytest.approx(0.5)
    states = set(transition_counts(paths, order=2)["to_state"])
    assert {"B", "B>A", "C", "C>A", "(conversion)", "(null)"} == states


def test_removal_effects_match_iterating_the_chain_on_a_random_path_set() -> None:
    # An independent route to the same numbers: push the probability mass from (start) through the
    # chain step by step until it is absorbed (no linear solve), with and without each channel.
    rng = np.random.default_rng(3)
    channels = ["a", "b", "c", "d"]
    paths = []
    for _ in range(400):
        path = list(rng.choice(channels, size=int(rng.integers(1, 5)), replace=True))
        paths.append((path, bool(rng.random() < 0.2 + 0.15 * ("b" in path))))
    counts = transition_counts(paths)
    result = markov_removal_effects(counts)
    p_all = _iterate_chain(counts, removed=None)
    assert result.conversion_probability == pytest.approx(p_all, rel=1e-9)
    for channel, effect in zip(result.channels, result.removal_effects, strict=True):
        assert effect == pytest.approx(1 - _iterate_chain(counts, removed=channel) / p_all, rel=1e-9)


def _iterate_chain(counts: pl.DataFrame, removed: str | None, steps: int = 2000) -> float:
    states = sorted(set(counts["from_state"]) | set(counts["to_state"]))
    index = {s: i for i, s in enumerate(states)}
    matrix = np.zeros((len(states), len(states)))
    for row in counts.iter_rows(named=True):
        matrix[index[row["from_state"]], index[row["to_state"]]] += row["transitions"]
    matrix /= np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    for absorbing in ("(conversion)", "(null)"):
        matrix[index[absorbing], index[absorbing]] = 1.0
    if removed is not None:  # the removed channel's state leads to (null)
        matrix[index[removed]] = 0.0
        matrix[index[removed], index["(null)"]] = 1.0
    mass = np.zeros(len(states))
    mass[index["(start)"]] = 1.0
    for _ in range(steps):
        mass = mass @ matrix
    return float(mass[index["(conversion)"]])


def test_shapley_count_game_is_the_even_split_and_matches_the_permutation_definition() -> None:
    coalitions = pl.DataFrame(
        {
            "channel_set": ["a", "a,b", "b,c", "a,b,c", "c"],
            "journeys": [10, 8, 6, 5, 20],
            "conversions": [2, 4, 3, 3, 1],
        }
    )
    result = shapley_values(coalitions)
    assert result.channels == ("a", "b", "c")
    # even split of each converting coalition over its channels
    even = {"a": 2 + 4 / 2 + 3 / 3, "b": 4 / 2 + 3 / 2 + 3 / 3, "c": 3 / 2 + 3 / 3 + 1}
    np.testing.assert_allclose(result.values, [even["a"], even["b"], even["c"]])
    assert result.values.sum() == pytest.approx(13)  # efficiency: every conversion credited once
    # the rate game against the definition over all orderings of the players
    rate = shapley_values(coalitions, characteristic="rate")
    np.testing.assert_allclose(rate.values, _permutation_shapley(coalitions, ("a", "b", "c")))


def _permutation_shapley(coalitions: pl.DataFrame, players: tuple[str, ...]) -> list[float]:
    rows = [(set(s.split(",")), j, c) for s, j, c in coalitions.iter_rows()]

    def v(members: set[str]) -> float:
        journeys = sum(j for s, j, _ in rows if s <= members)
        conversions = sum(c for s, _, c in rows if s <= members)
        return conversions / journeys if journeys else 0.0

    phi = dict.fromkeys(players, 0.0)
    for order in permutations(players):
        members: set[str] = set()
        for player in order:
            before = v(members)
            members.add(player)
            phi[player] += v(members) - before
    return [phi[p] / factorial(len(players)) for p in players]


def test_shapley_on_fifteen_channels_is_exact_and_efficient() -> None:
    rng = np.random.default_rng(11)
    channels = [f"ch{i:02d}" for i in range(15)]
    sets = {
        ",".join(sorted(rng.choice(channels, size=int(rng.integers(1, 5)), replace=False)))
        for _ in range(300)
    }
    coalitions = pl.DataFrame({"channel_set": sorted(sets)}).with_columns(
        pl.Series("journeys", rng.integers(5, 50, len(sets))),
    )
    coalitions = coalitions.with_columns((pl.col("journeys") // 3).alias("conversions"))
    result = shapley_values(coalitions)
    assert len(result.channels) == 15
    assert result.values.sum() == pytest.approx(coalitions["conversions"].sum())


def test_bad_inputs_are_named() -> None:
    with pytest.raises(AttributionInputError, match="missing column"):
        markov_removal_effects(pl.DataFrame({"from_state": ["(start)"], "to_state": ["a"]}))
    with pytest.raises(AttributionInputError, match="negative"):
        markov_removal_effects(
            pl.DataFrame({"from_state": ["(start)"], "to_state": ["a"], "transitions": [-1]})
        )
    with pytest.raises(AttributionInputError, match="more conversions than journeys"):
        shapley_values(pl.DataFrame({"channel_set": ["a"], "journeys": [1], "conversions": [2]}))
    many = ",".join(f"c{i}" for i in range(21))
    with pytest.raises(AttributionInputError, match="limited to 20"):
        shapley_values(pl.DataFrame({"channel_set": [many], "journeys": [1], "conversions": [1]}))


def test_attribute_periods_builds_the_pinned_table() -> None:
    period = {"tenant_id": "t1", "period_start": date(2026, 1, 1), "period_end": date(2026, 3, 31)}
    transitions = transition_counts(ISSUE_PATHS).with_columns(
        *(pl.lit(v).alias(k) for k, v in period.items()), pl.lit(1).alias("markov_order")
    )
    coalitions = pl.DataFrame(
        {"channel_set": ["C1,C2,C3", "C1", "C2,C3"], "journeys": [1, 1, 1], "conversions": [1, 0, 0]}
    ).with_columns(*(pl.lit(v).alias(k) for k, v in period.items()), pl.Series("revenue", [50.0, 0.0, 0.0]))
    rule_based = pl.DataFrame(
        {"model": ["last_touch"], "channel": ["C3"], "conversions": [1.0], "revenue": [50.0]}
    ).with_columns(*(pl.lit(v).alias(k) for k, v in period.items()))
    table = attribute_periods(transitions, coalitions, rule_based)
    assert dict(table.schema) == ATTRIBUTION_COLUMNS
    markov = table.filter(pl.col("model") == "markov_order_1").sort("channel")
    assert markov["share"].to_list() == pytest.approx([0.2, 0.4, 0.4])
    assert markov["conversions"].to_list() == pytest.approx([0.2, 0.4, 0.4])
    assert markov["revenue"].to_list() == pytest.approx([10.0, 20.0, 20.0])
    shapley = table.filter(pl.col("model") == "shapley").sort("channel")
    assert shapley["conversions"].to_list() == pytest.approx([1 / 3] * 3)
    last = table.filter(pl.col("model") == "last_touch")
    assert last.select("channel", "conversions", "share").row(0) == ("C3", 1.0, 1.0)
    # every model credits exactly the period's conversions
    assert table.group_by("model").agg(pl.col("conversions").sum())["conversions"].to_list() == pytest.approx(
        [1.0] * 3
    )


def test_total_variation_renormalises_over_the_true_channels() -> None:
    truth = {"meta": 0.6, "google_ads": 0.4}
    assert total_variation_distance({"meta": 0.3, "google_ads": 0.2, "direct": 0.5}, truth) == pytest.approx(
        0
    )
    assert total_variation_distance({"meta": 0.1, "google_ads": 0.9}, truth) == pytest.approx(0.5)
    assert total_variation_distance({"direct": 1.0}, truth) == 1.0
