"""Frame builders and fake connector clients for the activation tests."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import polars as pl

from connectors.errors import ConnectorError  # the real hierarchy the clients raise

__all__ = ["ConnectorError"]

AS_OF = date(2026, 3, 14)

PERF_SCHEMA = {
    "tenant_id": pl.Utf8,
    "date": pl.Date,
    "platform": pl.Utf8,
    "account_id": pl.Utf8,
    "campaign_id": pl.Utf8,
    "ad_group_id": pl.Utf8,
    "ad_id": pl.Utf8,
    "currency": pl.Utf8,
    "spend": pl.Float64,
    "impressions": pl.Int64,
    "clicks": pl.Int64,
    "platform_conversions": pl.Float64,
}


@dataclass
class World:
    """A tiny hand-built marts world: add ads with their window totals, then take the three frames."""

    as_of: date = AS_OF
    days: int = 14
    perf_rows: list[dict[str, Any]] = field(default_factory=list)
    campaign_rows: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    ad_rows: list[dict[str, Any]] = field(default_factory=list)

    def campaign(
        self,
        campaign_id: str,
        *,
        target_cpa: float | None = 20.0,
        tenant: str = "northwind",
        platform: str = "meta",
        status: str = "ACTIVE",
        currency: str = "USD",
    ) -> World:
        self.campaign_rows[(tenant, platform, campaign_id)] = {
            "tenant_id": tenant,
            "platform": platform,
            "campaign_id": campaign_id,
            "name": f"campaign {campaign_id}",
            "status": status,
            "currency": currency,
            "target_cpa": target_cpa,
            "daily_budget": 100.0,
        }
        return self

    def ad(
        self,
        ad_id: str,
        *,
        spend: float,
        conversions: float,
        ad_group: str = "g1",
        campaign: str = "c1",
        tenant: str = "northwind",
        platform: str = "meta",
        account: str = "111",
        status: str = "ACTIVE",
        currency: str = "USD",
        days_ago_offset: int = 0,
    ) -> World:
        """Spread `spend` evenly over the window's days; book all conversions on the last day."""
        if (tenant, platform, campaign) not in self.campaign_rows:
            self.campaign(campaign, tenant=tenant, platform=platform)
        for i in range(self.days):
            self.perf_rows.append(
                {
                    "tenant_id": tenant,
                    "date": self.as_of - timedelta(days=i + days_ago_offset),
                    "platform": platform,
                    "account_id": account,
                    "campaign_id": campaign,
                    "ad_group_id": ad_group,
                    "ad_id": ad_id,
                    "currency": currency,
                    "spend": spend / self.days,
                    "impressions": 1000,
                    "clicks": 20,
                    "platform_conversions": float(conversions) if i == 0 else 0.0,
                }
            )
        self.ad_rows.append(
            {
                "tenant_id": tenant,
                "platform": platform,
                "ad_id": ad_id,
                "campaign_id": campaign,
                "ad_group_id": ad_group,
                "name": f"ad {ad_id}",
                "status": status,
            }
        )
        return self

    def frames(self) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
        perf = pl.DataFrame(self.perf_rows, schema=PERF_SCHEMA)
        campaigns = pl.DataFrame(
            list(self.campaign_rows.values()),
            schema={
                "tenant_id": pl.Utf8,
                "platform": pl.Utf8,
                "campaign_id": pl.Utf8,
                "name": pl.Utf8,
                "status": pl.Utf8,
                "currency": pl.Utf8,
                "target_cpa": pl.Float64,
                "daily_budget": pl.Float64,
            },
        )
        ads = pl.DataFrame(
            self.ad_rows,
            schema={
                "tenant_id": pl.Utf8,
                "platform": pl.Utf8,
                "ad_id": pl.Utf8,
                "campaign_id": pl.Utf8,
                "ad_group_id": pl.Utf8,
                "name": pl.Utf8,
                "status": pl.Utf8,
            },
        )
        return perf, campaigns, ads


# --- fake connector clients -----------------------------------------------------------------------


@dataclass
class FakeMetaClient:
    """Speaks MetaAdsPort. Writes with an idempotency key already seen are not applied again."""

    statuses: dict[str, str]
    access_token: str = "EAAB-secret-token"
    errors: dict[str, Exception] = field(default_factory=dict)  # ad_id -> raised on any call
    ignore_writes: bool = False  # the platform answers success but nothing changes
    reads: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    writes: list[dict[str, Any]] = field(default_factory=list)
    applied_keys: set[str] = field(default_factory=set)

    def get_object(self, object_id: str, fields: Sequence[str]) -> Mapping[str, Any]:
        self.reads.append((object_id, tuple(fields)))
        if object_id in self.errors:
            raise self.errors[object_id]
        return {"id": object_id, "status": self.statuses[object_id]}

    def update_object(
        self,
        object_id: str,
        *,
        status: str | None = None,
        daily_budget_minor: int | None = None,
        idempotency_key: str | None = None,
    ) -> Mapping[str, Any]:
        self.writes.append(
            {"object_id": object_id, "status": status, "budget": daily_budget_minor, "key": idempotency_key}
        )
        if object_id in self.errors:
            raise self.errors[object_id]
        if idempotency_key is not None and idempotency_key in self.applied_keys:
            return {"success": True}
        if idempotency_key is not None:
            self.applied_keys.add(idempotency_key)
        if status is not None and not self.ignore_writes:
            self.statuses[object_id] = status
        return {"success": True}


_RESOURCE = re.compile(r"resource_name = '([^']+)'")


@dataclass(frozen=True)
class FakeFailure:
    message: str
    operation_index: int | None = 0


@dataclass
class FakeMutateResult:
    """Shaped like connectors.google_ads.MutateResult."""

    results: list[str | None]
    partial_failures: list[FakeFailure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.partial_failures


@dataclass
class FakeGoogleClient:
    """Speaks GoogleAdsPort; statuses keyed by ad group ad resource name."""

    statuses: dict[str, str]
    developer_token: str = "dev-secret-token"
    reject_validation: bool = False
    errors: dict[str, Exception] = field(default_factory=dict)  # resource -> raised
    searches: list[str] = field(default_factory=list)
    mutates: list[dict[str, Any]] = field(default_factory=list)

    def search_stream(self, query: str) -> Iterable[Mapping[str, Any]]:
        self.searches.append(query)
        match = _RESOURCE.search(query)
        assert match, query
        resource = match.group(1)
        if resource in self.errors:
            raise self.errors[resource]
        results = []
        if resource in self.statuses:
            results = [{"adGroupAd": {"resourceName": resource, "status": self.statuses[resource]}}]
        yield {"results": results, "fieldMask": "adGroupAd.resourceName,adGroupAd.status", "requestId": "r"}

    def mutate_ad_group_ads(
        self,
        changes: Sequence[tuple[str, str]],
        *,
        validate_only: bool = False,
        partial_failure: bool = True,
        idempotency_key: str | None = None,
    ) -> FakeMutateResult:
        self.mutates.append(
            {"changes": list(changes), "validate_only": validate_only, "key": idempotency_key}
        )
        for resource, _status in changes:
            if resource in self.errors:
                raise self.errors[resource]
        if validate_only and self.reject_validation:
            return FakeMutateResult([None], [FakeFailure(f"operation on {changes[0][0]} is invalid")])
        if not validate_only:
            for resource, status in changes:
                self.statuses[resource] = status
        return FakeMutateResult([None if validate_only else r for r, _ in changes])

    @property
    def writes(self) -> list[dict[str, Any]]:
        return [m for m in self.mutates if not m["validate_only"]]


@dataclass
class GoogleClientWithoutValidateOnly:
    """An older client shape: mutate without a validate_only parameter (dry run must not call it)."""

    statuses: dict[str, str]
    mutates: list[Any] = field(default_factory=list)

    def search_stream(self, query: str) -> Iterable[Mapping[str, Any]]:
        return []

    def mutate_ad_group_ads(self, changes: Sequence[tuple[str, str]], **kwargs: Any) -> FakeMutateResult:
        self.mutates.append((changes, kwargs))
        return FakeMutateResult([])
