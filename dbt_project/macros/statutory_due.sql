{#-
  The statutory due time of a dossier (calendar.md, "Statutory due dates"; issue 9 part 1), the one
  definition the due-date audit uses. Settings (office hours, in-person cut-off, the in-person
  channel): seeds/onestop_office_rules.csv, read when the model runs (office_rules()) and written
  into the SQL as literals. Calendar: dim_date (working_day_seq of a date) and int_working_days
  (the working day of a seq). Python twin: cchc_demo.simulator.clock.due_time (tested to agree,
  tests/test_due_date_scenarios.py).

  The convention, counted from an anchor (the reception NgayTiepNhan, or, after a requested
  supplement was received, that supplement's reception NgayTiepNhanBoSung: the limit restarts):
  * the anchor counts from the next working day when it is on a non-working day, at or after
    office_close (17:00), or, in person, at or after in_person_cutoff (15:00);
  * N working days (NGAY_LAM_VIEC): office_close of the Nth working day after the (effective) day;
  * N calendar days (NGAY): office_close of that day + N, moved to the next working day when not one;
  * N hours (GIO): N office hours (07:30-11:30, 13:30-17:00) from the (effective) reception time,
    taken to the minute (seconds dropped; before opening or at lunch the clock starts at the next
    opening; a count ending exactly at a closing time ends then, not at the next opening).
  Null when the limit or its unit is unknown, a day limit is not a whole number, or a date it
  needs lies in a year without a working-day notice (never guessed: calendar.md).

  Office minutes: a working day has M = (morning_close - morning_open) + (office_close -
  afternoon_open) office minutes (450); office minute o in [0, M] of a working day is the instant
  morning_open + o while o is within the morning's minutes, else afternoon_open + (o - morning
  minutes). Adding hours is arithmetic on (working_day_seq - 1) * M + o.

  Each macro is one scalar expression: one correlated subquery probing dim_date and
  int_working_days by their unique indexes (no scan), the settings as literals.
-#}

{#- The settings of seeds/onestop_office_rules.csv as a dict (times as 'HH:MM:SS', and minutes after
    midnight), read when the model runs; the seed must hold exactly one row. -#}
{% macro office_rules() -%}
    {%- set relation = ref('onestop_office_rules') -%}
    {%- set names = ['morning_open', 'morning_close', 'afternoon_open', 'office_close', 'in_person_cutoff'] -%}
    {%- set built = execute and adapter.get_relation(relation.database, relation.schema, relation.identifier) -%}
    {%- if built -%}
        {%- set found = run_query(
            "select " ~ (names | join('::text, ')) ~ "::text, in_person_channel_code from " ~ relation) -%}
        {%- if found.rows | length != 1 -%}
            {{ exceptions.raise_compiler_error(
                relation ~ " must hold exactly one row of settings (it holds " ~ (found.rows | length) ~ ")") }}
        {%- endif -%}
        {%- set row = found.rows[0] -%}
        {%- set rules = {'in_person_channel_code': row[5]} -%}
        {%- for name in names -%}
            {%- do rules.update({name: row[loop.index0]}) -%}
        {%- endfor -%}
    {%- else -%}
        {#- parsing, or compiling before the seed is built (dbt docs on an empty database): placeholders
            that no build ever runs with (a model runs after its seed) -#}
        {%- set rules = {'in_person_channel_code': ''} -%}
        {%- for name in names -%}
            {%- do rules.update({name: '00:00:00'}) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- for name in names -%}
        {%- set parts = rules[name].split(':') -%}
        {%- do rules.update({name ~ '_minute': (parts[0] | int) * 60 + (parts[1] | int)}) -%}
    {%- endfor -%}
    {%- do rules.update({
        'morning_minutes': rules['morning_close_minute'] - rules['morning_open_minute'],
        'day_minutes': rules['morning_close_minute'] - rules['morning_open_minute']
                       + rules['office_close_minute'] - rules['afternoon_open_minute']}) -%}
    {%- do return(rules) -%}
{%- endmacro %}


{#- True when the channel counts as in person (the cut-off applies). -#}
{% macro is_in_person_channel(channel_code) -%}
    coalesce({{ channel_code }} = '{{ office_rules()['in_person_channel_code'] }}', false)
{%- endmacro %}


{#- The minute of the day of `moment` (seconds dropped). -#}
{% macro _minute_of_day(moment) -%}
    (extract(hour from {{ moment }}) * 60 + extract(minute from {{ moment }}))
{%- endmacro %}


{#- The anchor's start on the calendar, from its dim_date row `day` (alias): effective_seq (the
    working_day_seq of the effective reception day: the anchor's day, or the next working day when
    the anchor counts from then) and start_minute (the office minute the clock starts at: 0 then,
    else the anchor's minute clipped into office hours). For a select list over `from dim_date as day`. -#}
{% macro _statutory_start_columns(day, moment, is_in_person) -%}
    {%- set r = office_rules() -%}
    {%- set from_next_day -%}
        (not {{ day }}.is_working_day
         or {{ _minute_of_day(moment) }} >= {{ r['office_close_minute'] }}
         or (coalesce({{ is_in_person }}, false) and {{ _minute_of_day(moment) }} >= {{ r['in_person_cutoff_minute'] }}))
    {%- endset -%}
    {{ day }}.working_day_seq + case when {{ from_next_day }} then 1 else 0 end as effective_seq,
    case
        when {{ from_next_day }} then 0
        when {{ _minute_of_day(moment) }} < {{ r['morning_open_minute'] }} then 0
        when {{ _minute_of_day(moment) }} < {{ r['morning_close_minute'] }}
            then {{ _minute_of_day(moment) }} - {{ r['morning_open_minute'] }}
        when {{ _minute_of_day(moment) }} < {{ r['afternoon_open_minute'] }} then {{ r['morning_minutes'] }}
        else {{ r['morning_minutes'] }} + {{ _minute_of_day(moment) }} - {{ r['afternoon_open_minute'] }}
    end as start_minute
{%- endmacro %}


{#- The working day whose working_day_seq is `seq` (null beyond the calendar). -#}
{% macro working_day_of_seq(seq) -%}
    (select wd_of_seq.date_day from {{ ref('int_working_days') }} as wd_of_seq
     where wd_of_seq.working_day_seq = ({{ seq }}))
{%- endmacro %}


{#- The instant of office minute `minute` of the day `day_expr` (a date); at_boundary_end: the
    morning's last minute is its close (a count ending there), else the afternoon's opening (a
    clock starting there). -#}
{% macro _office_instant(day_expr, minute, at_boundary_end=true) -%}
    {%- set r = office_rules() -%}
    (
        ({{ day_expr }}) + make_interval(mins => cast(
            case
                when ({{ minute }}) {{ '<=' if at_boundary_end else '<' }} {{ r['morning_minutes'] }}
                    then {{ r['morning_open_minute'] }} + ({{ minute }})
                else {{ r['afternoon_open_minute'] }} + ({{ minute }}) - {{ r['morning_minutes'] }}
            end as integer))
    )
{%- endmacro %}


{#- The moment the statutory clock starts: the anchor (clipped into office hours, to the minute), or
    the opening of the next working day when the anchor counts from then. -#}
{% macro statutory_clock_start(moment, is_in_person) -%}
    (
        select {{ _office_instant(working_day_of_seq('clock_start.effective_seq'), 'clock_start.start_minute',
                                  at_boundary_end=false) }}
        from (
            select {{ _statutory_start_columns('clock_day', moment, is_in_person) }}
            from {{ ref('dim_date') }} as clock_day
            where clock_day.date_day = cast({{ moment }} as date)
        ) as clock_start
    )
{%- endmacro %}


{#- THE statutory due time for a limit of `time_limit` `time_limit_unit` counted from `moment`
    (the reception, or the last received supplement's reception). -#}
{% macro statutory_due_at(moment, time_limit, time_limit_unit, is_in_person) -%}
    {%- set r = office_rules() -%}
    {%- set close = "make_interval(mins => " ~ r['office_close_minute'] ~ ")" -%}
    (
        select
            case
                when {{ time_limit }} is null or {{ time_limit }} < 0 then null
                when {{ time_limit_unit }} = 'NGAY_LAM_VIEC' and {{ time_limit }} = trunc({{ time_limit }})
                    then {{ working_day_of_seq('due_start.effective_seq + cast(' ~ time_limit ~ ' as integer)') }}
                         + {{ close }}
                when {{ time_limit_unit }} = 'NGAY' and {{ time_limit }} = trunc({{ time_limit }}) then (
                    select case when due_cal_end.is_working_day then due_cal_end.date_day
                                else {{ working_day_of_seq('due_cal_end.working_day_seq + 1') }} end + {{ close }}
                    from {{ ref('dim_date') }} as due_cal_end
                    where due_cal_end.date_day = {{ working_day_of_seq('due_start.effective_seq') }}
                                                 + cast({{ time_limit }} as integer)
                )
                when {{ time_limit_unit }} = 'GIO' and round({{ time_limit }} * 60) = 0
                    then {{ _office_instant(working_day_of_seq('due_start.effective_seq'), 'due_start.start_minute',
                                            at_boundary_end=false) }}
                when {{ time_limit_unit }} = 'GIO' then (
                    select {{ _office_instant(working_day_of_seq('due_hours.due_seq'),
                                              'due_hours.total - (due_hours.due_seq - 1) * ' ~ r['day_minutes']) }}
                    from (
                        select
                            due_total.total,
                            cast(ceil(due_total.total / {{ r['day_minutes'] }}.0) as bigint) as due_seq
                        from (
                            select (due_start.effective_seq - 1) * {{ r['day_minutes'] }} + due_start.start_minute
                                   + round({{ time_limit }} * 60) as total
                        ) as due_total
                    ) as due_hours
                )
            end
        from (
            select {{ _statutory_start_columns('due_day', moment, is_in_person) }}
            from {{ ref('dim_date') }} as due_day
            where due_day.date_day = cast({{ moment }} as date)
        ) as due_start
    )
{%- endmacro %}
