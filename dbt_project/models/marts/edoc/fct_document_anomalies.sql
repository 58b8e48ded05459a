-- Findings the e-document data itself can answer (Decree 30/2020 on clerical work), one row per
-- finding; dbt tests on this model warn (they are findings about the source, not build breakers).
--
-- Numbering (outgoing documents with a numeric CodeNumber and a numbering_year): numbers run per
-- organisation per calendar year from 1 (domain.md), so a series is (organ_id, numbering_year) and
-- holds every outgoing document of the organisation: electronic, paper and secret alike.
--   numbering_gap        a number between 1 and the greatest number of the series that no document
--                        carries (one row per missing number; document_id null)
--   numbering_duplicate  a number carried by two or more documents of the series (one row per
--                        number; document_id null, the documents in detail)
--
-- Order of the clerical steps (Decree 30): the competent person signs (SIGNER), then the clerk
-- registers the number (RegisteredAt) and applies the organisation's signature (ORGANIZATION),
-- then dispatches (DispatchedAt) on the signing day or at the latest the next working day. Equal
-- timestamps are in order.
--   organisation_signature_without_signer      an organisation's signature and no signer's
--                                              (any direction: the issuer skipped the signer)
--   organisation_signature_before_signer       organisation's first signature earlier than the
--                                              signer's first (any direction)
--   organisation_signature_before_registration outgoing: organisation's signature earlier than
--                                              the registration of the number
--   registered_before_signer_signature         outgoing: number registered before the signer
--                                              signed (a number is given to a signed document)
--   signature_after_dispatch                   outgoing: a signature later than the dispatch
--   late_dispatch                              outgoing: dispatched more than one working day
--                                              after the signer's signature
--
-- Document-level findings carry the document's owner (organ_id), numbering year and number; they
-- are computed per document, incrementally, in int_document_findings.
with documents as (
    select * from {{ ref('fct_documents') }}
),

numbered as (
    select
        organ_id,
        numbering_year,
        is_secret,
        code_number,
        document_id
    from documents
    where direction = 'OUT'
      and code_number is not null
      and numbering_year is not null
      and organ_id is not null
),

series as (
    select
        organ_id,
        numbering_year,
        max(code_number) as max_number
    from numbered
    group by organ_id, numbering_year
),

-- the distinct numbers of each series, each with the number before it: the missing numbers are
-- those strictly between the two (cost follows the numbers seen, not series x numbers)
numbers_with_previous as (
    select
        organ_id,
        numbering_year,
        code_number,
        lag(code_number) over (partition by organ_id, numbering_year order by code_number) as previous_number
    from (
        select distinct organ_id, numbering_year, code_number from numbered where code_number >= 1
    ) as distinct_numbers
),

numbering_gaps as (
    select
        'numbering_gap' as anomaly_kind,
        series.organ_id,
        series.numbering_year,
        cast(null as boolean) as is_secret,
        missing.code_number,
        cast(null as text) as document_id,
        'number ' || missing.code_number || ' of ' || series.numbering_year
            || ' is missing (numbers seen up to ' || series.max_number || ')' as detail
    from numbers_with_previous
    inner join series
        on series.organ_id = numbers_with_previous.organ_id
       and series.numbering_year = numbers_with_previous.numbering_year
    cross join lateral generate_series(
        coalesce(numbers_with_previous.previous_number, 0) + 1,
        numbers_with_previous.code_number - 1
    ) as missing (code_number)
),

numbering_duplicates as (
    select
        'numbering_duplicate' as anomaly_kind,
        organ_id,
        numbering_year,
        bool_or(is_secret) as is_secret,
        code_number,
        cast(null as text) as document_id,
        'number ' || code_number || ' of ' || numbering_year || ' is used by ' || count(*)
            || ' documents: ' || string_agg(document_id, ', ' order by document_id) as detail
    from numbered
    group by organ_id, numbering_year, code_number
    having count(*) > 1
),

document_anomalies as (
    select anomaly_kind, organ_id, numbering_year, is_secret, code_number, document_id, detail
    from {{ ref('int_document_findings') }}
),

anomalies as (
    select * from numbering_gaps
    union all
    select * from numbering_duplicates
    union all
    select * from document_anomalies
)

select
    anomaly_kind || ':' || coalesce(
        document_id,
        organ_id || '/' || numbering_year || '/' || code_number
    ) as anomaly_id,
    anomaly_kind,
    case
        when anomaly_kind in ('numbering_gap', 'numbering_duplicate') then 'numbering'
        when anomaly_kind = 'late_dispatch' then 'dispatch'
        else 'signature_order'
    end as anomaly_group,
    organ_id,
    numbering_year,
    is_secret,
    code_number,
    document_id,
    detail
from anomalies
