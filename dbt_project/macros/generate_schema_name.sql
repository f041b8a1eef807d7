{#
    Models land in exactly the schema their folder names (staging, intermediate, marts), not in
    dbt's default "<target schema>_<custom schema>". Nodes without a custom schema use the target's.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
