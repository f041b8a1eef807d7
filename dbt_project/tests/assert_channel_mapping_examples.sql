{#
    The real channel_mapping seed, through the channel_from_utm macro, classifies the documented
    examples as expected. Returns the misclassified examples; no rows = pass.
#}
with

examples as (

    {%- set examples = [
        ('facebook', 'paid_social', 'meta'),
        ('Instagram', 'CPC', 'meta'),
        ('fb', 'paid', 'meta'),
        ('ig', 'paid_social', 'meta'),
        ('meta', 'cpc', 'meta'),
        ('google', 'cpc', 'google_ads'),
        ('google', 'ppc', 'google_ads'),
        ('google', 'paid_search', 'google_ads'),
        ('google', 'organic', 'organic_search'),
        ('bing', 'organic', 'organic_search'),
        ('(direct)', '(none)', 'direct'),
        (none, none, 'direct'),
        ('', ' ', 'direct'),
        ('blog.example.com', 'referral', 'referral'),
        ('mailchimp', 'email', 'email'),
        ('newsletter', 'weekly', 'email'),
        ('partner', 'newsletter', 'email'),
        ('facebook', 'social', 'organic_social'),
        ('Instagram', 'Social', 'organic_social'),
        ('tiktok', 'cpc', 'tiktok'),
        ('LinkedIn', 'paid_social', 'linkedin'),
        ('snapchat', 'social', 'other'),
        ('google', none, 'other'),
    ] %}
    {% for source, medium, expected in examples %}
    select
        {{ loop.index }} as example_id,
        {{ "'" ~ source ~ "'" if source is not none else "cast(null as " ~ dbt.type_string() ~ ")" }} as utm_source,
        {{ "'" ~ medium ~ "'" if medium is not none else "cast(null as " ~ dbt.type_string() ~ ")" }} as utm_medium,
        '{{ expected }}' as expected_channel
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

classified as (

    {{ channel_from_utm('utm_source', 'utm_medium', 'examples', ['example_id']) }}

)

select
    examples.example_id,
    examples.utm_source,
    examples.utm_medium,
    examples.expected_channel,
    classified.channel as actual_channel

from examples
left join classified
    on classified.example_id = examples.example_id
where classified.channel is null
    or classified.channel <> examples.expected_channel
