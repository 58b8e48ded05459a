-- The grain of int_due_date_month_ends: one row per (month, dossier_id) (macro grain_duplicates).
{{ grain_duplicates(ref('int_due_date_month_ends'), ['month', 'dossier_id']) }}
