"""The nightly job: land the province's daily snapshots, build, audit, publish.

Flow only; every step is a function in ``cchc.pipeline`` (plugins/cchc/pipeline.py).

Under the scheduler each run handles the source day that ended before its 02:00 local start, with
catchup for missed nights. ``cchc run --start D1 --end D2`` runs the same
DAG through ``dag.test()`` with params ``start``/``end``: every day of the range is landed, in order,
then the warehouse is built, audited and published once.
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import Asset, Param, dag, task

PUBLISHED_KPI = Asset(name="cchc_kpi", uri="postgres://cchc-warehouse/kpi")


@dag(
    dag_id="cchc_nightly",
    schedule="0 2 * * *",
    start_date=pendulum.parse(os.environ.get("CCHC_SCHEDULE_START", "2025-05-01"), tz="Asia/Ho_Chi_Minh"),
    catchup=True,
    max_active_runs=1,
    default_args={"retries": 0},
    params={
        "start": Param(None, type=["null", "string"], description="first source day (YYYY-MM-DD)"),
        "end": Param(None, type=["null", "string"], description="last source day (YYYY-MM-DD)"),
        "source_dir": Param(None, type=["null", "string"], description="export-files root"),
        "source_url": Param(None, type=["null", "string"], description="HTTP API base URL"),
    },
    tags=["cchc"],
    doc_md=__doc__,
)
def cchc_nightly():
    @task
    def plan(params=None, data_interval_end=None, logical_date=None, run_id=None) -> dict:
        from cchc import pipeline

        # the run fired at 02:00 local handles the day that ended two hours earlier
        fired_at = data_interval_end or logical_date or pendulum.now("UTC")
        day = pendulum.instance(fired_at).in_timezone("Asia/Ho_Chi_Minh").subtract(days=1).to_date_string()
        return pipeline.plan_run(
            start=params.get("start") or day, end=params.get("end") or params.get("start") or day,
            run_id=run_id, source={"source_dir": params.get("source_dir"),
                                   "source_url": params.get("source_url")})

    @task
    def extract_and_land(run_plan: dict) -> dict:
        from cchc import pipeline

        return pipeline.land(run_plan)

    @task
    def gate_batches(run_plan: dict, landed: dict) -> dict:
        from cchc import pipeline

        return pipeline.gate_batches(run_plan, landed)

    @task
    def dbt_build(run_plan: dict, batch_gate: dict) -> dict:
        from cchc import pipeline

        return pipeline.build(run_plan)

    @task
    def gate_marts(run_plan: dict, built: dict) -> dict:
        from cchc import pipeline

        return pipeline.gate_marts(run_plan)

    @task(outlets=[PUBLISHED_KPI])
    def publish(run_plan: dict, built: dict, batch_gate: dict, mart_gate: dict) -> dict:
        from cchc import pipeline

        return pipeline.publish_run(run_plan, built, batch_gate, mart_gate)

    run_plan = plan()
    landed = extract_and_land(run_plan)
    batch_gate = gate_batches(run_plan, landed)
    built = dbt_build(run_plan, batch_gate)
    mart_gate = gate_marts(run_plan, built)
    publish(run_plan, built, batch_gate, mart_gate)


cchc_nightly()
