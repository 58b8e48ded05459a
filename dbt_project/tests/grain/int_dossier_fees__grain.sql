-- The grain of int_dossier_fees: one row per (dossier_id, fee_seq) (macro grain_duplicates).
{{ grain_duplicates(ref('int_dossier_fees'), ['dossier_id', 'fee_seq']) }}
