"""What the activation layer needs from the connector clients, and nothing more.

The executor never builds HTTP requests: it calls these methods on clients it is handed. The real
clients live in `connectors/` (`MetaAdsClient`, `GoogleAdsClient`); tests pass fakes. Any client whose
methods match these shapes works (structural typing, no inheritance needed).

Errors: a client signals failure by raising (the connectors raise `connectors.errors.ConnectorError`
subclasses). The executor turns any exception into a 'failed' outcome carrying its message; it never
lets one escape, so one bad decision does not stop the others.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class MetaAdsPort(Protocol):
    """The slice of `connectors.meta_ads.MetaAdsClient` the executor uses.

    - `get_object(object_id, fields)`: `GET /{object_id}?fields=...`; returns the object's JSON, e.g.
      `{"id": "123", "status": "ACTIVE"}`.
    - `update_object(object_id, *, status=None, daily_budget_minor=None, idempotency_key=None)`:
      `POST /{object_id}` with only the given fields; the key is sent as `X-Idempotency-Key` so a retry
      is applied once. Returns the response JSON (Meta answers `{"success": true}`).
    """

    def get_object(self, object_id: str, fields: Sequence[str]) -> Mapping[str, Any]: ...

    def update_object(
        self,
        object_id: str,
        *,
        status: str | None = None,
        daily_budget_minor: int | None = None,
        idempotency_key: str | None = None,
    ) -> Mapping[str, Any]: ...


class MutateOutcome(Protocol):
    """What a Google mutate returns (`connectors.google_ads.MutateResult`): `ok` is False when any
    operation failed; `partial_failures` lists the per-operation errors (each with a `message`)."""

    @property
    def ok(self) -> bool: ...

    @property
    def partial_failures(self) -> Sequence[Any]: ...


@runtime_checkable
class GoogleAdsPort(Protocol):
    """The slice of `connectors.google_ads.GoogleAdsClient` the executor uses (one client per customer).

    - `search_stream(query)`: run a GAQL query (`googleAds:searchStream`) and yield its batches as sent,
      `{"results": [{"adGroupAd": {"resourceName": "customers/1/adGroupAds/2~3", "status": "PAUSED"}}]}`.
    - `mutate_ad_group_ads(changes, *, validate_only=False, idempotency_key=None)`: status changes as
      `(adGroupAd resource name, "ENABLED"|"PAUSED")` pairs, sent with `partialFailure: true`; returns a
      `MutateOutcome`. `validate_only=True` is Google's free dry run.
    """

    def search_stream(self, query: str) -> Iterable[Mapping[str, Any]]: ...

    def mutate_ad_group_ads(
        self,
        changes: Sequence[tuple[str, str]],
        *,
        validate_only: bool = False,
        idempotency_key: str | None = None,
    ) -> MutateOutcome: ...


@runtime_checkable
class LinkedInAdsPort(Protocol):
    """The slice of `connectors.linkedin_ads.LinkedInAdsClient` the executor uses (one client per account).

    LinkedIn campaigns are the world's ad groups (status + daily budget); creatives are its ads.
    - `get_campaign(campaign_id)`: the campaign's JSON, `{"id", "status", "dailyBudget": {"amount": "50.00",
      "currencyCode": "USD"}, ...}`.
    - `update_campaign(campaign_id, *, status=None, daily_budget=None, idempotency_key=None)`: one
      PARTIAL_UPDATE (`{"patch": {"$set": {...}}}`); LinkedIn answers 204, so it returns nothing.
    - `get_creative(creative_id)` / `update_creative_status(creative_id, status, *, idempotency_key=None)`:
      the creative's `intendedStatus`.
    """

    def get_campaign(self, campaign_id: str) -> Mapping[str, Any]: ...

    def update_campaign(
        self,
        campaign_id: str,
        *,
        status: str | None = None,
        daily_budget: Any = None,
        idempotency_key: str | None = None,
    ) -> Any: ...

    def get_creative(self, creative_id: str) -> Mapping[str, Any]: ...

    def update_creative_status(
        self, creative_id: str, status: str, *, idempotency_key: str | None = None
    ) -> Any: ...


@runtime_checkable
class TikTokAdsPort(Protocol):
    """The slice of `connectors.tiktok_ads.TikTokAdsClient` the executor uses (one client per advertiser).

    - `get_adgroups(ids)` / `get_ads(ids)`: the objects as TikTok lists them (`operation_status`
      ENABLE | DISABLE, ad groups with `budget` and `budget_mode`).
    - `update_adgroup_status(ids, "DISABLE", *, idempotency_key)`, `update_ad_status(...)`,
      `update_adgroup_budget(id, amount, *, idempotency_key)`: the writes; a non-zero `code` in the
      answer raises (the client reads it on every HTTP 200).
    """

    def get_adgroups(self, adgroup_ids: Sequence[str]) -> Sequence[Mapping[str, Any]]: ...

    def get_ads(self, ad_ids: Sequence[str]) -> Sequence[Mapping[str, Any]]: ...

    def update_adgroup_status(
        self, adgroup_ids: Sequence[str], operation_status: str, *, idempotency_key: str | None = None
    ) -> Any: ...

    def update_ad_status(
        self, ad_ids: Sequence[str], operation_status: str, *, idempotency_key: str | None = None
    ) -> Any: ...

    def update_adgroup_budget(
        self, adgroup_id: str, budget: Any, *, idempotency_key: str | None = None
    ) -> Any: ...


def normalize_account_id(platform: str, account_id: str) -> str:
    """Meta accounts appear as 'act_123' or '123'; Google customers as '123-456-7890' or '1234567890';
    LinkedIn accounts as 'urn:li:sponsoredAccount:123' or '123'."""
    text = str(account_id).strip()
    if platform == "meta" and text.startswith("act_"):
        text = text[len("act_") :]
    if platform == "linkedin":
        text = text.removeprefix("urn:li:sponsoredAccount:")
    if platform == "google_ads":
        text = text.replace("-", "")
    return text


@dataclass(frozen=True)
class PlatformClients:
    """Connector clients by platform and account (clients are constructed per account).

    `meta` is keyed by Meta ad account id, `google_ads` by Google Ads customer id, `linkedin` by LinkedIn
    ad account id, `tiktok` by TikTok advertiser id; either spelling ('act_123' / '123',
    '123-456-7890' / '1234567890', 'urn:li:sponsoredAccount:1' / '1') finds the client.
    """

    meta: Mapping[str, MetaAdsPort] = field(default_factory=dict)
    google_ads: Mapping[str, GoogleAdsPort] = field(default_factory=dict)
    linkedin: Mapping[str, LinkedInAdsPort] = field(default_factory=dict)
    tiktok: Mapping[str, TikTokAdsPort] = field(default_factory=dict)

    def for_account(self, platform: str, account_id: str) -> Any | None:
        tables: dict[str, Mapping[str, Any]] = {
            "meta": self.meta,
            "google_ads": self.google_ads,
            "linkedin": self.linkedin,
            "tiktok": self.tiktok,
        }
        table = tables.get(platform)
        if table is None:
            return None
        wanted = normalize_account_id(platform, account_id)
        for key, client in table.items():
            if normalize_account_id(platform, key) == wanted:
                return client
        return None


def accepts_keyword(method: Any, name: str) -> bool:
    """True when `method` declares a parameter called `name` explicitly.

    A bare `**kwargs` does not count: a client that would forward an unknown `validate_only` as a
    request parameter might ignore it and really apply the change, which a dry run must never risk.
    """
    try:
        params = inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False
    param = params.get(name)
    return param is not None and param.kind in (
        inspect.Parameter.KEYWORD_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
    )
