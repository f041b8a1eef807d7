"""The DuckDB warehouse as the pipelines see it: schemas, raw/ops DDL, and idempotent loads.

Every load replaces its slice — (tenant, source, partition) — inside one transaction, so a partition
materialized twice leaves the warehouse exactly as materializing it once (DESIGN.md §3).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

SCHEMAS = ("raw", "ops", "ml", "activation")
LOAD_META = "_loaded_at timestamp, _run_id varchar, _partition varchar, _source varchar"

RAW_DDL: dict[str, str] = {
    "meta_ads_insights": """tenant_id varchar not null, account_id varchar not null, date_start date not null,
        campaign_id varchar, campaign_name varchar, adset_id varchar, adset_name varchar,
        ad_id varchar not null, ad_name varchar, account_currency varchar, spend decimal(18,2),
        impressions bigint, clicks bigint, conversions double, conversion_value decimal(18,2), actions varchar""",
    "meta_ads_campaigns": """tenant_id varchar not null, account_id varchar not null, id varchar not null,
        name varchar, status varchar, objective varchar, _snapshot_date date""",
    "meta_ads_adsets": """tenant_id varchar not null, account_id varchar not null, id varchar not null,
        campaign_id varchar, name varchar, status varchar, daily_budget bigint, bid_strategy varchar,
        bid_amount bigint""",
    "meta_ads_ads": """tenant_id varchar not null, account_id varchar not null, id varchar not null,
        adset_id varchar, campaign_id varchar, name varchar, status varchar, created_time timestamp""",
    "google_ads_ad_stats": """tenant_id varchar not null, customer_id varchar not null, date date not null,
        campaign_id varchar, campaign_name varchar, ad_group_id varchar, ad_group_name varchar,
        ad_id varchar not null, currency_code varchar, cost_micros bigint, impressions bigint,
        clicks bigint, conversions double, conversions_value double""",
    "google_ads_campaigns": """tenant_id varchar not null, customer_id varchar not null,
        campaign_id varchar not null, name varchar, status varchar, budget_id varchar,
        budget_amount_micros bigint, target_cpa_micros bigint""",
    "google_ads_ad_groups": """tenant_id varchar not null, customer_id varchar not null,
        ad_group_id varchar not null, campaign_id varchar, name varchar, status varchar""",
    "google_ads_ads": """tenant_id varchar not null, customer_id varchar not null, ad_id varchar not null,
        ad_group_id varchar, campaign_id varchar, name varchar, status varchar""",
    "hubspot_contacts": """tenant_id varchar not null, id varchar not null, email varchar, firstname varchar,
        lastname varchar, lifecyclestage varchar, anonymous_id varchar, createdate timestamp,
        lastmodifieddate timestamp, lead_date timestamp, mql_date timestamp, sql_date timestamp,
        opportunity_date timestamp, customer_date timestamp, archived boolean, marketing_opt_in boolean,
        opt_in_date timestamp, opt_out_date timestamp, archived_at timestamp""",
    "hubspot_deals": """tenant_id varchar not null, id varchar not null, contact_id varchar, dealname varchar,
        amount decimal(18,2), dealstage varchar, pipeline varchar, createdate timestamp,
        closedate timestamp, lastmodifieddate timestamp, archived boolean""",
    "touchpoints": """tenant_id varchar not null, event_id varchar not null, anonymous_id varchar,
        event_ts timestamp not null, event_type varchar, utm_source varchar, utm_medium varchar,
        utm_campaign varchar, landing_page varchar""",
    "fx_rates": """date date not null, currency varchar not null, rate_to_usd double not null""",
    # ---- files (issue 3): drops partitioned by drop day; emails only as SHA-256 ----
    "offline_conversions": """tenant_id varchar not null, order_id varchar not null, email_sha256 varchar,
        contact_id varchar, conversion_ts timestamp not null, value decimal(18,2), currency varchar,
        location varchar""",
    "erasure_requests": """tenant_id varchar not null, request_id varchar not null, email_sha256 varchar,
        contact_id varchar, requested_at timestamp""",
    "imported_ad_reports": """tenant_id varchar not null, platform varchar not null, account_id varchar,
        date date not null, campaign_id varchar, campaign_name varchar, ad_group_id varchar,
        ad_group_name varchar, ad_id varchar, ad_name varchar, currency varchar, spend decimal(18,2),
        impressions bigint, clicks bigint, conversions double, conversion_value decimal(18,2),
        mapping varchar""",
    # ---- lift tests (issue 4): the measurement vendor's read-outs, partitioned by drop (readout) day ----
    "lift_tests": """tenant_id varchar not null, test_id varchar not null, channel varchar not null,
        method varchar, kpi varchar not null, start_date date not null, end_date date not null,
        incremental double not null, standard_error double not null, treatment_spend_scale double,
        control_spend_scale double""",
    # ---- owned media (mailchimp, social): merged on their ids, influencers a snapshot ----
    "mailchimp_email_reports": """tenant_id varchar not null, account_id varchar not null,
        campaign_id varchar not null, campaign_title varchar, type varchar, list_id varchar,
        send_time timestamp, emails_sent bigint, hard_bounces bigint, soft_bounces bigint,
        unsubscribed bigint, abuse_reports bigint, opens_total bigint, unique_opens bigint,
        clicks_total bigint, unique_clicks bigint""",
    "social_posts": """tenant_id varchar not null, platform varchar not null, account_id varchar,
        post_id varchar not null, created_at timestamp, post_type varchar, message varchar,
        permalink varchar, reach bigint, impressions bigint, likes bigint, comments bigint,
        shares bigint, saves bigint, link_clicks bigint""",
    "social_mentions": """tenant_id varchar not null, platform varchar not null, mention_id varchar not null,
        created_at timestamp, author_handle varchar, author_followers bigint, text varchar, url varchar,
        likes bigint, reposts bigint, language varchar""",
    "social_influencers": """tenant_id varchar not null, platform varchar not null,
        influencer_id varchar not null, handle varchar, display_name varchar, followers bigint,
        engagement_rate double, avg_reach bigint, category varchar, country varchar""",
}

# ---- linkedin_ads, tiktok_ads (paid social; INTERFACES.md §7.3) ----
RAW_DDL.update(
    {
        "linkedin_ads_creative_stats": """tenant_id varchar not null, account_id varchar not null,
            date date not null, campaign_group_id varchar, campaign_id varchar, creative_id varchar not null,
            currency varchar, cost_in_local_currency decimal(18,2), impressions bigint, clicks bigint,
            external_website_conversions double, conversion_value_in_local_currency decimal(18,2)""",
        "linkedin_ads_campaigns": """tenant_id varchar not null, account_id varchar not null,
            id varchar not null, campaign_group_id varchar, name varchar, status varchar,
            daily_budget_amount decimal(18,2), currency varchar""",
        "linkedin_ads_campaign_groups": """tenant_id varchar not null, account_id varchar not null,
            id varchar not null, name varchar, status varchar""",
        "linkedin_ads_creatives": """tenant_id varchar not null, account_id varchar not null,
            id varchar not null, campaign_id varchar, name varchar, status varchar, created_at timestamp""",
        "tiktok_ads_ad_stats": """tenant_id varchar not null, advertiser_id varchar not null,
            stat_time_day date not null, campaign_id varchar, campaign_name varchar, adgroup_id varchar,
            adgroup_name varchar, ad_id varchar not null, ad_name varchar, currency varchar,
            spend decimal(18,2), impressions bigint, clicks bigint, conversion double,
            total_purchase_value decimal(18,2)""",
        "tiktok_ads_campaigns": """tenant_id varchar not null, advertiser_id varchar not null,
            campaign_id varchar not null, campaign_name varchar, operation_status varchar,
            objective_type varchar""",
        "tiktok_ads_adgroups": """tenant_id varchar not null, advertiser_id varchar not null,
            adgroup_id varchar not null, campaign_id varchar, adgroup_name varchar, operation_status varchar,
            budget decimal(18,2), budget_mode varchar""",
        "tiktok_ads_ads": """tenant_id varchar not null, advertiser_id varchar not null,
            ad_id varchar not null, adgroup_id varchar, campaign_id varchar, ad_name varchar,
            operation_status varchar, create_time timestamp""",
    }
)
# ---- end linkedin_ads, tiktok_ads ----

# ---- budget history (issue 4): platform change logs, merged on their keys ----
RAW_DDL.update(
    {
        "meta_ads_budget_changes": """tenant_id varchar not null, account_id varchar not null,
            event_time timestamp not null, event_date date not null, event_type varchar not null,
            object_type varchar, object_id varchar not null, old_budget bigint, new_budget bigint,
            currency varchar""",
        "google_ads_budget_changes": """tenant_id varchar not null, customer_id varchar not null,
            resource_name varchar not null, change_date_time timestamp not null, change_date date not null,
            campaign_id varchar, budget_id varchar, operation varchar, old_amount_micros bigint,
            new_amount_micros bigint""",
    }
)

OPS_DDL: dict[str, str] = {
    "load_log": """run_id varchar, tenant_id varchar, source varchar, partition varchar, rows_loaded bigint,
        rows_quarantined bigint, pages bigint, status varchar, detail varchar,
        started_at timestamp, finished_at timestamp""",
    "quarantine": """tenant_id varchar, source varchar, partition varchar, record varchar, field varchar,
        reason varchar, _source varchar, _run_id varchar, _loaded_at timestamp""",
    "cursors": """tenant_id varchar not null, source varchar not null, cursor_value varchar,
        updated_at timestamp, primary key (tenant_id, source)""",
    "schema_drift": """tenant_id varchar, source varchar, partition varchar, kind varchar, column_name varchar,
        detail varchar, _source varchar, _run_id varchar, _loaded_at timestamp""",
    # Who was erased (pipelines/privacy.py): hashes only, so re-imported touchpoints can be erased again.
    "erasure_suppression": """tenant_id varchar not null, request_id varchar not null,
        contact_id varchar not null, anonymous_id_sha256 varchar, first_applied_at timestamp,
        primary key (tenant_id, request_id, contact_id)""",
}


# Columns added to a raw table after warehouses with it existed: `ensure_schemas` adds them to an older
# table (rows loaded before stay NULL; staging coalesces them to their defaults).
RAW_ADDED_COLUMNS: dict[str, tuple[str, ...]] = {
    "lift_tests": ("treatment_spend_scale double", "control_spend_scale double"),
}


def raw_columns(table: str) -> list[str]:
    """Business columns of a raw table, in DDL order (without the `_` load metadata)."""
    return [part.split()[0] for part in _split_columns(RAW_DDL[table])]


def _split_columns(ddl: str) -> list[str]:
    parts, depth, current = [], 0, []
    for char in ddl:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    if "".join(current).strip():
        parts.append("".join(current).strip())
    return parts


def ensure_schemas(con: duckdb.DuckDBPyConnection) -> None:
    """Create the schemas and the raw/ops tables that are missing. Every write connection asks, so
    one catalog query decides: ~60 `create ... if not exists` statements cost ~15 ms per connection
    (a daily run opens ~70)."""
    schemas = {
        row[0] for row in con.execute("select schema_name from information_schema.schemata").fetchall()
    }
    # Base tables with their column counts: a raw table with fewer columns than its DDL predates
    # columns added since (RAW_ADDED_COLUMNS), without a second catalog query per connection.
    column_counts = {
        (schema, table): count
        for schema, table, count in con.execute(
            "select schema_name, table_name, column_count from duckdb_tables()"
        ).fetchall()
    }
    for schema in SCHEMAS:
        if schema not in schemas:
            con.execute(f"create schema if not exists {schema}")
    for table, columns in RAW_DDL.items():
        count = column_counts.get(("raw", table))
        if count is None:
            con.execute(f"create table if not exists raw.{table} ({columns}, {LOAD_META})")
        elif table in RAW_ADDED_COLUMNS and count < len(_split_columns(f"{columns}, {LOAD_META}")):
            _add_missing_columns(con, table)
    for table, columns in OPS_DDL.items():
        if ("ops", table) not in column_counts:
            con.execute(f"create table if not exists ops.{table} ({columns})")


def _add_missing_columns(con: duckdb.DuckDBPyConnection, table: str) -> None:
    have = {
        row[0]
        for row in con.execute(
            "select column_name from information_schema.columns where table_schema = 'raw' and table_name = ?",
            [table],
        ).fetchall()
    }
    for column in RAW_ADDED_COLUMNS[table]:
        if column.split()[0] not in have:
            con.execute(f"alter table raw.{table} add column {column}")


@contextmanager
def connect(path: Path, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short-lived connection: dbt runs as a separate process and needs the file's write lock."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
    try:
        if not read_only:
            ensure_schemas(con)
        yield con
    finally:
        con.close()


@dataclass(frozen=True)
class LoadMeta:
    run_id: str
    source: str
    loaded_at: datetime

    @classmethod
    def now(cls, run_id: str, source: str) -> LoadMeta:
        return cls(run_id=run_id, source=source, loaded_at=datetime.now(UTC).replace(tzinfo=None))


def with_load_meta(
    frame: pl.DataFrame, meta: LoadMeta, *, partition: pl.Expr | str, source_ref: str | None
) -> pl.DataFrame:
    """Add `_loaded_at/_run_id/_partition/_source`; the partition is an expression or a constant."""
    part_expr = partition if isinstance(partition, pl.Expr) else pl.lit(partition, dtype=pl.Utf8)
    return frame.with_columns(
        pl.lit(meta.loaded_at, dtype=pl.Datetime("us")).alias("_loaded_at"),
        pl.lit(meta.run_id, dtype=pl.Utf8).alias("_run_id"),
        part_expr.cast(pl.Utf8).alias("_partition"),
        pl.lit(source_ref, dtype=pl.Utf8).alias("_source"),
    )


def _insert(con: duckdb.DuckDBPyConnection, target: str, frame: pl.DataFrame) -> int:
    if frame.height == 0:
        return 0
    con.register("_incoming", frame.to_arrow())
    try:
        con.execute(f"insert into {target} by name select * from _incoming")
    finally:
        con.unregister("_incoming")
    return frame.height


def replace_slices(
    con: duckdb.DuckDBPyConnection,
    table: str,
    frame: pl.DataFrame,
    *,
    tenant_id: str,
    partitions: Sequence[str],
    source: str,
    quarantine: pl.DataFrame | None = None,
) -> int:
    """Replace raw.<table> rows of (tenant, partitions) with `frame`, quarantine included, atomically.

    `frame` must already carry the load metadata columns; partitions with no incoming rows are emptied
    (the platform restated them to nothing), which is what a replace means.
    """
    parts = list(partitions)
    con.execute("begin transaction")
    try:
        con.execute(
            f"delete from raw.{table} where tenant_id = ? and _partition in (select unnest(?::varchar[]))",
            [tenant_id, parts],
        )
        con.execute(
            "delete from ops.quarantine where tenant_id = ? and source = ? "
            "and partition in (select unnest(?::varchar[]))",
            [tenant_id, source, parts],
        )
        inserted = _insert(con, f"raw.{table}", frame)
        if quarantine is not None and quarantine.height:
            _insert(con, "ops.quarantine", quarantine)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return inserted


def table_exists(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    """Whether `schema.table` exists (a table or a view): ml assets read optional relations
    (planned budgets, stored model choices, marts dbt has not built yet) only when present."""
    schema, _, table = qualified.partition(".")
    if not schema or not table:
        raise ValueError(f"expected schema.table, got {qualified!r}")
    found = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchall()
    return bool(found[0][0])


def _delete_by_keys(
    con: duckdb.DuckDBPyConnection, qualified: str, frame: pl.DataFrame, keys: Sequence[str]
) -> None:
    """Delete the rows of `qualified` whose `keys` match a row of `frame` (inside the caller's transaction)."""
    con.register("_keys", frame.select(keys).unique().to_arrow())
    try:
        cond = " and ".join(f"t.{k} = k.{k}" for k in keys)
        con.execute(f"delete from {qualified} t where exists (select 1 from _keys k where {cond})")
    finally:
        con.unregister("_keys")


def replace_by_keys(
    con: duckdb.DuckDBPyConnection, qualified: str, frame: pl.DataFrame, keys: Sequence[str]
) -> int:
    """Replace, in any table, the rows of the entities in `frame` (matched on `keys`, e.g. the series
    of a backtest) with `frame`'s rows, in one transaction; creates the table when absent."""
    if not table_exists(con, qualified):
        return create_or_replace(con, qualified, frame)
    if frame.height == 0:
        return 0
    con.execute("begin transaction")
    try:
        _delete_by_keys(con, qualified, frame, keys)
        inserted = _insert(con, qualified, frame)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return inserted


def merge_on_keys(
    con: duckdb.DuckDBPyConnection,
    table: str,
    frame: pl.DataFrame,
    keys: Sequence[str],
    *,
    quarantine: pl.DataFrame | None = None,
    quarantine_source: str | None = None,
) -> int:
    """Upsert by key (CRM records change in place): delete matching keys, insert the new versions.
    With `quarantine_source`, earlier quarantined versions of the merged records (matched on the
    record's `id`) are cleared: a record that now loads is no longer a failure."""
    if frame.height == 0 and (quarantine is None or quarantine.height == 0):
        return 0
    con.execute("begin transaction")
    try:
        _delete_by_keys(con, f"raw.{table}", frame, keys)
        if quarantine_source is not None and {"tenant_id", "id"} <= set(keys):
            con.register("_keys", frame.select("tenant_id", "id").unique().to_arrow())
            con.execute(
                "delete from ops.quarantine q where q.source = ? and exists (select 1 from _keys k "
                "where k.tenant_id = q.tenant_id and k.id = json_extract_string(q.record, '$.id'))",
                [quarantine_source],
            )
            con.unregister("_keys")
        inserted = _insert(con, f"raw.{table}", frame)
        if quarantine is not None and quarantine.height:
            _insert(con, "ops.quarantine", quarantine)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return inserted


def replace_table_rows(
    con: duckdb.DuckDBPyConnection,
    qualified: str,
    frame: pl.DataFrame,
    *,
    where: str = "true",
    params: Sequence[object] = (),
) -> int:
    """Replace the rows matching `where` in any table (ml.* outputs, entity snapshots) in one transaction."""
    con.execute("begin transaction")
    try:
        con.execute(f"delete from {qualified} where {where}", list(params))
        inserted = _insert(con, qualified, frame)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return inserted


def create_or_replace(con: duckdb.DuckDBPyConnection, qualified: str, frame: pl.DataFrame) -> int:
    """Whole-table outputs (forecasts): the new table replaces the old in one statement."""
    con.register("_incoming", frame.to_arrow())
    try:
        con.execute(f"create or replace table {qualified} as select * from _incoming")
    finally:
        con.unregister("_incoming")
    return frame.height


def log_load(con: duckdb.DuckDBPyConnection, rows: Iterable[dict]) -> None:
    frame = pl.DataFrame(
        list(rows),
        schema={
            "run_id": pl.Utf8,
            "tenant_id": pl.Utf8,
            "source": pl.Utf8,
            "partition": pl.Utf8,
            "rows_loaded": pl.Int64,
            "rows_quarantined": pl.Int64,
            "pages": pl.Int64,
            "status": pl.Utf8,
            "detail": pl.Utf8,
            "started_at": pl.Datetime("us"),
            "finished_at": pl.Datetime("us"),
        },
    )
    _insert(con, "ops.load_log", frame)


DRIFT_SCHEMA = {
    "tenant_id": pl.Utf8,
    "source": pl.Utf8,
    "partition": pl.Utf8,
    "kind": pl.Utf8,
    "column_name": pl.Utf8,
    "detail": pl.Utf8,
    "_source": pl.Utf8,
    "_run_id": pl.Utf8,
    "_loaded_at": pl.Datetime("us"),
}


def record_drift(
    con: duckdb.DuckDBPyConnection,
    rows: Sequence[dict],
    *,
    tenant_id: str,
    source: str,
    partition: str,
) -> int:
    """What a load of (tenant, source, partition) noticed about the platform's schema replaces what an
    earlier load of the same slice noticed (a re-run reports the same drift once, not twice)."""
    frame = pl.DataFrame(list(rows), schema=DRIFT_SCHEMA)
    return replace_table_rows(
        con,
        "ops.schema_drift",
        frame,
        where="tenant_id = ? and source = ? and partition = ?",
        params=[tenant_id, source, partition],
    )


def get_cursor(con: duckdb.DuckDBPyConnection, tenant_id: str, source: str) -> str | None:
    row = con.execute(
        "select cursor_value from ops.cursors where tenant_id = ? and source = ?", [tenant_id, source]
    ).fetchone()
    return None if row is None else row[0]


def set_cursor(con: duckdb.DuckDBPyConnection, tenant_id: str, source: str, value: str) -> None:
    con.execute(
        "insert or replace into ops.cursors values (?, ?, ?, ?)",
        [tenant_id, source, value, datetime.now(UTC).replace(tzinfo=None)],
    )


def quarantine_frame(
    records: pl.DataFrame,
    *,
    tenant_id: str,
    source: str,
    partition: pl.Expr | str,
    meta: LoadMeta,
    source_ref: str | None,
) -> pl.DataFrame:
    """Shape contract failures (record JSON, field, reason) as ops.quarantine rows.

    The partition of a failed row is evaluated on the row's own values (decoded from its JSON record)
    so a re-load of that partition replaces its quarantined rows too.
    """
    empty = pl.DataFrame(
        schema={
            "tenant_id": pl.Utf8,
            "source": pl.Utf8,
            "partition": pl.Utf8,
            "record": pl.Utf8,
            "field": pl.Utf8,
            "reason": pl.Utf8,
            "_source": pl.Utf8,
            "_run_id": pl.Utf8,
            "_loaded_at": pl.Datetime("us"),
        }
    )
    if records.height == 0:
        return empty
    if isinstance(partition, pl.Expr):
        decoded = pl.DataFrame([json.loads(r) for r in records["record"]], infer_schema_length=None)
        try:
            part = decoded.select(partition.cast(pl.Utf8).alias("p"))["p"]
        except Exception:  # the row is broken exactly where the partition comes from
            part = pl.Series([None] * records.height, dtype=pl.Utf8)
    else:
        part = pl.Series([partition] * records.height, dtype=pl.Utf8)
    return pl.DataFrame(
        {
            "tenant_id": [tenant_id] * records.height,
            "source": [source] * records.height,
            "partition": part,
            "record": records["record"],
            "field": records["field"].cast(pl.Utf8),
            "reason": records["reason"].cast(pl.Utf8),
            "_source": [source_ref] * records.height,
            "_run_id": [meta.run_id] * records.height,
            "_loaded_at": [meta.loaded_at] * records.height,
        },
        schema=empty.schema,
    )
