-- The grain of int_dossier_apologies: one row per (dossier_id, apology_seq) (macro grain_duplicates).
{{ grain_duplicates(ref('int_dossier_apologies'), ['dossier_id', 'apology_seq']) }}
