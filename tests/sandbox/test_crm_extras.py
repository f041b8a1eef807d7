"""CRM extras on the tiny world: consent, archiving, erasure requests and offline purchases."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import polars as pl
import pytest

from connectors.sandbox.crm_extras import add_crm_extras
from connectors.sandbox.generator import generate_world


@pytest.fixture(scope="module")
def applied():
    world = generate_world("tiny", 7)
    args = (world.contacts, world.deals, world.truth["conversions"], world.meta.end_date)
    first = add_crm_extras(*args, np.random.default_rng(11))
    second = add_crm_extras(*args, np.random.default_rng(11))
    return world, first, second


def test_deterministic_and_shape_preserving(applied) -> None:
    world, (contacts, deals, tables), (contacts2, deals2, tables2) = applied
    assert contacts.equals(contacts2) and deals.equals(deals2)
    assert all(tables[k].equals(tables2[k]) for k in tables)
    # The extras only add (or overwrite) their own columns; every other contact/deal field is untouched.
    extras = ["marketing_opt_in", "opt_in_date", "opt_out_date", "archived", "archived_at"]
    assert contacts.drop(extras).equals(world.contacts.drop(extras, strict=False))
    assert deals.drop("archived").equals(world.deals.drop("archived", strict=False))


def test_consent_and_archiving_invariants(applied) -> None:
    world, (contacts, deals, _), _ = applied
    cutoff = datetime.combine(world.meta.end_date, datetime.min.time())
    opted_in_at_creation = contacts["opt_in_date"].is_not_null().mean()
    # The world draws consent at creation (a lead-propensity feature); the extras keep it as given.
    assert opted_in_at_creation == world.contacts["opt_in_date"].is_not_null().mean()
    assert (
        contacts.filter(pl.col("opt_in_date").is_not_null())["opt_in_date"]
        == contacts.filter(pl.col("opt_in_date").is_not_null())["created_at"]
    ).all()
    out = contacts.filter(pl.col("opt_out_date").is_not_null())
    assert out.height > 0 and (out["opt_out_date"] > out["opt_in_date"]).all()
    assert (out["opt_out_date"] < cutoff).all() and not out["marketing_opt_in"].any()
    assert (
        contacts["marketing_opt_in"]
        == (contacts["opt_in_date"].is_not_null() & contacts["opt_out_date"].is_null())
    ).all()
    archived = contacts.filter("archived")
    assert 0.01 <= archived.height / contacts.height <= 0.03
    assert archived["customer_date"].null_count() == archived.height  # buyers keep their contact
    assert (archived["archived_at"] >= archived["created_at"]).all() and (
        archived["archived_at"] < cutoff
    ).all()
    assert (
        contacts.filter(~pl.col("archived"))["archived_at"].null_count() == contacts.height - archived.height
    )
    assert not deals.filter(pl.col("dealstage") == "closedwon")["archived"].any()


def test_erasure_requests_and_offline_conversions(applied) -> None:
    world, (contacts, deals, tables), _ = applied
    cutoff = datetime.combine(world.meta.end_date, datetime.min.time())
    erasures = tables["erasure_requests"]
    assert erasures.columns == ["tenant_id", "request_id", "contact_id", "email", "requested_at"]
    assert 1 <= erasures.height <= 0.01 * contacts.height
    joined = erasures.join(contacts, on=["tenant_id", "contact_id"])
    assert joined.height == erasures.height
    assert (joined["requested_at"] > joined["created_at"]).all() and (joined["requested_at"] < cutoff).all()
    assert (joined["email"].str.to_lowercase() == joined["email_right"]).all()
    assert erasures.select("tenant_id", "request_id").is_unique().all()

    offline = tables["offline_conversions"]
    won = deals.filter(pl.col("dealstage") == "closedwon")
    assert 0.09 <= offline.height / won.height <= 0.17
    matched = offline.join(won, on=["tenant_id", "contact_id"]).filter(
        (pl.col("conversion_ts") == pl.col("closedate")) & (pl.col("value") == pl.col("amount"))
    )
    assert matched.select("tenant_id", "order_id").n_unique() == offline.height  # the same sales as deals
    assert set(offline["location"]) == {"store", "phone"}
    assert dict(offline.group_by("tenant_id").agg(pl.col("currency").first()).iter_rows()) == {
        "northwind": "USD",
        "bellavista": "EUR",
    }
    assert offline.select("tenant_id", "order_id").is_unique().all()
    assert (offline["email"] != offline["email"].str.strip_chars().str.to_lowercase()).any()  # messy input
