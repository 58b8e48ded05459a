-- One row per supplement request of a dossier (DanhSachHoSoBoSung), in list order.
select
    dossiers.dossier_id,
    item.ordinality as supplement_seq,
    {{ json_text('item.value', 'HoSoBoSungId') }} as supplement_id,
    {{ parse_source_ts("item.value ->> 'NgayYeuCauBoSung'") }} as requested_at,
    {{ parse_source_ts("item.value ->> 'NgayTiepNhanBoSung'") }} as supplement_received_at,
    {{ parse_source_ts("item.value ->> 'NgayHenTraTruoc'") }} as due_before_at,
    {{ parse_source_ts("item.value ->> 'NgayHenTraMoi'") }} as due_after_at
{{ from_dossier_list('supplements_json') }}
