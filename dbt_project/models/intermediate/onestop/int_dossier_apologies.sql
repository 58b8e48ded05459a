-- One row per apology slip of a dossier (DanhSachXinLoi), in list order.
-- Incremental on the dossiers the ledger changed (macros/incremental.sql).
{{ config(**record_incremental_config('onestop__dossiers', 'stg_onestop__dossiers', 'dossier_id',
                                      ['dossier_id', 'apology_seq'])) }}
-- depends_on: {{ incremental_dependencies('stg_onestop__dossiers') }}
select
    dossiers.dossier_id,
    item.ordinality as apology_seq,
    {{ parse_source_ts("item.value ->> 'NgayXinLoi'") }} as apologised_at,
    {{ parse_source_ts("item.value ->> 'NgayHenTraMoi'") }} as new_due_at,
    {{ json_text('item.value', 'LyDo') }} as reason,
    dossiers.merge_id
{{ from_dossier_list('apologies_json') }}
{%- if is_incremental() %}
where {{ changed_rows_filter('dossiers', 'onestop__dossiers') }}
{%- endif %}
