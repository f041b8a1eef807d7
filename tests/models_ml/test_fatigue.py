"""models_ml.fatigue: fatiguing ads found with their onset and decay, stable ads left alone."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl
import pytest

from models_ml.fatigue import FATIGUE_SCHEMA, FatigueSettings, detect_fatigue
from tests.models_ml.synthetic_signals import START, ad_days

# Measured on the synthetic ads: 98 % of fatiguing ads detected, 1 of 60 stable ads flagged; decay
# error median 0.034; onset error median 3 days (p90 13).
DETECTION_FLOOR = 0.92
FALSE_POSITIVE_CEILING = 0.05
DECAY_ERROR_CEILING = 0.05
ONSET_ERROR_CEILING_DAYS = 6


@pytest.fixture(scope="module")
def scored() -> pl.DataFrame:
    daily, truth = ad_days()
    return detect_fatigue(daily).join(truth, on="ad_id")


def test_fatiguing_ads_are_detected_and_stable_ads_are_not(scored) -> None:
    rates = dict(scored.group_by("fatigues").agg(pl.col("fatigued").mean()).iter_rows())
    assert rates[True] >= DETECTION_FLOOR, rates
    assert rates[False] <= FALSE_POSITIVE_CEILING, rates


def test_decay_and_onset_are_recovered(scored) -> None:
    # decay: the fitted curve's drop from peak to the last day vs the true curve's
    assert (scored["decay"] - scored["true_decay"]).abs().median() < DECAY_ERROR_CEILING
    found = scored.filter(pl.col("fatigued") & pl.col("fatigues")).with_columns(
        ((pl.col("onset_date") - pl.col("first_date")).dt.total_days() - pl.col("onset_day")).alias("error")
    )
    assert found["error"].abs().median() <= ONSET_ERROR_CEILING_DAYS  # the decay starts slowly
    assert abs(found["error"].median()) <= 3  # and the onset is not biased early or late
    assert (found["current_ctr"] < found["peak_ctr"]).all()


def test_null_calibration_of_the_evidence_threshold() -> None:
    # stable ads only: the LR statistic stays below min_lr (the default sits above its 99th pct, 8.5)
    daily, truth = ad_days(n_ads=200, seed=9)
    stable = truth.filter(~pl.col("fatigues"))["ad_id"]
    result = detect_fatigue(
        daily.filter(pl.col("ad_id").is_in(stable.implode())), FatigueSettings(min_lr=0.0)
    )
    assert result["lr_statistic"].quantile(0.99) < FatigueSettings().min_lr


def test_schema_onset_only_when_fatigued(scored) -> None:
    result = scored.select(list(FATIGUE_SCHEMA))
    assert result.schema == pl.Schema(FATIGUE_SCHEMA)
    assert (result["onset_date"].is_null() == ~result["fatigued"]).all()
    assert result["evidence_impressions"].min() >= FatigueSettings().min_impressions


def _ad(impressions: np.ndarray, clicks: np.ndarray) -> pl.DataFrame:
    n = impressions.size
    return pl.DataFrame(
        {
            "tenant_id": "t",
            "platform": "meta",
            "ad_id": "1",
            "date": [START + timedelta(days=i) for i in range(n)],
            "impressions": impressions,
            "clicks": clicks,
            "spend": impressions * 0.01,
            "conversions": clicks * 0.05,
        }
    )


def test_too_little_evidence_gives_no_row_and_bad_input_is_named() -> None:
    few = _ad(np.full(60, 50), np.full(60, 1))  # 3000 impressions in total
    assert detect_fatigue(few).height == 0
    with pytest.raises(ValueError, match="more clicks than"):
        detect_fatigue(_ad(np.full(5, 10), np.full(5, 11)))
    with pytest.raises(ValueError, match="missing column"):
        detect_fatigue(few.drop("spend"))


def test_a_rising_ctr_is_not_fatigue() -> None:
    rng = np.random.default_rng(0)
    impressions = np.full(120, 2000)
    clicks = rng.binomial(impressions, np.linspace(0.01, 0.02, 120))
    row = detect_fatigue(_ad(impressions, clicks))
    assert row.height == 1 and not row["fatigued"][0] and row["decay"][0] == 0.0
