-- One row per processing step (MaHoSo, BuocXuLy): its latest state as of var as_of_date, typed.
select
    record_key as step_key,
    {{ json_text('payload', 'MaHoSo') }} as dossier_id,
    {{ json_text('payload', 'BuocXuLy') }} as step_code,
    case
        when btrim(payload ->> 'BuocXuLy') ~ '^[0-9]{1,9}$' then cast(btrim(payload ->> 'BuocXuLy') as integer)
    end as step_no,
    {{ json_text('payload', 'PhongBanXuLy') }} as department_name,
    {{ json_text('payload', 'NguoiXuLy') }} as official_name,
    {{ json_text('payload', 'ChucDanh') }} as official_title,
    {{ json_text('payload', 'TrangThai') }} as status_code,
    {{ parse_source_ts("payload ->> 'ThoiDiemXuLy'") }} as processed_at,
    {{ parse_source_ts("payload ->> 'NgayBatDau'") }} as started_at,
    {{ parse_source_ts("payload ->> 'NgayKetThucTheoQuyDinh'") }} as statutory_end_at,
    {{ json_text('payload', 'NoiDungXuLy') }} as note,
    {{ parse_source_ts("payload ->> 'NgayCapNhat'") }} as updated_at,
    source_day,
    batch_id,
    line_no,
    merge_id
from ({{ latest_source_records('onestop', 'steps') }}) as latest
