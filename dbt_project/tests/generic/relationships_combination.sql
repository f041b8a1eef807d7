{#
    Every non-null combination of `columns` in `model` exists in `to` (a composite foreign key;
    the columns have the same names on both sides). Returns the orphan keys.
#}
{% test relationships_combination(model, columns, to) %}

with child_keys as (

    select distinct
        {% for column in columns -%}
        {{ column }}{% if not loop.last %},{% endif %}
        {% endfor %}
    from {{ model }}
    where {% for column in columns %}{{ column }} is not null{% if not loop.last %} and {% endif %}{% endfor %}

),

parent_keys as (

    select distinct
        {% for column in columns -%}
        {{ column }}{% if not loop.last %},{% endif %}
        {% endfor %}
    from {{ to }}

)

select child_keys.*
from child_keys
left join parent_keys
    on {% for column in columns %}parent_keys.{{ column }} = child_keys.{{ column }}{% if not loop.last %}
    and {% endif %}{% endfor %}
where parent_keys.{{ columns[0] }} is null

{% endtest %}
