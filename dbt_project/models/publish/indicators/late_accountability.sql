{{ config(indexes=[{"columns": ["month", "unit_id"], "unique": true}]) }}
-- kpi.late_accountability (published.md; domain.md "Targets and accountability rules"): per
-- (month, unit_id), the late share, the verdict the directives attach to it, the criticisms of the
-- last 12 months and the late dossiers without an apology slip.
--
-- * Rows: the month rows of kpi.tthc_report for all fields (every unit valid in the month, and
--   every unit with dossiers in it; the province's row rolls up the province).
-- * late_share = (resolved_late + pending_overdue) / received_total of that row: the dossiers
--   finished late in the month or still overdue at its end, over every dossier handled in it
--   (received_total = resolved_total + pending_total). Chosen over late / resolved because a unit
--   must not escape criticism by leaving its late dossiers unfinished; null when nothing was
--   handled (verdict ok).
-- * Thresholds: seeds/accountability_thresholds.csv, the edition in force on the month's last day.
--   late_share_band: 'discipline' from discipline_late_share_from, 'criticism' from
--   criticism_late_share_from to under it, else 'ok'.
-- * criticisms_last_12_months: the months of the window (criticism_window_months, this month
--   included) whose late_share_band was 'criticism'. Months before the first reported month are
--   not known and count as none.
-- * verdict: the band; a 'criticism' that makes criticisms_for_discipline (3) or more in the window
--   escalates to 'discipline' (verdict_reason 'repeated_criticism').
-- * late_dossiers / late_without_apology: the month's late dossiers by the periodic report's rule
--   (the rows of kpi.late_dossiers with rule 'periodic_report', int_late_dossier_months), and those
--   without an apology slip issued before the due time they missed (apology_issued: the directives
--   require the slip before the dossier is late; one issued later does not count).
with months as (
    select
        report.period_start as month,
        report.period_end,
        report.unit_id,
        report.unit_name,
        report.received_total,
        report.resolved_late,
        report.pending_overdue
    from {{ ref('tthc_report') }} as report
    where report.period_type = 'month'
      and report.field_code = {{ all_fields_code() }}
),

late_dossiers as (
    select
        late.month_start,
        report_units.report_unit_id as unit_id,
        count(*) as late_dossiers,
        count(*) filter (where not late.apology_issued) as late_without_apology
    from {{ ref('int_late_dossier_months') }} as late
    -- under the map in force at the month's end, as kpi.tthc_report (int_unit_succession)
    inner join {{ ref('int_unit_succession') }} as succession
        on succession.unit_id = late.unit_id
       and {{ unit_map_covers('succession', 'late.month_end') }}
    inner join {{ ref('int_report_units') }} as report_units
        on report_units.unit_id = succession.report_unit_id
    where late.rule = 'periodic_report'
    group by late.month_start, report_units.report_unit_id
),

banded as (
    select
        months.*,
        thresholds.edition as thresholds_edition,
        thresholds.criticism_late_share_from,
        thresholds.discipline_late_share_from,
        thresholds.criticisms_for_discipline,
        thresholds.criticism_window_months,
        cast(months.resolved_late + months.pending_overdue as numeric) / nullif(months.received_total, 0)
            as late_share
    from months
    left join {{ ref('accountability_thresholds') }} as thresholds
        on thresholds.effective_from <= months.period_end
       and (thresholds.effective_to is null or thresholds.effective_to >= months.period_end)
),

bands as (
    select
        *,
        case
            when late_share >= discipline_late_share_from then 'discipline'
            when late_share >= criticism_late_share_from then 'criticism'
            else 'ok'
        end as late_share_band
    from banded
),

-- the criticisms of each unit's window (units x months x window months, never a row per dossier)
window_criticisms as (
    select
        bands.month,
        bands.unit_id,
        count(earlier.month) as criticisms_last_12_months
    from bands
    left join bands as earlier
        on earlier.unit_id = bands.unit_id
       and earlier.month > bands.month - make_interval(months => bands.criticism_window_months)
       and earlier.month <= bands.month
       and earlier.late_share_band = 'criticism'
    group by bands.month, bands.unit_id
),

counted as (
    select
        bands.*,
        window_criticisms.criticisms_last_12_months
    from bands
    inner join window_criticisms
        on window_criticisms.month = bands.month
       and window_criticisms.unit_id = bands.unit_id
)

select
    counted.month,
    counted.period_end,
    counted.unit_id,
    counted.unit_name,
    counted.received_total as dossiers_handled,
    counted.resolved_late,
    counted.pending_overdue,
    counted.resolved_late + counted.pending_overdue as late_total,
    counted.late_share,
    counted.thresholds_edition,
    counted.criticism_late_share_from,
    counted.discipline_late_share_from,
    counted.criticisms_for_discipline,
    counted.criticism_window_months,
    counted.late_share_band,
    cast(counted.criticisms_last_12_months as bigint) as criticisms_last_12_months,
    case
        when counted.late_share_band = 'criticism'
             and counted.criticisms_last_12_months >= counted.criticisms_for_discipline then 'discipline'
        else counted.late_share_band
    end as verdict,
    case
        when counted.late_share is null then 'nothing_handled'
        when counted.late_share_band = 'discipline' then 'late_share_at_discipline_threshold'
        when counted.late_share_band = 'criticism'
             and counted.criticisms_last_12_months >= counted.criticisms_for_discipline then 'repeated_criticism'
        when counted.late_share_band = 'criticism' then 'late_share_at_criticism_threshold'
        else 'late_share_below_criticism_threshold'
    end as verdict_reason,
    cast(coalesce(late_dossiers.late_dossiers, 0) as bigint) as late_dossiers,
    cast(coalesce(late_dossiers.late_without_apology, 0) as bigint) as late_without_apology,
    {{ publication_id() }} as publication_id
from counted
left join late_dossiers
    on late_dossiers.month_start = counted.month
   and late_dossiers.unit_id = counted.unit_id
