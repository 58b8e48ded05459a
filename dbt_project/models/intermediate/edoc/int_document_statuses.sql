-- One row per edXML exchange status message of a document (Statuses), in list order:
-- 01 arrived, 02 refused, 03 registered, 04 assigned, 05 processing, 06 done, 13 revoked
-- (code list `edxml_status` in seeds/source_code_lists.csv).
-- Incremental on the documents the ledger changed (macros/incremental.sql).
{{ config(**record_incremental_config('edoc__documents', 'stg_edoc__documents', 'document_id',
                                      ['document_id', 'status_seq'])) }}
-- depends_on: {{ incremental_dependencies('stg_edoc__documents') }}
select
    documents.document_id,
    cast(item.ordinality as integer) as status_seq,
    {{ json_text('item.value', 'StatusCode') }} as status_code,
    {{ parse_source_ts("item.value ->> 'Timestamp'") }} as status_at,
    documents.merge_id
{{ from_document_list('statuses_json') }}
{%- if is_incremental() %}
where {{ changed_rows_filter('documents', 'edoc__documents') }}
{%- endif %}
