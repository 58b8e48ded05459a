-- Every reason code the lateness models emit is in seeds/lateness_reasons.csv for its rule, with
-- the classification the row carries (the list of codes is data, defined once). The per-dossier
-- model is read for the night's rows only (macros/tested_rows.sql), the others whole. The published
-- list's reasons (kpi_build.late_dossiers) are the gate's: expectations/late_dossiers.yml, reasons_allowed.
with emitted as (
    select 'periodic_report' as rule, periodic_reason_code as code, periodic_classification as classification,
           'int_dossier_lateness' as emitted_by, dossier_id
    from {{ night_rows(ref('int_dossier_lateness')) }}
    union all
    select 'decision_766', reason_code_766, classification_766, 'int_dossier_lateness', dossier_id
    from {{ night_rows(ref('int_dossier_lateness')) }}
    union all
    select 'periodic_report', periodic_reason_code, periodic_classification, 'int_open_dossier_lateness', dossier_id
    from {{ ref('int_open_dossier_lateness') }}
    union all
    select 'decision_766', reason_code_766, classification_766, 'int_open_dossier_lateness', dossier_id
    from {{ ref('int_open_dossier_lateness') }}
)

select emitted.*
from emitted
left join {{ ref('lateness_reasons') }} as reasons
    on reasons.rule = emitted.rule
   and reasons.code = emitted.code
where reasons.code is null
   or reasons.classification <> emitted.classification
