-- One row per recipient of a document (Recipients; outgoing documents), in list order.
select
    documents.document_id,
    cast(item.ordinality as integer) as recipient_seq,
    {{ json_text('item.value', 'OrganId') }} as recipient_organ_id
from {{ ref('stg_edoc__documents') }} as documents
cross join lateral jsonb_array_elements(documents.recipients_json) with ordinality as item (value, ordinality)
