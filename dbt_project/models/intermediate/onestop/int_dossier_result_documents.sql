-- One row per electronic result document of a dossier (DanhSachGiayToKetQua).
-- Incremental on the dossiers the ledger changed (macros/incremental.sql).
{{ config(**record_incremental_config('onestop__dossiers', 'stg_onestop__dossiers', 'dossier_id',
                                      ['dossier_id', 'result_seq'])) }}
-- depends_on: {{ incremental_dependencies('stg_onestop__dossiers') }}
select
    dossiers.dossier_id,
    item.ordinality as result_seq,
    {{ json_text('item.value', 'MaGiayToKetQua') }} as result_document_code,
    {{ json_text('item.value', 'DuongDanTepTinKetQua') }} as result_file_url,
    dossiers.merge_id
{{ from_dossier_list('result_documents_json') }}
{%- if is_incremental() %}
where {{ changed_rows_filter('dossiers', 'onestop__dossiers') }}
{%- endif %}
