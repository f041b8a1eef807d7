"""models_ml.anomalies: injected anomalies found, calm and tiny campaigns quiet, bad input named."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl
import pytest

from models_ml.anomalies import (
    ANOMALY_SCHEMA,
    AnomalySettings,
    detect_anomalies,
    score_campaign_days,
    summarize_alerts,
)
from tests.models_ml.synthetic_signals import START, campaign_days, match_anomalies

# Floors on the synthetic campaigns (measured with the defaults: precision 0.82 and recall 0.68 when
# a detection on a metric the anomaly necessarily moves counts; see bench/bench_signals.py). The
# synthetic world has no budgets, so a spend move inside [history_spend_down, history_spend_up] x
# expected is budget management by design (an injected x1.85 and a x0.42 spend run): those two are
# left out of the recall (with them 0.67; before the history-basis rules 0.70).
PRECISION_FLOOR = 0.8
RECALL_FLOOR = 0.65


@pytest.fixture(scope="module")
def injected() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    daily, truth = campaign_days()
    return daily, truth, detect_anomalies(daily)


def test_injected_anomalies_are_found_with_few_false_alarms(injected) -> None:
    _, truth, detected = injected
    band = AnomalySettings()
    by_design = (pl.col("metric") == "spend") & pl.col("magnitude").is_between(
        band.history_spend_down, band.history_spend_up, closed="none"
    )
    precision, _ = match_anomalies(detected, truth, consequences=True)
    _, recall = match_anomalies(detected, truth.filter(~by_design), consequences=True)
    assert precision >= PRECISION_FLOOR, precision
    assert recall >= RECALL_FLOOR, recall
    _, strict_recall = match_anomalies(detected, truth.filter(~by_design))
    assert strict_recall >= 0.55, strict_recall  # the moved metric itself is flagged (measured 0.57)


def test_direction_and_expected_agree_with_the_injection(injected) -> None:
    _, truth, detected = injected
    keys = ["tenant_id", "platform", "campaign_id", "metric"]
    hits = detected.join(truth, on=keys).filter(
        pl.col("date").is_between(pl.col("start_date"), pl.col("end_date"))
    )
    assert hits.height >= 10
    assert (hits["direction"] == hits["direction_right"]).all()
    # the observed / expected ratio is near the injected multiplier
    ratio = (hits["value"] / hits["expected"]).to_numpy()
    assert np.median(np.abs(np.log(ratio / hits["magnitude"].to_numpy()))) < 0.25


def test_output_schema_and_severity(injected) -> None:
    _, _, detected = injected
    assert detected.schema == pl.Schema(ANOMALY_SCHEMA)
    assert set(detected["severity"]) <= {"low", "medium", "high"}
    assert (detected["score"].abs() >= AnomalySettings().threshold).all()
    assert ((detected["score"] > 0) == (detected["direction"] == "up")).all()


def _one_campaign(spend: np.ndarray, conversions: np.ndarray) -> pl.DataFrame:
    n = spend.size
    return pl.DataFrame(
        {
            "tenant_id": "t",
            "platform": "meta",
            "campaign_id": "1",
            "date": [START + timedelta(days=i) for i in range(n)],
            "spend": spend,
            "impressions": spend * 100,
            "clicks": spend * 2,
            "conversions": conversions,
            "revenue": conversions * 50,
        }
    )


def test_tiny_campaigns_do_not_alarm() -> None:
    rng = np.random.default_rng(1)
    spend = np.full(120, 5.0)  # below min_spend
    spend[100] = 50.0
    daily = _one_campaign(spend, rng.poisson(1.0, 120).astype(float))
    assert detect_anomalies(daily).height == 0
    scored = score_campaign_days(daily)
    assert not scored["eligible"].any()


def test_a_spend_spike_is_flagged_once_and_only_then() -> None:
    rng = np.random.default_rng(2)
    spend = 200.0 * rng.lognormal(0, 0.05, 140)
    spend[120] *= 3.0
    daily = _one_campaign(spend, rng.poisson(20.0, 140).astype(float))
    flagged = detect_anomalies(daily).filter(pl.col("metric") == "spend")
    assert flagged["date"].to_list() == [START + timedelta(days=120)]
    assert flagged["direction"][0] == "up" and flagged["severity"][0] == "high"


def test_explain_ratios_drops_consequences() -> None:
    rng = np.random.default_rng(3)
    spend = 200.0 * rng.lognormal(0, 0.05, 140)
    spend[120] *= 5.0  # the same conversions: CPA x 5
    daily = _one_campaign(spend, rng.poisson(20.0, 140).astype(float)).with_columns(
        pl.col("impressions").cast(pl.Float64), pl.col("clicks").cast(pl.Float64)
    )
    both = detect_anomalies(daily, AnomalySettings(explain_ratios=False))
    explained = detect_anomalies(daily, AnomalySettings(explain_ratios=True))
    day = START + timedelta(days=120)
    assert {"spend", "cpa"} <= set(both.filter(pl.col("date") == day)["metric"])
    assert set(explained.filter(pl.col("date") == day)["metric"]) == {"spend"}


def test_missing_days_inside_a_campaign_are_zero_delivery() -> None:
    rng = np.random.default_rng(4)
    daily = _one_campaign(200.0 * rng.lognormal(0, 0.05, 140), rng.poisson(20.0, 140).astype(float))
    gap = START + timedelta(days=130)
    flagged = detect_anomalies(daily.filter(pl.col("date") != gap))
    spend_down = flagged.filter((pl.col("metric") == "spend") & (pl.col("date") == gap))
    assert spend_down.height == 1 and spend_down["value"][0] == 0.0 and spend_down["direction"][0] == "down"


def test_empty_and_bad_input() -> None:
    empty = _one_campaign(np.zeros(0), np.zeros(0))
    assert detect_anomalies(empty).schema == pl.Schema(ANOMALY_SCHEMA)
    daily = _one_campaign(np.full(30, 100.0), np.full(30, 5.0))
    with pytest.raises(ValueError, match="missing column"):
        detect_anomalies(daily.drop("clicks"))
    with pytest.raises(ValueError, match="duplicated"):
        detect_anomalies(pl.concat([daily, daily.head(1)]))
    with pytest.raises(ValueError, match="negative"):
        detect_anomalies(daily.with_columns(pl.lit(-1.0).alias("spend")))
    with pytest.raises(ValueError, match="metrics"):
        AnomalySettings(metrics=("cpm",))


def _budget_steps(n: int, steps: dict[int, float], base: float = 200.0) -> np.ndarray:
    budget = np.full(n, base)
    for day, level in sorted(steps.items()):
        budget[day:] = level
    return budget


def _budgets_frame(budget: np.ndarray, change_log: bool = False) -> pl.DataFrame:
    days = [i for i in range(budget.size) if not change_log or i == 0 or budget[i] != budget[i - 1]]
    return pl.DataFrame(
        {
            "tenant_id": "t",
            "platform": "meta",
            "campaign_id": "1",
            "date": [START + timedelta(days=i) for i in days],
            "daily_budget": budget[days],
        }
    )


def test_a_planned_budget_change_is_not_an_anomaly_but_a_runaway_is() -> None:
    """Spend doubles on day 100 because the budget doubled (planned) and triples on day 130 at an
    unchanged budget (a runaway). With the budgets only the runaway alarms, from the first day of the
    step on; without them the step alarms while it is among the latest days and stops alarming once
    the following week shows it held (a new budget level), while the runaway stays flagged."""
    rng = np.random.default_rng(5)
    budget = _budget_steps(160, {100: 400.0})
    spend = budget * 0.95 * rng.lognormal(0, 0.05, 160)
    spend[130] *= 3.0
    daily = _one_campaign(spend, rng.poisson(20.0, 160).astype(float))
    step, runaway = START + timedelta(days=100), START + timedelta(days=130)
    for frame in (_budgets_frame(budget), _budgets_frame(budget, change_log=True)):
        aware = detect_anomalies(daily, budgets=frame).filter(pl.col("metric") == "spend")
        assert aware["date"].to_list() == [runaway], aware
        assert aware["expected"][0] == pytest.approx(400.0 * 0.95, rel=0.1)  # in currency, at the budget
        assert aware["direction"][0] == "up" and aware["severity"][0] == "high"
        latest = detect_anomalies(daily.filter(pl.col("date") <= step), budgets=frame)
        assert latest.filter(pl.col("metric") == "spend").height == 0  # the plan explains it at once
    blind = detect_anomalies(daily).filter(pl.col("metric") == "spend")
    assert blind["date"].to_list() == [runaway], blind
    provisional = detect_anomalies(daily.filter(pl.col("date") <= step + timedelta(days=1)))
    assert step in provisional.filter(pl.col("metric") == "spend")["date"].to_list()


def test_without_budgets_spend_moves_within_budget_management_do_not_alarm() -> None:
    """On the history basis a one-day spend move inside [0.4, 2] x expected (Google may spend up to
    twice a daily budget on a day) is not an incident; a x2.5 runaway and a collapse to 20 % are."""
    rng = np.random.default_rng(8)
    spend = 200.0 * rng.lognormal(0, 0.03, 160)
    spend[[110, 120, 130, 140]] *= [1.8, 0.45, 2.5, 0.2]
    daily = _one_campaign(spend, rng.poisson(20.0, 160).astype(float))
    flagged = detect_anomalies(daily).filter(pl.col("metric") == "spend")
    assert flagged["date"].to_list() == [START + timedelta(days=d) for d in (130, 140)], flagged
    strict = AnomalySettings(history_spend_up=1.5, history_spend_down=0.6)
    assert detect_anomalies(daily, strict).filter(pl.col("metric") == "spend").height == 4
    with pytest.raises(ValueError, match="history_spend_down"):
        AnomalySettings(history_spend_up=0.9)


def test_a_partial_budget_history_is_used_on_the_days_it_covers() -> None:
    """Budgets known only for the last 50 days (a change log with a retention window, starting at
    day 110): no alarm at the seam, and a budget tripled on the last days is explained by the plan,
    where the spend's own history would call it a runaway."""
    rng = np.random.default_rng(9)
    budget = _budget_steps(160, {60: 300.0, 157: 900.0})
    spend = budget * 0.9 * rng.lognormal(0, 0.04, 160)
    daily = _one_campaign(spend, rng.poisson(20.0, 160).astype(float))
    recent = _budgets_frame(budget).filter(pl.col("date") >= START + timedelta(days=110))
    scored = score_campaign_days(daily, budgets=recent).filter(pl.col("metric") == "spend")
    basis = dict(zip(scored["date"].to_list(), scored["basis"].to_list(), strict=True))
    assert basis[START + timedelta(days=100)] == "history"
    assert basis[START + timedelta(days=159)] == "budget"
    assert detect_anomalies(daily, budgets=recent).filter(pl.col("metric") == "spend").height == 0
    blind = detect_anomalies(daily).filter(pl.col("metric") == "spend")
    assert START + timedelta(days=157) in blind["date"].to_list()  # provisional: no future yet


def test_one_alert_per_incident_across_days_and_metrics() -> None:
    """A 3-day tracking outage flags conversions, CPA/ROAS on several days: one alert_id; a second
    incident weeks later on the same campaign is a second alert."""
    rng = np.random.default_rng(8)
    spend = 200.0 * rng.lognormal(0, 0.05, 160)
    conversions = rng.poisson(20.0, 160).astype(float)
    conversions[100:103] = 0.0
    spend[140] *= 4.0
    flagged = detect_anomalies(_one_campaign(spend, conversions))
    alerts = summarize_alerts(flagged)
    assert alerts.height == 2, alerts
    first, second = alerts.row(0, named=True), alerts.row(1, named=True)
    assert first["start_date"] == START + timedelta(days=100) and first["end_date"] <= START + timedelta(
        days=103
    )
    assert "conversions" in first["metrics"] and first["severity"] == "high"
    assert second["start_date"] == START + timedelta(days=140) and "spend" in second["metrics"]
    assert flagged["alert_id"].n_unique() == 2


def test_a_one_day_ctr_dip_waits_for_a_second_day() -> None:
    """CTR moves with the ad mix: a flag needs two days in a row (persist_days) by default."""
    rng = np.random.default_rng(7)
    n = 160
    spend = 200.0 * rng.lognormal(0, 0.05, n)
    impressions = spend * 100
    ctr = 0.02 * rng.lognormal(0, 0.05, n)
    ctr[100] *= 0.2  # one day
    ctr[130:133] *= 0.2  # three days
    daily = _one_campaign(spend, rng.poisson(20.0, n).astype(float)).with_columns(
        pl.Series("clicks", np.round(impressions * ctr))
    )
    ctr_flags = detect_anomalies(daily).filter(pl.col("metric") == "ctr")["date"].to_list()
    assert ctr_flags == [START + timedelta(days=d) for d in (131, 132)], ctr_flags
    once = detect_anomalies(daily, AnomalySettings(persist_days=1)).filter(pl.col("metric") == "ctr")
    assert START + timedelta(days=100) in once["date"].to_list()


def test_bad_budgets_are_named() -> None:
    daily = _one_campaign(np.full(30, 100.0), np.full(30, 5.0))
    budgets = _budgets_frame(np.full(30, 100.0))
    with pytest.raises(ValueError, match="budgets frame is missing column"):
        detect_anomalies(daily, budgets=budgets.drop("daily_budget"))
    with pytest.raises(ValueError, match="negative daily_budget"):
        detect_anomalies(daily, budgets=budgets.with_columns(pl.lit(-5.0).alias("daily_budget")))
