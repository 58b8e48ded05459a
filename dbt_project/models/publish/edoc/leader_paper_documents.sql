{{ config(indexes=[{"columns": ["document_id"], "unique": true},
                   {"columns": ["unit_id", "month"]}]) }}
-- kpi.leader_paper_documents: the list the directives ask for ("leaders must sign digitally, not on
-- paper"): outgoing documents issued on paper (not electronically) and signed by a leader (the head
-- or a deputy head of the issuing organisation, SignerIsLeader), per issuing unit and month of
-- their report_date (fct_documents: the promulgation date, else the registration date). Secret
-- documents are left out. One row per document.
with documents as (
    select * from {{ ref('fct_documents') }}
    where is_in_esignature_kpi
      and direction = 'OUT'
      and is_paper
      and is_leader_signer
      and report_date <= {{ as_of_date() }}
)

select
    cast(date_trunc('month', documents.report_date) as date) as month,
    documents.organ_id as unit_id,
    units.unit_name,
    documents.document_id,
    documents.code_number_text as code_number,
    documents.code_notation,
    documents.document_type,
    documents.promulgation_date,
    documents.signer_full_name,
    documents.signer_position,
    documents.signer_competence,
    documents.subject,
    {{ publication_id() }} as publication_id
from documents
left join {{ ref('dim_unit') }} as units
    on units.unit_id = documents.organ_id
