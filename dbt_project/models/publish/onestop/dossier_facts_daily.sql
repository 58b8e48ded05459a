{{ config(indexes=[{"columns": ["date", "unit_id", "field_code"], "unique": true},
                   {"columns": ["unit_id", "date"]}]) }}
-- kpi.dossier_facts_daily: the grain BI tools drill into (published.md). One row per
-- (date, unit_id, field_code) with a flow or a backlog: the day's receptions and finishes and the
-- backlog at the end of the day, of the dossiers the unit (DonViXuLy) handles. No '*' rows and
-- no roll-ups: province_unit_id and unit_level let a consumer roll up.
select
    daily.date_day as date,
    daily.unit_id,
    units.unit_name,
    units.unit_level,
    units.province_unit_id,
    daily.field_code,
    daily.received_online,
    daily.received_direct_postal,
    daily.resolved_total,
    daily.resolved_early,
    daily.resolved_on_time,
    daily.resolved_late,
    daily.resolved_withdrawn_or_stopped,
    daily.pending_total,
    daily.pending_on_time,
    daily.pending_overdue,
    {{ publication_id() }} as publication_id
from {{ ref('fct_dossier_daily') }} as daily
left join {{ ref('dim_unit') }} as units
    on units.unit_id = daily.unit_id
