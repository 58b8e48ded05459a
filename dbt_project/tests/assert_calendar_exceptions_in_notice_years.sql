-- Every weekday off / Saturday worked belongs to a year whose notice is in calendar_notices
-- (otherwise dim_date would not contain it and the exception would silently vanish).
select exceptions.calendar_date, exceptions.kind, exceptions.source_notice
from {{ ref('calendar_exceptions') }} as exceptions
left join {{ ref('calendar_notices') }} as notices
    on notices.year = extract(year from exceptions.calendar_date)
where notices.year is null
