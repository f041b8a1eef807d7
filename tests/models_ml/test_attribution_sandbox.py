"""Data-driven attribution against the sandbox's truth, on the tiny world run end to end.

The truth: `truth/conversions` records the true cause of each sale (baseline or a channel); a
channel's true incremental share is its caused conversions / all channel-caused conversions. The
models' shares in `ml.attribution_channel` (full window) are compared on the true channels
(renormalised there) by total variation distance. Last click (`last_touch`) is the baseline the
data-driven models must beat; the figures are printed (`pytest -s`) and stated in the bench.
"""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from models_ml.attribution import total_variation_distance

DATA_DRIVEN = ("markov_order_1", "markov_order_2", "markov_order_3", "shapley")


@pytest.fixture(scope="module")
def distances(tiny_run) -> dict[str, dict[str, float]]:
    truth = (
        pl.read_parquet(tiny_run.world_dir / "truth" / "conversions.parquet")
        .filter(pl.col("cause") != "baseline")
        .group_by("tenant_id", "cause")
        .len()
    )
    with duckdb.connect(str(tiny_run.settings.warehouse), read_only=True) as con:
        table = con.sql(
            """
            select tenant_id, model, channel, share
            from ml.attribution_channel
            where (tenant_id, period_start, period_end) in (
                select tenant_id, min(period_start), max(period_end)
                from ml.attribution_channel group by tenant_id)
            """
        ).pl()
    out: dict[str, dict[str, float]] = {}
    for (tenant,), rows in table.group_by("tenant_id"):
        caused = truth.filter(pl.col("tenant_id") == tenant)
        true_shares = dict(zip(caused["cause"], caused["len"] / caused["len"].sum(), strict=True))
        out[tenant] = {
            model: total_variation_distance(dict(zip(g["channel"], g["share"], strict=True)), true_shares)
            for (model,), g in rows.group_by("model")
        }
        print(tenant, {m: round(d, 3) for m, d in sorted(out[tenant].items(), key=lambda kv: kv[1])})
    return out


def test_every_model_is_published_for_both_tenants(distances) -> None:
    assert set(distances) == {"northwind", "bellavista"}
    for models in distances.values():
        assert set(DATA_DRIVEN) <= set(models)
        assert {
            "first_touch",
            "last_touch",
            "last_non_direct",
            "linear",
            "time_decay",
            "position_based",
        } <= set(models)


@pytest.mark.parametrize("model", DATA_DRIVEN)
def test_data_driven_shares_are_closer_to_the_truth_than_last_click(distances, model: str) -> None:
    for tenant, by_model in distances.items():
        assert by_model[model] < by_model["last_touch"], (tenant, model, by_model)


def test_every_model_credits_exactly_the_conversions(tiny_run) -> None:
    with duckdb.connect(str(tiny_run.settings.warehouse), read_only=True) as con:
        totals = con.sql(
            """
            select tenant_id, period_start, period_end, model, sum(conversions) as conversions, sum(share) as share
            from ml.attribution_channel group by all
            """
        ).pl()
        journeys = con.sql(
            """
            select tenant_id, period_start, period_end, sum(conversions)::double as conversions
            from marts.fct_attribution_coalitions group by all
            """
        ).pl()
    joined = totals.join(journeys, on=["tenant_id", "period_start", "period_end"], suffix="_paths")
    assert joined.height == totals.height
    assert joined["conversions"].to_list() == pytest.approx(joined["conversions_paths"].to_list())
    assert joined["share"].to_list() == pytest.approx([1.0] * joined.height)
