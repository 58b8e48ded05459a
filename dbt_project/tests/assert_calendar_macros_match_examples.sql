-- The working-day macros on hand-checked dates (calendar.md, 2024 and 2025 notices):
--   2024-04-26 (Fri) -> 2024-05-06 (Mon): off 29 Apr, 30 Apr, 1 May; Sat 4 May worked
--     -> working days in (26 Apr, 6 May] = 2, 3, 4, 6 May = 4
--   2025-01-24 (Fri) -> 2025-02-03 (Mon): Tết 27-31 Jan -> (24 Jan, 3 Feb] = 3 Feb = 1
--   add_working_days: 2024-04-26 + 4 = 2024-05-06; 2025-01-24 + 1 = 2025-02-03; + 0 = itself
with cases as (
    select 'between 2024-04-26..2024-05-06' as example,
           {{ working_days_between("date '2024-04-26'", "date '2024-05-06'") }} = 4 as ok
    union all
    select 'between 2025-01-24..2025-02-03',
           {{ working_days_between("date '2025-01-24'", "date '2025-02-03'") }} = 1
    union all
    select 'between reversed',
           {{ working_days_between("date '2024-05-06'", "date '2024-04-26'") }} = -4
    union all
    select 'add 2024-04-26 + 4',
           {{ add_working_days("date '2024-04-26'", 4) }} = date '2024-05-06'
    union all
    select 'add 2025-01-24 + 1',
           {{ add_working_days("date '2025-01-24'", 1) }} = date '2025-02-03'
    union all
    select 'add 2024-05-05 (Sun) + 0',
           {{ add_working_days("date '2024-05-05'", 0) }} = date '2024-05-05'
)

select example from cases where not coalesce(ok, false)
