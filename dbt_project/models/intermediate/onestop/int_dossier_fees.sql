-- One row per fee or charge of a dossier (DanhSachLePhi), in list order. Amounts in VND.
-- Incremental on the dossiers the ledger changed (macros/incremental.sql).
{{ config(**record_incremental_config('onestop__dossiers', 'stg_onestop__dossiers', 'dossier_id',
                                      ['dossier_id', 'fee_seq'])) }}
-- depends_on: {{ incremental_dependencies('stg_onestop__dossiers') }}
select
    dossiers.dossier_id,
    item.ordinality as fee_seq,
    {{ json_text('item.value', 'MaPhiLePhi') }} as fee_code,
    {{ json_text('item.value', 'TenPhiLePhi') }} as fee_name,
    cast({{ json_text('item.value', 'Gia') }} as numeric) as amount_vnd,
    {{ json_text('item.value', 'HinhThucThu') }} as collection_method,
    dossiers.merge_id
{{ from_dossier_list('fees_json') }}
{%- if is_incremental() %}
where {{ changed_rows_filter('dossiers', 'onestop__dossiers') }}
{%- endif %}
