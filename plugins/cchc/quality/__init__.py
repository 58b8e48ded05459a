"""The quality gate: expectation suites declared in ``expectations/*.yml``, run with Great
Expectations inside PostgreSQL (see ``expectations/README.md``)."""

from cchc.quality.gate import CheckResult, GateResult, build_data_docs, run_gate
from cchc.quality.suites import (
    RAW_BATCH_SUITES,
    SuiteError,
    SuiteSpec,
    available_suites,
    load_suite,
    load_suites,
    published_suites,
)

__all__ = [
    "RAW_BATCH_SUITES",
    "CheckResult",
    "GateResult",
    "SuiteError",
    "SuiteSpec",
    "available_suites",
    "build_data_docs",
    "load_suite",
    "load_suites",
    "published_suites",
    "run_gate",
]
