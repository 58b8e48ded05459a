"""The nightly job: wait for the night's delivery, land it, build, audit, publish.

Flow only; every step is a function in ``cchc.pipeline`` (plugins/cchc/pipeline.py), the schedule
and the wait in ``cchc.readiness`` and ``cchc.nightly_timetable``, the days a run handles in
``cchc.pipeline.plan_run`` (from the run's params and trigger time).

Under the scheduler each run handles the source day that ended before its 02:00 local trigger,
from the night CCHC_SCHEDULE_START on, with catchup for missed nights. ``wait_for_delivery``
looks for the night's delivery every CCHC_DELIVERY_POKE_SECONDS (the task is rescheduled in
between, holding no worker slot); a night still not delivered CCHC_DELIVERY_TIMEOUT_SECONDS after
its trigger ends as skipped ("not delivered"): no publication id is reserved, no batch written,
the run is not failed. Every task retries transient faults with exponential backoff.

``cchc run --start D1 --end D2`` runs the same DAG through ``dag.test()`` with params
``start``/``end`` and ``wait: false``: every day of the range is landed, in order, then the
warehouse is built, audited and published once.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Asset, Param, PokeReturnValue, dag, task
from airflow.sdk.exceptions import AirflowSkipException

from cchc.constants import PROVINCE_TIME_ZONE_NAME
from cchc.nightly_timetable import NightlyTimetable
from cchc.readiness import NIGHTLY_CRON, ScheduleSettings

PUBLISHED_KPI = Asset(name="cchc_kpi", uri="postgres://cchc-warehouse/kpi")
SETTINGS = ScheduleSettings.from_env()


@dag(
    dag_id="cchc_nightly",
    schedule=NightlyTimetable(NIGHTLY_CRON, timezone=PROVINCE_TIME_ZONE_NAME),
    start_date=pendulum.instance(SETTINGS.start_date),
    catchup=True,
    max_active_runs=1,
    default_args=SETTINGS.retry_args(),
    params={
        "start": Param(None, type=["null", "string"], description="first source day (YYYY-MM-DD)"),
        "end": Param(None, type=["null", "string"], description="last source day (YYYY-MM-DD)"),
        "source_dir": Param(None, type=["null", "string"], description="export-files root"),
        "source_url": Param(None, type=["null", "string"], description="HTTP API base URL"),
        "wait": Param(True, type="boolean", description="wait for the days' delivery before planning"),
    },
    tags=["cchc"],
    doc_md=__doc__,
)
def cchc_nightly():
    @task.sensor(task_id="wait_for_delivery", mode="reschedule", poke_interval=SETTINGS.poke_seconds,
                 timeout=SETTINGS.wait_seconds, soft_fail=True)
    def wait_for_delivery(params=None, data_interval_end=None, dag_run=None) -> PokeReturnValue:
        from cchc import readiness

        look = readiness.check_run(params, readiness.trigger_time(data_interval_end, dag_run), SETTINGS.wait_seconds)
        if look.give_up:
            raise AirflowSkipException(look.reason)
        return PokeReturnValue(is_done=look.ready, xcom_value=look.days.as_params())

    @task
    def plan(waited: dict, params=None, run_id=None, data_interval_end=None, dag_run=None) -> dict:
        from cchc import pipeline, readiness
        from cchc.orchestration import as_task

        return as_task(pipeline.plan_run, run_id=run_id, params=params, waited=waited,
                       trigger_time=readiness.trigger_time(data_interval_end, dag_run))

    @task
    def extract_and_land(run_plan: dict) -> dict:
        from cchc import pipeline
        from cchc.orchestration import as_task

        return as_task(pipeline.land, run_plan)

    @task
    def gate_batches(run_plan: dict, landed: dict) -> dict:
        from cchc import pipeline
        from cchc.orchestration import as_task

        return as_task(pipeline.gate_batches, run_plan, landed)

    @task
    def dbt_build(run_plan: dict, batch_gate: dict) -> dict:
        from cchc import pipeline
        from cchc.orchestration import as_task

        return as_task(pipeline.build, run_plan, batch_gate)

    @task
    def gate_marts(run_plan: dict, built: dict) -> dict:
        from cchc import pipeline
        from cchc.orchestration import as_task

        return as_task(pipeline.gate_marts, run_plan, built)

    @task(outlets=[PUBLISHED_KPI])
    def publish(run_plan: dict, built: dict, batch_gate: dict, mart_gate: dict) -> dict:
        from cchc import pipeline
        from cchc.orchestration import as_task

        return as_task(pipeline.publish_run, run_plan, built, batch_gate, mart_gate)

    run_plan = plan(wait_for_delivery())
    landed = extract_and_land(run_plan)
    batch_gate = gate_batches(run_plan, landed)
    built = dbt_build(run_plan, batch_gate)
    mart_gate = gate_marts(run_plan, built)
    publish(run_plan, built, batch_gate, mart_gate)


cchc_nightly()
