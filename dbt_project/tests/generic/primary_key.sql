{#
    The grain of `model`: every column of `columns` is not null and their combination is unique
    (a composite primary key). One test node per model's grain instead of a `unique` test plus one
    `not_null` test per key column: the same guarantees, a fraction of the test nodes (each node
    costs dbt and Dagster a fixed overhead far above the query itself).
    Returns one row per duplicated key or per key with a null column; no rows = pass.
    Written here instead of taking a package (dbt_utils, dbt_constraints): the project has none.
#}
{% test primary_key(model, columns) %}

select
    {% for column in columns -%}
    {{ column }},
    {% endfor -%}
    count(*) as n_rows

from {{ model }}
group by {% for column in columns %}{{ column }}{% if not loop.last %}, {% endif %}{% endfor %}
having count(*) > 1
    {% for column in columns -%}
    or {{ column }} is null
    {% endfor %}

{% endtest %}
