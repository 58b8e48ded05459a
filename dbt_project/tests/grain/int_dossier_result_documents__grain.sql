-- The grain of int_dossier_result_documents: one row per (dossier_id, result_seq) (macro grain_duplicates).
{{ grain_duplicates(ref('int_dossier_result_documents'), ['dossier_id', 'result_seq']) }}
