"""Injected incidents draw from their own RNG stream: a broken creative or a tracking outage changes
the incident campaign's delivery, not the true sales model of the world.

Known limit: the incident's lost (or extra) anonymous sessions change how many draws the session
builder makes, so contact/deal ids and names, journeys and the conversions platforms claim downstream
of it are reshuffled (not the true sales, nor contact and deal counts)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from connectors.sandbox import generator
from connectors.sandbox.simulate import Anomalies


def _without_spend_incidents(plan_anomalies):
    """plan_anomalies, keeping only incidents that do not change spend (CTR and conversions)."""

    def planned(plan, n_days, rng):
        anomalies, chosen = plan_anomalies(plan, n_days, rng)
        keep = [i for i, a in enumerate(chosen) if a["spend"] == 1.0]
        return (
            Anomalies(
                campaign=anomalies.campaign[keep],
                first=anomalies.first[keep],
                last=anomalies.last[keep],
                spend=anomalies.spend[keep],
                ctr=anomalies.ctr[keep],
                conversions=anomalies.conversions[keep],
                rng=anomalies.rng,
            ),
            [chosen[i] for i in keep],
        )

    return planned


def _no_incidents(plan, n_days, rng):
    empty = np.zeros(0, dtype=np.int64)
    return Anomalies(empty, empty, empty, np.zeros(0), np.zeros(0), np.zeros(0)), []


@pytest.mark.slow
def test_ctr_and_conversion_incidents_leave_the_rest_of_the_world_alone(monkeypatch) -> None:
    original = generator.plan_anomalies
    monkeypatch.setattr(generator, "plan_anomalies", _without_spend_incidents(original))
    hit = generator.generate_world("demo", 7)
    monkeypatch.setattr(generator, "plan_anomalies", _no_incidents)
    calm = generator.generate_world("demo", 7)
    incidents = hit.truth["anomalies"]
    assert incidents["anomaly_id"].n_unique() >= 3  # broken creatives / landing pages / outages
    # the same sales and true channel effects: the response model's randomness is not reshuffled
    for name in ("channel_daily", "baseline_daily"):
        assert hit.truth[name].equals(calm.truth[name]), name
    ids = ["deal_id", "contact_id"]
    assert hit.truth["conversions"].drop(ids).equals(calm.truth["conversions"].drop(ids))
    assert hit.contacts.height == calm.contacts.height and hit.deals.height == calm.deals.height
    # clicks and impressions differ only on the incident campaigns' incident days (platform-reported
    # conversions elsewhere can move: which sessions a platform claims follows the reshuffled journeys)
    keys = ["tenant_id", "platform", "ad_id", "date"]
    diff = hit.delivery.join(calm.delivery, on=keys, suffix="_calm").filter(
        (pl.col("clicks") != pl.col("clicks_calm")) | (pl.col("impressions") != pl.col("impressions_calm"))
    )
    spans = incidents.select("campaign_id", "start_date", "end_date").unique()
    inside = diff.join(spans, on="campaign_id").filter(pl.col("date").is_between("start_date", "end_date"))
    assert diff.height > 0 and inside.select(keys).unique().height == diff.height
    assert (hit.delivery["spend_micros"] == calm.delivery["spend_micros"]).all()
