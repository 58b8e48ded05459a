-- One row per e-document (DocumentId) in its latest state as of var as_of_date, with the rules of
-- the e-document KPIs (domain.md, "E-documents and digital signatures (Decree 30/2020)") applied.
-- Every e-document rule of the warehouse is applied here, once, each defined in one macro of
-- macros/edoc_rules.sql (named below); the daily fact, the published tables and the anomaly
-- checks only filter and count these columns:
--
-- * is_electronic / is_secret / is_leader_signer: the source flags; a missing flag counts as false
--   (no positive evidence of an electronic issue, of secrecy, of a leader's signature).
-- * report_exclusion_reason / is_in_esignature_kpi: a document is counted by the e-document KPIs
--   unless it is secret ('secret': out of every e-document KPI, not a defect) or cannot be counted
--   honestly, a defect named in the stored failures of fct_documents_left_out_of_the_kpis (with
--   document_id, source_day, batch_id): 'unknown_direction' (not OUT / IN), 'unknown_unit' (OrganId
--   missing or not in the units list), 'no_report_date', 'date_outside_calendar' (a date the KPIs
--   read, see has_dates_in_calendar, in a year without a working-day notice: never guessed).
-- * via_axis (edoc_via_axis): sent or received through the national axis VXP or the provincial
--   LGSP (the channels of code group 'exchange_axis' in seeds/source_code_lists.csv).
-- * signatures (fct_document_signatures, aggregated by edoc_signature_facts): is_fully_signed
--   (edoc_is_fully_signed) = issued electronically with a valid signer's AND a valid
--   organisation's signature; is_signer_only (edoc_is_signer_only) = issued electronically with a
--   signer's signature and no organisation's signature (whatever their validity);
--   has_invalid_signature = at least one signature not valid; is_paper (edoc_is_paper) = not
--   electronic.
-- * signed_at = the (first) signer's signature time; dispatch_working_days
--   (edoc_dispatch_working_days) = working days in (signed_at, dispatched_at] (macro
--   working_days_between: weekends, holidays and swapped Saturdays from dim_date);
--   dispatched_within_one_working_day (edoc_dispatched_within_one_working_day) = 0 or 1 (Decree
--   30: dispatched on the signing day or at the latest the next working day). Null (not
--   measurable) without a signer's signature or a dispatch time; false counts for outgoing
--   documents not measurable.
-- * arrived_at (edoc_arrived_at; incoming) = the first edXML status 01 "arrived" when the
--   exchange reported one, else RegisteredAt (a document that came outside the axis arrives when
--   the clerk registers it); acknowledged_same_day (edoc_acknowledged_same_day) = an incoming
--   ELECTRONIC document whose AcknowledgedAt falls on the local date of arrived_at (Decree 30
--   obliges same-day acknowledgement of electronic documents only).
-- * report_date (edoc_report_date) = the day a document counts on in the daily fact and the
--   published periods: outgoing -> its promulgation date (the date next to its number), else its
--   registration date; incoming -> the date it arrived.
-- * numbering_year (edoc_numbering_year): numbers restart at 1 every 1 January per organisation
--   (Decree 30) and are given when the clerk registers an outgoing document: outgoing -> the year
--   of RegisteredAt, else of the promulgation date; incoming (the sender's number) -> the year of
--   the promulgation date.
--
-- Incremental (macros/incremental.sql): only the documents changed or removed since this model's
-- watermark are recomputed; nothing here depends on as_of_date (report_date is the document's own;
-- fct_esignature_daily applies as_of_date).
{{ config(**record_incremental_config('edoc__documents', 'stg_edoc__documents', 'document_id', 'document_id',
                                      indexes=[{'columns': ['document_id'], 'unique': true}])) }}
-- depends_on: {{ incremental_dependencies('stg_edoc__documents') }}
{%- set only_changed -%}
    {%- if is_incremental() %}
    where {{ key_in('document_id', changed_keys('edoc__documents', 'stg_edoc__documents', 'document_id')) }}
    {%- endif %}
{%- endset %}
-- materialized: each staging column is computed once per row (read through the view, the
-- columns used several times below would each be re-parsed from the JSON every time)
with documents as materialized (
    select * from {{ ref('stg_edoc__documents') }} as changed
    {%- if is_incremental() %}
    where {{ changed_rows_filter('changed', 'edoc__documents') }}
    {%- endif %}
),

signatures as (
    select
        document_id,
        {{ edoc_signature_facts() }}
    from {{ ref('fct_document_signatures') }}
    {{ only_changed }}
    group by document_id
),

statuses as (
    select
        document_id,
        min(status_at) filter (where status_code = '01') as edxml_arrived_at,
        bool_or(status_code = '13') as is_revoked,
        (array_agg(status_code order by status_at desc nulls last, status_seq desc))[1] as last_status_code
    from {{ ref('int_document_statuses') }}
    {{ only_changed }}
    group by document_id
),

recipients as (
    select
        document_id,
        count(*) as recipient_count
    from {{ ref('int_document_recipients') }}
    {{ only_changed }}
    group by document_id
),

units as (
    select unit_id from {{ ref('stg_reference__units') }}
),

flagged as (
    select
        documents.document_id,
        documents.direction,
        documents.organ_id,
        documents.from_organ_id,
        documents.code_number_text,
        case
            when documents.code_number_text ~ '^[0-9]{1,9}$' then cast(documents.code_number_text as integer)
        end as code_number,
        documents.code_notation,
        documents.document_type,
        documents.subject,
        documents.promulgated_at,
        cast(documents.promulgated_at as date) as promulgation_date,
        coalesce(documents.is_electronic, false) as is_electronic,
        coalesce(documents.is_secret, false) as is_secret,
        documents.channel,
        {{ edoc_via_axis('documents.channel') }} as via_axis,
        documents.signer_full_name,
        documents.signer_position,
        documents.signer_competence,
        coalesce(documents.signer_is_leader, false) as is_leader_signer,
        coalesce(signatures.signature_count, 0) as signature_count,
        coalesce(signatures.has_signer_signature, false) as has_signer_signature,
        coalesce(signatures.has_valid_signer_signature, false) as has_valid_signer_signature,
        coalesce(signatures.has_organisation_signature, false) as has_organisation_signature,
        coalesce(signatures.has_valid_organisation_signature, false) as has_valid_organisation_signature,
        coalesce(signatures.has_invalid_signature, false) as has_invalid_signature,
        signatures.signed_at,
        signatures.organisation_signed_at,
        signatures.last_signature_at,
        documents.registered_at,
        documents.dispatched_at,
        documents.acknowledged_at,
        {{ edoc_arrived_at('documents.direction', 'statuses.edxml_arrived_at', 'documents.registered_at') }}
            as arrived_at,
        {{ edoc_arrival_source('documents.direction', 'statuses.edxml_arrived_at', 'documents.registered_at') }}
            as arrival_source,
        documents.handling_due_at,
        documents.handling_done_at,
        coalesce(recipients.recipient_count, 0) as recipient_count,
        statuses.last_status_code,
        coalesce(statuses.is_revoked, false) as is_revoked,
        documents.updated_at,
        documents.source_day,
        documents.batch_id,
        documents.merge_id,
        units.unit_id is not null as is_known_unit
    from documents
    left join signatures
        on signatures.document_id = documents.document_id
    left join statuses
        on statuses.document_id = documents.document_id
    left join recipients
        on recipients.document_id = documents.document_id
    left join units
        on units.unit_id = documents.organ_id
),

-- the dates the KPIs read: outgoing -> promulgation, registration (report_date, numbering year),
-- signing and dispatch (working days between them); incoming -> arrival (report_date)
checked as (
    select
        *,
        case direction
            when 'OUT' then {{ dates_in_calendar_years(['promulgation_date', 'registered_at',
                                                         'signed_at', 'dispatched_at']) }}
            when 'IN' then {{ dates_in_calendar_years(['arrived_at']) }}
            else true
        end as has_dates_in_calendar
    from flagged
),

ruled as (
    select
        *,
        {{ edoc_is_fully_signed('is_electronic', 'has_valid_signer_signature', 'has_valid_organisation_signature') }}
            as is_fully_signed,
        {{ edoc_is_signer_only('is_electronic', 'has_signer_signature', 'has_organisation_signature') }}
            as is_signer_only,
        {{ edoc_is_paper('is_electronic') }} as is_paper,
        {{ edoc_dispatch_working_days('direction', 'signed_at', 'dispatched_at', 'has_dates_in_calendar') }}
            as dispatch_working_days,
        {{ edoc_acknowledged_same_day('direction', 'is_electronic', 'acknowledged_at', 'arrived_at') }}
            as acknowledged_same_day,
        {{ edoc_report_date('direction', 'promulgation_date', 'registered_at', 'arrived_at') }} as report_date,
        {{ edoc_numbering_year('direction', 'registered_at', 'promulgation_date') }} as numbering_year
    from checked
),

judged as (
    select
        *,
        case
            when is_secret then 'secret'
            when direction is null or direction not in ('OUT', 'IN') then 'unknown_direction'
            when not is_known_unit then 'unknown_unit'
            when report_date is null then 'no_report_date'
            when not has_dates_in_calendar then 'date_outside_calendar'
        end as report_exclusion_reason
    from ruled
)

select
    document_id,
    direction,
    organ_id,
    from_organ_id,
    code_number_text,
    code_number,
    code_notation,
    document_type,
    subject,
    promulgated_at,
    promulgation_date,
    numbering_year,
    report_date,
    is_electronic,
    is_secret,
    report_exclusion_reason,
    report_exclusion_reason is null as is_in_esignature_kpi,
    channel,
    via_axis,
    signer_full_name,
    signer_position,
    signer_competence,
    is_leader_signer,
    signature_count,
    has_signer_signature,
    has_valid_signer_signature,
    has_organisation_signature,
    has_valid_organisation_signature,
    has_invalid_signature,
    is_fully_signed,
    is_signer_only,
    is_paper,
    signed_at,
    organisation_signed_at,
    last_signature_at,
    registered_at,
    dispatched_at,
    dispatch_working_days,
    {{ edoc_dispatched_within_one_working_day('direction', 'dispatch_working_days') }}
        as dispatched_within_one_working_day,
    arrived_at,
    arrival_source,
    acknowledged_at,
    acknowledged_same_day,
    handling_due_at,
    handling_done_at,
    recipient_count,
    last_status_code,
    is_revoked,
    is_known_unit,
    has_dates_in_calendar,
    updated_at,
    source_day,
    batch_id,
    merge_id
from judged
