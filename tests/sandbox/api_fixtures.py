"""A tiny hand-made sandbox state for the fake-API tests (INTERFACES.md §1 schemas, a few rows each).

`FixtureState` has the attributes the APIs use from `SandboxState`: `world`, `today`, `world_dir`,
`find_entity`, `set_status`, `set_daily_budget`. Writes replace the affected table (frames are
immutable) and are logged in `mutations`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import polars as pl

from connectors.sandbox.api import FaultConfig, SandboxAPI, SandboxLimits
from connectors.sandbox.world import World, WorldMeta

START = date(2026, 1, 1)
DAYS = [START + timedelta(days=i) for i in range(14)]
TODAY = DAYS[-1] + timedelta(days=1)

META_NW, META_BV = "1001001", "2002002"
GOOGLE_NW, GOOGLE_BV = "1234567890", "2345678901"

N_CONTACTS = {"northwind": 250, "bellavista": 30}
N_DEALS = {"northwind": 40, "bellavista": 6}

# Final numbers: no restatement of recent days (tests comparing served conversions to the world's).
FINAL = SandboxLimits(meta_restatement_days=0, google_restatement_days=0)

_TABLE_ID = (("campaigns", "campaign_id"), ("ad_groups", "ad_group_id"), ("ads", "ad_id"))


def _campaigns() -> pl.DataFrame:
    rows = [
        # tenant, platform, account, campaign, name, objective, status, start, end, target_cpa, budget_id, budget
        ("northwind", "meta", META_NW, "110001", "NW Prospecting", "OUTCOME_SALES", "ACTIVE", None, 25.0, None, None),
        ("northwind", "meta", META_NW, "110002", "NW Retargeting", "OUTCOME_SALES", "PAUSED", None, None, None, None),
        ("bellavista", "meta", META_BV, "210001", "BV Prospecting", "OUTCOME_SALES", "ACTIVE", None, 30.0, None, None),
        ("northwind", "google_ads", GOOGLE_NW, "310001", "NW Brand", "SALES", "ACTIVE", None, 12.5, "91001", 50.0),
        ("northwind", "google_ads", GOOGLE_NW, "310002", "NW Generic", "SALES", "ACTIVE", None, None, "91001", 50.0),
        ("northwind", "google_ads", GOOGLE_NW, "310003", "NW Display", "SALES", "PAUSED", date(2026, 1, 10), None, "91002", 20.0),
        ("bellavista", "google_ads", GOOGLE_BV, "410001", "BV Brand", "SALES", "ACTIVE", None, 20.0, "92001", 40.0),
    ]  # fmt: skip
    cols = [
        "tenant_id",
        "platform",
        "account_id",
        "campaign_id",
        "campaign_name",
        "objective",
        "status",
        "end_date",
        "target_cpa",
        "budget_id",
        "daily_budget",
    ]
    frame = pl.DataFrame(rows, schema=cols, orient="row")
    return frame.with_columns(start_date=pl.lit(date(2025, 12, 1))).select(
        *cols[:7], "start_date", pl.col("end_date").cast(pl.Date), *cols[8:]
    )


def _ad_groups() -> pl.DataFrame:
    rows = [
        ("northwind", "meta", META_NW, "110001", "120001", "Broad 25-54", "ACTIVE", 30.0),
        ("northwind", "meta", META_NW, "110001", "120002", "LAL 1%", "ACTIVE", 20.0),
        ("northwind", "meta", META_NW, "110002", "120003", "Site Visitors 30d", "ACTIVE", 15.0),
        ("bellavista", "meta", META_BV, "210001", "220001", "Broad 25-54", "ACTIVE", 25.0),
        ("northwind", "google_ads", GOOGLE_NW, "310001", "320001", "Brand - Exact", "ACTIVE", None),
        ("northwind", "google_ads", GOOGLE_NW, "310002", "320002", "Shoes - Phrase", "ACTIVE", None),
        ("northwind", "google_ads", GOOGLE_NW, "310003", "320003", "Remarketing 30d", "PAUSED", None),
        ("bellavista", "google_ads", GOOGLE_BV, "410001", "420001", "Brand - Exact", "ACTIVE", None),
    ]
    cols = ["tenant_id", "platform", "account_id", "campaign_id", "ad_group_id", "ad_group_name", "status"]
    return pl.DataFrame(rows, schema=[*cols, ("daily_budget", pl.Float64)], orient="row")


def _ads(ad_groups: pl.DataFrame) -> pl.DataFrame:
    rows = []
    for group in ad_groups.iter_rows(named=True):
        for n in (1, 2):
            ad_id = str(int(group["ad_group_id"]) + 10_000 + n * 100)
            status = "PAUSED" if (group["ad_group_id"] == "120002" and n == 2) else "ACTIVE"
            keys = ("tenant_id", "platform", "account_id", "campaign_id", "ad_group_id")
            rows.append(
                {
                    **{k: group[k] for k in keys},
                    "ad_id": ad_id,
                    "ad_name": f"{group['ad_group_name']} - Creative {n}",
                    "status": status,
                    "launch_date": date(2025, 12, 1) + timedelta(days=7 * n),
                }
            )
    return pl.DataFrame(rows)


def _delivery(ads: pl.DataFrame) -> pl.DataFrame:
    rng = np.random.default_rng(1)
    rows = []
    for ad in ads.iter_rows(named=True):
        for day in DAYS:
            if ad["ad_group_id"] == "320003" and day > date(2026, 1, 10):
                continue  # paused campaign stops serving
            impressions = int(rng.integers(200, 5000))
            clicks = int(rng.integers(0, max(1, impressions // 40)))
            if ad["platform"] == "meta":
                conversions = float(rng.integers(0, 4))
            else:
                conversions = round(float(rng.random() * 3), 2)
            rows.append(
                {
                    **{
                        k: ad[k]
                        for k in (
                            "tenant_id",
                            "platform",
                            "account_id",
                            "campaign_id",
                            "ad_group_id",
                            "ad_id",
                        )
                    },
                    "date": day,
                    "spend_micros": int(rng.integers(50, 9000)) * 10_000,
                    "impressions": impressions,
                    "clicks": clicks,
                    "platform_conversions": conversions,
                    "platform_conversion_value": round(
                        conversions * float(rng.integers(3000, 9000)) / 100, 2
                    ),
                }
            )
    return pl.DataFrame(
        rows, schema_overrides={"spend_micros": pl.Int64, "impressions": pl.Int64, "clicks": pl.Int64}
    )


_STAGES = ("lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer")


def _contacts() -> pl.DataFrame:
    rows = []
    base = datetime(2025, 11, 1, 8, 0, 0)
    next_id = 501
    for tenant, n in N_CONTACTS.items():
        for i in range(n):
            contact_id = str(next_id)
            next_id += 1 + (i % 3)  # gaps, as real ids have
            created = base + timedelta(hours=7 * i, milliseconds=123 * i)
            stage = i % 5
            # every 10th contact shares its update time with the previous one (ties in search sorts)
            updated = (
                created + timedelta(days=3 + i % 11)
                if i % 10
                else rows[-1]["updated_at"]
                if rows
                else created
            )
            dates = [created + timedelta(days=2 * s) if s <= stage else None for s in range(5)]
            rows.append(
                {
                    "tenant_id": tenant,
                    "contact_id": contact_id,
                    "email": f"person{i}@{tenant}.example",
                    "firstname": f"First{i}",
                    "lastname": f"Last{i}",
                    "anonymous_id": f"anon-{tenant[:2]}-{i:05d}",
                    "created_at": created,
                    "updated_at": max(updated, created),
                    "lifecyclestage": _STAGES[stage],
                    "lead_date": dates[0],
                    "mql_date": dates[1],
                    "sql_date": dates[2],
                    "opportunity_date": dates[3],
                    "customer_date": dates[4],
                }
            )
    frame = pl.DataFrame(rows)
    stamps = [
        "created_at",
        "updated_at",
        "lead_date",
        "mql_date",
        "sql_date",
        "opportunity_date",
        "customer_date",
    ]
    return frame.with_columns(pl.col(c).cast(pl.Datetime("us")) for c in stamps)


def _deals(contacts: pl.DataFrame) -> pl.DataFrame:
    rows = []
    next_id = 9001
    for tenant, n in N_DEALS.items():
        people = contacts.filter(pl.col("tenant_id") == tenant)["contact_id"].to_list()
        for i in range(n):
            created = datetime(2025, 12, 1, 10, 0) + timedelta(days=i, minutes=17 * i)
            stage = ("closedwon", "closedlost", "appointmentscheduled")[i % 3]
            rows.append(
                {
                    "tenant_id": tenant,
                    "deal_id": str(next_id + i),
                    "contact_id": people[(i * 7) % len(people)],
                    "dealname": f"{tenant.title()} order {i}",
                    "amount": round(99.5 + 37.25 * i, 2),
                    "dealstage": stage,
                    "pipeline": "default",
                    "createdate": created,
                    "closedate": created + timedelta(days=5) if stage != "appointmentscheduled" else None,
                    "updated_at": created + timedelta(days=6, seconds=i),
                }
            )
        next_id += 1000
    frame = pl.DataFrame(rows)
    return frame.with_columns(
        pl.col(c).cast(pl.Datetime("us")) for c in ("createdate", "closedate", "updated_at")
    )


def _touchpoints() -> pl.DataFrame:
    rows = []
    for tenant, zone_hours in (("northwind", -5), ("bellavista", 1)):
        for i in range(80):
            day = DAYS[i % len(DAYS)]
            # local hour 0..23 spread, including the minutes around local midnight
            local = datetime.combine(day, datetime.min.time()) + timedelta(hours=(i * 5) % 24, minutes=i % 60)
            utc = local - timedelta(hours=zone_hours)
            rows.append(
                {
                    "tenant_id": tenant,
                    "event_id": f"{tenant[:2]}-ev-{i:04d}",
                    "anonymous_id": f"anon-{tenant[:2]}-{i % 25:05d}",
                    "event_ts": utc,
                    "event_type": "lead" if i % 9 == 0 else "session",
                    "utm_source": None if i % 4 == 0 else ("facebook" if i % 2 else "google"),
                    "utm_medium": None if i % 4 == 0 else ("paid_social" if i % 2 else "cpc"),
                    "utm_campaign": None if i % 4 == 0 else f"camp_{i % 3}",
                    "landing_page": f"/collections/item-{i % 6}",
                }
            )
    return pl.DataFrame(rows).with_columns(pl.col("event_ts").cast(pl.Datetime("us")))


def build_world() -> World:
    campaigns = _campaigns()
    ad_groups = _ad_groups()
    ads = _ads(ad_groups)
    contacts = _contacts()
    return World(
        meta=WorldMeta(preset="fixture", seed=0, start_date=DAYS[0], end_date=DAYS[-1]),
        tenants=pl.DataFrame(
            {
                "tenant_id": ["northwind", "bellavista"],
                "name": ["Northwind Outdoor", "Bellavista Casa"],
                "currency": ["USD", "EUR"],
                "timezone": ["America/New_York", "Europe/Berlin"],
            }
        ),
        accounts=pl.DataFrame(
            [
                ("northwind", "meta", META_NW, "Northwind - Meta", "USD", "America/New_York"),
                ("bellavista", "meta", META_BV, "Bellavista - Meta", "EUR", "Europe/Berlin"),
                ("northwind", "google_ads", GOOGLE_NW, "Northwind - Google", "USD", "America/New_York"),
                ("bellavista", "google_ads", GOOGLE_BV, "Bellavista - Google", "EUR", "Europe/Berlin"),
                ("northwind", "hubspot", "5550001", "Northwind CRM", "USD", "America/New_York"),
                ("bellavista", "hubspot", "5550002", "Bellavista CRM", "EUR", "Europe/Berlin"),
            ],
            schema=["tenant_id", "platform", "account_id", "name", "currency", "timezone"],
            orient="row",
        ),
        campaigns=campaigns,
        ad_groups=ad_groups,
        ads=ads,
        delivery=_delivery(ads),
        fx_rates=pl.DataFrame(
            {
                "date": DAYS * 2,
                "currency": ["USD"] * len(DAYS) + ["EUR"] * len(DAYS),
                "rate_to_usd": [1.0] * len(DAYS) + [round(1.08 + 0.001 * i, 4) for i in range(len(DAYS))],
            }
        ),
        contacts=contacts,
        deals=_deals(contacts),
        touchpoints=_touchpoints(),
    )


class FixtureState:
    """Stands in for `SandboxState`: the world, today's date, and status/budget writes."""

    def __init__(self, world_dir: Path | None = None) -> None:
        self.world = build_world()
        self.today = TODAY
        self.world_dir = world_dir
        self.mutations: list[dict[str, Any]] = []

    def find_entity(self, platform: str, entity_id: str) -> dict[str, Any] | None:
        for table, column in _TABLE_ID:
            rows = getattr(self.world, table).filter(
                (pl.col("platform") == platform) & (pl.col(column) == entity_id)
            )
            if rows.height:
                return {"entity_type": table.rstrip("s"), **rows.row(0, named=True)}
        return None

    def set_status(self, platform: str, entity_type: str, entity_id: str, status: str) -> None:
        self._update(platform, entity_type, entity_id, "status", status)

    def set_daily_budget(self, platform: str, entity_type: str, entity_id: str, amount: float) -> None:
        self._update(platform, entity_type, entity_id, "daily_budget", float(amount))

    def _update(self, platform: str, entity_type: str, entity_id: str, column: str, value: Any) -> None:
        for table, id_column in _TABLE_ID:
            frame = getattr(self.world, table)
            hit = (pl.col("platform") == platform) & (pl.col(id_column) == entity_id)
            if table == f"{entity_type}s" and column in frame.columns and frame.filter(hit).height:
                setattr(
                    self.world,
                    table,
                    frame.with_columns(
                        pl.when(hit).then(pl.lit(value)).otherwise(pl.col(column)).alias(column)
                    ),
                )
                self.mutations.append(
                    {
                        "platform": platform,
                        "entity_id": entity_id,
                        column: value,
                        "effective_date": self.today,
                    }
                )
                return
        raise KeyError(f"no {platform} {entity_type} {entity_id} with a {column}")


# ---- helpers for the API tests ----------------------------------------------------------------------

META_TOKEN = "test-meta-token"
GOOGLE_HEADERS = {"Authorization": "Bearer test-google-token", "developer-token": "dev-token"}
HUBSPOT_NW = {"Authorization": "Bearer sandbox-northwind"}
HUBSPOT_BV = {"Authorization": "Bearer sandbox-bellavista"}


def make_api(state: Any | None = None, faults: FaultConfig | None = None, **kwargs: Any) -> SandboxAPI:
    return SandboxAPI(state if state is not None else FixtureState(), faults, **kwargs)


def make_client(api: SandboxAPI) -> httpx.Client:
    return httpx.Client(transport=api.transport(), timeout=5)
