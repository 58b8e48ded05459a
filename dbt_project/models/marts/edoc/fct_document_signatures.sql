-- One row per digital signature on a document's main file (Signatures), in list order, with the
-- document's direction and owner. Kind SIGNER = the competent signer's signature,
-- ORGANIZATION = the issuing organisation's (applied by the clerk); Decree 30/2020. A signature is
-- valid only when the source says so (macro edoc_signature_is_valid, macros/edoc_rules.sql).
-- Incremental on the documents the ledger changed (macros/incremental.sql).
{{ config(**record_incremental_config('edoc__documents', 'stg_edoc__documents', 'document_id',
                                      ['document_id', 'signature_seq'])) }}
-- depends_on: {{ incremental_dependencies('stg_edoc__documents') }}
with documents as (
    select * from {{ ref('stg_edoc__documents') }}
)

select
    documents.document_id,
    cast(item.ordinality as integer) as signature_seq,
    documents.direction,
    documents.organ_id,
    {{ json_text('item.value', 'Kind') }} as signature_kind,
    {{ parse_source_ts("item.value ->> 'SignedAt'") }} as signed_at,
    {{ json_text('item.value', 'CertSerial') }} as cert_serial,
    {{ edoc_signature_is_valid("item.value ->> 'Valid'") }} as is_valid,
    documents.merge_id
{{ from_json_list('documents', 'documents', 'signatures_json') }}
{%- if is_incremental() %}
where {{ changed_rows_filter('documents', 'edoc__documents') }}
{%- endif %}
