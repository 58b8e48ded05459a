"""The quality gate: run expectation suites inside PostgreSQL with Great Expectations 1.x.

``run_gate`` validates every named suite in one GX checkpoint (one file-mode context under
``report_dir``, one SQL datasource, one asset per suite: a table asset, or a query asset for a
filterable suite). Every expectation runs as SQL in the warehouse (GX's SQLAlchemy execution
engine); no table is read into pandas. It stores every result in ``ops.validation_results`` and
in the GX results store, renders a one-page HTML
report of the run, and builds the Data Docs — unless the caller defers them (``data_docs=False``)
to ``build_data_docs`` after the verdict has done its work: the nightly renders them after
publication, so a night's gates are its checks only. The caller decides what a failure stops
(a publication, a batch).
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import logging
import os
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

from cchc.paths import EXPECTATIONS_DIR
from cchc.quality.report import persist_results, render_report
from cchc.quality.suites import UNEXPECTED_ROWS, SuiteSpec, load_suites
from cchc.warehouse import sqlalchemy_url

if TYPE_CHECKING:
    from great_expectations.data_context import FileDataContext

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

log = logging.getLogger(__name__)

DATASOURCE = "warehouse"
CHECKPOINT = "cchc_gate"
#: The datasource's connection string is read from this variable while a gate runs, so that no
#: credential is written into the GX project files.
URL_ENV = "CCHC_GX_WAREHOUSE_URL"
#: Rows or values kept as a sample of what a failing check found.
SAMPLE_SIZE = 3
#: The checkpoint's result format. Column-map checks (not null, between, …) fetch no sample of
#: unexpected values in the run itself (``partial_unexpected_count: 0``: GX's LIMIT 0 query costs
#: nothing, whereas a LIMIT 3 one scans the whole table when nothing is unexpected); a check that
#: fails is validated again for its sample (:func:`_unexpected_values`), as a failed
#: unexpected-rows check is for its rows (:func:`_unexpected_rows`).
RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": 0}
#: Validation results kept in the GX store (the Data Docs' source) and listed on the index page;
#: ops.validation_results keeps the whole history.
KEEP_RESULTS = 300
DOCS_INDEX_LIMIT = 30
MESSAGE_LIMIT = 800


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check (one GX expectation) in one run."""

    suite: str
    name: str
    type: str  # the declared type: GX snake_case name or "unexpected_rows"
    target: str  # the validated table, e.g. kpi_build.tthc_report
    success: bool
    observed: dict[str, Any]  # observed_value, unexpected_count, element_count, sample, error …
    message: str = ""  # why it failed; empty when it passed
    description: str | None = None

    @property
    def qualified_name(self) -> str:
        return f"{self.suite}.{self.name}"


@dataclass(frozen=True)
class GateResult:
    success: bool
    checks_evaluated: int
    checks_failed: int
    failures: list[str]  # "suite.check: reason (observed value / unexpected count, sample)"
    report_path: Path  # the HTML report of this run (links to the Data Docs)
    results_by_suite: dict[str, list[CheckResult]]
    run_id: str = ""
    data_docs_path: Path | None = None  # Data Docs index.html
    data_docs_pages: dict[str, Path] = field(default_factory=dict)  # suite → its validation page
    duration_seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what the report says first (e.g. missing days)


def run_gate(
    url: str,
    suites: list[str],
    *,
    schema_map: dict[str, str],
    run_id: str,
    report_dir: Path,
    batch_filter: str | None = None,
    suites_dir: Path = EXPECTATIONS_DIR,
    report_name: str = "gate",
    notes: list[str] | None = None,
    data_docs: bool = True,
) -> GateResult:
    """Validate ``suites`` (names of ``expectations/<name>.yml``) in the warehouse at ``url``.

    - ``schema_map``: logical → physical schema, e.g. ``{"kpi": "kpi_build"}`` to check the hidden
      build schema before publication; unnamed logical schemas map to themselves.
    - ``batch_filter``: an SQL predicate on ``batch_id`` (e.g. ``"batch_id = any(array[12, 13])"``)
      restricting the *filterable* (raw) suites to the batches of this run.
    - ``report_dir``: the GX project (``report_dir/gx``: stores and Data Docs) and the run reports
      (``report_dir/reports/<report_name>-<run_id>.html``).
    - ``suites_dir``: where the suite files live (the project's ``expectations/``).
    - ``notes``: lines the report shows before anything else (e.g. a publication's missing days).
    - ``data_docs``: build the Data Docs pages now (``False``: later, by :func:`build_data_docs`;
      the report links the pages where that build will write them).

    Suite files are loaded and checked before anything runs (:class:`SuiteError`). A missing table
    is a failed check (``<suite>.table_exists``), not an exception.
    """
    started = time.perf_counter()
    import great_expectations  # noqa: F401  (seconds on a cold process: timed apart)

    timings: dict[str, float] = {"import_gx": time.perf_counter() - started}
    specs = load_suites(list(suites), suites_dir)
    planned = {s.name: (s, s.target(schema_map), s.expectations(schema_map, batch_filter)) for s in specs}
    report_dir = Path(report_dir).resolve()
    report_dir.mkdir(parents=True, exist_ok=True)
    evaluated_at = datetime.now(UTC)
    timings["load_suites"] = time.perf_counter() - started - timings["import_gx"]

    missing = _missing_tables(url, {name: target for name, (_, target, _) in planned.items()})
    results: dict[str, list[CheckResult]] = {
        name: [
            CheckResult(name, "table_exists", "table_exists", planned[name][1], False, {},
                        f"table {planned[name][1]} does not exist")
        ]
        for name in missing
    }
    docs: tuple[Path | None, dict[str, Path]] = (None, {})
    runnable = [(spec, target, exps) for name, (spec, target, exps) in planned.items() if name not in missing]
    if runnable:
        with _locked(report_dir / ".gate.lock"), _env(URL_ENV, sqlalchemy_url(url)):
            validated, docs = _validate(
                runnable, run_id=run_id, evaluated_at=evaluated_at, report_dir=report_dir,
                batch_filter=batch_filter, timings=timings, data_docs=data_docs,
            )
        results.update(validated)
    results = {name: results[name] for name in planned}  # the caller's order

    checks = [c for suite_results in results.values() for c in suite_results]
    failed = [c for c in checks if not c.success]
    t = time.perf_counter()
    persist_results(url, run_id, checks, evaluated_at)
    timings["persist"] = time.perf_counter() - t
    result = GateResult(
        success=not failed,
        checks_evaluated=len(checks),
        checks_failed=len(failed),
        failures=[f"{c.qualified_name}: {c.message}" for c in failed],
        report_path=report_dir / "reports" / f"{report_name}-{_safe(run_id)}.html",
        results_by_suite=results,
        run_id=run_id,
        data_docs_path=docs[0],
        data_docs_pages=docs[1],
        duration_seconds=time.perf_counter() - started,
        timings=timings,
        notes=list(notes or []),
    )
    render_report(result, evaluated_at)
    log.info(
        "quality gate %s: %s, %d checks, %d failed, %.2f s (%s)",
        run_id, "passed" if result.success else "FAILED", result.checks_evaluated,
        result.checks_failed, result.duration_seconds, result.report_path,
    )
    return result


# -- GX -----------------------------------------------------------------------------------------


def _validate(
    runnable: list[tuple[SuiteSpec, str, list]],
    *,
    run_id: str,
    evaluated_at: datetime,
    report_dir: Path,
    batch_filter: str | None,
    timings: dict[str, float],
    data_docs: bool = True,
) -> tuple[dict[str, list[CheckResult]], tuple[Path | None, dict[str, Path]]]:
    from great_expectations.core.run_identifier import RunIdentifier

    with _gx_stdout():
        t = time.perf_counter()
        context = _context(report_dir)
        checkpoint, batch_definitions = _configure(context, runnable, batch_filter, _checkpoint_name(runnable),
                                                   timings)
        timings["configure"] = time.perf_counter() - t

        try:
            t = time.perf_counter()
            outcome = checkpoint.run(run_id=RunIdentifier(run_name=run_id, run_time=evaluated_at))
            timings["validate"] = time.perf_counter() - t

            t = time.perf_counter()
            if data_docs:
                docs = _build_docs(context, list(outcome.run_results), [spec.name for spec, _, _ in runnable])
                timings["data_docs"] = time.perf_counter() - t
            else:  # where build_data_docs will write them
                index = _site_index(context)
                docs = index, {key.expectation_suite_identifier.name: _validation_page(index, key)
                               for key in outcome.run_results}

            t = time.perf_counter()
            specs = {spec.name: (spec, target) for spec, target, _ in runnable}
            results: dict[str, list[CheckResult]] = {}
            for suite_result in outcome.run_results.values():
                spec, target = specs[suite_result.suite_name]
                order = {c.name: i for i, c in enumerate(spec.checks)}  # GX reorders; keep the file's
                checks = [_check_result(spec, target, r, batch_definitions[spec.name]) for r in suite_result.results]
                results[spec.name] = sorted(checks, key=lambda c: order.get(c.name, len(order)))
            timings["samples"] = time.perf_counter() - t
        finally:
            _close_engines(context, checkpoint, batch_definitions)
    return results, docs


def _close_engines(context, checkpoint, batch_definitions: dict) -> None:
    """Close the SQLAlchemy engines now rather than at some later garbage collection."""
    datasources = {id(ds): ds for ds in (
        *context.data_sources.all().values(),
        *(vd.data.data_asset.datasource for vd in checkpoint.validation_definitions),
        *(bd.data_asset.datasource for bd in batch_definitions.values()),
    )}
    for datasource in datasources.values():
        with contextlib.suppress(Exception):
            datasource.get_execution_engine().close()
        with contextlib.suppress(Exception):
            datasource.get_engine().dispose()  # the datasource's own engine (asset checks)


def _context(report_dir: Path) -> FileDataContext:
    """The file-mode GX project under ``report_dir/gx``, quiet and with a bounded Data Docs index."""
    import great_expectations as gx

    import cchc.quality.counted_rows  # noqa: F401  (registers the stored suites' unexpected-rows type)
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="file", project_root_dir=str(report_dir))
    variables = context.variables
    progress = variables.progress_bars  # a ProgressBarsConfig, or a dict once reloaded
    globally = progress.get("globally") if isinstance(progress, dict) else getattr(progress, "globally", True)
    sites = variables.data_docs_sites or {}
    index = sites.get("local_site", {}).get("site_index_builder")
    stale_index = index is not None and index.get("validation_results_limit") != DOCS_INDEX_LIMIT
    if globally is not False or variables.analytics_enabled is not False or stale_index:
        variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        variables.analytics_enabled = False
        if index is not None:
            # The index page reads every result it lists: list the latest ones only.
            index["validation_results_limit"] = DOCS_INDEX_LIMIT
            variables.data_docs_sites = sites
        variables.save()
    return context


def _configure(context, runnable: list[tuple[SuiteSpec, str, list]], batch_filter: str | None,
               checkpoint_name: str = CHECKPOINT, timings: dict[str, float] | None = None):
    """Suites, assets, validation definitions and the checkpoint of this run (one datasource).

    The YAML files are the source of truth. What they configure is stored in the GX project with a
    fingerprint of the suites, their targets, queries and expectations, and the batch filter
    (:func:`_fingerprint`); a gate whose fingerprint is the stored one (the publication gate on
    most nights) reuses its stored checkpoint instead of writing the project files again. Any
    other run rewrites the assets, suites and validation definitions of its own suites only, so
    the two gates' configurations live side by side."""
    import great_expectations as gx

    fingerprint = _fingerprint(runnable, batch_filter)
    marker = Path(context.root_directory) / "cchc_configured" / f"{checkpoint_name}.sha256"
    if marker.is_file() and marker.read_text() == fingerprint:
        try:
            datasource = context.data_sources.get(DATASOURCE)
            batch_definitions = {spec.name: datasource.get_asset(spec.name).get_batch_definition("whole")
                                 for spec, _, _ in runnable}
            checkpoint = context.checkpoints.get(checkpoint_name)
            if timings is not None:
                timings["configuration_reused"] = 1.0
            return checkpoint, batch_definitions
        except Exception as exc:  # noqa: BLE001  (a project edited by hand: configure it again)
            log.info("stored GX configuration of %s not usable (%s): configuring again", checkpoint_name, exc)
    marker.unlink(missing_ok=True)
    names = {spec.name for spec, _, _ in runnable}
    for key in context.checkpoint_store.list_keys():
        if key.to_tuple()[-1] == checkpoint_name:
            context.checkpoint_store.remove_key(key)
    for key in context.validation_definition_store.list_keys():
        if key.to_tuple()[-1] in names:
            context.validation_definition_store.remove_key(key)
    try:
        datasource = context.data_sources.get(DATASOURCE)
    except Exception:  # noqa: BLE001  (none yet, or unreadable: a fresh one)
        datasource = None
    template = getattr(getattr(datasource, "connection_string", None), "template_str", None)
    if datasource is None or template != "${" + URL_ENV + "}":
        datasource = context.data_sources.add_or_update_postgres(
            name=DATASOURCE, connection_string="${" + URL_ENV + "}"
        )
    batch_definitions = {}
    validation_definitions = []
    for spec, target, expectations in runnable:
        if spec.name in datasource.get_asset_names():
            datasource.delete_asset(spec.name)
        batch_definitions[spec.name] = _batch_definition(datasource, spec, target, batch_filter)
        suite = context.suites.add_or_update(gx.ExpectationSuite(name=spec.name, expectations=expectations))
        validation_definitions.append(
            context.validation_definitions.add_or_update(
                gx.ValidationDefinition(name=spec.name, data=batch_definitions[spec.name], suite=suite)
            )
        )
    checkpoint = context.checkpoints.add_or_update(
        gx.Checkpoint(
            name=checkpoint_name,
            validation_definitions=validation_definitions,
            result_format=dict(RESULT_FORMAT),
        )
    )
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(fingerprint)
    return checkpoint, batch_definitions


def _checkpoint_name(runnable: list[tuple[SuiteSpec, str, list]]) -> str:
    """One checkpoint per set of suites (the batch gate's, the publication gate's, a test's)."""
    import hashlib

    names = ",".join(sorted(spec.name for spec, _, _ in runnable))
    return f"{CHECKPOINT}_{hashlib.sha256(names.encode()).hexdigest()[:12]}"


def _fingerprint(runnable: list[tuple[SuiteSpec, str, list]], batch_filter: str | None) -> str:
    """What a gate's stored GX configuration must match to be reused: every suite's name, target,
    kind of asset (:func:`_batch_definition`), asset query and expectations (type and arguments),
    in order, and the result format."""
    import hashlib
    import json

    parts = [{"suite": spec.name, "target": target, "filterable": spec.filterable,
              "asset": "query" if spec.filterable else "table",
              "filter": batch_filter if spec.filterable else None,
              "expectations": [e.configuration.to_json_dict() for e in expectations]}
             for spec, target, expectations in runnable]
    parts.append({"result_format": RESULT_FORMAT, "sample": SAMPLE_SIZE, "datasource": DATASOURCE})
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _build_docs(context, run_keys: list, suite_names: list[str]) -> tuple[Path | None, dict[str, Path]]:
    """Drop stored results beyond the newest KEEP_RESULTS (ops.validation_results keeps the
    history), then build the Data Docs pages of this run, its suites and the index, in one go.
    Returns the index and the validation page of each suite."""
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

    index = _docs_index(context)
    store = context.validation_results_store
    keys = sorted(store.list_keys(), key=lambda k: k.run_id.run_time, reverse=True)
    for key in keys[KEEP_RESULTS:]:
        store.remove_key(key)
        if index is not None:
            _validation_page(index, key).unlink(missing_ok=True)
    context.build_data_docs(
        resource_identifiers=[*run_keys, *(ExpectationSuiteIdentifier(name=name) for name in suite_names)]
    )
    index = _docs_index(context)  # known once the site exists
    if index is None:
        return None, {}
    from cchc.quality.offline_docs import localize_site

    localize_site(index.parent)  # CDN assets → vendored copies: the pages render offline
    return index, {key.expectation_suite_identifier.name: _validation_page(index, key) for key in run_keys}


def build_data_docs(report_dir: Path, run_ids: list[str]) -> Path | None:
    """Build the Data Docs of the gate runs ``run_ids`` (their results are in the GX store of
    ``report_dir``) and the index; returns the index page (None when no result of theirs is kept).
    Never touches the warehouse. What ``run_gate(..., data_docs=False)`` left for later."""
    report_dir = Path(report_dir).resolve()
    started = time.perf_counter()
    with _locked(report_dir / ".gate.lock"), _gx_stdout():
        context = _context(report_dir)
        wanted = set(run_ids)
        keys = [k for k in context.validation_results_store.list_keys() if k.run_id.run_name in wanted]
        if not keys:
            return None
        index, _ = _build_docs(context, keys, sorted({k.expectation_suite_identifier.name for k in keys}))
    log.info("Data Docs of %s: %d validation pages, %.2f s (%s)", ", ".join(run_ids), len(keys),
             time.perf_counter() - started, index)
    return index


def _site_index(context) -> Path:
    """The local site's index page, built or not (GX names it only once it exists)."""
    return _docs_index(context) or Path(context.root_directory) / "uncommitted" / "data_docs" / "local_site" / \
        "index.html"


def _validation_page(index: Path, key) -> Path:
    """Where the local Data Docs site keeps the page of a ValidationResultIdentifier."""
    *folders, page = key.to_tuple()
    return index.parent.joinpath("validations", *folders) / f"{page}.html"


def _batch_definition(datasource, spec: SuiteSpec, target: str, batch_filter: str | None):
    """The suite's asset on the datasource.

    - a filterable suite (the raw batch suites): a query asset reading the table restricted to the
      run's rows (``select * from <target> where (<batch_filter>)``);
    - any other suite: a table asset of ``<target>``. GX reads a table asset's columns from the
      catalog, whereas it runs a query asset's whole query to learn its columns (its
      ``table.columns`` metric on a text query: 351k rows fetched for ``late_dossiers``' checks, 0.5 s
      of the publication gate at 400k dossiers); and ``{batch}`` in an unexpected-rows query becomes
      the table's name rather than a subquery. (The schema is named with ``schema_name``,
      deprecated since GX 1.14 in favour of the datasource's schema: one datasource serves every
      schema of a gate here.)
    """
    if spec.filterable:
        query = f"select * from {target}"
        if batch_filter is not None:
            # ":" would start a bind parameter in SQLAlchemy's text(); "\:" is a literal colon.
            query += " where (" + batch_filter.replace(":", "\\:") + ")"
        return datasource.add_query_asset(name=spec.name, query=query).add_batch_definition_whole_table("whole")
    schema, table = target.split(".", 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        asset = datasource.add_table_asset(name=spec.name, table_name=table, schema_name=schema)
    return asset.add_batch_definition_whole_table("whole")


def _docs_index(context) -> Path | None:
    for site in context.get_docs_sites_urls():
        url = site.get("site_url") or ""
        if url.startswith("file://"):
            return Path(url.removeprefix("file://"))
    return None


def _check_result(spec: SuiteSpec, target: str, r, batch_definition) -> CheckResult:
    config = r.expectation_config
    name = (config.meta or {}).get("cchc_check") or config.type
    check = next((c for c in spec.checks if c.name == name), None)
    declared = check.type if check else config.type
    observed = _observed(r)
    if not r.success and declared == UNEXPECTED_ROWS and "error" not in observed:
        rows = _unexpected_rows(batch_definition, config.kwargs["unexpected_rows_query"])
        observed["sample"] = rows[:SAMPLE_SIZE]
        batch_ids = sorted({row["batch_id"] for row in rows if row.get("batch_id") is not None})
        if batch_ids:  # the batches the failing rows belong to: the batch gate blocks only those
            observed["batch_ids"] = batch_ids
    elif not r.success and "unexpected_count" in observed and "error" not in observed and "sample" not in observed:
        sample = _unexpected_values(batch_definition, config)
        if sample:
            observed["sample"] = sample
    message = "" if r.success else _message(declared, config.kwargs, observed)
    return CheckResult(spec.name, name, declared, target, bool(r.success), observed, message,
                       check.description if check else None)


def _observed(r) -> dict[str, Any]:
    result = r.result or {}
    observed = {
        k: result[k]
        for k in ("observed_value", "element_count", "unexpected_count", "unexpected_percent", "missing_count")
        if k in result and result[k] is not None
    }
    sample = result.get("partial_unexpected_list")
    if sample and not r.success:
        observed["sample"] = sample[:SAMPLE_SIZE]
    details = result.get("details")
    if details and not r.success:
        observed["details"] = details
    error = _error(r.exception_info)
    if error:
        observed["error"] = error
    return observed


def _error(info: Any) -> str | None:
    """The first exception message in GX's exception_info (flat, or keyed by metric)."""
    if not isinstance(info, dict):
        return None
    candidates = [info] + [v for v in info.values() if isinstance(v, dict)]
    for item in candidates:
        if item.get("raised_exception") and item.get("exception_message"):
            lines = [line for line in str(item["exception_message"]).splitlines() if line.strip()]
            return " ".join(lines[:2])
    return None


def _unexpected_rows(batch_definition, query: str) -> list[dict]:
    """Re-run a failed unexpected-rows query with GX's COMPLETE format: every unexpected row."""
    import great_expectations as gx

    try:
        with contextlib.redirect_stdout(io.StringIO()):
            expectation = gx.expectations.UnexpectedRowsExpectation(unexpected_rows_query=query)
        result = batch_definition.get_batch().validate(expectation, result_format="COMPLETE")
        rows = (result.result.get("details") or {}).get("unexpected_rows") or []
        return [dict(row) for row in rows]
    except Exception as exc:  # a sample is a courtesy; never let it hide the failure itself
        log.warning("could not sample unexpected rows: %s", exc)
        return []


def _unexpected_values(batch_definition, config) -> list:
    """Validate a failed column-map check again with a sample of its unexpected values (the run
    itself fetched none: :data:`RESULT_FORMAT`)."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            result = batch_definition.get_batch().validate(
                config.to_domain_obj(),
                result_format={"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_SIZE},
            )
        return list((result.result or {}).get("partial_unexpected_list") or [])[:SAMPLE_SIZE]
    except Exception as exc:  # a sample is a courtesy; never let it hide the failure itself
        log.warning("could not sample unexpected values: %s", exc)
        return []


def _message(declared: str, kwargs: dict, observed: dict) -> str:
    if "error" in observed:
        text = f"error: {observed['error']}"
    elif declared == UNEXPECTED_ROWS:
        text = f"{observed.get('observed_value')} unexpected row(s)"
    elif "unexpected_count" in observed:
        text = (
            f"{observed['unexpected_count']} of {observed.get('element_count')} rows unexpected "
            f"({observed.get('unexpected_percent') or 0:.2f} %)"
        )
    else:
        text = f"observed {_clip(_plain(observed.get('observed_value')), 160)}"
        if observed.get("details"):
            text += f"; {_plain(observed['details'])}"
        else:
            expected = {k: v for k, v in kwargs.items() if k not in ("batch_id", "column", "column_list")}
            text += f", expected {_plain(expected)}"
    if observed.get("sample"):
        text += "; e.g. " + "; ".join(_plain(item) for item in observed["sample"])
    return _clip(text, MESSAGE_LIMIT)


def _plain(value: Any) -> str:
    """Values as a reader writes them: dates as 2024-01-31, rows as (column=value, …)."""
    if isinstance(value, dict):
        inner = ", ".join(f"{k}={_plain(v)}" for k, v in value.items())
        return f"({inner})"
    if isinstance(value, (list, tuple, set)):
        return "[" + ", ".join(_plain(v) for v in value) + "]"
    return "null" if value is None else str(value)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- helpers ------------------------------------------------------------------------------------


def _missing_tables(url: str, targets: dict[str, str]) -> set[str]:
    with psycopg.connect(url) as conn:
        return {
            name
            for name, target in targets.items()
            if conn.execute("select to_regclass(%s)", (target,)).fetchone()[0] is None
        }


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One gate at a time per GX project: its YAML/JSON stores are not safe for concurrent writers."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def _env(name: str, value: str) -> Iterator[None]:
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


@contextlib.contextmanager
def _gx_stdout() -> Iterator[None]:
    """GX prints some warnings on stdout (e.g. for each unexpected-rows query without {batch},
    each time it builds one): send them to the log, once each."""
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            yield
    finally:
        for line in dict.fromkeys(buffer.getvalue().splitlines()):
            if line.strip():
                log.debug("GX: %s", line)


def _safe(run_id: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in run_id) or "run"
