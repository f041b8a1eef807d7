{#
    The combination of `columns` is unique in `model` (a composite primary key).
    Written here instead of taking dbt_utils.unique_combination_of_columns: the project has no
    package dependencies. Returns one row per duplicated key.
#}
{% test unique_combination(model, columns) %}

select
    {% for column in columns -%}
    {{ column }},
    {% endfor -%}
    count(*) as n_rows

from {{ model }}
group by {% for column in columns %}{{ column }}{% if not loop.last %}, {% endif %}{% endfor %}
having count(*) > 1

{% endtest %}
