-- The grain of int_document_findings: one row per (document_id, anomaly_kind) (macro grain_duplicates).
{{ grain_duplicates(ref('int_document_findings'), ['document_id', 'anomaly_kind']) }}
