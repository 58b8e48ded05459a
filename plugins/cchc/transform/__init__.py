"""The transformation step: dbt on dbt_project (see dbt_runner)."""

from cchc.transform.dbt_runner import DbtBuildError, DbtResult, build, raise_for_failures, run_dbt

__all__ = ["DbtBuildError", "DbtResult", "build", "raise_for_failures", "run_dbt"]
