-- The findings about one document's clerical steps (Decree 30/2020), one row per document and
-- finding kind: the document-level kinds of fct_document_anomalies (its header defines them):
-- organisation_signature_without_signer, organisation_signature_before_signer,
-- organisation_signature_before_registration, registered_before_signer_signature,
-- signature_after_dispatch, late_dispatch. Each depends on the document alone (fct_documents), so
-- the model is incremental on the documents the ledger changed (macros/incremental.sql); the
-- numbering findings, which depend on every document of a series, are computed in
-- fct_document_anomalies.
{{ config(**record_incremental_config('edoc__documents', 'stg_edoc__documents', 'document_id',
                                      ['document_id', 'anomaly_kind'])) }}
-- depends_on: {{ incremental_dependencies('stg_edoc__documents') }}
with documents as (
    select * from {{ ref('fct_documents') }}
    {%- if is_incremental() %}
    where {{ key_in('document_id', changed_keys('edoc__documents', 'stg_edoc__documents', 'document_id')) }}
    {%- endif %}
)

select
    finding.anomaly_kind,
    documents.organ_id,
    documents.numbering_year,
    documents.is_secret,
    documents.code_number,
    documents.document_id,
    finding.detail,
    documents.merge_id
from documents
cross join lateral (
    values
        (
            'organisation_signature_without_signer',
            documents.has_organisation_signature and not documents.has_signer_signature,
            'organisation signature at ' || documents.organisation_signed_at || ', no signer signature'
        ),
        (
            'organisation_signature_before_signer',
            documents.organisation_signed_at < documents.signed_at,
            'organisation signature at ' || documents.organisation_signed_at
                || ' before the signer''s at ' || documents.signed_at
        ),
        (
            'organisation_signature_before_registration',
            documents.direction = 'OUT' and documents.organisation_signed_at < documents.registered_at,
            'organisation signature at ' || documents.organisation_signed_at
                || ' before registration at ' || documents.registered_at
        ),
        (
            'registered_before_signer_signature',
            documents.direction = 'OUT' and documents.registered_at < documents.signed_at,
            'registered at ' || documents.registered_at || ' before the signer signed at '
                || documents.signed_at
        ),
        (
            'signature_after_dispatch',
            documents.direction = 'OUT' and documents.last_signature_at > documents.dispatched_at,
            'signature at ' || documents.last_signature_at || ' after dispatch at '
                || documents.dispatched_at
        ),
        (
            'late_dispatch',
            -- not within the rule of fct_documents, and not dispatched before signing (above)
            documents.direction = 'OUT' and not documents.dispatched_within_one_working_day
                and documents.dispatch_working_days > 0,
            'dispatched at ' || documents.dispatched_at || ', ' || documents.dispatch_working_days
                || ' working days after the signer signed at ' || documents.signed_at
        )
) as finding (anomaly_kind, is_found, detail)
where finding.is_found
