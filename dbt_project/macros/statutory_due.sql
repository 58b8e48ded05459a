{#-
  The statutory due time of a dossier (calendar.md, "Statutory due dates"; issue 9 part 1), the one
  definition the due-date audit uses. Settings (office hours, in-person cut-off, the in-person
  channel): seeds/onestop_office_rules.csv. Calendar: dim_date (working_day_seq) and
  int_working_days (seq -> date). Python twin: cchc.simulator.clock.due_time (tested to agree,
  tests/test_due_date_scenarios.py).

  The convention, counted from an anchor (the reception NgayTiepNhan, or, after a requested
  supplement was received, that supplement's reception NgayTiepNhanBoSung: the limit restarts):
  * the anchor counts from the next working day when it is on a non-working day, at or after
    office_close (17:00), or, in person, at or after in_person_cutoff (15:00);
  * N working days (NGAY_LAM_VIEC): 17:00 of the Nth working day after the (effective) day;
  * N calendar days (NGAY): 17:00 of that day + N, moved to the next working day when not one;
  * N hours (GIO): N office hours (07:30-11:30, 13:30-17:00) from the (effective) reception time,
    taken to the minute (seconds dropped; before opening or at lunch the clock starts at the next
    opening; a count ending exactly at a closing time ends then, not at the next opening).
  Null when the limit or its unit is unknown, a day limit is not a whole number, or a date it
  needs lies in a year without a working-day notice (never guessed: calendar.md).

  Office minutes: a working day has M = (morning_close - morning_open) + (office_close -
  afternoon_open) office minutes (450); the office minute o in (0, M] of working day k is the
  instant morning_open + o while o <= morning minutes, else afternoon_open + (o - morning minutes).
  Adding hours is then arithmetic on (k - 1) * M + o.
-#}

{#- One setting of seeds/onestop_office_rules.csv (an uncorrelated scalar: computed once). -#}
{% macro office_rule(column) -%}
    (select office_rules.{{ column }} from {{ ref('onestop_office_rules') }} as office_rules)
{%- endmacro %}


{#- True when the channel counts as in person (the cut-off applies). -#}
{% macro is_in_person_channel(channel_code) -%}
    coalesce({{ channel_code }} = {{ office_rule('in_person_channel_code') }}, false)
{%- endmacro %}


{#- True when a reception at `moment` counts from the next working day (non-working day, at or
    after closing, in person at or after the cut-off). Null outside the calendar. -#}
{% macro counts_from_next_working_day(moment, is_in_person) -%}
    (
        not (select cal_day.is_working_day from {{ ref('dim_date') }} as cal_day
             where cal_day.date_day = cast({{ moment }} as date))
        or cast({{ moment }} as time) >= {{ office_rule('office_close') }}
        or (coalesce({{ is_in_person }}, false)
            and cast({{ moment }} as time) >= {{ office_rule('in_person_cutoff') }})
    )
{%- endmacro %}


{#- working_day_seq of the (effective) reception day: the anchor's day, or the next working day. -#}
{% macro effective_working_day_seq(moment, is_in_person) -%}
    (
        (select cal_seq.working_day_seq from {{ ref('dim_date') }} as cal_seq
         where cal_seq.date_day = cast({{ moment }} as date))
        + case when {{ counts_from_next_working_day(moment, is_in_person) }} then 1 else 0 end
    )
{%- endmacro %}


{#- The working day whose working_day_seq is `seq` (null beyond the calendar). -#}
{% macro working_day_of_seq(seq) -%}
    (select wd_of_seq.date_day from {{ ref('int_working_days') }} as wd_of_seq
     where wd_of_seq.working_day_seq = ({{ seq }}))
{%- endmacro %}


{#- Office minutes per working day, and in the morning. -#}
{% macro office_minutes_per_day() -%}
    (extract(epoch from ({{ office_rule('morning_close') }} - {{ office_rule('morning_open') }})
                        + ({{ office_rule('office_close') }} - {{ office_rule('afternoon_open') }})) / 60)
{%- endmacro %}

{% macro office_minutes_in_morning() -%}
    (extract(epoch from ({{ office_rule('morning_close') }} - {{ office_rule('morning_open') }})) / 60)
{%- endmacro %}


{#- The office minute (0 .. M) at which the clock starts on the effective day: 0 when the
    reception counts from the next working day, else the reception's minute (seconds dropped),
    clipped into office hours. -#}
{% macro office_minute_of_start(moment, is_in_person) -%}
    (
        case
            when {{ counts_from_next_working_day(moment, is_in_person) }} then 0
            when cast(date_trunc('minute', {{ moment }}) as time) < {{ office_rule('morning_open') }} then 0
            when cast(date_trunc('minute', {{ moment }}) as time) < {{ office_rule('morning_close') }}
                then extract(epoch from (cast(date_trunc('minute', {{ moment }}) as time)
                                         - {{ office_rule('morning_open') }})) / 60
            when cast(date_trunc('minute', {{ moment }}) as time) < {{ office_rule('afternoon_open') }}
                then {{ office_minutes_in_morning() }}
            else {{ office_minutes_in_morning() }}
                 + extract(epoch from (cast(date_trunc('minute', {{ moment }}) as time)
                                       - {{ office_rule('afternoon_open') }})) / 60
        end
    )
{%- endmacro %}


{#- The instant of office minute `minute` (0 .. M) of working day `day_expr`; at_boundary_end:
    minute = morning minutes is the morning's close (a count ending there), else the afternoon's
    opening (a clock starting there). -#}
{% macro office_instant(day_expr, minute, at_boundary_end=true) -%}
    (
        case
            when ({{ minute }}) {{ '<=' if at_boundary_end else '<' }} {{ office_minutes_in_morning() }}
                then cast({{ day_expr }} as date) + {{ office_rule('morning_open') }}
                     + make_interval(mins => cast({{ minute }} as integer))
            else cast({{ day_expr }} as date) + {{ office_rule('afternoon_open') }}
                 + make_interval(mins => cast(({{ minute }}) - {{ office_minutes_in_morning() }} as integer))
        end
    )
{%- endmacro %}


{#- The moment the statutory clock starts: the anchor (clipped into office hours, to the minute), or
    the opening of the next working day when the anchor counts from then. -#}
{% macro statutory_clock_start(moment, is_in_person) -%}
    {{ office_instant(working_day_of_seq(effective_working_day_seq(moment, is_in_person)),
                      office_minute_of_start(moment, is_in_person), at_boundary_end=false) }}
{%- endmacro %}


{#- THE statutory due time for a limit of `time_limit` `time_limit_unit` counted from `moment`
    (the reception, or the last received supplement's reception). -#}
{% macro statutory_due_at(moment, time_limit, time_limit_unit, is_in_person) -%}
    (
        case
            when {{ moment }} is null or {{ time_limit }} is null or {{ time_limit }} < 0 then null
            when {{ time_limit_unit }} = 'NGAY_LAM_VIEC' and {{ time_limit }} = trunc({{ time_limit }}) then
                cast({{ working_day_of_seq(effective_working_day_seq(moment, is_in_person) ~ ' + cast(' ~ time_limit ~ ' as integer)') }} as date)
                + {{ office_rule('office_close') }}
            when {{ time_limit_unit }} = 'NGAY' and {{ time_limit }} = trunc({{ time_limit }}) then (
                select cast(case when cal_end.is_working_day then cal_end.date_day
                                 else {{ working_day_of_seq('cal_end.working_day_seq + 1') }} end as date)
                       + {{ office_rule('office_close') }}
                from {{ ref('dim_date') }} as cal_end
                where cal_end.date_day = {{ working_day_of_seq(effective_working_day_seq(moment, is_in_person)) }}
                                         + cast({{ time_limit }} as integer)
            )
            when {{ time_limit_unit }} = 'GIO' then (
                select
                    case
                        when office_count.added = 0
                            then {{ office_instant(working_day_of_seq('office_count.start_seq'), 'office_count.start_minute', at_boundary_end=false) }}
                        else {{ office_instant(working_day_of_seq('office_count.due_seq'),
                                               'office_count.total - (office_count.due_seq - 1) * office_count.per_day') }}
                    end
                from (
                    select
                        office_start.*,
                        cast(ceil(office_start.total / office_start.per_day) as bigint) as due_seq
                    from (
                        select
                            {{ effective_working_day_seq(moment, is_in_person) }} as start_seq,
                            {{ office_minute_of_start(moment, is_in_person) }} as start_minute,
                            round({{ time_limit }} * 60) as added,
                            {{ office_minutes_per_day() }} as per_day,
                            ({{ effective_working_day_seq(moment, is_in_person) }} - 1) * {{ office_minutes_per_day() }}
                                + {{ office_minute_of_start(moment, is_in_person) }}
                                + round({{ time_limit }} * 60) as total
                    ) as office_start
                ) as office_count
            )
        end
    )
{%- endmacro %}
