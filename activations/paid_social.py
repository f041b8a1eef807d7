"""LinkedIn and TikTok entities as the executor sees them: read a status or a daily budget, write it.

One small adapter per platform over the connector client (activations.ports): the executor keeps its
own semantics (read, write once with the decision's idempotency key, read back) for every platform,
and only this module knows that a LinkedIn ad group is a campaign with `dailyBudget.amount`, or that
TikTok says ENABLE/DISABLE and keeps a daily budget only in BUDGET_MODE_DAY.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from activations.decisions import ENTITY_AD, ENTITY_AD_GROUP, PLATFORM_LINKEDIN, PLATFORM_TIKTOK

_TIKTOK_TO_STATUS = {"ENABLE": "ACTIVE", "DISABLE": "PAUSED", "DELETE": "DELETED"}
_STATUS_TO_TIKTOK = {"ACTIVE": "ENABLE", "PAUSED": "DISABLE"}


class TargetError(ValueError):
    """The decision cannot be carried out on this platform (unsupported entity, bad amount, no budget)."""


def budget_amount(raw: Any) -> Decimal:
    """A daily budget from a decision: a positive amount with at most two decimals."""
    try:
        amount = Decimal(str(raw))
    except (InvalidOperation, ValueError):
        raise TargetError(f"new_daily_budget must be an amount like '25.00', got {raw!r}") from None
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise TargetError(f"new_daily_budget must be positive with at most two decimals, got {raw!r}")
    return amount


@dataclass
class LinkedInTarget:
    """A LinkedIn creative (entity 'ad') or campaign (entity 'ad_group')."""

    client: Any
    entity_type: str
    entity_id: str

    label = "LinkedIn"

    @property
    def noun(self) -> str:
        return "creative" if self.entity_type == ENTITY_AD else "campaign"

    def _read(self) -> Mapping[str, Any]:
        if self.entity_type == ENTITY_AD:
            return self.client.get_creative(self.entity_id)
        return self.client.get_campaign(self.entity_id)

    def status(self) -> str | None:
        body = self._read()
        status = body.get("intendedStatus" if self.entity_type == ENTITY_AD else "status")
        return None if status is None else str(status).upper()

    def set_status(self, status: str, key: str) -> None:
        if self.entity_type == ENTITY_AD:
            self.client.update_creative_status(self.entity_id, status, idempotency_key=key)
        else:
            self.client.update_campaign(self.entity_id, status=status, idempotency_key=key)

    def budget(self) -> Decimal | None:
        budget = self._read().get("dailyBudget")
        return Decimal(str(budget["amount"])) if isinstance(budget, Mapping) and "amount" in budget else None

    def set_budget(self, amount: Decimal, key: str) -> None:
        self.client.update_campaign(self.entity_id, daily_budget=amount, idempotency_key=key)


@dataclass
class TikTokTarget:
    """A TikTok ad (entity 'ad') or ad group (entity 'ad_group')."""

    client: Any
    entity_type: str
    entity_id: str

    label = "TikTok"

    @property
    def noun(self) -> str:
        return "ad" if self.entity_type == ENTITY_AD else "ad group"

    def _read(self) -> Mapping[str, Any] | None:
        found = (
            self.client.get_ads([self.entity_id])
            if self.entity_type == ENTITY_AD
            else self.client.get_adgroups([self.entity_id])
        )
        key = "ad_id" if self.entity_type == ENTITY_AD else "adgroup_id"
        return next((row for row in found if str(row.get(key)) == self.entity_id), None)

    def status(self) -> str | None:
        row = self._read()
        raw = None if row is None else row.get("operation_status")
        return None if raw is None else _TIKTOK_TO_STATUS.get(str(raw).upper(), str(raw).upper())

    def set_status(self, status: str, key: str) -> None:
        operation = _STATUS_TO_TIKTOK[status]
        if self.entity_type == ENTITY_AD:
            self.client.update_ad_status([self.entity_id], operation, idempotency_key=key)
        else:
            self.client.update_adgroup_status([self.entity_id], operation, idempotency_key=key)

    def budget(self) -> Decimal | None:
        row = self._read()
        if row is None or row.get("budget_mode") != "BUDGET_MODE_DAY" or row.get("budget") is None:
            return None
        value = row["budget"]
        return Decimal(repr(value) if isinstance(value, float) else str(value)).quantize(Decimal("0.01"))

    def set_budget(self, amount: Decimal, key: str) -> None:
        self.client.update_adgroup_budget(self.entity_id, amount, idempotency_key=key)


def target_for(platform: str, client: Any, entity_type: str, entity_id: str) -> LinkedInTarget | TikTokTarget:
    if entity_type not in (ENTITY_AD, ENTITY_AD_GROUP):
        raise TargetError(f"{platform}: entity type {entity_type!r} is not supported (ad, ad_group)")
    if not str(entity_id).isdigit():
        raise TargetError(f"invalid {platform} id {entity_id!r}: expected digits")
    if platform == PLATFORM_LINKEDIN:
        return LinkedInTarget(client, entity_type, str(entity_id))
    if platform == PLATFORM_TIKTOK:
        return TikTokTarget(client, entity_type, str(entity_id))
    raise TargetError(f"unsupported platform {platform!r}")
