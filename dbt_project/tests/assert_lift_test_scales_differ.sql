-- A lift test compares two spend levels: a row whose treatment and control scales are equal measured
-- nothing (the importer rejects them; this guards the staging model's defaults).
select tenant_id, test_id, kpi, treatment_spend_scale, control_spend_scale
from {{ ref('stg_experiments__lift_tests') }}
where treatment_spend_scale = control_spend_scale
