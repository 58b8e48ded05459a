-- The due date in force at any moment, per dossier: one row per change of a dossier's due date,
-- (dossier_id, change_seq) in time order. The due date in force at moment t is the due_at of the
-- last row with is_in_force and changed_at <= t (valid_to: the next such row's changed_at).
--
-- Which changes are in force (our convention, following domain.md "Counting rules" and
-- sources.md; the simulator follows it too):
--   reception            at NgayTiepNhan: the original due date (NgayHenTraTruoc of the first
--                        supplement request, which is the due date before any supplement moved it;
--                        else NgayHenTra);
--   supplement_received  at each NgayTiepNhanBoSung: the restarted due date NgayHenTraMoi (the
--                        time limit restarts from the supplement's reception: calendar.md);
--   source_due           at NgayCapNhat, only when the source's NgayHenTra differs from the due
--                        date the rows above end with: the source's due date as it stands is what
--                        the periodic report judges against, so it is in force from the last change;
--   apology_slip         at each NgayXinLoi: the new return date promised by the slip. NOT in force
--                        (is_in_force false): an apology is owed because the dossier is or will be
--                        late, it is no lawful extension, and the dossier stays late against the
--                        due date it missed. Kept here so that the promise is on record.
-- While a supplement is requested and not received the dossier is waiting (the periodic report
-- counts it within deadline, Decision 766 pauses its clock): that is int_dossier_supplements'.
--
-- Incremental on the dossiers the ledger changed (macros/incremental.sql).
{{ config(**record_incremental_config('onestop__dossiers', 'stg_onestop__dossiers', 'dossier_id',
                                      ['dossier_id', 'change_seq'])) }}
-- depends_on: {{ incremental_dependencies('stg_onestop__dossiers') }}
{%- set only_changed -%}
    {%- if is_incremental() %}
    and {{ key_in('dossier_id', changed_keys('onestop__dossiers', 'stg_onestop__dossiers', 'dossier_id')) }}
    {%- endif %}
{%- endset %}
with dossiers as (
    select dossier_id, received_at, due_at, updated_at, merge_id
    from {{ ref('int_dossiers') }}
    where received_at is not null
    {{ only_changed }}
),

supplements as (
    select
        dossier_id,
        supplement_seq,
        requested_at,
        supplement_received_at,
        due_before_at,
        due_after_at,
        row_number() over (partition by dossier_id order by requested_at, supplement_seq) as request_seq
    from {{ ref('int_dossier_supplements') }}
    where requested_at is not null
    {{ only_changed }}
),

apologies as (
    select dossier_id, apology_seq, apologised_at, new_due_at
    from {{ ref('int_dossier_apologies') }}
    where apologised_at is not null
    {{ only_changed }}
),

in_force as (
    select
        dossiers.dossier_id,
        'reception' as change_kind,
        dossiers.received_at as changed_at,
        coalesce(firsts.due_before_at, dossiers.due_at) as due_at,
        0 as source_seq
    from dossiers
    left join supplements as firsts
        on firsts.dossier_id = dossiers.dossier_id
       and firsts.request_seq = 1

    union all

    select
        supplements.dossier_id,
        'supplement_received',
        supplements.supplement_received_at,
        supplements.due_after_at,
        supplements.supplement_seq
    from supplements
    inner join dossiers
        on dossiers.dossier_id = supplements.dossier_id
    where supplements.supplement_received_at is not null
      and supplements.due_after_at is not null
),

last_in_force as (
    select distinct on (dossier_id) dossier_id, due_at
    from in_force
    order by dossier_id asc, changed_at desc, source_seq desc
),

changes as (
    select dossier_id, change_kind, changed_at, due_at, source_seq, true as is_in_force
    from in_force

    union all

    select dossiers.dossier_id, 'source_due', greatest(dossiers.updated_at, dossiers.received_at),
           dossiers.due_at, 0, true
    from dossiers
    inner join last_in_force
        on last_in_force.dossier_id = dossiers.dossier_id
    where dossiers.due_at is not null
      and last_in_force.due_at is distinct from dossiers.due_at

    union all

    select apologies.dossier_id, 'apology_slip', apologies.apologised_at, apologies.new_due_at,
           apologies.apology_seq, false
    from apologies
    inner join dossiers
        on dossiers.dossier_id = apologies.dossier_id
),

ordered as (
    select
        changes.*,
        row_number() over (partition by changes.dossier_id
                           order by changes.changed_at, case changes.change_kind when 'reception' then 0
                                                                         when 'supplement_received' then 1
                                                                         when 'source_due' then 2 else 3 end,
                                    changes.source_seq) as change_seq
    from changes
)

select
    ordered.dossier_id,
    cast(ordered.change_seq as integer) as change_seq,
    ordered.change_kind,
    ordered.changed_at,
    ordered.due_at,
    ordered.is_in_force,
    -- the next change in force (null: in force until now)
    case when ordered.is_in_force then
        lead(ordered.changed_at) over (partition by ordered.dossier_id, ordered.is_in_force
                                       order by ordered.change_seq)
    end as valid_to,
    cast(ordered.source_seq as integer) as source_seq,
    dossiers.merge_id
from ordered
inner join dossiers
    on dossiers.dossier_id = ordered.dossier_id
