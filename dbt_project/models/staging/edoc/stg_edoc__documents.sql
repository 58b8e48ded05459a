-- One row per e-document (DocumentId): its latest state as of var as_of_date, typed
-- (sources.md, system `edoc`, feed `documents`). Timestamps are local time without time zone
-- (macro parse_source_ts); booleans via macro source_flag (JSON true/false or "1"/"0"; anything
-- else -> null, decided downstream). JSON lists stay jsonb arrays; their rows are the
-- int_document_signatures / int_document_recipients / int_document_statuses models.
select
    {{ json_text('payload', 'DocumentId') }} as document_id,
    {{ json_text('payload', 'Direction') }} as direction,
    {{ json_text('payload', 'OrganId') }} as organ_id,
    {{ json_text('payload', 'FromOrganId') }} as from_organ_id,
    {{ json_text('payload', 'CodeNumber') }} as code_number_text,
    {{ json_text('payload', 'CodeNotation') }} as code_notation,
    {{ json_text('payload', 'DocumentType') }} as document_type,
    {{ json_text('payload', 'Subject') }} as subject,
    {{ parse_source_ts("payload ->> 'PromulgationDate'") }} as promulgated_at,
    {{ source_flag("payload ->> 'IsElectronic'") }} as is_electronic,
    {{ source_flag("payload ->> 'IsSecret'") }} as is_secret,
    {{ json_text('payload', 'Channel') }} as channel,
    {{ json_text('payload', 'SignerFullName') }} as signer_full_name,
    {{ json_text('payload', 'SignerPosition') }} as signer_position,
    {{ json_text('payload', 'SignerCompetence') }} as signer_competence,
    {{ source_flag("payload ->> 'SignerIsLeader'") }} as signer_is_leader,
    {{ parse_source_ts("payload ->> 'RegisteredAt'") }} as registered_at,
    {{ parse_source_ts("payload ->> 'DispatchedAt'") }} as dispatched_at,
    {{ parse_source_ts("payload ->> 'AcknowledgedAt'") }} as acknowledged_at,
    {{ parse_source_ts("payload ->> 'HandlingDueDate'") }} as handling_due_at,
    {{ parse_source_ts("payload ->> 'HandlingDoneAt'") }} as handling_done_at,
    {{ json_list('payload', 'Signatures') }} as signatures_json,
    {{ json_list('payload', 'Recipients') }} as recipients_json,
    {{ json_list('payload', 'Statuses') }} as statuses_json,
    {{ parse_source_ts("payload ->> 'NgayCapNhat'") }} as updated_at,
    source_day,
    batch_id,
    line_no,
    merge_id
from ({{ latest_source_records('edoc', 'documents') }}) as latest
