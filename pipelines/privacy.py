"""The erasure step: a person who asked to be forgotten is removed from everything the warehouse loaded.

For each tenant, every request in `raw.erasure_requests` (contact id and/or SHA-256 of the email) is
matched against `raw.hubspot_contacts` (by id, or by the SHA-256 of the trimmed, lower-cased email).
Then, in one transaction:

- the matched contacts are remembered in `ops.erasure_suppression` (request, contact id, SHA-256 of the
  web `anonymous_id`): only hashes, so later re-imports of the same person can be erased again;
- `raw.touchpoints` of those anonymous ids are deleted (matched by hash, so also after the contact is
  gone: touchpoint files of the look-back window are re-imported every day);
- `raw.offline_conversions` of the person (contact id or email hash) are deleted;
- `raw.hubspot_deals` of the person keep their amount and stage (revenue stays true) but lose the name
  (`dealname` holds the buyer's name): set to null;
- `raw.hubspot_contacts` rows of the person are deleted;
- `ops.quarantine` records that mention the person (quoted contact id, email hash) are deleted.

Running it again deletes nothing more: the step is idempotent. It never touches files (the inbox and the
landing zone keep what was dropped; see README, "Privacy").
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb

from pipelines.warehouse import log_load

SOURCE = "erasure"


@dataclass
class ErasureOutcome:
    tenant_id: str
    requests: int = 0
    deleted: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.deleted.values())


_MATCHED_CONTACTS = """
    with contacts as (
        select id, anonymous_id, sha256(lower(trim(email))) as email_sha256
        from raw.hubspot_contacts
        where tenant_id = $tenant
    ),
    requests as (
        select request_id, contact_id, email_sha256 from raw.erasure_requests where tenant_id = $tenant
    )
    select requests.request_id, contacts.id as contact_id, contacts.anonymous_id
    from requests join contacts on contacts.id = requests.contact_id
    union
    select requests.request_id, contacts.id as contact_id, contacts.anonymous_id
    from requests join contacts on contacts.email_sha256 = requests.email_sha256
"""

# Every statement is parameterised by $tenant only; the people come from the tables themselves.
_STEPS: tuple[tuple[str, str], ...] = (
    (
        "raw.touchpoints",
        """delete from raw.touchpoints
        where tenant_id = $tenant and anonymous_id is not null
          and sha256(anonymous_id) in (
              select anonymous_id_sha256 from ops.erasure_suppression
              where tenant_id = $tenant and anonymous_id_sha256 is not null)""",
    ),
    (
        "raw.offline_conversions",
        """delete from raw.offline_conversions
        where tenant_id = $tenant and (
            contact_id in (select contact_id from ops.erasure_suppression where tenant_id = $tenant)
            or contact_id in (select contact_id from raw.erasure_requests where tenant_id = $tenant)
            or email_sha256 in (select email_sha256 from raw.erasure_requests where tenant_id = $tenant))""",
    ),
    (
        "raw.hubspot_deals",
        """update raw.hubspot_deals set dealname = null
        where tenant_id = $tenant and dealname is not null and (
            contact_id in (select contact_id from ops.erasure_suppression where tenant_id = $tenant)
            or contact_id in (select contact_id from raw.erasure_requests where tenant_id = $tenant))""",
    ),
    (
        "raw.hubspot_contacts",
        """delete from raw.hubspot_contacts
        where tenant_id = $tenant and (
            id in (select contact_id from ops.erasure_suppression where tenant_id = $tenant)
            or id in (select contact_id from raw.erasure_requests where tenant_id = $tenant))""",
    ),
    (
        "ops.quarantine",
        """delete from ops.quarantine q
        where tenant_id = $tenant and source <> 'erasure_requests' and exists (
            select 1 from (
                select contact_id as token from ops.erasure_suppression where tenant_id = $tenant
                union select contact_id from raw.erasure_requests where tenant_id = $tenant
                union select email_sha256 from raw.erasure_requests where tenant_id = $tenant
            ) people
            where people.token is not null and position('"' || people.token || '"' in q.record) > 0)""",
    ),
)


def apply_erasures(con: duckdb.DuckDBPyConnection, tenant_id: str, run_id: str) -> ErasureOutcome:
    """Erase every person the tenant's loaded requests name, everywhere in raw (one transaction)."""
    started = datetime.now(UTC).replace(tzinfo=None)
    outcome = ErasureOutcome(tenant_id)
    params = {"tenant": tenant_id}
    con.execute("begin transaction")
    try:
        outcome.requests = con.execute(
            "select count(*) from raw.erasure_requests where tenant_id = $tenant", params
        ).fetchone()[0]
        con.execute(
            f"""insert or ignore into ops.erasure_suppression
            select $tenant, request_id, contact_id, sha256(anonymous_id), $now
            from ({_MATCHED_CONTACTS})""",
            {**params, "now": started},
        )
        for table, sql in _STEPS:
            outcome.deleted[table] = con.execute(sql, params).fetchone()[0]
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    log_load(
        con,
        [
            {
                "run_id": run_id,
                "tenant_id": tenant_id,
                "source": SOURCE,
                "partition": "all",
                "rows_loaded": 0,
                "rows_quarantined": 0,
                "pages": 0,
                "status": "ok",
                "detail": json.dumps({"requests": outcome.requests, "rows_changed": outcome.deleted}),
                "started_at": started,
                "finished_at": datetime.now(UTC).replace(tzinfo=None),
            }
        ],
    )
    return outcome
