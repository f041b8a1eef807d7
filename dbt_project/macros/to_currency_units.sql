{#
    Platform money units -> currency amounts as exact DECIMAL(18, 2).

      unit 'micros': Google Ads (1,000,000 micros = 1 unit)   1234500 -> 1.23
      unit 'minor':  Meta budgets and bids in cents           2000    -> 20.00
      unit 'major':  already in currency units                '53.39' -> 53.39

    Arithmetic stays in DECIMAL: scaling is a multiplication by an exact decimal literal (DuckDB
    turns decimal division into DOUBLE, so `/ 1000000` is avoided on purpose).

    Rounding rule: round half away from zero to the cent (1245000 micros -> 1.25,
    -1245000 -> -1.25). That is what ROUND on DECIMAL does in DuckDB, Postgres, Snowflake,
    BigQuery, Spark and Trino alike; banker's rounding has no portable spelling. Platforms bill
    whole cents, so the rule only matters for unusual micros values.
#}
{% macro to_currency_units(column, unit) -%}
    {{ return(adapter.dispatch('to_currency_units')(column, unit)) }}
{%- endmacro %}

{% macro default__to_currency_units(column, unit) -%}
    {%- if unit == 'micros' -%}
        cast(round(cast({{ column }} as decimal(38, 0)) * cast(0.000001 as decimal(7, 6)), 2) as {{ money_type() }})
    {%- elif unit == 'minor' -%}
        cast(cast({{ column }} as decimal(38, 0)) * cast(0.01 as decimal(3, 2)) as {{ money_type() }})
    {%- elif unit == 'major' -%}
        cast(round(cast({{ column }} as decimal(38, 6)), 2) as {{ money_type() }})
    {%- else -%}
        {{ exceptions.raise_compiler_error(
            "to_currency_units: unknown unit '" ~ unit ~ "' (expected 'micros', 'minor' or 'major')"
        ) }}
    {%- endif -%}
{%- endmacro %}

{# The warehouse type of every money column (DESIGN §3: money is DECIMAL, never float). #}
{% macro money_type() -%}
    {{ return(adapter.dispatch('money_type')()) }}
{%- endmacro %}

{% macro default__money_type() -%}
    decimal(18, 2)
{%- endmacro %}
