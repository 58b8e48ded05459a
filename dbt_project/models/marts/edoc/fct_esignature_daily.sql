-- One row per (date_day, unit_id) with the day's e-document counts of the unit (OrganId: the
-- issuer of an outgoing document, the recipient of an incoming one), on the document's
-- report_date (fct_documents), up to as_of_date. Secret documents are left out
-- (is_in_esignature_kpi). Only days with at least one counted document have a row (a missing row
-- is all zeros). Every flag counted here is defined in fct_documents.
with documents as (
    select * from {{ ref('fct_documents') }}
    where is_in_esignature_kpi
      and report_date <= {{ as_of_date() }}
)

select
    report_date as date_day,
    organ_id as unit_id,
    count(*) filter (where direction = 'OUT') as outgoing_documents,
    count(*) filter (where direction = 'OUT' and is_electronic) as issued_electronically,
    count(*) filter (where direction = 'OUT' and is_fully_signed) as fully_signed,
    count(*) filter (where direction = 'OUT' and is_signer_only) as signer_only,
    count(*) filter (where direction = 'OUT' and has_invalid_signature) as invalid_signature,
    count(*) filter (where direction = 'OUT' and is_paper) as paper,
    count(*) filter (where direction = 'OUT' and is_paper and is_leader_signer) as paper_signed_by_leader,
    count(*) filter (where direction = 'OUT' and via_axis) as via_axis,
    count(*) filter (where direction = 'OUT' and dispatched_within_one_working_day)
        as dispatched_within_one_working_day,
    count(*) filter (where direction = 'IN') as incoming_documents,
    count(*) filter (where direction = 'IN' and is_electronic) as incoming_electronic,
    count(*) filter (where direction = 'IN' and via_axis) as incoming_via_axis,
    count(*) filter (where direction = 'IN' and acknowledged_same_day) as acknowledged_same_day
from documents
group by report_date, organ_id
