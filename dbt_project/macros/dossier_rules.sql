{#-
  The counting rules of the periodic dossier report (domain.md, "Mẫu 06", "Counting rules").
  Which statuses are received / terminal / withdrawn-or-stopped is data: seeds/dossier_statuses.csv.
  Which channel is online is data: seeds/dossier_channels.csv. The rules below are the rest.
-#}

{#- The value of field_code on the rows that cover all fields of a unit (published contract). -#}
{% macro all_fields_code() -%}
    '*'
{%- endmacro %}


{#- Finish time = the first terminal event, for a dossier whose status is terminal:
    NgayKetThucXuLy (processing finished 9, withdrawn 7, stopped 8; also set for 10), or, for a
    returned dossier (10) without it, NgayTra. Null while the dossier is open. -#}
{% macro dossier_finished_at(is_terminal, processing_ended_at, returned_at, finish_kind) -%}
    case
        when {{ is_terminal }} then coalesce(
            {{ processing_ended_at }},
            case when {{ finish_kind }} = 'returned' then {{ returned_at }} end
        )
    end
{%- endmacro %}


{#- Finished late against a due time: a finished dossier, not withdrawn or stopped, whose finish
    time is after the due time (a finish exactly at the due time is on time). Null when not
    finished or without that due time. The late branch of dossier_timeliness; also the audit of
    both due times (int_dossier_statutory_due: the source's NgayHenTra and the statutory one). -#}
{% macro dossier_finished_late(finished_at, due_at, is_withdrawn_or_stopped) -%}
    case
        when {{ finished_at }} is null or {{ due_at }} is null then null
        else not {{ is_withdrawn_or_stopped }} and {{ finished_at }} > {{ due_at }}
    end
{%- endmacro %}


{#- Timeliness of a finished dossier: withdrawn or stopped -> on_time (local convention; also
    counted apart); late if the finish time is after the due time (NgayHenTra, as extended; macro
    dossier_finished_late); early if the finish day is before the due day; on_time otherwise.
    Null when not finished or (not withdrawn/stopped and) no due time. -#}
{% macro dossier_timeliness(finished_at, due_at, is_withdrawn_or_stopped) -%}
    case
        when {{ finished_at }} is null then null
        when {{ is_withdrawn_or_stopped }} then 'on_time'
        when {{ due_at }} is null then null
        when {{ dossier_finished_late(finished_at, due_at, is_withdrawn_or_stopped) }} then 'late'
        when cast({{ finished_at }} as date) < cast({{ due_at }} as date) then 'early'
        else 'on_time'
    end
{%- endmacro %}


{#- Timeliness of a finished dossier by the national portal's rule (Decision 766; domain.md: "The
    national portal's timeliness rule differs from the periodic report's"): withdrawn or stopped
    -> on_time (the periodic report's convention); late if it finished after overdue_from_766, the
    first moment it is late by that rule (int_dossier_timeliness_766: the original due time plus
    the first supplement wait, or the second supplement request); on_time otherwise (no 'early':
    the rule has none). Null when not finished. -#}
{% macro dossier_timeliness_766(finished_at, overdue_from_766, is_withdrawn_or_stopped) -%}
    case
        when {{ finished_at }} is null then null
        when {{ is_withdrawn_or_stopped }} then 'on_time'
        when {{ overdue_from_766 }} is not null and {{ finished_at }} > {{ overdue_from_766 }} then 'late'
        else 'on_time'
    end
{%- endmacro %}


{#- A dossier pending at `moment` is overdue if its due time in force is before that moment,
    unless it is waiting for the applicant's supplement then (that counts within deadline). -#}
{% macro pending_is_overdue(due_in_force, is_waiting_for_supplement, moment) -%}
    (not coalesce({{ is_waiting_for_supplement }}, false) and {{ due_in_force }} < {{ moment }})
{%- endmacro %}


{#- The end of local day `date_expr` as a timestamp (the moment backlog is measured). -#}
{% macro end_of_day(date_expr) -%}
    cast(cast({{ date_expr }} as date) + 1 as timestamp without time zone)
{%- endmacro %}


{#- The additive columns of fct_dossier_daily, summed into report periods: the day's flows and
    the end-of-day backlog split. -#}
{% macro mau06_daily_columns() -%}
    {%- do return([
        'received_online', 'received_direct_postal',
        'resolved_early', 'resolved_on_time', 'resolved_late', 'resolved_withdrawn_or_stopped',
        'pending_on_time', 'pending_overdue',
    ]) -%}
{%- endmacro %}
