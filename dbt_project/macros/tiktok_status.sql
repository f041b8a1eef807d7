{#
    TikTok's operation_status (ENABLE | DISABLE) in the shared status vocabulary (ACTIVE | PAUSED);
    any other value (DELETE, ...) is kept upper-cased.
#}
{% macro tiktok_status(column) -%}
    case upper({{ column }})
        when 'ENABLE' then 'ACTIVE'
        when 'DISABLE' then 'PAUSED'
        else upper({{ column }})
    end
{%- endmacro %}
