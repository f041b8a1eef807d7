"""CRM extras of the sandbox world: consent, archiving, erasure requests and offline purchases.

`add_crm_extras(contacts, deals, conversions, world_end, rng)` adds the columns and tables pinned in
docs/INTERFACES.md §7.1 to an already simulated CRM:

- contacts gain `marketing_opt_in` (current consent), `opt_in_date`, `opt_out_date`, `archived`,
  `archived_at`. 65-80% of contacts (a rate per tenant) opt in when they are created (`opt_in_date` =
  `created_at`); about 12% of those opt out later (exponential delay, mean 90 days), when that falls
  before the world's end. `marketing_opt_in` is true only for an opt-in without an opt-out.
- ~2% of contacts are archived (deleted in the CRM). Only contacts that never bought are archived,
  so every sale keeps its contact and the true attribution (truth/conversions) stays reachable.
- deals gain `archived`: ~2% of the deals that did not close won (old pipeline clean-ups); a won
  deal is never archived, so realised revenue (truth/baseline_daily) equals the live won deals.
- `erasure_requests`: ~0.3% of contacts ask to be forgotten, some time after they were created; the
  requester types their address as they like (case varies).
- `offline_conversions`: 12-15% of the won deals (a rate per tenant) were bought in a store (~70%) or
  by phone. They are the same sales as those deals (order value = deal amount, time = close date),
  seen through the point-of-sale system: more often baseline sales than ad-driven ones. Emails come as
  a till clerk typed them (some upper-cased, some padded with spaces).

Everything happens before `world_end` 00:00 UTC, which lies inside the world's last local day in
every tenant time zone. Vectorised and deterministic: the same inputs and rng state give the same
output. Datetimes are naive UTC like the rest of the world.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time

import numpy as np
import polars as pl

from connectors.sandbox.presets import TENANTS

OPT_IN_RATE = (0.65, 0.80)  # share of contacts opting in at creation, drawn per tenant
OPT_OUT_SHARE = 0.12  # of the opt-ins, who later opt out (when it happens before the world ends)
OPT_OUT_MEAN_DAYS = 90.0
ARCHIVED_SHARE = 0.02  # of all contacts, taken from those who never bought
ARCHIVED_DEAL_SHARE = 0.02  # of deals that are not closed won
ERASURE_SHARE = 0.003
OFFLINE_RATE = (0.12, 0.15)  # share of closed-won deals bought offline, drawn per tenant
OFFLINE_WEIGHT = {"baseline": 1.4}  # relative odds of an offline purchase by true cause (others 0.5)
OFFLINE_WEIGHT_OTHER = 0.5
STORE_SHARE = 0.7
DAY_US = 86_400_000_000

TS = pl.Datetime("us")
CONTACT_EXTRA_COLUMNS: dict[str, pl.DataType] = {
    "marketing_opt_in": pl.Boolean(),
    "opt_in_date": TS,
    "opt_out_date": TS,
    "archived": pl.Boolean(),
    "archived_at": TS,
}
ERASURE_REQUEST_COLUMNS: dict[str, pl.DataType] = {
    "tenant_id": pl.String(),
    "request_id": pl.String(),
    "contact_id": pl.String(),
    "email": pl.String(),
    "requested_at": TS,
}
OFFLINE_CONVERSION_COLUMNS: dict[str, pl.DataType] = {
    "tenant_id": pl.String(),
    "order_id": pl.String(),
    "contact_id": pl.String(),
    "email": pl.String(),
    "conversion_ts": TS,
    "value": pl.Float64(),
    "currency": pl.String(),
    "location": pl.String(),
}


def add_crm_extras(
    contacts: pl.DataFrame,
    deals: pl.DataFrame,
    conversions: pl.DataFrame,
    world_end: date,
    rng: np.random.Generator,
    *,
    currencies: Mapping[str, str] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, pl.DataFrame]]:
    """(contacts + extra columns, deals + archived, {"erasure_requests", "offline_conversions"}).

    `conversions` is truth/conversions (deal_id, contact_id, cause, amount); `currencies` maps a
    tenant to its account currency (default: the sandbox tenants' currencies).
    """
    cutoff = datetime.combine(world_end, time())
    currencies = dict(currencies or {spec.tenant_id: spec.currency for spec in TENANTS})
    tenants = sorted(
        set(contacts["tenant_id"].unique().to_list()) | set(deals["tenant_id"].unique().to_list())
    )
    # Per-tenant rates first (a fixed number of draws, whatever the table sizes).
    opt_in_rate = dict(zip(tenants, rng.uniform(*OPT_IN_RATE, len(tenants)), strict=True))
    offline_rate = dict(zip(tenants, rng.uniform(*OFFLINE_RATE, len(tenants)), strict=True))

    contacts_out = _contact_extras(contacts, cutoff, opt_in_rate, rng)
    deals_out = _deal_extras(deals, rng)
    erasures = _erasure_requests(contacts, cutoff, rng)
    offline = _offline_conversions(contacts, deals, conversions, cutoff, offline_rate, currencies, rng)
    return contacts_out, deals_out, {"erasure_requests": erasures, "offline_conversions": offline}


def _us(column: str, frame: pl.DataFrame) -> np.ndarray:
    """A datetime column as int64 microseconds (nulls as the minimum int, never used)."""
    return frame[column].cast(TS).dt.epoch("us").fill_null(np.iinfo(np.int64).min).to_numpy()


def _ts(values: np.ndarray, mask: np.ndarray) -> pl.Series:
    """int64 microseconds -> naive datetime Series, null where `mask` is false."""
    frame = pl.DataFrame({"v": np.where(mask, values, 0), "m": mask})
    return frame.select(pl.when(pl.col("m")).then(pl.col("v").cast(TS))).to_series()


def _rate_per_row(tenant_ids: pl.Series, rates: Mapping[str, float]) -> np.ndarray:
    return tenant_ids.replace_strict(dict(rates), return_dtype=pl.Float64).to_numpy()


def _contact_extras(
    contacts: pl.DataFrame, cutoff: datetime, opt_in_rate: Mapping[str, float], rng: np.random.Generator
) -> pl.DataFrame:
    n = contacts.height
    created = _us("created_at", contacts)
    updated = np.maximum(_us("updated_at", contacts), created)
    end = np.int64((cutoff - datetime(1970, 1, 1)).total_seconds() * 1_000_000)
    u_opt, u_out, u_delay, u_arch, u_when = (rng.random(n) for _ in range(5))

    if "opt_in_date" in contacts.columns:
        # The world already drew consent at creation (a lead-propensity feature): keep it, add opt-outs.
        opted_in = contacts["opt_in_date"].is_not_null().to_numpy()
        created_opt = _us("opt_in_date", contacts)
        created = np.where(opted_in, created_opt, created)
    else:
        opted_in = u_opt < _rate_per_row(contacts["tenant_id"], opt_in_rate)
    opt_out_at = created + (-np.log1p(-u_delay) * OPT_OUT_MEAN_DAYS * DAY_US).astype(np.int64)
    opted_out = opted_in & (u_out < OPT_OUT_SHARE) & (opt_out_at < end)

    never_bought = contacts["customer_date"].is_null().to_numpy()
    archive_p = ARCHIVED_SHARE * n / max(int(never_bought.sum()), 1)
    archived_at = updated + (u_when * (end - updated)).astype(np.int64)
    archived = never_bought & (u_arch < archive_p) & (updated < end)

    return contacts.with_columns(
        pl.Series("marketing_opt_in", opted_in & ~opted_out),
        _ts(created, opted_in).alias("opt_in_date"),
        _ts(opt_out_at, opted_out).alias("opt_out_date"),
        pl.Series("archived", archived),
        _ts(archived_at, archived).alias("archived_at"),
    )


def _deal_extras(deals: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    not_won = (deals["dealstage"] != "closedwon").to_numpy()
    archived = not_won & (rng.random(deals.height) < ARCHIVED_DEAL_SHARE)
    return deals.with_columns(pl.Series("archived", archived))


def _erasure_requests(contacts: pl.DataFrame, cutoff: datetime, rng: np.random.Generator) -> pl.DataFrame:
    n = contacts.height
    created = _us("created_at", contacts)
    end = np.int64((cutoff - datetime(1970, 1, 1)).total_seconds() * 1_000_000)
    u_pick, u_when, u_case = (rng.random(n) for _ in range(3))
    asks = (u_pick < ERASURE_SHARE) & (created < end - DAY_US)
    requested = created + DAY_US + (u_when * (end - created - DAY_US)).astype(np.int64)
    email = pl.col("email")
    frame = (
        contacts.select("tenant_id", "contact_id", "email")
        .with_columns(requested_at=pl.Series(requested).cast(TS), u_case=pl.Series(u_case))
        .filter(pl.Series(asks))
        .with_columns(
            email=pl.when(pl.col("u_case") < 0.25)
            .then(email.str.to_uppercase())
            .when(pl.col("u_case") < 0.5)
            .then(email.str.slice(0, 1).str.to_uppercase() + email.str.slice(1))
            .otherwise(email)
        )
        .sort("tenant_id", "requested_at", "contact_id")
    )
    seq = pl.int_range(1, pl.len() + 1).over("tenant_id")
    return frame.select(
        "tenant_id",
        pl.format("GDPR-{}", seq.cast(pl.String).str.zfill(6)).alias("request_id"),
        "contact_id",
        "email",
        "requested_at",
    ).cast(ERASURE_REQUEST_COLUMNS)  # type: ignore[arg-type]


def _offline_conversions(
    contacts: pl.DataFrame,
    deals: pl.DataFrame,
    conversions: pl.DataFrame,
    cutoff: datetime,
    offline_rate: Mapping[str, float],
    currencies: Mapping[str, str],
    rng: np.random.Generator,
) -> pl.DataFrame:
    won = (
        deals.filter(pl.col("dealstage") == "closedwon")
        .select("tenant_id", "deal_id", "contact_id", "closedate", "amount")
        .join(conversions.select("tenant_id", "deal_id", "cause"), on=["tenant_id", "deal_id"], how="left")
        .join(contacts.select("tenant_id", "contact_id", "email"), on=["tenant_id", "contact_id"], how="left")
        .sort("tenant_id", "closedate", "deal_id")
    )
    n = won.height
    u_pick, u_loc, u_case, u_pad = (rng.random(n) for _ in range(4))
    order_base = {t: int(rng.integers(10_000_000, 90_000_000)) for t in sorted(offline_rate)}
    # Odds by true cause, scaled so each tenant's expected offline share is its rate.
    weight = pl.col("cause").replace_strict(
        OFFLINE_WEIGHT, default=OFFLINE_WEIGHT_OTHER, return_dtype=pl.Float64
    )
    relative = won.select((weight / weight.mean().over("tenant_id")).fill_null(1.0)).to_series().to_numpy()
    p = _rate_per_row(won["tenant_id"], offline_rate) * relative
    bought_offline = (u_pick < p) & (won["closedate"] < cutoff).fill_null(False).to_numpy()

    email = pl.col("email")
    frame = (
        won.with_columns(u_loc=pl.Series(u_loc), u_case=pl.Series(u_case), u_pad=pl.Series(u_pad))
        .filter(pl.Series(bought_offline))
        .with_columns(
            email=pl.when(pl.col("u_case") < 0.15)
            .then(email.str.to_uppercase())
            .when(pl.col("u_case") < 0.3)
            .then(email.str.slice(0, 1).str.to_uppercase() + email.str.slice(1))
            .otherwise(email)
        )
        .with_columns(email=pl.when(pl.col("u_pad") < 0.1).then(pl.format(" {} ", email)).otherwise(email))
    )
    seq = pl.int_range(0, pl.len()).over("tenant_id")
    base = pl.col("tenant_id").replace_strict(order_base, return_dtype=pl.Int64)
    return frame.select(
        "tenant_id",
        (base + seq * 7 + 3).cast(pl.String).alias("order_id"),
        "contact_id",
        "email",
        pl.col("closedate").alias("conversion_ts"),
        pl.col("amount").round(2).alias("value"),
        pl.col("tenant_id").replace_strict(dict(currencies), return_dtype=pl.String).alias("currency"),
        pl.when(pl.col("u_loc") < STORE_SHARE)
        .then(pl.lit("store"))
        .otherwise(pl.lit("phone"))
        .alias("location"),
    ).cast(OFFLINE_CONVERSION_COLUMNS)  # type: ignore[arg-type]


__all__ = [
    "CONTACT_EXTRA_COLUMNS",
    "ERASURE_REQUEST_COLUMNS",
    "OFFLINE_CONVERSION_COLUMNS",
    "add_crm_extras",
]
