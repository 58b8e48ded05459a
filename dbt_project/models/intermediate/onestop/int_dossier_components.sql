-- One row per submitted component of a dossier (TaiLieuNop), with its digitisation flags.
-- Incremental on the dossiers the ledger changed (macros/incremental.sql).
{{ config(**record_incremental_config('onestop__dossiers', 'stg_onestop__dossiers', 'dossier_id',
                                      ['dossier_id', 'component_seq'])) }}
-- depends_on: {{ incremental_dependencies('stg_onestop__dossiers') }}
select
    dossiers.dossier_id,
    item.ordinality as component_seq,
    {{ json_text('item.value', 'MaThanhPhanHoSo') }} as component_code,
    {{ source_flag("item.value ->> 'DuocSoHoa'") }} as is_digitised,
    {{ source_flag("item.value ->> 'DuocTaiSuDung'") }} as is_reused,
    {{ source_flag("item.value ->> 'DuocLayTuKhoDMQG'") }} as is_from_national_store,
    dossiers.merge_id
{{ from_dossier_list('components_json') }}
{%- if is_incremental() %}
where {{ changed_rows_filter('dossiers', 'onestop__dossiers') }}
{%- endif %}
