{#-
  THE rule for reading a landed feed, used by every staging model:

  - only batches with status 'landed' count (refused batches are ignored);
  - per (system, feed, source_day) only the latest landed batch counts (greatest batch_id): a
    corrected re-delivery of a day replaces the whole day, records it no longer carries included;
  - only source days <= var as_of_date;
  - incremental feeds (whole=false): a record's latest state is its version of the latest source
    day; ties -> greatest batch_id, then greatest line_no;
  - reference lists (whole=true) are delivered whole every day: only the latest landed source day
    <= as_of_date is read (a unit missing from it no longer exists), duplicates -> greatest line_no.

  Returns a select of (record_key, batch_id, source_day, line_no, updated_at_src, loaded_at,
  payload); use it as a CTE:  with latest as ( {{ latest_source_records('onestop__dossiers') }} )
-#}
{% macro latest_source_records(table_name, whole=false) -%}
    {%- set system, feed = table_name.split('__', 1) -%}
    with landed_batches as (
        select
            batch_id,
            source_day,
            row_number() over (partition by source_day order by batch_id desc) as delivery_rank
        from {{ source('raw', 'load_batches') }}
        where system = '{{ system }}'
          and feed = '{{ feed }}'
          and status = 'landed'
          and source_day <= {{ as_of_date() }}
    ),

    current_batches as (
        select batch_id, source_day
        from landed_batches
        where delivery_rank = 1
        {%- if whole %}
          and source_day = (select max(source_day) from landed_batches)
        {%- endif %}
    ),

    versions as (
        select
            landed.record_key,
            landed.batch_id,
            batches.source_day,
            landed.line_no,
            landed.updated_at_src,
            landed.loaded_at,
            landed.payload,
            row_number() over (
                partition by landed.record_key
                order by batches.source_day desc, landed.batch_id desc, landed.line_no desc
            ) as version_rank
        from {{ source('raw', table_name) }} as landed
        inner join current_batches as batches
            on batches.batch_id = landed.batch_id
    )

    select record_key, batch_id, source_day, line_no, updated_at_src, loaded_at, payload
    from versions
    where version_rank = 1
{%- endmacro %}
