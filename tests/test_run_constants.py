"""Run-level constants defined once (issue 10, part 7), and every CCHC_* variable read in one module.

- The systems whose days a publication claims: dbt var ``reported_systems`` (dbt_project.yml),
  read by Python (cchc.constants.REPORTED_SYSTEMS, cchc.ledger.completeness) and by SQL (macro
  reported_systems(), int_report_periods). Checked statically, and through real landings into a
  real PostgreSQL: the systems ``as_of_date`` counts are the systems the SQL's filter selects.
- The schema names Python shares with dbt, against dbt_project.yml and the sources' YAML.
- The province's time zone: named in cchc.constants only.
- No module of plugins/cchc or dags/ but cchc.settings reads a CCHC_* environment variable.
"""

from __future__ import annotations

import ast
import datetime as dt
import importlib
import re
from pathlib import Path

import jinja2
import psycopg
import pytest
import yaml

from cchc import constants
from cchc.extract import FileSource
from cchc.land import land_day
from cchc.ledger import completeness, list_batches, record_gate
from cchc.raw.schema import FEEDS
from export_fixtures import document, dossier, step, write_export_day, write_reference_day

ROOT = Path(__file__).resolve().parents[1]
DBT = ROOT / "dbt_project"
KEY = b"run-constants-test-key-0123"
D1, D2, D3 = (dt.date(2025, 6, 2) + dt.timedelta(days=i) for i in range(3))


def render_reported_systems(systems) -> str:
    """The SQL that macro reported_systems() renders for the var ``systems`` (dbt's own Jinja: the
    macro file, with var() and exceptions as dbt provides them)."""
    def raise_compiler_error(message):
        raise ValueError(message)

    env = jinja2.Environment(extensions=["jinja2.ext.do"])
    env.globals.update(var=lambda name: {"reported_systems": systems}[name],
                       exceptions=type("E", (), {"raise_compiler_error": staticmethod(raise_compiler_error)}))
    source = "".join((DBT / "macros" / name).read_text() for name in ("sql_lists.sql", "run_constants.sql"))
    module = env.from_string(source).make_module()
    return str(module.reported_systems()).strip()


def test_reported_systems_are_the_daily_systems_of_the_feed_contract():
    project_vars = yaml.safe_load((DBT / "dbt_project.yml").read_text())["vars"]
    assert constants.reported_systems() == tuple(sorted(project_vars["reported_systems"])) == ("edoc", "onestop")
    # every system that delivers day records (not whole reference lists) is reported, and only those
    assert set(constants.reported_systems()) == {f.system for f in FEEDS if not f.whole}
    completeness_module = importlib.import_module("cchc.ledger.completeness")
    assert completeness_module.REPORTED_SYSTEMS is constants.reported_systems()  # read, not restated


def test_the_sql_macro_renders_the_same_systems():
    assert render_reported_systems(["onestop", "edoc"]) == "('edoc', 'onestop')"
    rendered = render_reported_systems(list(constants.reported_systems()))
    assert tuple(re.findall(r"'([^']*)'", rendered)) == constants.reported_systems()
    with pytest.raises(ValueError, match="non-empty list"):
        render_reported_systems([])


def test_no_sql_restates_the_list_of_reported_systems():
    """The report periods read the macro; no model or macro writes a literal list of systems."""
    literal = re.compile(r"\bsystem\s*(?:in\s*\(|=\s*any\s*\()\s*'", re.I)
    found = [str(p.relative_to(DBT)) for p in sorted(DBT.glob("[mt]*/**/*.sql"))
             if "target" not in p.parts and literal.search(p.read_text())]
    assert found == []
    assert "system in {{ reported_systems() }}" in \
        (DBT / "models/intermediate/reporting/int_report_periods.sql").read_text()


def _land(url, root, day, feeds):
    return land_day(url, FileSource(root), day, feeds=feeds, pseudonym_key=KEY, run_id="run-constants-test")


def test_as_of_date_and_the_sql_count_the_same_systems(warehouse_db, tmp_path):
    """E-documents delivered from D1, one-stop from D2: Python's completeness counts both systems
    (as_of_date is the smaller complete_through), and the SQL filter of the report periods
    (macro reported_systems() run on the same ledger) selects the same systems and sees D1."""
    url = warehouse_db
    for day in (D1, D2, D3):
        write_reference_day(tmp_path, day, generated_at=f"{day + dt.timedelta(days=1)}T03:10:00+07:00")
        write_export_day(tmp_path, "edoc", day, {"documents": [document(f"DOC-{day:%d}", day)]},
                         generated_at=f"{day + dt.timedelta(days=1)}T03:10:00+07:00")
        _land(url, tmp_path, day, ["units", "procedures", "documents"])
    for day in (D2, D3):
        code = f"000.00.01.H26-{day:%y%m%d}-0001"
        write_export_day(tmp_path, "onestop", day, {"dossiers": [dossier(code, day)], "steps": [step(code, 1, day)]},
                         generated_at=f"{day + dt.timedelta(days=1)}T03:10:00+07:00")
        _land(url, tmp_path, day, ["dossiers", "steps"])
    with psycopg.connect(url) as conn:
        pending = [r["batch_id"] for r in list_batches(conn, dispositions=["pending"], limit=1000)]
        record_gate(conn, "run-constants-test", passed=pending, failed={})
        conn.commit()
        c = completeness(conn)
        sql_filter = render_reported_systems(yaml.safe_load((DBT / "dbt_project.yml").read_text())["vars"]
                                             ["reported_systems"])
        sql_systems = {r[0] for r in conn.execute(
            f"select distinct system from raw.load_batches where disposition = 'in_force' and system in {sql_filter}")}
        sql_first_day = conn.execute(
            f"select min(source_day) from raw.load_batches where disposition = 'in_force' and system in {sql_filter}"
        ).fetchone()[0]
    assert c.complete_through == {"edoc": D3, "onestop": D3} and c.as_of_date == D3
    assert set(c.complete_through) == sql_systems == {"edoc", "onestop"}
    assert sql_first_day == D1  # the e-documents' first day starts the report periods, as README says


def test_schema_names_agree_with_the_dbt_project():
    project = yaml.safe_load((DBT / "dbt_project.yml").read_text())
    assert project["models"]["cchc"]["publish"]["+schema"] == constants.BUILD_SCHEMA
    source_schemas = set()
    for path in DBT.glob("models/**/*.yml"):
        for source in (yaml.safe_load(path.read_text()) or {}).get("sources") or []:
            source_schemas.add(source.get("schema", source["name"]))
    assert source_schemas and source_schemas <= {constants.RAW_SCHEMA, constants.STATE_SCHEMA, constants.OPS_SCHEMA}
    from cchc.ledger.state import STATE_SCHEMA
    from cchc.publish import BUILD_SCHEMA, PUBLICATION_SCHEMA_PREFIX, PUBLISHED_SCHEMA

    assert (STATE_SCHEMA, BUILD_SCHEMA, PUBLISHED_SCHEMA, PUBLICATION_SCHEMA_PREFIX) == (
        constants.STATE_SCHEMA, constants.BUILD_SCHEMA, constants.PUBLISHED_SCHEMA, constants.PUBLICATION_SCHEMA_PREFIX)


def _python_files():
    return sorted([*(ROOT / "plugins" / "cchc").rglob("*.py"), *(ROOT / "dags").glob("*.py")])


def _string_constants(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    return [(n.lineno, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings]


def test_the_province_time_zone_is_named_once():
    named = [str(p.relative_to(ROOT)) for p in _python_files() for _line, value in _string_constants(p)
             if "Asia/Ho_Chi_Minh" in value]
    assert named == ["plugins/cchc/constants.py"]


#: modules that still read a CCHC_* variable themselves, each with the reason it is not moved yet
NOT_YET_IN_SETTINGS: set[str] = set()  # every CCHC_* read is behind cchc.settings


def test_every_cchc_variable_is_read_in_the_settings_module():
    reads = re.compile(r"""(?:os\.environ(?:\.get)?\s*[\[(]|os\.getenv\s*\(|environ\.get\s*\()\s*f?["']CCHC_""")
    found = [f"{p.relative_to(ROOT)}:{n}" for p in _python_files()
             if str(p.relative_to(ROOT)) not in {"plugins/cchc/settings.py", *NOT_YET_IN_SETTINGS}
             for n, line in enumerate(p.read_text().splitlines(), 1) if reads.search(line)]
    assert found == []


# -- the day a scheduled run handles: decided in plan_run (cchc.readiness.run_days), not in the DAG --
def _release(run_id):
    from cchc.runlock import release
    from cchc.warehouse import connect

    with connect() as conn:
        release(conn, run_id)
        conn.commit()


def test_plan_run_decides_the_days_of_a_dag_run(warehouse_db, tmp_path):
    from cchc import pipeline

    source = {"source_dir": str(tmp_path)}
    # a scheduled run: its 02:00 local trigger on 15 May handles 14 May (the trigger given in UTC)
    trigger = dt.datetime(2025, 5, 14, 19, 0, tzinfo=dt.UTC)
    plan = pipeline.plan_run(run_id="plan-scheduled", params=source, trigger_time=trigger,
                             waited={"start": "2025-05-14", "end": "2025-05-14"})
    _release("plan-scheduled")
    assert plan["days"] == ["2025-05-14"] and plan["source"] == {"source_dir": str(tmp_path), "source_url": None}
    # cchc run / a REST trigger with conf: the params name the days, whatever the trigger
    plan = pipeline.plan_run(run_id="plan-explicit", params={**source, "start": "2025-05-01", "end": "2025-05-03"},
                             trigger_time=trigger)
    _release("plan-explicit")
    assert plan["days"] == ["2025-05-01", "2025-05-02", "2025-05-03"]
    # the sensor waited for other days than the plan would land: refused, recorded as the plan step's failure
    with pytest.raises(pipeline.PipelineError, match="waited for the days") as err:
        pipeline.plan_run(run_id="plan-mismatch", params=source, trigger_time=trigger,
                          waited={"start": "2025-05-13", "end": "2025-05-13"})
    assert not err.value.retryable
    # days given twice
    with pytest.raises(pipeline.PipelineError, match="not both"):
        pipeline.plan_run(run_id="plan-twice", start="2025-05-01", params=source, trigger_time=trigger)
