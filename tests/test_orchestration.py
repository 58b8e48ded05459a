"""Running pipeline steps as Airflow tasks (without a scheduler)."""

from __future__ import annotations

import pytest


def test_a_failure_retrying_cannot_mend_fails_the_task_at_once():
    """A failed gate or missing grants: AirflowFailException (no retries); anything else keeps its
    retries."""
    from airflow.sdk.exceptions import AirflowFailException

    from cchc.orchestration import as_task
    from cchc.pipeline import PipelineError

    def gate_failed():
        raise PipelineError("gate_marts", "3 of 40 checks failed", retryable=False)

    def database_down():
        raise PipelineError("dbt_build", "connection refused")

    with pytest.raises(AirflowFailException, match="3 of 40 checks failed"):
        as_task(gate_failed)
    with pytest.raises(PipelineError, match="connection refused"):
        as_task(database_down)
    assert as_task(lambda x, y=0: x + y, 1, y=2) == 3
