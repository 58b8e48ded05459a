-- One row per dossier (MaHoSo): its latest state as of var as_of_date, typed.
-- Timestamps are local time (Asia/Ho_Chi_Minh) without time zone; '' -> null.
-- Personal fields are the pseudonyms the loader wrote (never clear text).
-- JSON lists are kept as jsonb arrays; their rows are the int_dossier_* models.
select
    {{ json_text('payload', 'MaHoSo') }} as dossier_id,
    {{ json_text('payload', 'MaTTHC') }} as procedure_code,
    {{ json_text('payload', 'TenTTHC') }} as procedure_name,
    {{ json_text('payload', 'MaLinhVuc') }} as field_code,
    {{ json_text('payload', 'TenLinhVuc') }} as field_name,
    {{ json_text('payload', 'DonViTiepNhan') }} as receiving_unit_id,
    {{ json_text('payload', 'DonViXuLy') }} as unit_id,
    -- sources.md: a missing channel counts as in person ("1")
    coalesce({{ json_text('payload', 'KenhThucHien') }}, '1') as channel_code,
    {{ json_text('payload', 'LoaiDoiTuong') }} as applicant_type_code,
    {{ json_text('payload', 'ChuHoSo') }} as applicant_name_pseudonym,
    {{ json_text('payload', 'SoGiayToChuHoSo') }} as applicant_id_pseudonym,
    {{ json_text('payload', 'SoDienThoai') }} as applicant_phone_pseudonym,
    {{ json_text('payload', 'Email') }} as applicant_email_pseudonym,
    {{ json_text('payload', 'TrichYeuHoSo') }} as summary,
    {{ parse_source_ts("payload ->> 'NgayNopHoSo'") }} as submitted_at,
    {{ parse_source_ts("payload ->> 'NgayTiepNhan'") }} as accepted_at,
    {{ parse_source_ts("payload ->> 'NgayHenTra'") }} as due_at,
    {{ parse_source_ts("payload ->> 'NgayKetThucXuLy'") }} as processing_ended_at,
    {{ parse_source_ts("payload ->> 'NgayTra'") }} as returned_at,
    {{ parse_source_ts("payload ->> 'NgayTuChoi'") }} as refused_at,
    {{ json_text('payload', 'TrangThaiHoSo') }} as status_code,
    {{ json_text('payload', 'HinhThucTra') }} as result_delivery_code,
    {{ json_text('payload', 'DuocThanhToanTrucTuyen') }} as online_payment_code,
    {{ source_flag("payload ->> 'HoSoCoThanhPhanSoHoa'") }} as has_digitised_components,
    {{ source_flag("payload ->> 'TaiKhoanDuocXacThucVoiVNeID'") }} as is_vneid_verified,
    {{ json_list('payload', 'DanhSachLePhi') }} as fees_json,
    {{ json_list('payload', 'TaiLieuNop') }} as components_json,
    {{ json_list('payload', 'DanhSachHoSoBoSung') }} as supplements_json,
    {{ json_list('payload', 'DanhSachXinLoi') }} as apologies_json,
    {{ json_list('payload', 'DanhSachGiayToKetQua') }} as result_documents_json,
    {{ parse_source_ts("payload ->> 'NgayCapNhat'") }} as updated_at,
    source_day,
    batch_id,
    line_no,
    merge_id
from ({{ latest_source_records('onestop', 'dossiers') }}) as latest
