"""Dagster resources: the warehouse, and the platforms (sandbox in-process or live) with their clients."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from pydantic import Field, PrivateAttr

from pipelines import warehouse as wh
from pipelines.settings import DEFAULT_LOOKBACK_DAYS, Settings
from pipelines.tenants import Tenant, tenants_from_file, tenants_from_world, token_for


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse. Connections are short-lived: dbt needs the file's lock between assets."""

    path: str

    @contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        with wh.connect(Path(self.path), read_only=read_only) as con:
            yield con


class PlatformsResource(dg.ConfigurableResource):
    """Builds connector clients for every tenant's accounts.

    In sandbox mode the clients talk to the fake APIs through an in-process httpx transport over one
    `SandboxState` per run, so writes made by activation are seen by later reads in the same run.
    """

    mode: str = "sandbox"
    preset: str = "demo"
    seed: int = 7
    sandbox_dir: str = "data/sandbox"
    landing_dir: str = "data/landing"
    inbox_dir: str = "data/inbox"
    tenants_file: str = "mos_tenants.yml"
    fault_rate: float = 0.0
    fault_seed: int = 0
    fault_timeout_mode: str = "before"  # "after": a write is applied, then its answer is lost
    fault_kinds: str = ""  # comma-separated; empty = the transient kinds (429, throttle, 5xx, timeout)
    retry_base_delay: float = 0.5
    lookback_days: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_LOOKBACK_DAYS))

    _state: Any = PrivateAttr(default=None)
    _transport: Any = PrivateAttr(default=None)
    _clock: Any = PrivateAttr(default=None)
    _tenants: list[Tenant] | None = PrivateAttr(default=None)
    _linkedin_calls: Any = PrivateAttr(default=None)

    @property
    def sandbox(self) -> bool:
        return self.mode == "sandbox"

    # -- sandbox -----------------------------------------------------------------------------------
    def state(self) -> Any:
        if not self.sandbox:
            raise RuntimeError("the sandbox state exists only in sandbox mode")
        if self._state is None:
            from connectors.sandbox.generator import ensure_world
            from connectors.sandbox.state import SandboxState

            self._state = SandboxState(ensure_world(self.preset, self.seed, Path(self.sandbox_dir)))
        return self._state

    def transport(self) -> Any:
        if not self.sandbox:
            return None
        if self._transport is None:
            from connectors.sandbox.api import FaultConfig, SandboxAPI

            kinds = tuple(k.strip() for k in self.fault_kinds.split(",") if k.strip())
            faults = (
                FaultConfig(
                    rate=self.fault_rate,
                    seed=self.fault_seed,
                    timeout_mode=self.fault_timeout_mode,
                    **({"kinds": kinds} if kinds else {}),
                )
                if self.fault_rate > 0
                else None
            )
            self._transport = SandboxAPI(self.state(), faults, clock=self.clock().monotonic).transport()
        return self._transport

    def clock(self) -> Any:
        """Sandbox: a virtual clock shared by the fake APIs and the clients (pacing waits cost nothing)."""
        if self._clock is None:
            from connectors.sandbox.clock import VirtualClock

            self._clock = VirtualClock()
        return self._clock

    def _sleep(self) -> Any:
        return self.clock().sleep if self.sandbox else time.sleep

    def world_range(self) -> tuple[date, date]:
        world = self.state().world
        return world.meta.start_date, self.state().today

    def lookback_for(self, source: str) -> int:
        """Days a daily run of `source` re-pulls (settings: MOS_LOOKBACK_DAYS)."""
        return self.lookback_days.get(source, self.lookback_days.get("default", 7))

    def newest_day(self) -> date:
        """The newest day a platform can report: the sandbox's today, else yesterday."""
        return self.state().today if self.sandbox else date.today() - timedelta(days=1)

    # -- tenants and clients -----------------------------------------------------------------------
    def tenants(self) -> list[Tenant]:
        if self._tenants is None:
            if self.sandbox:
                world = self.state().world
                self._tenants = tenants_from_world(world.tenants, world.accounts)
            else:
                self._tenants = tenants_from_file(Path(self.tenants_file))
        return self._tenants

    def tenant(self, tenant_id: str) -> Tenant:
        for tenant in self.tenants():
            if tenant.tenant_id == tenant_id:
                return tenant
        raise KeyError(f"unknown tenant {tenant_id!r}")

    def landing(self) -> Any:
        from connectors.landing import LandingZone

        return LandingZone(Path(self.landing_dir))

    def retry_policy(self) -> Any:
        from connectors.http import RetryPolicy

        # The same policy in both modes: in the sandbox its waits pass on the virtual clock.
        return RetryPolicy(base_delay=self.retry_base_delay)

    def meta(self, tenant: Tenant, account_id: str) -> Any:
        from connectors.meta_ads import MetaAdsClient

        return MetaAdsClient(
            token_for(tenant, "meta", sandbox=self.sandbox),
            account_id,
            transport=self.transport(),
            retry=self.retry_policy(),
            landing=self.landing(),
            sleep=self._sleep(),
            tenant_id=tenant.tenant_id,
        )

    def google_ads(self, tenant: Tenant, customer_id: str) -> Any:
        from connectors.google_ads import GoogleAdsClient

        developer = (
            "sandbox-developer" if self.sandbox else token_for(tenant, "google_ads_developer", sandbox=False)
        )
        return GoogleAdsClient(
            token_for(tenant, "google_ads", sandbox=self.sandbox),
            developer,
            customer_id,
            transport=self.transport(),
            retry=self.retry_policy(),
            landing=self.landing(),
            sleep=self._sleep(),
            tenant_id=tenant.tenant_id,
        )

    def linkedin(self, tenant: Tenant, account_id: str) -> Any:
        from connectors.linkedin_ads import DailyCallBudget, LinkedInAdsClient

        if self._linkedin_calls is None:  # one app, one daily quota: every LinkedIn client counts here
            self._linkedin_calls = DailyCallBudget()
        return LinkedInAdsClient(
            token_for(tenant, "linkedin", sandbox=self.sandbox),
            account_id,
            transport=self.transport(),
            retry=self.retry_policy(),
            landing=self.landing(),
            sleep=self._sleep(),
            tenant_id=tenant.tenant_id,
            call_budget=self._linkedin_calls,
        )

    def tiktok(self, tenant: Tenant, advertiser_id: str) -> Any:
        from connectors.tiktok_ads import TikTokAdsClient

        return TikTokAdsClient(
            token_for(tenant, "tiktok", sandbox=self.sandbox),
            advertiser_id,
            transport=self.transport(),
            retry=self.retry_policy(),
            landing=self.landing(),
            sleep=self._sleep(),
            tenant_id=tenant.tenant_id,
        )

    def hubspot(self, tenant: Tenant) -> Any:
        from connectors.hubspot import HubSpotClient

        return HubSpotClient(
            token_for(tenant, "hubspot", sandbox=self.sandbox),
            transport=self.transport(),
            retry=self.retry_policy(),
            landing=self.landing(),
            sleep=self._sleep(),
            tenant_id=tenant.tenant_id,
        )

    def mailchimp(self, tenant: Tenant) -> Any:
        from connectors.mailchimp import MailchimpClient

        # Sandbox keys are `sandbox-<tenant>-us21` (the data centre is the key's suffix).
        key = token_for(tenant, "mailchimp", sandbox=self.sandbox)
        return MailchimpClient(
            f"{key}-us21" if self.sandbox else key,
            transport=self.transport(),
            retry=self.retry_policy(),
            landing=self.landing(),
            sleep=self._sleep(),
            tenant_id=tenant.tenant_id,
        )

    def social(self, tenant: Tenant) -> Any:
        from connectors.social import SocialClient

        # Live: the listening vendor's endpoint (the sandbox's API mirrors its shape).
        base_url = None if self.sandbox else os.environ.get("MOS_SOCIAL_BASE_URL")
        return SocialClient(
            token_for(tenant, "social", sandbox=self.sandbox),
            **({"base_url": base_url} if base_url else {}),
            transport=self.transport(),
            retry=self.retry_policy(),
            landing=self.landing(),
            sleep=self._sleep(),
            tenant_id=tenant.tenant_id,
        )


def resources_from_settings(settings: Settings) -> dict[str, Any]:
    from pipelines.assets.activation import ActivationResource
    from pipelines.dbt import LOCAL_DBT, MarketingDbtCliResource, dbt_project

    return {
        "warehouse": WarehouseResource(path=str(settings.warehouse)),
        "activation": ActivationResource(dry_run=settings.dry_run),
        "platforms": PlatformsResource(
            mode=settings.mode,
            preset=settings.preset,
            seed=settings.seed,
            sandbox_dir=str(settings.sandbox_dir),
            landing_dir=str(settings.landing),
            inbox_dir=str(settings.inbox),
            fault_rate=settings.fault_rate,
            fault_timeout_mode=settings.fault_timeout_mode,
            fault_kinds=settings.fault_kinds,
            lookback_days=dict(settings.lookback_days),
        ),
        # The dbt next to this interpreter: PATH may not include the virtual environment.
        "dbt": MarketingDbtCliResource(
            project_dir=dbt_project(),
            profiles_dir=str(dbt_project().profiles_dir),
            dbt_executable=str(LOCAL_DBT),
        ),
    }
