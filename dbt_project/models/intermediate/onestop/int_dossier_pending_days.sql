-- One row per (dossier, day) for every day at whose end the dossier is pending (received on or
-- before the day, not finished by its end), from its reception to as_of_date, with its state
-- at the end of that day:
--   due_in_force: the due time in force then. NgayHenTra is the due time as extended by every
--     supplement; if a supplement requested after that day later moved the due time, the one in
--     force then is that (first such) supplement's NgayHenTraTruoc.
--   is_waiting_for_supplement: a supplement was requested by the end of the day and not yet
--     received (DanhSachHoSoBoSung request / receipt times).
--   is_overdue: macro pending_is_overdue (waiting -> within deadline; else due time before the
--     end of the day -> overdue).
with dossiers as (
    select dossier_id, unit_id, field_code, received_at, finished_at, due_at
    from {{ ref('int_dossiers') }}
    where is_in_report
      and cast(received_at as date) <= {{ as_of_date() }}
),

pending_days as (
    select
        dossiers.dossier_id,
        dossiers.unit_id,
        dossiers.field_code,
        dossiers.due_at,
        cast(day as date) as date_day
    from dossiers
    cross join lateral generate_series(
        cast(cast(dossiers.received_at as date) as timestamp),
        cast(least(coalesce(cast(dossiers.finished_at as date) - 1, {{ as_of_date() }}), {{ as_of_date() }}) as timestamp),
        interval '1 day'
    ) as day
),

supplements as (
    select dossier_id, supplement_seq, requested_at, supplement_received_at, due_before_at
    from {{ ref('int_dossier_supplements') }}
    where requested_at is not null
),

day_states as (
    select
        pending_days.dossier_id,
        pending_days.date_day,
        pending_days.unit_id,
        pending_days.field_code,
        min(pending_days.due_at) as due_at,
        coalesce(bool_or(
            supplements.requested_at < {{ end_of_day('pending_days.date_day') }}
            and (supplements.supplement_received_at is null
                 or supplements.supplement_received_at >= {{ end_of_day('pending_days.date_day') }})
        ), false) as is_waiting_for_supplement,
        (array_agg(supplements.due_before_at order by supplements.requested_at, supplements.supplement_seq)
            filter (where supplements.requested_at >= {{ end_of_day('pending_days.date_day') }}
                      and supplements.due_before_at is not null))[1] as due_before_later_supplement
    from pending_days
    left join supplements
        on supplements.dossier_id = pending_days.dossier_id
    group by pending_days.dossier_id, pending_days.date_day, pending_days.unit_id, pending_days.field_code
)

select
    dossier_id,
    date_day,
    unit_id,
    field_code,
    coalesce(due_before_later_supplement, due_at) as due_in_force,
    is_waiting_for_supplement,
    {{ pending_is_overdue('coalesce(due_before_later_supplement, due_at)',
                          'is_waiting_for_supplement', end_of_day('date_day')) }} as is_overdue
from day_states
