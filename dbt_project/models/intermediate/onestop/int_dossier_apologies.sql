-- One row per apology slip of a dossier (DanhSachXinLoi), in list order.
select
    dossiers.dossier_id,
    item.ordinality as apology_seq,
    {{ parse_source_ts("item.value ->> 'NgayXinLoi'") }} as apologised_at,
    {{ parse_source_ts("item.value ->> 'NgayHenTraMoi'") }} as new_due_at,
    {{ json_text('item.value', 'LyDo') }} as reason
{{ from_dossier_list('apologies_json') }}
