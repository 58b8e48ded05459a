-- One row per electronic result document of a dossier (DanhSachGiayToKetQua).
select
    dossiers.dossier_id,
    item.ordinality as result_seq,
    {{ json_text('item.value', 'MaGiayToKetQua') }} as result_document_code,
    {{ json_text('item.value', 'DuongDanTepTinKetQua') }} as result_file_url
{{ from_dossier_list('result_documents_json') }}
