"""The demo of cchc, apart from the product: the demo province's source systems.

- :mod:`cchc_demo.simulator`: generates the one-stop, e-document and reference systems' export
  folders (shared/spec/sources.md) and serves them through the sources' HTTP API;
- :mod:`cchc_demo.working_days`: the working-day calendar in Python (the simulator's due dates,
  and the tests' oracle; the pipeline's calendar is dbt's ``dim_date``);
- :mod:`cchc_demo.cli`: what ``cchc demo``, ``cchc simulate`` and ``cchc serve-sources`` do.

The production package ``cchc`` (the DAG, the pipeline, the API, what Airflow workers import) never
imports this package; only those three commands of ``cchc.cli`` do, inside their functions
(``tests/test_package_boundaries.py``). This package imports ``cchc`` freely.
"""
