{#
    A Markov state as text: the channels `lag_from` down to `lag_to` steps back (0 = this step),
    oldest first, joined by '>'. Lagged channels are columns `<column>_lag_<n>`; a null one (before
    the start of the path) is left out, so early states are shorter than the order.

        markov_state_from_lags(2, 0)  ->  channel_lag_2 > channel_lag_1 > channel  (order 3)
#}
{% macro markov_state_from_lags(lag_from, lag_to, column='channel') -%}
    {%- set parts = [] -%}
    {%- for back in range(lag_from, lag_to - 1, -1) -%}
        {%- set lagged = column if back == 0 else column ~ '_lag_' ~ back -%}
        {%- if back == lag_to -%}
            {%- do parts.append(lagged) -%}
        {%- else -%}
            {%- do parts.append('case when ' ~ lagged ~ ' is not null then ' ~ dbt.concat([lagged, "'>'"]) ~ " else '' end") -%}
        {%- endif -%}
    {%- endfor -%}
    {{ dbt.concat(parts) if parts | length > 1 else parts[0] }}
{%- endmacro %}
