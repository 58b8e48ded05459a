-- One row per recipient of a document (Recipients; outgoing documents), in list order.
-- Incremental on the documents the ledger changed (macros/incremental.sql).
{{ config(**record_incremental_config('edoc__documents', 'stg_edoc__documents', 'document_id',
                                      ['document_id', 'recipient_seq'])) }}
-- depends_on: {{ incremental_dependencies('stg_edoc__documents') }}
select
    documents.document_id,
    cast(item.ordinality as integer) as recipient_seq,
    {{ json_text('item.value', 'OrganId') }} as recipient_organ_id,
    documents.merge_id
{{ from_document_list('recipients_json') }}
{%- if is_incremental() %}
where {{ changed_rows_filter('documents', 'edoc__documents') }}
{%- endif %}
