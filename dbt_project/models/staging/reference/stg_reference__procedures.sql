-- The procedures list in force on as_of_date: the latest landed daily delivery <= as_of_date.
select
    {{ json_text('payload', 'MaTTHC') }} as procedure_code,
    {{ json_text('payload', 'TenTTHC') }} as procedure_name,
    {{ json_text('payload', 'MaLinhVuc') }} as field_code,
    {{ json_text('payload', 'TenLinhVuc') }} as field_name,
    {{ json_text('payload', 'CapThucHien') }} as procedure_level,
    cast({{ json_text('payload', 'ThoiHanGiaiQuyet') }} as numeric) as time_limit,
    {{ json_text('payload', 'DonViTinh') }} as time_limit_unit,
    {{ json_text('payload', 'MucDoDVC') }} as online_service_level,
    {{ source_flag("payload ->> 'CoPhiLePhi'") }} as has_fee,
    {{ source_flag("payload ->> 'TraKetQuaGiay'") }} as returns_paper_result,
    {{ source_flag("payload ->> 'DoiTuongCongDan'") }} as citizens_may_apply,
    cast({{ parse_source_ts("payload ->> 'ValidFrom'") }} as date) as valid_from,
    cast({{ parse_source_ts("payload ->> 'ValidTo'") }} as date) as valid_to,
    source_day,
    batch_id,
    merge_id
from ({{ latest_source_records('reference', 'procedures', whole=true) }}) as latest
