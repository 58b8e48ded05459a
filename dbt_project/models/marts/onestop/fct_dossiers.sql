-- One row per dossier, latest state as of as_of_date, with the report's counting rules applied
-- (int_dossiers) and the facts of its lists. Personal fields are pseudonyms only. Every dossier is
-- here, the ones left out of the report too (report_exclusion_reason; named by dossier_id,
-- source_day and batch_id in the stored failures of fct_dossiers_left_out_of_the_report).
--
-- Incremental (macros/incremental.sql): only the dossiers changed or removed since this model's
-- watermark are recomputed, from int_dossiers and the list models (already brought up to date in
-- the same build); nothing here depends on as_of_date.
{{ config(**record_incremental_config('onestop__dossiers', 'stg_onestop__dossiers', 'dossier_id', 'dossier_id',
                                      indexes=[{'columns': ['dossier_id'], 'unique': true},
                                               {'columns': ['finished_at']}])) }}
-- depends_on: {{ incremental_dependencies('stg_onestop__dossiers') }}
{%- set only_changed -%}
    {%- if is_incremental() %}
    where {{ key_in('dossier_id', changed_keys('onestop__dossiers', 'stg_onestop__dossiers', 'dossier_id')) }}
    {%- endif %}
{%- endset %}
with dossiers as (
    select * from {{ ref('int_dossiers') }}
    {{ only_changed }}
),

supplements as (
    select dossier_id, count(*) as supplement_count
    from {{ ref('int_dossier_supplements') }}
    {{ only_changed }}
    group by dossier_id
),

apologies as (
    select dossier_id, count(*) as apology_count
    from {{ ref('int_dossier_apologies') }}
    {{ only_changed }}
    group by dossier_id
),

fees as (
    select dossier_id, count(*) as fee_count, sum(amount_vnd) as fee_amount_vnd
    from {{ ref('int_dossier_fees') }}
    {{ only_changed }}
    group by dossier_id
),

components as (
    select
        dossier_id,
        count(*) as component_count,
        count(*) filter (where is_digitised) as digitised_component_count,
        count(*) filter (where is_reused) as reused_component_count,
        count(*) filter (where is_from_national_store) as national_store_component_count
    from {{ ref('int_dossier_components') }}
    {{ only_changed }}
    group by dossier_id
),

results as (
    select dossier_id, count(*) filter (where result_file_url is not null) as e_result_count
    from {{ ref('int_dossier_result_documents') }}
    {{ only_changed }}
    group by dossier_id
)

select
    dossiers.dossier_id,
    dossiers.procedure_code,
    dossiers.procedure_name,
    dossiers.field_code,
    dossiers.field_name,
    dossiers.unit_id,
    dossiers.receiving_unit_id,
    dossiers.channel_code,
    dossiers.channel_group,
    dossiers.applicant_type_code,
    dossiers.status_code,
    dossiers.is_received,
    dossiers.is_terminal,
    dossiers.finish_kind,
    dossiers.is_withdrawn_or_stopped,
    dossiers.submitted_at,
    dossiers.received_at,
    dossiers.due_at,
    dossiers.finished_at,
    dossiers.returned_at,
    dossiers.refused_at,
    dossiers.timeliness,
    -- the calendar macros only see dates of years with a notice (else: null, and the dossier is
    -- left out of the report as date_outside_calendar)
    case
        when dossiers.has_dates_in_calendar
            then {{ working_days_between('dossiers.received_at', 'dossiers.finished_at') }}
    end as working_days_to_finish,
    case
        when dossiers.timeliness = 'late' and dossiers.has_dates_in_calendar
            then {{ working_days_between('dossiers.due_at', 'dossiers.finished_at') }}
    end as working_days_late,
    coalesce(supplements.supplement_count, 0) as supplement_count,
    coalesce(apologies.apology_count, 0) as apology_count,
    coalesce(apologies.apology_count, 0) > 0 as has_apology,
    dossiers.online_payment_code,
    -- online_payment code list: '0' not paid online, '1' national portal, '2' provincial gateway
    coalesce(dossiers.online_payment_code <> '0', false) as is_paid_online,
    coalesce(fees.fee_count, 0) as fee_count,
    coalesce(fees.fee_amount_vnd, 0) as fee_amount_vnd,
    dossiers.has_digitised_components,
    coalesce(components.component_count, 0) as component_count,
    coalesce(components.digitised_component_count, 0) as digitised_component_count,
    coalesce(components.reused_component_count, 0) as reused_component_count,
    coalesce(components.national_store_component_count, 0) as national_store_component_count,
    coalesce(results.e_result_count, 0) as e_result_count,
    coalesce(results.e_result_count, 0) > 0 as has_e_result,
    dossiers.result_delivery_code,
    dossiers.is_vneid_verified,
    dossiers.applicant_name_pseudonym,
    dossiers.applicant_id_pseudonym,
    dossiers.applicant_phone_pseudonym,
    dossiers.applicant_email_pseudonym,
    dossiers.is_known_field,
    dossiers.has_dates_in_calendar,
    dossiers.report_exclusion_reason,
    dossiers.is_in_report,
    dossiers.updated_at,
    dossiers.source_day,
    dossiers.batch_id,
    dossiers.merge_id
from dossiers
left join supplements
    on supplements.dossier_id = dossiers.dossier_id
left join apologies
    on apologies.dossier_id = dossiers.dossier_id
left join fees
    on fees.dossier_id = dossiers.dossier_id
left join components
    on components.dossier_id = dossiers.dossier_id
left join results
    on results.dossier_id = dossiers.dossier_id
