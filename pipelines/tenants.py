"""Which tenants (brands) exist, which platform accounts each owns, and where their tokens come from.

Sandbox mode reads the accounts from the sandbox world. Live mode reads `MOS_TENANTS_FILE` (YAML, see
README) and takes every token from the environment: the file names variables, never secrets.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import yaml


@dataclass(frozen=True)
class Tenant:
    tenant_id: str
    name: str
    currency: str
    timezone: str
    meta_accounts: tuple[str, ...] = ()
    google_ads_customers: tuple[str, ...] = ()
    has_hubspot: bool = False
    linkedin_accounts: tuple[str, ...] = ()
    tiktok_advertisers: tuple[str, ...] = ()
    has_mailchimp: bool = False
    has_social: bool = False
    listening_keyword: str = ""  # what the social-listening API searches mentions for (the brand)
    token_env: dict[str, str] = field(default_factory=dict, hash=False, compare=False)


class MissingCredentialError(RuntimeError):
    """A live-mode token is not set. The message names the variable, never a value."""


def tenants_from_world(tenants: pl.DataFrame, accounts: pl.DataFrame) -> list[Tenant]:
    out: list[Tenant] = []
    for row in tenants.sort("tenant_id").iter_rows(named=True):
        mine = accounts.filter(pl.col("tenant_id") == row["tenant_id"])

        def ids(platform: str, mine: pl.DataFrame = mine) -> tuple[str, ...]:
            return tuple(sorted(mine.filter(pl.col("platform") == platform)["account_id"].to_list()))

        out.append(
            Tenant(
                tenant_id=row["tenant_id"],
                name=row["name"],
                currency=row["currency"],
                timezone=row["timezone"],
                meta_accounts=ids("meta"),
                google_ads_customers=ids("google_ads"),
                has_hubspot=bool(ids("hubspot")),
                linkedin_accounts=ids("linkedin"),
                tiktok_advertisers=ids("tiktok"),
                # Every sandbox brand emails and posts (connectors/sandbox/owned.py).
                has_mailchimp=True,
                has_social=True,
                listening_keyword=row["tenant_id"],
            )
        )
    return out


def tenants_from_file(path: Path) -> list[Tenant]:
    """Parse the live tenants file; errors name the file and the offending entry."""
    try:
        doc = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"tenants file not found: {path} (set MOS_TENANTS_FILE)") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("tenants"), list):
        raise ValueError(f"{path}: expected a top-level 'tenants:' list")
    out = []
    for index, entry in enumerate(doc["tenants"]):
        where = f"{path}: tenants[{index}]"
        missing = [k for k in ("tenant_id", "currency", "timezone") if k not in entry]
        if missing:
            raise ValueError(f"{where}: missing {', '.join(missing)}")
        tid = str(entry["tenant_id"])
        default_env = {
            "meta": f"MOS_{tid.upper()}_META_TOKEN",
            "google_ads": f"MOS_{tid.upper()}_GOOGLE_ADS_TOKEN",
            "google_ads_developer": "GOOGLE_ADS_DEVELOPER_TOKEN",
            "hubspot": f"MOS_{tid.upper()}_HUBSPOT_TOKEN",
            "linkedin": f"MOS_{tid.upper()}_LINKEDIN_TOKEN",
            "tiktok": f"MOS_{tid.upper()}_TIKTOK_TOKEN",
            "mailchimp": f"MOS_{tid.upper()}_MAILCHIMP_TOKEN",
            "social": f"MOS_{tid.upper()}_SOCIAL_TOKEN",
        }
        default_env.update({k: str(v) for k, v in (entry.get("token_env") or {}).items()})
        out.append(
            Tenant(
                tenant_id=tid,
                name=str(entry.get("name", tid)),
                currency=str(entry["currency"]),
                timezone=str(entry["timezone"]),
                meta_accounts=tuple(str(a) for a in entry.get("meta_accounts", [])),
                google_ads_customers=tuple(
                    str(c).replace("-", "") for c in entry.get("google_ads_customers", [])
                ),
                has_hubspot=bool(entry.get("hubspot", False)),
                linkedin_accounts=tuple(
                    str(a).removeprefix("urn:li:sponsoredAccount:")
                    for a in entry.get("linkedin_accounts", [])
                ),
                tiktok_advertisers=tuple(str(a) for a in entry.get("tiktok_advertisers", [])),
                has_mailchimp=bool(entry.get("mailchimp", False)),
                has_social=bool(entry.get("social", False)),
                listening_keyword=str(entry.get("listening_keyword", entry.get("name", tid))),
                token_env=default_env,
            )
        )
    return out


def token_for(tenant: Tenant, platform: str, *, sandbox: bool) -> str:
    """The tenant's token for a platform: sandbox tokens are public; live ones come from the env."""
    if sandbox:
        return f"sandbox-{tenant.tenant_id}"
    variable = tenant.token_env.get(platform)
    value = os.environ.get(variable or "")
    if not variable or not value:
        raise MissingCredentialError(
            f"tenant {tenant.tenant_id}: no {platform} token; set the environment variable {variable}"
        )
    return value
