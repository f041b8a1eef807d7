"""The decision record every activation policy produces and the executor consumes.

A decision is one proposed change to one platform entity. Its id is deterministic (the same policy,
version, entity, action and as-of date always give the same id) and doubles as the idempotency key sent
with the platform write, so a retried or re-run decision can never be applied twice (DESIGN.md §8).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

DecisionStatus = Literal["proposed", "applied", "failed", "skipped"]
DECISION_STATUSES: tuple[str, ...] = ("proposed", "applied", "failed", "skipped")

PLATFORM_META = "meta"
PLATFORM_GOOGLE_ADS = "google_ads"
PLATFORM_LINKEDIN = "linkedin"
PLATFORM_TIKTOK = "tiktok"

ACTION_PAUSE_AD = "pause_ad"
# LinkedIn campaigns / TikTok ad groups (world ad groups) own status and daily budget.
ACTION_PAUSE_AD_GROUP = "pause_ad_group"
ACTION_SET_DAILY_BUDGET = "set_daily_budget"  # new amount: evidence["new_daily_budget"], account currency
ENTITY_AD = "ad"
ENTITY_AD_GROUP = "ad_group"
ENTITY_CAMPAIGN = "campaign"


def make_decision_id(
    *,
    policy: str,
    policy_version: str,
    tenant_id: str,
    platform: str,
    entity_type: str,
    entity_id: str,
    action: str,
    as_of: date,
) -> str:
    """sha256 over the decision's identity, hex, first 32 characters.

    The parts are hashed as a JSON array so that no choice of ids can make two different decisions
    collide by shifting a separator.
    """
    parts = [
        str(policy),
        str(policy_version),
        str(tenant_id),
        str(platform),
        str(entity_type),
        str(entity_id),
        str(action),
        as_of.isoformat(),
    ]
    payload = json.dumps(parts, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class Decision:
    """One proposed (or skipped) change to one platform entity.

    `status` is what the policy decided: 'proposed' (actionable) or 'skipped' (a guardrail or a missing
    input stopped it; `reason` says which). The executor turns proposed decisions into 'applied' or
    'failed'. `account_id` and `ad_group_id` locate the entity on the platform (Google's ad resource
    name needs both); activation.decisions has no column for them, so records.py keeps them in
    `evidence` and `decisions_from_frame` restores them.
    """

    decision_id: str
    policy: str
    policy_version: str
    tenant_id: str
    platform: str
    account_id: str
    action: str
    entity_type: str
    entity_id: str
    campaign_id: str | None
    ad_group_id: str | None
    as_of: date
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict, hash=False)
    expected_impact: dict[str, Any] = field(default_factory=dict, hash=False)
    status: DecisionStatus = "proposed"

    @property
    def idempotency_key(self) -> str:
        return self.decision_id

    @property
    def is_actionable(self) -> bool:
        return self.status == "proposed"
