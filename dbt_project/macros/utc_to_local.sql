{#
    A UTC timestamp (without time zone) -> the wall-clock timestamp in `timezone` (an IANA name,
    literal or column). DuckDB needs its ICU extension, which the Python wheel ships built in.
    Only the default (DuckDB/Postgres/Trino syntax) runs in CI; the others follow each engine's docs.
#}
{% macro utc_to_local(column, timezone) -%}
    {{ return(adapter.dispatch('utc_to_local')(column, timezone)) }}
{%- endmacro %}

{% macro default__utc_to_local(column, timezone) -%}
    cast(({{ column }} at time zone 'UTC') at time zone {{ timezone }} as {{ dbt.type_timestamp() }})
{%- endmacro %}

{% macro snowflake__utc_to_local(column, timezone) -%}
    convert_timezone('UTC', {{ timezone }}, {{ column }})
{%- endmacro %}

{% macro spark__utc_to_local(column, timezone) -%}
    from_utc_timestamp({{ column }}, {{ timezone }})
{%- endmacro %}

{% macro bigquery__utc_to_local(column, timezone) -%}
    datetime(timestamp({{ column }}), {{ timezone }})
{%- endmacro %}
