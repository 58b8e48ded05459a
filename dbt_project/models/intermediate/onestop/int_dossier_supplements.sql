-- One row per supplement request of a dossier (DanhSachHoSoBoSung), in list order.
-- Incremental on the dossiers the ledger changed (macros/incremental.sql).
{{ config(**record_incremental_config('onestop__dossiers', 'stg_onestop__dossiers', 'dossier_id',
                                      ['dossier_id', 'supplement_seq'])) }}
-- depends_on: {{ incremental_dependencies('stg_onestop__dossiers') }}
select
    dossiers.dossier_id,
    item.ordinality as supplement_seq,
    {{ json_text('item.value', 'HoSoBoSungId') }} as supplement_id,
    {{ parse_source_ts("item.value ->> 'NgayYeuCauBoSung'") }} as requested_at,
    {{ parse_source_ts("item.value ->> 'NgayTiepNhanBoSung'") }} as supplement_received_at,
    {{ parse_source_ts("item.value ->> 'NgayHenTraTruoc'") }} as due_before_at,
    {{ parse_source_ts("item.value ->> 'NgayHenTraMoi'") }} as due_after_at,
    dossiers.merge_id
{{ from_dossier_list('supplements_json') }}
{%- if is_incremental() %}
where {{ changed_rows_filter('dossiers', 'onestop__dossiers') }}
{%- endif %}
