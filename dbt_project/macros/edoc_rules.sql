{#-
  The rules of the e-document KPIs (domain.md, "E-documents and digital signatures (Decree
  30/2020 on clerical work)"), each defined once here and applied in fct_documents (and, for the
  validity of one signature, fct_document_signatures). The daily fact, the published tables and
  the anomaly checks only filter and count the columns these rules produce.
  Which channel is the exchange axis is data: column code_group of code list `document_channel`
  in seeds/source_code_lists.csv. The signature kinds are the code list `signature_kind` there.
-#}

{#- One signature is valid only when the source says so: a missing or unreadable Valid flag is
    not valid (no positive evidence of a valid certificate). -#}
{% macro edoc_signature_is_valid(valid_text) -%}
    coalesce({{ source_flag(valid_text) }}, false)
{%- endmacro %}


{#- The signature facts of a document, as aggregates over its rows of fct_document_signatures
    (columns signature_kind, is_valid, signed_at; kinds of code list `signature_kind`: SIGNER =
    the competent signer's signature, ORGANIZATION = the issuing organisation's, applied by the
    clerk; Decree 30/2020). A select list; the caller groups by document. signed_at is the (first)
    signer's signature time, the time the dispatch rule counts from. -#}
{% macro edoc_signature_facts() -%}
        count(*) as signature_count,
        bool_or(signature_kind = 'SIGNER') as has_signer_signature,
        bool_or(signature_kind = 'SIGNER' and is_valid) as has_valid_signer_signature,
        bool_or(signature_kind = 'ORGANIZATION') as has_organisation_signature,
        bool_or(signature_kind = 'ORGANIZATION' and is_valid) as has_valid_organisation_signature,
        bool_or(not is_valid) as has_invalid_signature,
        min(signed_at) filter (where signature_kind = 'SIGNER') as signed_at,
        min(signed_at) filter (where signature_kind = 'ORGANIZATION') as organisation_signed_at,
        max(signed_at) as last_signature_at
{%- endmacro %}


{#- Fully signed (Decree 30/2020: an electronic document has the legal value of a paper original
    when it carries two digital signatures, the competent signer's and then the issuing
    organisation's): issued electronically with a valid signer's AND a valid organisation's
    signature. -#}
{% macro edoc_is_fully_signed(is_electronic, has_valid_signer_signature, has_valid_organisation_signature) -%}
    ({{ is_electronic }} and {{ has_valid_signer_signature }} and {{ has_valid_organisation_signature }})
{%- endmacro %}


{#- Signed by the signer only (a quality flag of the KPIs, domain.md: the organisation's
    signature Decree 30/2020 requires is missing): issued electronically with a signer's
    signature and no organisation's signature, whatever their validity. -#}
{% macro edoc_is_signer_only(is_electronic, has_signer_signature, has_organisation_signature) -%}
    ({{ is_electronic }} and {{ has_signer_signature }} and not {{ has_organisation_signature }})
{%- endmacro %}


{#- On paper: not issued electronically (a missing IsElectronic flag counts as paper: no positive
    evidence of an electronic issue). -#}
{% macro edoc_is_paper(is_electronic) -%}
    (not {{ is_electronic }})
{%- endmacro %}


{#- Via the exchange axis (Decree 30/2020: exchange between agencies goes through the national
    axis VXP or the provincial LGSP in the edXML format): the document's channel is a
    `document_channel` whose code_group is 'exchange_axis' in seeds/source_code_lists.csv; a
    missing or unknown channel is not. -#}
{% macro edoc_via_axis(channel) -%}
    coalesce({{ channel }} in (
        select axis_channels.code
        from {{ ref('source_code_lists') }} as axis_channels
        where axis_channels.code_list = 'document_channel'
          and axis_channels.code_group = 'exchange_axis'
    ), false)
{%- endmacro %}


{#- When an incoming document arrived: the first edXML status 01 "arrived" when the exchange
    reported one, else RegisteredAt (a document that came outside the axis arrives when the clerk
    registers it). Null for an outgoing document. edoc_arrival_source names which one it was. -#}
{% macro edoc_arrived_at(direction, edxml_arrived_at, registered_at) -%}
    case
        when {{ direction }} = 'IN' then coalesce({{ edxml_arrived_at }}, {{ registered_at }})
    end
{%- endmacro %}

{% macro edoc_arrival_source(direction, edxml_arrived_at, registered_at) -%}
    case
        when {{ direction }} <> 'IN' then null
        when {{ edxml_arrived_at }} is not null then 'edxml_status_01'
        when {{ registered_at }} is not null then 'registered_at'
    end
{%- endmacro %}


{#- Working days from signing to dispatch of an outgoing document: working days in
    (signed_at, dispatched_at] (macro working_days_between: weekends, holidays and swapped
    Saturdays from dim_date). Null (not measurable) without a signer's signature or a dispatch
    time, or when one of the document's dates is in a year without a working-day notice
    (has_dates_in_calendar: never guessed). -#}
{% macro edoc_dispatch_working_days(direction, signed_at, dispatched_at, has_dates_in_calendar) -%}
    case
        when {{ direction }} = 'OUT' and {{ signed_at }} is not null and {{ dispatched_at }} is not null
             and {{ has_dates_in_calendar }}
            then {{ working_days_between(signed_at, dispatched_at) }}
    end
{%- endmacro %}


{#- Dispatched within one working day (Decree 30/2020: outgoing documents are dispatched on the
    signing day or at the latest the next working day): an outgoing document whose
    dispatch_working_days is 0 or 1; an outgoing document not measurable counts false; null for an
    incoming one. -#}
{% macro edoc_dispatched_within_one_working_day(direction, dispatch_working_days) -%}
    case
        when {{ direction }} = 'OUT' then coalesce({{ dispatch_working_days }} between 0 and 1, false)
    end
{%- endmacro %}


{#- Acknowledged the same day (Decree 30/2020 obliges same-day acknowledgement of electronic
    documents only): an incoming ELECTRONIC document whose AcknowledgedAt falls on the local date
    of arrived_at; false when it was not acknowledged; null for other documents. -#}
{% macro edoc_acknowledged_same_day(direction, is_electronic, acknowledged_at, arrived_at) -%}
    case
        when {{ direction }} = 'IN' and {{ is_electronic }}
            then coalesce(cast({{ acknowledged_at }} as date) = cast({{ arrived_at }} as date), false)
    end
{%- endmacro %}


{#- The report date, the day a document counts on in the daily fact and the published periods:
    outgoing -> its promulgation date (the date next to its number), else its registration date;
    incoming -> the date it arrived. -#}
{% macro edoc_report_date(direction, promulgation_date, registered_at, arrived_at) -%}
    case {{ direction }}
        when 'OUT' then coalesce({{ promulgation_date }}, cast({{ registered_at }} as date))
        when 'IN' then cast({{ arrived_at }} as date)
    end
{%- endmacro %}


{#- The numbering year (Decree 30/2020: numbers restart at 01 every 1 January per organisation,
    given when the clerk registers an outgoing document): outgoing -> the year of RegisteredAt,
    else of the promulgation date; incoming (the sender's number) -> the year of the promulgation
    date. -#}
{% macro edoc_numbering_year(direction, registered_at, promulgation_date) -%}
    cast(extract(year from case {{ direction }}
        when 'OUT' then coalesce(cast({{ registered_at }} as date), {{ promulgation_date }})
        else {{ promulgation_date }}
    end) as integer)
{%- endmacro %}
