-- The grain of int_working_days: one row per (working_day_seq) (macro grain_duplicates).
{{ grain_duplicates(ref('int_working_days'), ['working_day_seq']) }}
