-- The grain of int_dossier_components: one row per (dossier_id, component_seq) (macro grain_duplicates).
{{ grain_duplicates(ref('int_dossier_components'), ['dossier_id', 'component_seq']) }}
