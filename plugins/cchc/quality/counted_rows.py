"""The expectation behind ``type: unexpected_rows``: GX's UnexpectedRowsExpectation, run once.

GX 1.x's ``UnexpectedRowsExpectation`` always computes two metrics from the same query: its row
count (``SELECT COUNT(*) FROM (<query>)``, the verdict) and its rows (``<query>`` itself, fetching
up to 200 of them), although the BOOLEAN_ONLY, BASIC and SUMMARY result formats never read the
rows. When no row is unexpected (nearly every check, nearly every night) the second query costs
as much as the first: every unexpected-rows check of a gate ran its query twice.

:class:`CountedUnexpectedRowsExpectation` asks for the rows only when the result format is COMPLETE
(what :func:`cchc.quality.gate._unexpected_rows` uses to sample a failed check's rows). Its verdict
is the same metric as GX's (``unexpected_rows_query.row_count == 0``) and its results carry the
same keys in every format, so nothing that reads them changes. Defining the class registers it
with GX (type ``counted_unexpected_rows_expectation``); importing this module before a stored
suite is read makes that suite loadable.
"""

from __future__ import annotations

from typing import Any

from great_expectations.core.result_format import ResultFormat
from great_expectations.expectations import UnexpectedRowsExpectation

ROWS_METRIC = "unexpected_rows_query.table"
COUNT_METRIC = "unexpected_rows_query.row_count"


def _format_name(result_format: Any) -> Any:
    return result_format.get("result_format", ResultFormat.SUMMARY) if isinstance(result_format, dict) \
        else result_format


class CountedUnexpectedRowsExpectation(UnexpectedRowsExpectation):
    """``UnexpectedRowsExpectation`` that runs its query once (as a count) unless the result
    format is COMPLETE. Fails when the query returns one or more rows."""

    def get_validation_dependencies(self, execution_engine=None, runtime_configuration=None):
        dependencies = super().get_validation_dependencies(
            execution_engine=execution_engine, runtime_configuration=runtime_configuration
        )
        if _format_name(dependencies.result_format) != ResultFormat.COMPLETE:
            dependencies.remove_metric_configuration(ROWS_METRIC)
        return dependencies

    def _validate(self, metrics: dict, runtime_configuration: dict | None = None, execution_engine=None):
        # The parent reads both metrics; the rows are only used (and only asked for) in COMPLETE.
        return super()._validate({ROWS_METRIC: None, **metrics}, runtime_configuration, execution_engine)
