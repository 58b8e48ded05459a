{#-
  Post-hook of every publication candidate (dbt_project.yml, models/publish): the model's first
  UNIQUE index (its `indexes` config, which names the grain once) becomes the table's PRIMARY KEY
  (ADD PRIMARY KEY USING INDEX: no second index; the grain columns become NOT NULL). The key moves
  with the table into kpi_pub_<id> at publish, so a BI tool sees the grain of every kpi table.

  The constraint is named <table>_pkey when that name is free in the schema, else
  <table>_pkey_<8 characters of the invocation id> (an unpublished candidate of an earlier build
  still holds the plain name while dbt swaps the new table in).
-#}
{% macro publish_primary_key() -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set found = namespace(grain=none) -%}
    {%- for index in config.get('indexes') or [] -%}
        {%- if found.grain is none and index.get('unique') -%}
            {%- set found.grain = index['columns'] -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set grain = found.grain -%}
    {%- if grain is none -%}
        {{ exceptions.raise_compiler_error(
            "publication candidate " ~ this.identifier ~ " declares no unique index on its grain: add "
            ~ "config(indexes=[{'columns': [...grain...], 'unique': true}]) (it becomes the primary key)") }}
    {%- endif -%}
    {%- set name = this.identifier ~ '_pkey' -%}
    {%- set fallback = name ~ '_' ~ (invocation_id | replace('-', ''))[:8] -%}
do $cchc_pk$
declare
    idx text;
    wanted text := {{ dbt.string_literal(name) }};
begin
    select i.relname into idx
      from pg_index x join pg_class i on i.oid = x.indexrelid
     where x.indrelid = {{ dbt.string_literal(this) }}::regclass and x.indisunique
       and x.indpred is null and x.indexprs is null
       and (select array_agg(a.attname::text order by k.ord)
              from unnest(x.indkey::int2[]) with ordinality as k(attnum, ord)
              join pg_attribute a on a.attrelid = x.indrelid and a.attnum = k.attnum)
           = array[{% for c in grain %}{{ dbt.string_literal(c) }}{{ ", " if not loop.last }}{% endfor %}]::text[]
     order by i.relname limit 1;
    if idx is null then
        raise exception 'cchc: no unique index on (%) of %', {{ dbt.string_literal(grain | join(', ')) }},
            {{ dbt.string_literal(this) }};
    end if;
    if to_regclass(quote_ident({{ dbt.string_literal(this.schema) }}) || '.' || quote_ident(wanted)) is not null then
        wanted := {{ dbt.string_literal(fallback) }};
    end if;
    execute format('alter table %s add constraint %I primary key using index %I',
                   {{ dbt.string_literal(this) }}, wanted, idx);
end
$cchc_pk$
{%- endmacro %}
