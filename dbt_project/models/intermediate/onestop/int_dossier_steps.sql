-- One row per recorded processing step (steps feed, key MaHoSo|BuocXuLy) with the time it held
-- the dossier: from its start (NgayBatDau) to its processing time (ThoiDiemXuLy). kpi.late_dossiers
-- names the official and department of the step that held a late dossier longest; this model lets
-- it read a few dossiers' steps by index instead of parsing every step of the state each night.
--
-- Incremental on the steps the ledger changed (macros/incremental.sql; the key is the state's
-- record key, step_key).
{{ config(**record_incremental_config('onestop__steps', 'stg_onestop__steps', 'step_key', 'step_key',
                                      indexes=[{'columns': ['dossier_id']}])) }}
-- depends_on: {{ incremental_dependencies('stg_onestop__steps') }}
select
    nullif(btrim(steps.step_key), '') as step_key,
    steps.dossier_id,
    steps.step_no,
    steps.step_code,
    steps.department_name,
    steps.official_name,
    steps.official_title,
    steps.status_code,
    steps.started_at,
    steps.processed_at,
    steps.processed_at - steps.started_at as held_for,
    steps.merge_id
from {{ ref('stg_onestop__steps') }} as steps
where steps.dossier_id is not null
  and nullif(btrim(steps.step_key), '') is not null
{%- if is_incremental() %}
  and {{ changed_rows_filter('steps', 'onestop__steps') }}
{%- endif %}
