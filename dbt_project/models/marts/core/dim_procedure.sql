-- Administrative procedures (TTHC) of the list in force on as_of_date.
select
    procedure_code,
    procedure_name,
    field_code,
    field_name,
    procedure_level,
    time_limit,
    time_limit_unit,
    online_service_level,
    has_fee,
    returns_paper_result,
    citizens_may_apply,
    valid_from,
    valid_to
from {{ ref('stg_reference__procedures') }}
