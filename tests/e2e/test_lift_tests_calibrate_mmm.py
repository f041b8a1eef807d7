"""Lift tests end to end on the tiny world: the vendor's drops (holdouts and budget-scaling tests, with
their spend scales) reach raw and staging exactly as the world measured them, and the media-mix model
calibrates from the warehouse by default."""

from __future__ import annotations

import duckdb
import numpy as np
import polars as pl
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def test_read_outs_land_in_staging_as_measured(tiny_run) -> None:
    truth = pl.read_parquet(tiny_run.world_dir / "truth" / "lift_tests.parquet")
    with duckdb.connect(str(tiny_run.settings.warehouse), read_only=True) as con:
        staged = con.sql(
            "select tenant_id, test_id, channel, method, kpi, start_date, end_date, incremental, standard_error, "
            "treatment_spend_scale, control_spend_scale from staging.stg_experiments__lift_tests order by tenant_id, test_id, kpi"
        ).pl()
        raw_drops = con.execute("select count(distinct _source) from raw.lift_tests").fetchone()[0]
    assert truth.height > 0 and (truth["method"] == "scale").any()
    expected = truth.select(staged.columns).sort("tenant_id", "test_id", "kpi")
    assert staged.equals(expected)
    assert raw_drops == truth.select("tenant_id", "readout_date").unique().height  # one file per readout


def test_the_mmm_asset_calibrated_with_them(tiny_run) -> None:
    truth = pl.read_parquet(tiny_run.world_dir / "truth" / "lift_tests.parquet")
    assert (truth["method"] == "scale").any()  # budget-scaling tests reach the model too
    events = [
        e
        for e in tiny_run.result.get_asset_materialization_events()
        if e.asset_key.path == ["ml", "mmm_channel"]
    ]
    assert events, "ml.mmm_channel was not materialized"
    metadata = events[-1].materialization.metadata
    assert metadata["calibrated_with_lift_tests"].value is True
    assert metadata["lift_tests_used"].value == truth.height


def test_the_mmm_models_owned_media_from_their_mart(tiny_run) -> None:
    # marts.fct_owned_media_daily carries the volume the world's response ran on (emails delivered,
    # organic reach), and the MMM fits email and organic social from it: a contribution, no ROI.
    true = (
        pl.read_parquet(tiny_run.world_dir / "truth" / "channel_daily.parquet")
        .filter(pl.col("channel").is_in(["email", "organic_social"]))
        .group_by("tenant_id", "channel")
        .agg(true_volume=pl.col("volume").sum())
    )
    with duckdb.connect(str(tiny_run.settings.warehouse), read_only=True) as con:
        mart = con.sql(
            "select tenant_id, channel, sum(volume) as volume from marts.fct_owned_media_daily group by all"
        ).pl()
        channels = con.sql(
            "select tenant_id, kpi, channel, roi, contribution_share from ml.mmm_channel "
            "where channel in ('email', 'organic_social')"
        ).pl()
    joined = true.join(mart, on=["tenant_id", "channel"], how="left")
    assert joined.height == true.height > 0
    assert (joined["volume"] / joined["true_volume"] - 1).abs().max() < 1e-3
    assert channels.height == 2 * true.height  # both KPIs
    assert channels["roi"].is_null().all() and (channels["contribution_share"] >= 0).all()


def test_the_mmm_writes_each_used_test_against_the_fit(tiny_run) -> None:
    # ml.mmm_calibration: one row per test the model used (every test of the tiny world reaches it, as
    # lift_tests_used says), measured as the vendor reported it, the fitted model's incremental beside
    # it; published to the serving snapshot under the same name.
    truth = pl.read_parquet(tiny_run.world_dir / "truth" / "lift_tests.parquet")
    with duckdb.connect(str(tiny_run.settings.warehouse), read_only=True) as con:
        rows = con.sql(
            'select tenant_id, kpi, channel, start, "end", treatment_spend_scale, control_spend_scale, '
            "measured, standard_error, modelled, modelled_lower, modelled_upper, z from ml.mmm_calibration"
        ).pl()
        holdout_mape = con.sql("select tenant_id, kpi, calibration_mape from ml.mmm_fit").pl()
    assert rows.height == truth.height > 0
    joined = rows.join(
        truth.select(
            "tenant_id",
            "kpi",
            "channel",
            pl.col("start_date").alias("start"),
            pl.col("end_date").alias("end"),
            "treatment_spend_scale",
            "control_spend_scale",
            "incremental",
            "true_incremental",
        ),
        on=["tenant_id", "kpi", "channel", "start", "end", "treatment_spend_scale", "control_spend_scale"],
    )
    assert joined.height == truth.height
    assert np.allclose(joined["measured"].to_numpy(), joined["incremental"].to_numpy())
    assert (joined["modelled_lower"] <= joined["modelled"]).all()
    assert (joined["modelled"] <= joined["modelled_upper"]).all()
    assert np.allclose(
        joined["z"].to_numpy(),
        ((joined["modelled"] - joined["measured"]) / joined["standard_error"]).to_numpy(),
    )
    # The model's holdout incrementals are near what the world really caused (a loose bound: tiny world).
    holdouts = joined.filter(pl.col("control_spend_scale") == 0.0)
    assert (holdouts["modelled"] / holdouts["true_incremental"] - 1.0).abs().median() <= 0.25
    assert holdout_mape["calibration_mape"].is_not_null().any()
    with duckdb.connect(str(tiny_run.settings.serving), read_only=True) as con:
        published = con.execute("select count(*) from mmm_calibration").fetchone()[0]
    assert published == rows.height
