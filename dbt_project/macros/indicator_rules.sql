{#-
  The counting rules of the indicators (domain.md "Digital-transformation indicators", "Decision
  766", "Targets and accountability rules"), each defined once, here, by name.

  The indicator catalogue (seeds/dx_indicator_catalogue.csv) and the Decision 766 index
  (seeds/service_index_indicators.csv) name their numerator and denominator by these rule names:
  a new edition of an indicator is a new row of a seed that names existing rules, not new SQL.
  The rules only filter and count columns that the existing rules already define (fct_dossiers:
  channel_group, is_paid_online, has_digitised_components, has_e_result, is_withdrawn_or_stopped;
  dim_procedure: online_service_level, has_fee; fct_esignature_daily: the e-document counts;
  int_dossier_timeliness_766: the national portal's timeliness).

  Two kinds of rules:
  * monthly rules (indicator_monthly_rules): additive counts of a unit's records per month, summed
    over the months of a period (int_indicator_monthly_counts);
  * period rules (indicator_period_rules): a backlog at the period's end, or a count of distinct
    procedures or dossiers over the period, that cannot be summed from months
    (int_indicator_period_values).
-#}

{#- The period types of kpi.dx_indicators and kpi.service_index (seeds/report_periods.csv): every
    one is a union of whole months, which is what lets the indicators be summed from months. -#}
{% macro indicator_period_types() -%}
    {%- do return(['month', 'quarter', 'half_year', 'year']) -%}
{%- endmacro %}


{#- The record sets the monthly rules count, each with the day it counts on (a record counts in
    the month of that day, up to as_of_date) and its unit (int_indicator_monthly_counts defines the
    relations). -#}
{% macro indicator_monthly_bases() -%}
    {%- do return({
        'dossier_received': {'relation': 'dossiers', 'day': 'received_at', 'unit': 'unit_id',
                             'about': 'dossiers counted in the periodic report, on their reception day'},
        'dossier_finished': {'relation': 'dossiers', 'day': 'finished_at', 'unit': 'unit_id',
                             'about': 'dossiers counted in the periodic report, on their finish day'},
        'document_day': {'relation': 'documents', 'day': 'date_day', 'unit': 'unit_id',
                         'about': 'the e-document counts of fct_esignature_daily (secret documents out)'},
        'feedback_due': {'relation': 'feedback', 'day': 'handling_due_at', 'unit': 'unit_id',
                         'about': 'feedback (PAKN) on the day its handling deadline (HanXuLy) falls'},
        'feedback_handled': {'relation': 'feedback', 'day': 'handled_at', 'unit': 'unit_id',
                             'about': 'feedback on the day it was handled (NgayXuLy)'},
        'rating': {'relation': 'ratings', 'day': 'rated_at', 'unit': 'unit_id',
                   'about': "satisfaction votes, on their day, under the rated dossier's unit"},
    }) -%}
{%- endmacro %}


{#- The bases counted from the dossiers themselves (relation 'dossiers'): their contributions are
    kept per dossier (int_indicator_dossier_contributions) and summed incrementally
    (int_indicator_monthly_dossier_counts); the other bases are summed whole each night. -#}
{% macro indicator_dossier_bases() -%}
    {%- set names = [] -%}
    {%- for name, basis in indicator_monthly_bases().items() if basis.relation == 'dossiers' -%}
        {%- do names.append(name) -%}
    {%- endfor -%}
    {%- do return(names) -%}
{%- endmacro %}


{#- The monthly rules: name, basis (indicator_monthly_bases) and the value summed over the basis'
    rows (a 0/1 condition, or a count column for the e-document days). -#}
{% macro indicator_monthly_rules() -%}
    {%- do return([
        {'name': 'dossiers_received', 'basis': 'dossier_received', 'value': '1',
         'about': 'new dossiers received (online + in person/postal): the denominator of the online share'},
        {'name': 'dossiers_received_online', 'basis': 'dossier_received',
         'value': "case when channel_group = 'online' then 1 else 0 end",
         'about': 'received through the online channel (seeds/dossier_channels.csv)'},
        {'name': 'dossiers_received_fully_online', 'basis': 'dossier_received',
         'value': "case when channel_group = 'online' and online_service_level = 'TOAN_TRINH' then 1 else 0 end",
         'about': 'received online for a procedure offered as a fully online service (MucDoDVC TOAN_TRINH)'},
        {'name': 'dossiers_received_of_online_procedures', 'basis': 'dossier_received',
         'value': "case when online_service_level in ('TOAN_TRINH', 'MOT_PHAN') then 1 else 0 end",
         'about': 'received, for a procedure offered online (fully or partly)'},
        {'name': 'dossiers_received_online_of_online_procedures', 'basis': 'dossier_received',
         'value': "case when channel_group = 'online' and online_service_level in ('TOAN_TRINH', 'MOT_PHAN') then 1 else 0 end",
         'about': 'received online, for a procedure offered online (fully or partly)'},
        {'name': 'dossiers_received_fee_bearing', 'basis': 'dossier_received',
         'value': 'case when procedure_has_fee then 1 else 0 end',
         'about': 'received, for a procedure with fees or charges (CoPhiLePhi)'},
        {'name': 'dossiers_received_fee_bearing_paid_online', 'basis': 'dossier_received',
         'value': 'case when procedure_has_fee and is_paid_online then 1 else 0 end',
         'about': 'of those, paid online (DuocThanhToanTrucTuyen 1 or 2)'},
        {'name': 'dossiers_received_digitised', 'basis': 'dossier_received',
         'value': 'case when has_digitised_components then 1 else 0 end',
         'about': 'received with digitised components (HoSoCoThanhPhanSoHoa)'},
        {'name': 'dossiers_finished', 'basis': 'dossier_finished', 'value': '1',
         'about': 'finished (first terminal event), withdrawn and stopped included'},
        {'name': 'dossiers_finished_with_result', 'basis': 'dossier_finished',
         'value': 'case when not is_withdrawn_or_stopped then 1 else 0 end',
         'about': 'finished with a result (processed or returned; withdrawn and stopped dossiers have none)'},
        {'name': 'dossiers_finished_with_e_result', 'basis': 'dossier_finished',
         'value': 'case when not is_withdrawn_or_stopped and has_e_result then 1 else 0 end',
         'about': 'of those, with an electronic result document (DanhSachGiayToKetQua with a file)'},
        {'name': 'dossiers_finished_digitised_with_e_result', 'basis': 'dossier_finished',
         'value': 'case when not is_withdrawn_or_stopped and has_e_result and has_digitised_components then 1 else 0 end',
         'about': 'of those, with digitised components and an electronic result'},
        {'name': 'dossiers_finished_on_time_766', 'basis': 'dossier_finished',
         'value': "case when timeliness_766 = 'on_time' then 1 else 0 end",
         'about': "finished on time by the national portal's rule (int_dossier_timeliness_766)"},
        {'name': 'documents_outgoing', 'basis': 'document_day', 'value': 'outgoing_documents',
         'about': 'non-secret outgoing documents'},
        {'name': 'documents_outgoing_electronic', 'basis': 'document_day', 'value': 'issued_electronically',
         'about': 'outgoing documents issued electronically'},
        {'name': 'documents_outgoing_fully_signed', 'basis': 'document_day', 'value': 'fully_signed',
         'about': "outgoing, electronic, with a valid signer's and a valid organisation's signature"},
        {'name': 'documents_exchanged', 'basis': 'document_day', 'value': 'outgoing_documents + incoming_documents',
         'about': 'non-secret outgoing and incoming documents'},
        {'name': 'documents_exchanged_via_axis', 'basis': 'document_day', 'value': 'via_axis + incoming_via_axis',
         'about': 'of those, sent or received through VXP or LGSP'},
        {'name': 'feedback_due', 'basis': 'feedback_due', 'value': '1',
         'about': 'feedback whose handling deadline falls in the period'},
        {'name': 'feedback_handled_on_time', 'basis': 'feedback_due',
         'value': 'case when handled_at is not null and handled_at <= handling_due_at then 1 else 0 end',
         'about': 'of those, handled by the deadline'},
        {'name': 'feedback_with_verdict', 'basis': 'feedback_handled',
         'value': 'case when verdict_code is not null then 1 else 0 end',
         'about': "feedback handled in the period on which the applicant gave a verdict (KetQua)"},
        {'name': 'feedback_satisfied', 'basis': 'feedback_handled',
         'value': "case when verdict_code = 'HAI_LONG' then 1 else 0 end",
         'about': 'of those, satisfied (HAI_LONG)'},
        {'name': 'ratings', 'basis': 'rating', 'value': '1',
         'about': 'satisfaction votes on dossiers (MucDo 1, 2 or 3)'},
        {'name': 'ratings_satisfied', 'basis': 'rating',
         'value': "case when rating_code in ('1', '2') then 1 else 0 end",
         'about': 'votes very satisfied (1) or satisfied (2)'},
    ]) -%}
{%- endmacro %}


{#- The period rules (int_indicator_period_values computes them). -#}
{% macro indicator_period_rules() -%}
    {%- do return([
        {'name': 'dossiers_pending_at_end', 'about': 'dossiers pending at the end of the period (the backlog of the periodic report)'},
        {'name': 'dossiers_pending_within_deadline_766', 'about': "of those, within deadline by the national portal's rule"},
        {'name': 'dossiers_handled', 'about': 'dossiers handled in the period: finished in it + pending at its end (= received_total of the periodic report)'},
        {'name': 'dossiers_handled_on_time_766', 'about': "finished on time (766) + pending within deadline (766) at the end"},
        {'name': 'dossiers_late_766', 'about': 'dossiers_handled - dossiers_handled_on_time_766'},
        {'name': 'dossiers_complained', 'about': 'distinct dossiers of the unit with feedback (PAKN naming the dossier) received in the period'},
        {'name': 'dossiers_satisfaction_766', 'about': "dossiers_handled - dossiers_late_766 - dossiers_complained (Decision 766: 100 % - (overdue share + complained share))"},
        {'name': 'procedures_offered', 'about': "distinct procedures valid in the period whose level (CapThucHien) is a level the scope's units handle (seeds/unit_procedure_levels.csv)"},
        {'name': 'procedures_offered_fully_online', 'about': 'of those, offered as a fully online service (TOAN_TRINH)'},
        {'name': 'procedures_with_online_dossier', 'about': 'of those, with at least one dossier received online in the period in the scope'},
        {'name': 'fee_procedures_with_dossiers', 'about': 'distinct fee-bearing procedures with at least one dossier received in the period in the scope'},
        {'name': 'fee_procedures_with_online_payment', 'about': 'of those, with at least one dossier paid online'},
    ]) -%}
{%- endmacro %}


{#- Every rule name, monthly and period rules (the seeds may name these only: tested). -#}
{% macro indicator_rule_names() -%}
    {%- set names = [] -%}
    {%- for rule in indicator_monthly_rules() + indicator_period_rules() -%}
        {%- do names.append(rule.name) -%}
    {%- endfor -%}
    {%- do return(names) -%}
{%- endmacro %}


{#- The first day of the month of a date or timestamp (local, without time zone: a date is not
    turned into a timestamptz of the session's zone). -#}
{% macro month_of(date_expr) -%}
    cast(date_trunc('month', cast({{ date_expr }} as timestamp without time zone)) as date)
{%- endmacro %}


{#- The published layout of kpi.service_index: the groups of Decision 766 and their indicators, in
    column order. seeds/service_index_indicators.csv holds their maxima, targets and rules; a
    dbt test (assert_service_index_layout_matches_seeds) keeps the two equal, so the published
    columns never drift from the data. -#}
{% macro service_index_layout() -%}
    {%- do return([
        ('transparency', ['procedures_published_and_synced']),
        ('timeliness', ['timeliness_766']),
        ('online_service', ['online_dossiers']),
        ('online_payment', ['online_payment_dossiers', 'online_payment_procedures', 'fee_data_synced']),
        ('satisfaction', ['feedback_on_time', 'feedback_satisfied', 'dossier_satisfaction']),
        ('digitisation', ['electronic_results', 'digitised_dossiers_and_results', 'digitised_data_reused',
                          'personal_data_store', 'citizen_data_connection', 'e_certified_copies']),
    ]) -%}
{%- endmacro %}


{#- The points of one Decision 766 indicator: min(max, max x ratio / target) (domain.md). -#}
{% macro service_index_points(max_points, ratio, target_ratio) -%}
    least({{ max_points }}, {{ max_points }} * {{ ratio }} / {{ target_ratio }})
{%- endmacro %}
