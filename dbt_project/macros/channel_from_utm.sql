{#
    Marketing channel from UTM parameters, driven by the `channel_mapping` seed (not a hard-coded
    CASE): the rules live in seeds/channel_mapping.csv and are matched by a join.

    Renders a SELECT returning `key_columns` + `channel`, one row per row of `from_relation`
    (`key_columns` are passed through so the caller can join the channel back). Use it as the body of a CTE:

        channels as (
            {{ channel_from_utm('utm_source', 'utm_medium', 'touchpoints', ['tenant_id', 'event_id']) }}
        ),

    Matching: both values are trimmed and lower-cased, a missing/empty source becomes '(direct)' and
    a missing/empty medium '(none)'; a rule matches when each of its utm_source/utm_medium equals the
    value or is '*'; the lowest priority wins (ties broken by channel name); no match -> `default_channel`.
#}
{% macro channel_from_utm(source, medium, from_relation, key_columns, default_channel='other') -%}
    with utm_keys as (

        select
            {% for key in key_columns -%}
            {{ key }},
            {% endfor -%}
            {{ utm_key(source, '(direct)') }} as utm_source_key,
            {{ utm_key(medium, '(none)') }} as utm_medium_key

        from {{ from_relation }}

    ),

    {#- rules are matched once per distinct (source, medium) pair, not once per row #}
    utm_pairs as (

        select distinct
            utm_source_key,
            utm_medium_key

        from utm_keys

    ),

    ranked_rule_matches as (

        select
            utm_pairs.utm_source_key,
            utm_pairs.utm_medium_key,
            channel_rules.channel,
            row_number() over (
                partition by utm_pairs.utm_source_key, utm_pairs.utm_medium_key
                order by channel_rules.priority, channel_rules.channel
            ) as rule_rank

        from utm_pairs
        inner join {{ ref('channel_mapping') }} as channel_rules
            on (channel_rules.utm_source = '*' or channel_rules.utm_source = utm_pairs.utm_source_key)
            and (channel_rules.utm_medium = '*' or channel_rules.utm_medium = utm_pairs.utm_medium_key)

    ),

    pair_channels as (

        select
            utm_source_key,
            utm_medium_key,
            channel

        from ranked_rule_matches
        where rule_rank = 1

    )

    select
        {% for key in key_columns -%}
        utm_keys.{{ key }},
        {% endfor -%}
        coalesce(pair_channels.channel, '{{ default_channel }}') as channel

    from utm_keys
    left join pair_channels
        on pair_channels.utm_source_key = utm_keys.utm_source_key
        and pair_channels.utm_medium_key = utm_keys.utm_medium_key
{%- endmacro %}

{# A UTM value as the mapping compares it: trimmed, lower-cased, `missing` when null or empty. #}
{% macro utm_key(column, missing) -%}
    coalesce(nullif(lower(trim({{ column }})), ''), '{{ missing }}')
{%- endmacro %}
