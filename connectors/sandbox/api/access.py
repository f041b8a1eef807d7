"""How the fake APIs read and write the sandbox state: the one seam to `SandboxState`.

Reads go through `state.world` tables (INTERFACES.md §1); writes through
`state.set_status(platform, entity_type, entity_id, status)` and
`state.set_daily_budget(platform, entity_type, entity_id, amount)` (connectors/sandbox/state.py), which
record the change and alter the days simulated after it. The handlers validate a write fully before
calling the state, so a state error here is a bug, not a client error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from connectors.sandbox.api.common import FrameCache

ENTITY_KINDS = ("campaign", "ad_group", "ad")
_ID_COLUMN = {"campaign": "campaign_id", "ad_group": "ad_group_id", "ad": "ad_id"}
_TABLE = {"campaign": "campaigns", "ad_group": "ad_groups", "ad": "ads"}


@dataclass(frozen=True)
class Account:
    tenant_id: str
    platform: str
    account_id: str
    name: str
    currency: str
    timezone: str


@dataclass(frozen=True)
class Entity:
    """A campaign, ad group (Meta ad set) or ad with its parents, as the world has it now."""

    kind: str
    platform: str
    tenant_id: str
    account_id: str
    campaign_id: str
    ad_group_id: str | None
    ad_id: str | None
    row: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.row[_ID_COLUMN[self.kind]])


class WorldAccess:
    def __init__(self, state: Any) -> None:
        self.state = state
        self.cache = FrameCache()

    # ---- state -----------------------------------------------------------------------------------
    @property
    def world(self) -> Any:
        return self.state.world

    @property
    def today(self) -> date:
        return self.state.today

    @property
    def world_dir(self) -> Path | None:
        raw = getattr(self.state, "world_dir", None)
        return Path(raw) if raw is not None else None

    def table(self, name: str) -> pl.DataFrame:
        return getattr(self.world, name)

    # ---- tenants and accounts --------------------------------------------------------------------
    def tenant_ids(self) -> set[str]:
        frame = self.table("tenants")
        return self.cache.get("tenant_ids", [frame], lambda: set(frame["tenant_id"].to_list()))

    def tenant(self, tenant_id: str) -> dict[str, Any] | None:
        frame = self.table("tenants")
        rows = self.cache.get("tenants", [frame], lambda: {r["tenant_id"]: r for r in frame.to_dicts()})
        return rows.get(tenant_id)

    def _accounts(self) -> dict[tuple[str, str], Account]:
        frame = self.table("accounts")

        def build() -> dict[tuple[str, str], Account]:
            return {
                (r["platform"], str(r["account_id"])): Account(
                    tenant_id=r["tenant_id"],
                    platform=r["platform"],
                    account_id=str(r["account_id"]),
                    name=r["name"],
                    currency=r["currency"],
                    timezone=r["timezone"],
                )
                for r in frame.to_dicts()
            }

        return self.cache.get("accounts", [frame], build)

    def account(self, platform: str, account_id: str) -> Account | None:
        return self._accounts().get((platform, str(account_id)))

    def accounts(self, platform: str, tenant_id: str | None = None) -> list[Account]:
        found = [a for (p, _), a in self._accounts().items() if p == platform]
        if tenant_id is not None:
            found = [a for a in found if a.tenant_id == tenant_id]
        return sorted(found, key=lambda a: a.account_id)

    # ---- entities --------------------------------------------------------------------------------
    def _entities(self) -> dict[tuple[str, str], Entity]:
        frames = [self.table(_TABLE[kind]) for kind in ENTITY_KINDS]

        def build() -> dict[tuple[str, str], Entity]:
            index: dict[tuple[str, str], Entity] = {}
            for kind, frame in zip(ENTITY_KINDS, frames, strict=True):
                for row in frame.to_dicts():
                    entity = Entity(
                        kind=kind,
                        platform=row["platform"],
                        tenant_id=row["tenant_id"],
                        account_id=str(row["account_id"]),
                        campaign_id=str(row["campaign_id"]),
                        ad_group_id=str(row["ad_group_id"]) if kind != "campaign" else None,
                        ad_id=str(row["ad_id"]) if kind == "ad" else None,
                        row=row,
                    )
                    index.setdefault((entity.platform, entity.id), entity)
            return index

        return self.cache.get("entities", frames, build)

    def entity(self, platform: str, entity_id: str, kind: str | None = None) -> Entity | None:
        found = self._entities().get((platform, str(entity_id)))
        if found is None or (kind is not None and found.kind != kind):
            return None
        return found

    def entities(self, platform: str, kind: str, account_id: str) -> list[Entity]:
        found = [
            e
            for (p, _), e in self._entities().items()
            if p == platform and e.kind == kind and e.account_id == account_id
        ]
        return sorted(found, key=lambda e: (len(e.id), e.id))

    def campaigns_with_budget(self, platform: str, account_id: str, budget_id: str) -> list[Entity]:
        return [
            e
            for e in self.entities(platform, "campaign", account_id)
            if e.row.get("budget_id") is not None and str(e.row["budget_id"]) == budget_id
        ]

    # ---- writes ----------------------------------------------------------------------------------
    def set_status(self, platform: str, entity: Entity, status: str) -> None:
        """World status is ACTIVE|PAUSED on every platform (Google's ENABLED maps to ACTIVE)."""
        self.state.set_status(platform, entity.kind, entity.id, status)

    def set_daily_budget(self, platform: str, entity: Entity, amount: float) -> None:
        """`amount` in the account currency; Meta: an ad set, Google: a campaign (its budget)."""
        self.state.set_daily_budget(platform, entity.kind, entity.id, amount)
