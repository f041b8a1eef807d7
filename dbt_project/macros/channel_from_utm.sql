{#
    Marketing channel from UTM parameters, driven by the `channel_mapping` seed (not a hard-coded
    CASE): the rules live in seeds/channel_mapping.csv and are matched by a join.

    Matching: both values are trimmed and lower-cased, a missing/empty source becomes '(direct)' and
    a missing/empty medium '(none)'; a rule matches when each of its utm_source/utm_medium equals the
    value or is '*'; the lowest priority wins (ties broken by channel name); no match -> `default_channel`.

    The rules are matched once per distinct (source, medium) pair of the input (a handful), never
    once per row: wildcard rules make the match an OR-join, which must not meet event-sized input.

    utm_channel_lookup(source, medium, from_relation) renders a SELECT returning one row per distinct
    pair in `from_relation`: utm_source_key, utm_medium_key, channel. Join it back on the pair, with
    the same normalisation (utm_source_key / utm_medium_key), in the same pass that reads the rows:

        utm_channels as (
            {{ utm_channel_lookup('utm_source', 'utm_medium', 'touchpoints') }}
        ),
        ...
        from touchpoints
        left join utm_channels
            on utm_channels.utm_source_key = {{ utm_source_key('touchpoints.utm_source') }}
            and utm_channels.utm_medium_key = {{ utm_medium_key('touchpoints.utm_medium') }}

    channel_from_utm(source, medium, from_relation, key_columns) does exactly that and returns
    `key_columns` + `channel`, one row per row of `from_relation`.
#}
{% macro utm_channel_lookup(source, medium, from_relation, default_channel='other') -%}
    with utm_pairs as (

        select distinct
            {{ utm_source_key(source) }} as utm_source_key,
            {{ utm_medium_key(medium) }} as utm_medium_key

        from {{ from_relation }}

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
        left join {{ ref('channel_mapping') }} as channel_rules
            on (channel_rules.utm_source = '*' or channel_rules.utm_source = utm_pairs.utm_source_key)
            and (channel_rules.utm_medium = '*' or channel_rules.utm_medium = utm_pairs.utm_medium_key)

    )

    select
        utm_source_key,
        utm_medium_key,
        coalesce(channel, '{{ default_channel }}') as channel

    from ranked_rule_matches
    where rule_rank = 1
{%- endmacro %}

{% macro channel_from_utm(source, medium, from_relation, key_columns, default_channel='other') -%}
    with utm_channels as (

        {{ utm_channel_lookup(source, medium, from_relation, default_channel) }}

    )

    select
        {% for key in key_columns -%}
        rows_in.{{ key }},
        {% endfor -%}
        utm_channels.channel

    from {{ from_relation }} as rows_in
    left join utm_channels
        on utm_channels.utm_source_key = {{ utm_source_key('rows_in.' ~ source) }}
        and utm_channels.utm_medium_key = {{ utm_medium_key('rows_in.' ~ medium) }}
{%- endmacro %}

{# A UTM value as the mapping compares it: trimmed, lower-cased, '(direct)' / '(none)' when null or empty. #}
{% macro utm_source_key(column) -%}
    {{ utm_key(column, '(direct)') }}
{%- endmacro %}

{% macro utm_medium_key(column) -%}
    {{ utm_key(column, '(none)') }}
{%- endmacro %}

{% macro utm_key(column, missing) -%}
    coalesce(nullif(lower(trim({{ column }})), ''), '{{ missing }}')
{%- endmacro %}
