-- One row per feedback or complaint (MaPAKN, incl. hotline 1022): its latest state as of var
-- as_of_date, typed. Timestamps are local time without time zone; '' -> null. The feed carries no
-- applicant data (sources.md); dossier_id is the related dossier as delivered (may be null, and
-- may name a dossier the warehouse does not hold).
select
    {{ json_text('payload', 'MaPAKN') }} as feedback_id,
    {{ json_text('payload', 'Kenh') }} as channel_code,
    {{ json_text('payload', 'MaHoSo') }} as dossier_id,
    {{ json_text('payload', 'DonViXuLy') }} as unit_id,
    {{ json_text('payload', 'PhanLoai') }} as category_code,
    {{ parse_source_ts("payload ->> 'NgayTiepNhan'") }} as received_at,
    {{ parse_source_ts("payload ->> 'HanXuLy'") }} as handling_due_at,
    {{ parse_source_ts("payload ->> 'NgayXuLy'") }} as handled_at,
    {{ json_text('payload', 'KetQua') }} as verdict_code,
    {{ parse_source_ts("payload ->> 'NgayCapNhat'") }} as updated_at,
    source_day,
    batch_id,
    line_no,
    merge_id
from ({{ latest_source_records('onestop', 'feedback') }}) as latest
