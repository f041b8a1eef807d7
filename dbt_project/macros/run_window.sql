{#
    The run window of incremental models (see docs/INTERFACES.md, "Daily runs").

    Dagster's dbt asset passes the days a daily run reloaded as environment variables
    `MOS_DBT_WINDOW_START` and `MOS_DBT_WINDOW_END` (ISO dates; vars `mos_window_start` and
    `mos_window_end` work too, but a changed `--vars` makes dbt re-parse the whole project, ~4 s of a
    ~12 s daily dbt build, where a changed env var re-parses only the files that read it). An incremental model then deletes its rows of those days and inserts
    them again from its inputs (delete+insert on the date window):

        {{ config(materialized='incremental', incremental_strategy='append',
                  pre_hook="{{ delete_run_window('date') }}") }}
        ... where {{ in_run_window('date') }}

    Without the vars (a plain `dbt build`, the tests) an existing incremental table is emptied and
    rebuilt whole, so it never keeps stale rows; a new table or `--full-refresh` is built whole too.
#}

{% macro run_window() -%}
    {#- (start, end) as date literals, or none when the run gave no window -#}
    {%- set start = var('mos_window_start', none) or env_var('MOS_DBT_WINDOW_START', '') or none -%}
    {%- set end = var('mos_window_end', none) or env_var('MOS_DBT_WINDOW_END', '') or none -%}
    {%- if start and end -%}
        {%- do return((
            "cast('" ~ modules.datetime.date.fromisoformat(start | string) ~ "' as date)",
            "cast('" ~ modules.datetime.date.fromisoformat(end | string) ~ "' as date)",
        )) -%}
    {%- elif start or end -%}
        {%- do exceptions.raise_compiler_error(
            "the run window's start and end go together; got start=" ~ start ~ ", end=" ~ end
        ) -%}
    {%- endif -%}
    {%- do return(none) -%}
{%- endmacro %}

{% macro in_run_window(column) -%}
    {#- filter of an incremental model's input: its rows of the run window (all rows otherwise) -#}
    {%- set window = run_window() -%}
    {#- a unit test has no `this` (and no table to add to): it reads its given rows whole -#}
    {%- if this is not none and window and is_incremental() -%}
        {{ column }} between {{ window[0] }} and {{ window[1] }}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{% macro delete_run_window(column, gone_from=none, key=none) -%}
    {#- pre-hook: delete the target's rows of the run window (every row without a window). With
        `gone_from` (a relation) and `key` (columns), also rows outside the window whose key is no
        longer in `gone_from` (an erasure deletes raw rows of any day). -#}
    {%- if this is not none and is_incremental() -%}
        {%- set window = run_window() -%}
        {%- if window -%}
            delete from {{ this }} where {{ column }} between {{ window[0] }} and {{ window[1] }}
            {%- if gone_from is not none %};
            delete from {{ this }} as kept where not exists (
                select 1 from {{ gone_from }} as current_rows
                where {% for col in key %}current_rows.{{ col }} = kept.{{ col }}{{ " and " if not loop.last }}{% endfor %}
            )
            {%- endif -%}
        {%- else -%}
            delete from {{ this }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
