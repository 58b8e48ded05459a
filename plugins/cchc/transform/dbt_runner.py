"""Run dbt on the project's dbt_project against a warehouse URL, and keep what it did.

``run_dbt`` runs the ``dbt`` next to the current interpreter as a subprocess with the project and
profiles dirs set to ``dbt_project``, the connection passed through ``CCHC_DB_*`` environment
variables (profiles.yml reads them), the run parameters through ops.dbt_run_params (see
``run_dbt``) and other vars as JSON, and the target and log folders under
``$CCHC_HOME/dbt/<database>/`` so that the repository stays clean. After the run, the node
results of ``run_results.json`` are appended to ``ops.dbt_run_results`` in the same warehouse (one
row per node: status, failures, message, timing, rows affected), as GitLab's data team keeps
their dbt artifacts.

``build`` is the step the pipeline calls: one ``dbt build`` (seeds, models, tests) for an
as-of date and publication id; anything failing raises :class:`DbtBuildError` naming the failed
nodes and their messages.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from cchc.paths import DBT_PROJECT_DIR, state_dir
from cchc.warehouse.connection import WarehouseError, append_rows, redact_url, url_parts

log = logging.getLogger(__name__)

#: statuses of run_results.json that mean the node failed
FAILED_STATUSES = frozenset({"error", "fail", "runtime error"})
LOG_TAIL_LINES = 60

OPS_DDL = """
create schema if not exists ops;
create table if not exists ops.dbt_run_results (
    run_id          text not null,
    invocation_id   text,
    invoked_at      timestamptz not null,
    command         text,
    unique_id       text not null,
    resource_type   text not null,
    status          text not null,
    failures        integer,
    message         text,
    execution_time  double precision,
    rows_affected   bigint
);
create index if not exists dbt_run_results_run on ops.dbt_run_results (run_id, invoked_at);
"""


@dataclass
class DbtResult:
    """What one dbt invocation did."""

    success: bool
    results: list[dict[str, Any]] = field(default_factory=list)
    run_results_path: Path | None = None
    log_tail: str = ""
    returncode: int = 0
    state: Any = None  # build(): the ledger's MergeStats of the state refresh before dbt ran

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.results if r["status"] in FAILED_STATUSES]


class DbtBuildError(RuntimeError):
    """dbt failed: the message lists the failed nodes (tests and models) and why."""

    def __init__(self, message: str, result: DbtResult):
        super().__init__(message)
        self.result = result

    @property
    def failed_nodes(self) -> list[str]:
        return [r["unique_id"] for r in self.result.failed]


def dbt_executable() -> Path:
    """The dbt of this environment (next to the running Python)."""
    exe = Path(sys.executable).parent / "dbt"
    if not exe.exists():
        raise FileNotFoundError(f"no dbt next to {sys.executable}: install the project's lock file")
    return exe


def dbt_work_dir(url: str) -> Path:
    """Target and log folders of runs on the database of ``url`` (never inside the repository)."""
    return state_dir() / "dbt" / url_parts(url)["dbname"]


#: URL parameters dbt's profile (dbt_project/profiles.yml) carries, and those it may leave out
DBT_URL_PARAMS = ("host", "port", "user", "password", "dbname", "sslmode")
DBT_IGNORED_URL_PARAMS = ("connect_timeout", "application_name")


def dbt_env(url: str) -> dict[str, str]:
    """The environment of a dbt run on ``url``: the CCHC_DB_* variables profiles.yml reads.

    A socket URL (``postgresql://u@/db?host=/run/postgresql``) gives the socket folder as host,
    which dbt-postgres accepts. What the profile cannot carry is refused, not dropped: several
    hosts, or parameters such as sslrootcert.
    """
    parts = url_parts(url)
    if "," in parts["host"] or "," in parts["port"]:
        raise WarehouseError(f"dbt connects to one server; the warehouse URL {redact_url(url)} names several "
                             f"({parts['host']})")
    unsupported = sorted(set(parts) - set(DBT_URL_PARAMS) - set(DBT_IGNORED_URL_PARAMS))
    if unsupported:
        raise WarehouseError(
            f"the warehouse URL {redact_url(url)} has parameters dbt's profile does not carry: "
            f"{', '.join(unsupported)} (supported: {', '.join(DBT_URL_PARAMS)}); set them through the "
            "PG* environment variables libpq reads instead (e.g. PGSSLROOTCERT)")
    env = dict(os.environ)
    env.update(
        CCHC_DB_HOST=parts["host"],
        CCHC_DB_PORT=parts["port"],
        CCHC_DB_USER=parts["user"],
        CCHC_DB_PASSWORD=parts["password"],
        CCHC_DB_NAME=parts["dbname"],
        CCHC_DB_SSLMODE=parts.get("sslmode", "prefer"),  # libpq's default
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        DBT_USE_COLORS="false",
    )
    return env


@contextmanager
def _exclusive(folder: Path):
    """One dbt at a time per target folder (dbt's target/ is not safe to share)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def run_dbt(args: list[str], *, url: str, vars: dict[str, Any], target_dir: Path | None = None) -> DbtResult:
    """Run ``dbt <args>`` on the project against ``url`` and store its node results in ops.

    ``args`` starts with the dbt command (``build``, ``test``, ``seed`` ...). The run parameters
    in ``vars`` (:data:`RUN_PARAMS`) go to ops.dbt_run_params (:func:`write_run_params`), the
    other vars to ``--vars`` as JSON with that row's key (:func:`dbt_cli_vars`).
    ``target_dir`` (default ``$CCHC_HOME/dbt/<database>``) holds ``target/`` and ``logs/``. Never
    raises for a dbt failure: see ``success``; :func:`raise_for_failures`.
    """
    if not args:
        raise ValueError("run_dbt needs a dbt command, e.g. ['build']")
    work = Path(target_dir) if target_dir else dbt_work_dir(url)
    target_path, log_path = work / "target", work / "logs"
    cmd = [
        str(dbt_executable()),
        *args,
        "--project-dir", str(DBT_PROJECT_DIR),
        "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(target_path),
        "--log-path", str(log_path),
        "--vars", json.dumps(dbt_cli_vars(vars, work), default=str, sort_keys=True),
    ]
    with _exclusive(work):
        write_run_params(url, work, vars)
        run_results = target_path / "run_results.json"
        run_results.unlink(missing_ok=True)  # never read a previous run's results
        invoked_at = dt.datetime.now(dt.UTC)
        log.info("dbt %s (vars %s)", " ".join(args), vars)
        proc = subprocess.run(cmd, env=dbt_env(url), cwd=DBT_PROJECT_DIR, capture_output=True, text=True)
        output = (proc.stdout or "") + (proc.stderr or "")
        tail = "\n".join(output.splitlines()[-LOG_TAIL_LINES:])
        results, invocation_id = _read_run_results(run_results)
    result = DbtResult(
        success=proc.returncode == 0 and not any(r["status"] in FAILED_STATUSES for r in results),
        results=results,
        run_results_path=run_results if run_results.exists() else None,
        log_tail=tail,
        returncode=proc.returncode,
    )
    if results:
        try:
            store_run_results(url, str(vars.get("run_id", "manual")), invoked_at, args[0], invocation_id, results)
        except psycopg.Error as exc:  # the run's outcome stands; its record is best effort
            log.warning("could not store dbt run results in ops.dbt_run_results: %s", exc)
    return result


#: The run parameters that travel through ops.dbt_run_params instead of --vars (macros/run_vars.sql)
RUN_PARAMS = ("as_of_date", "publication_id", "run_id")

RUN_PARAMS_DDL = """
create schema if not exists ops;
create table if not exists ops.dbt_run_params (
    params_key      text primary key,   -- the dbt work folder
    as_of_date      text,               -- as given; validated by the macros
    publication_id  text,
    run_id          text,
    written_at      timestamptz not null default now()
);
"""


def dbt_cli_vars(vars: dict[str, Any], work: Path) -> dict[str, Any]:
    """What goes to ``--vars``: the caller's vars without the run parameters, plus the key of their
    row in ops.dbt_run_params (the same every night for a work folder, so dbt's partial parse
    survives: a changed ``--vars`` forces dbt to re-parse the whole project)."""
    out = {k: v for k, v in vars.items() if k not in RUN_PARAMS}
    out["cchc_run_params"] = str(work)
    return out


def write_run_params(url: str, work: Path, vars: dict[str, Any]) -> None:
    """Store this invocation's run parameters where macros/run_vars.sql reads them at execution
    time: one row per work folder, replaced (called under the work folder's lock). They are kept as
    text, as given: the macros validate them and name a malformed one, as they did for vars."""
    values = [None if vars.get(name) is None else str(vars[name]) for name in RUN_PARAMS]
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.transaction():
            conn.execute("select pg_advisory_xact_lock(hashtext('cchc.ops.dbt_run_params.ddl'))")
            conn.execute(RUN_PARAMS_DDL)
        conn.execute(
            "insert into ops.dbt_run_params (params_key, as_of_date, publication_id, run_id) "
            "values (%s, %s, %s, %s) on conflict (params_key) do update set as_of_date = excluded.as_of_date, "
            "publication_id = excluded.publication_id, run_id = excluded.run_id, written_at = now()",
            (str(work), *values))


def _read_run_results(path: Path) -> tuple[list[dict[str, Any]], str | None]:
    if not path.exists():
        return [], None
    data = json.loads(path.read_text(encoding="utf-8"))
    rows = []
    for r in data.get("results", []):
        unique_id = r.get("unique_id", "")
        rows.append(
            {
                "unique_id": unique_id,
                "resource_type": unique_id.split(".", 1)[0],
                "status": str(r.get("status")),
                "failures": r.get("failures"),
                "message": r.get("message"),
                "execution_time": r.get("execution_time"),
                "rows_affected": (r.get("adapter_response") or {}).get("rows_affected"),
            }
        )
    return rows, (data.get("metadata") or {}).get("invocation_id")


def store_run_results(
    url: str,
    run_id: str,
    invoked_at: dt.datetime,
    command: str,
    invocation_id: str | None,
    results: list[dict[str, Any]],
) -> None:
    """Append node results to ops.dbt_run_results (created when missing)."""
    append_rows(
        url, ddl=OPS_DDL, table="ops.dbt_run_results",
        columns=["run_id", "invocation_id", "invoked_at", "command", "unique_id", "resource_type",
                 "status", "failures", "message", "execution_time", "rows_affected"],
        rows=[(run_id, invocation_id, invoked_at, command, r["unique_id"], r["resource_type"],
               r["status"], r["failures"], r["message"], r["execution_time"], r["rows_affected"])
              for r in results],
    )


#: Rows of a failed test's stored failures quoted in a DbtBuildError.
FAILING_ROWS_SHOWN = 10
#: Columns that name a failing row (a record's key, its source day and batch, a report row's
#: grain, what a singular test says is wrong), shown in this order when a stored row has them;
#: a row with none of them is shown by its first columns.
NAMING_COLUMNS = (
    "dossier_id", "document_id", "step_key", "anomaly_id", "needed_by",
    "period_type", "period_start", "date_day", "date", "unit_id", "field_code",
    "report_exclusion_reason", "broken_identity", "unknown_code", "date_column", "date_value",
    "source_day", "batch_id", "line_no",
)
_FALLBACK_COLUMNS = 8


def raise_for_failures(result: DbtResult, what: str = "dbt", *, url: str | None = None) -> DbtResult:
    """Raise :class:`DbtBuildError` listing the failed nodes when ``result`` is not a success.

    With ``url`` (the warehouse dbt ran on), each failed test also names its failing rows: up to
    :data:`FAILING_ROWS_SHOWN` rows of its stored failures (``audit.<test>``, dbt_project.yml
    stores every test's failures), by their :data:`NAMING_COLUMNS` (dossier, day, batch, ...).
    """
    if result.success:
        return result
    failed = result.failed
    if failed:
        lines = [f"{what} failed: {len(failed)} node(s) failed"]
        relations = _stored_failure_relations(result) if url else {}
        for r in failed:
            msg = (r["message"] or "").strip().replace("\n", " ")
            lines.append(f"  - {r['unique_id']} [{r['status']}]: {msg}")
            if r["resource_type"] == "test" and relations.get(r["unique_id"]):
                lines += _failing_rows_text(url, relations[r["unique_id"]])
        skipped = sum(1 for r in result.results if r["status"] == "skipped")
        if skipped:
            lines.append(f"  ({skipped} node(s) skipped because of them)")
    else:
        lines = [f"{what} failed (exit code {result.returncode}) before running any node:", result.log_tail]
    raise DbtBuildError("\n".join(lines), result)


def _stored_failure_relations(result: DbtResult) -> dict[str, str]:
    """unique_id -> the relation holding a test's stored failures (run_results.json)."""
    if result.run_results_path is None or not result.run_results_path.exists():
        return {}
    try:
        data = json.loads(result.run_results_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {r["unique_id"]: r["relation_name"] for r in data.get("results", [])
            if r.get("unique_id", "").startswith("test.") and r.get("relation_name")}


def _failing_rows_text(url: str, relation: str, limit: int = FAILING_ROWS_SHOWN) -> list[str]:
    """The failing rows of a test, from its stored failures, as indented lines naming each row."""
    try:
        with psycopg.connect(url) as conn, conn.cursor() as cur:
            cur.execute(f"select count(*) from {relation}")
            total = cur.fetchone()[0]
            cur.execute(f"select * from {relation} limit {int(limit)}")
            columns = [c.name for c in cur.description]
            rows = cur.fetchall()
    except psycopg.Error as exc:
        return [f"      (its failing rows could not be read from {relation}: {str(exc).strip()})"]
    shown = [c for c in NAMING_COLUMNS if c in columns] or columns[:_FALLBACK_COLUMNS]
    index = {c: columns.index(c) for c in shown}
    more = f", first {len(rows)}" if total > len(rows) else ""
    body = ["        (" + ", ".join(f"{c}={_show(row[index[c]])}" for c in shown) + ")" for row in rows]
    return [f"      {total} failing row(s) in {relation}{more}:", *body]


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    return text if len(text) <= 120 else text[:119] + "…"


#: an incremental build leaves out the seeds and the tests that read only seeds: the seeds are part
#: of the fingerprinted project (cchc.transform.incremental), so they are the tables the last full
#: build loaded and tested (a changed seed makes the build a full refresh). ``cautious`` leaves
#: every test that also reads a model (a code checked against a seed's list) in the build.
UNCHANGED_SEEDS = ["--exclude", "resource_type:seed", "--indirect-selection", "cautious"]


def build(
    url: str,
    as_of_date: dt.date | str,
    publication_id: int = 0,
    run_id: str = "manual",
    *,
    target_dir: Path | None = None,
    full_rebuild: bool = False,
) -> DbtResult:
    """Build the warehouse as of ``as_of_date``: first the batch ledger merges the batches in force
    into the per-feed current state (``state.*``, :func:`cchc.ledger.refresh_state`), then
    ``dbt build`` (seeds, models, tests; an incremental build leaves out the unchanged seeds and
    their own tests, :data:`UNCHANGED_SEEDS`). ``full_rebuild`` recomputes the state from every
    batch in force and runs dbt with ``--full-refresh``. Raises DbtBuildError on failure."""
    from cchc.ledger import refresh_state

    from cchc.transform.incremental import (build_fingerprint, clear_tests_watermark, full_refresh_reason,
                                            latest_merge, save_fingerprint, save_tests_watermark)

    day = as_of_date if isinstance(as_of_date, dt.date) else dt.date.fromisoformat(str(as_of_date))
    with psycopg.connect(url) as conn:
        merged = refresh_state(conn, day, full=full_rebuild)
        fingerprint = build_fingerprint(conn, DBT_PROJECT_DIR)
        refresh_reason = full_refresh_reason(conn, fingerprint)
        tested_through = latest_merge(conn)  # what this build's staging tests cover if it succeeds
    vars = {
        "as_of_date": day.isoformat(),
        "publication_id": int(publication_id),
        "run_id": str(run_id),
    }
    # a state recomputed from scratch (first build, an earlier as_of_date, a rebuild): incremental
    # models downstream cannot trust their watermark either
    full = full_rebuild or merged.any_full
    # ... nor when what their rows depend on besides the records changed (cchc.transform.incremental)
    if not full and refresh_reason:
        log.info("dbt build --full-refresh: %s", refresh_reason)
        full = True
    if full:
        with psycopg.connect(url) as conn:
            clear_tests_watermark(conn)
    # dbt's unit tests check the rule macros on fixed fixtures, not the night's data: `make test`
    # runs them (tests/test_rule_macros.py); a night would pay their start-up for nothing
    args = ["build", "--exclude-resource-type", "unit_test", *(["--full-refresh"] if full else UNCHANGED_SEEDS)]
    result = run_dbt(args, url=url, vars=vars, target_dir=target_dir)
    result.state = merged
    if result.success:
        with psycopg.connect(url) as conn:
            save_fingerprint(conn, fingerprint)
            save_tests_watermark(conn, tested_through)
    return raise_for_failures(result, f"dbt build (as_of_date {vars['as_of_date']})", url=url)
