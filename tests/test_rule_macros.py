"""Every rule lives in its macro, and its examples run in seconds (issue 10, parts 1 and 4).

1. Grep-level: the expressions of the signature rules, of the exchange axis, of the dispatch and
   acknowledgement rules and of the dossier timeliness (early / on time / late) appear in the SQL
   of the dbt project only inside their macros (macros/edoc_rules.sql, macros/dossier_rules.sql);
   a model, a macro or a singular test that restates one fails here, naming the file and line.
   Every rule macro is called somewhere (no dead rule).
2. The dbt unit tests (`unit_tests:` in models/**/_*__unit_tests.yml) and the grain tests
   (tag `grain`, tests/grain/) run against a real PostgreSQL: a fresh database with the raw and
   state schemas (no batch landed), the seeds and the models upstream of the tested models built
   on it (unit tests read the column types of their inputs from the relations; `dbt build
   --empty` cannot be used: it renders a ref as an aliased subquery, and the project's
   `{{ ref(...) }} as alias` then is a syntax error), then
   `dbt test --select test_type:unit tag:grain`. Every one must pass, and there must be at least
   the unit tests this file counts on. A duplicated row makes the grain test fail.
   Every intermediate model has a grain test (unique / unique_combination_of_columns in YAML, or a
   tagged grain test).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from pathlib import Path

import psycopg
import pytest

from cchc.ledger.state import ensure_state_schema
from cchc.paths import DBT_PROJECT_DIR
from cchc.raw.schema import ensure_raw_schema
from cchc.transform.dbt_runner import dbt_work_dir, run_dbt

AS_OF = dt.date(2025, 6, 30)
VARS = {"as_of_date": AS_OF.isoformat(), "publication_id": 0, "run_id": "test_rule_macros"}

EDOC_RULES = "macros/edoc_rules.sql"
DOSSIER_RULES = "macros/dossier_rules.sql"

#: (what the expression is, regex on SQL without comments, the one file allowed to hold it; None:
#: no SQL file, the rule is data in a seed)
RULE_EXPRESSIONS = [
    ("signature kind SIGNER", r"'SIGNER'", EDOC_RULES),
    ("signature kind ORGANIZATION", r"'ORGANIZATION'", EDOC_RULES),
    ("fully signed", r"has_valid_signer_signature\W+and\W+[\w.{} ]*has_valid_organisation_signature", EDOC_RULES),
    ("signer only", r"has_signer_signature\W+and\s+not\W+[\w.{} ]*has_organisation_signature", EDOC_RULES),
    ("paper", r"\bnot\s+(\{\{\s*)?[\w.]*is_electronic\b", EDOC_RULES),
    ("exchange axis channels (seeds/source_code_lists.csv, code_group)", r"'(VXP|LGSP)'", None),
    ("exchange axis code group", r"'exchange_axis'", EDOC_RULES),
    ("dispatch within one working day", r"dispatch_working_days\W+between", EDOC_RULES),
    ("acknowledged the same day", r"cast\(\W*[\w.]*acknowledged_at\W+as\s+date\)", EDOC_RULES),
    ("report date of an outgoing document", r"coalesce\(\W*[\w.]*promulgation_date\b", EDOC_RULES),
    ("timeliness: early", r"then\s+'early'", DOSSIER_RULES),
    ("timeliness: on time", r"then\s+'on_time'", DOSSIER_RULES),
    ("timeliness: late (finished after the due time)", r"finished_at\W*\s*>\s*\W*[\w.]*(due|overdue)", DOSSIER_RULES),
    ("timeliness: early (finish day before the due day)",
     r"finished_at\W*\s+as\s+date\)\s*<\s*cast\(\W*[\w.]*due", DOSSIER_RULES),
]

#: the unit tests this suite counts on (a renamed or dropped one must be noticed)
MIN_UNIT_TESTS = 5
MIN_GRAIN_TESTS = 7


def _sql_files() -> list[Path]:
    files = []
    for folder in ("models", "macros", "tests"):
        files += sorted((DBT_PROJECT_DIR / folder).rglob("*.sql"))
    return files


def _without_comments(text: str) -> str:
    """SQL without Jinja comments and `--` comments (a rule's prose may name its expression);
    line numbers are kept."""
    text = re.sub(r"\{#.*?#\}", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    return re.sub(r"--[^\n]*", "", text)


def test_rule_expressions_appear_only_in_their_macros():
    assert (DBT_PROJECT_DIR / EDOC_RULES).exists() and (DBT_PROJECT_DIR / DOSSIER_RULES).exists()
    found_in_macro = {name: False for name, _, home in RULE_EXPRESSIONS if home}
    bypasses = []
    for path in _sql_files():
        rel = path.relative_to(DBT_PROJECT_DIR).as_posix()
        lines = _without_comments(path.read_text(encoding="utf-8")).splitlines()
        for name, pattern, home in RULE_EXPRESSIONS:
            for no, line in enumerate(lines, 1):
                if re.search(pattern, line, flags=re.I):
                    if rel == home:
                        found_in_macro[name] = True
                    else:
                        bypasses.append(f"{rel}:{no}: {name} restated outside {home or 'its seed'}: "
                                        f"{line.strip()}")
    assert not bypasses, "rule expressions outside their macros (call the macro instead):\n" + "\n".join(bypasses)
    # the patterns still match their macro: a rewritten macro must update this file, not escape it
    assert all(found_in_macro.values()), f"patterns no longer found in their macro: " \
        f"{[n for n, ok in found_in_macro.items() if not ok]}"


def _macro_names(path: Path) -> list[str]:
    return re.findall(r"\{%-?\s*macro\s+(\w+)\s*\(", path.read_text(encoding="utf-8"))


def test_every_rule_macro_is_called():
    callers = {p: _without_comments(p.read_text(encoding="utf-8")) for p in _sql_files()}
    unused = []
    for rules in (EDOC_RULES, DOSSIER_RULES, "macros/source_parsing.sql"):
        for name in _macro_names(DBT_PROJECT_DIR / rules):
            call = re.compile(r"\b" + name + r"\s*\(")
            uses = [p for p, text in callers.items()
                    if call.search(re.sub(r"\{%-?\s*macro\s+" + name + r"\s*\(", "", text))]
            if not uses:
                unused.append(f"{rules}: {name}")
    assert not unused, f"rule macros nobody calls: {unused}"


def test_fct_documents_calls_every_edoc_rule():
    """fct_documents applies the e-document rules through the macros, not in its own words."""
    text = (DBT_PROJECT_DIR / "models/marts/edoc/fct_documents.sql").read_text(encoding="utf-8")
    needed = {"edoc_signature_facts", "edoc_is_fully_signed", "edoc_is_signer_only", "edoc_is_paper",
              "edoc_via_axis", "edoc_arrived_at", "edoc_dispatch_working_days",
              "edoc_dispatched_within_one_working_day", "edoc_acknowledged_same_day", "edoc_report_date"}
    missing = sorted(m for m in needed if not re.search(r"\{\{\s*" + m + r"\(", text))
    assert not missing, f"fct_documents does not call {missing}"


def test_json_lists_are_unnested_by_one_macro():
    offenders = [p.relative_to(DBT_PROJECT_DIR).as_posix() for p in _sql_files()
                 if "jsonb_array_elements" in _without_comments(p.read_text(encoding="utf-8"))
                 and p.name != "source_parsing.sql"]
    assert not offenders, f"JSON lists unnested outside macro from_json_list: {offenders}"


# ------------------------------------------------------------------ dbt unit and grain tests


def _failed(results: list[dict]) -> list[str]:
    return [f"{r['unique_id']}: {r['status']} {r.get('message') or ''}" for r in results
            if r["status"] not in ("pass", "success")]


@pytest.fixture(scope="module")
def empty_parents(warehouse_db):
    """The relations the unit tests read their inputs' columns from, and the models of the grain
    tests: seeds and models upstream of them, built on an empty raw and state (no rows)."""
    with psycopg.connect(warehouse_db) as conn:
        ensure_raw_schema(conn)
        ensure_state_schema(conn)
        conn.commit()
    t0 = time.monotonic()
    result = run_dbt(["build", "--resource-type", "seed", "--resource-type", "model",
                      "--select", "+test_type:unit +tag:grain"], url=warehouse_db, vars=VARS)
    elapsed = time.monotonic() - t0
    assert result.success, "dbt build of the unit tests' parents failed:\n" + \
        "\n".join(_failed(result.results)) + "\n" + result.log_tail
    print(f"dbt build of the parents on an empty warehouse: {elapsed:.1f}s, {len(result.results)} nodes")
    return warehouse_db


def test_unit_and_grain_tests_pass(empty_parents):
    t0 = time.monotonic()
    result = run_dbt(["test", "--select", "test_type:unit tag:grain"], url=empty_parents, vars=VARS)
    elapsed = time.monotonic() - t0
    print(f"dbt test --select test_type:unit tag:grain: {elapsed:.1f}s")
    assert not _failed(result.results), "\n".join(_failed(result.results)) + "\n" + result.log_tail
    assert result.success, result.log_tail
    unit = [r for r in result.results if r["resource_type"] == "unit_test"]
    grain = [r for r in result.results if r["resource_type"] == "test"]
    assert len(unit) >= MIN_UNIT_TESTS, f"only {len(unit)} unit tests ran: {[r['unique_id'] for r in unit]}"
    assert len(grain) >= MIN_GRAIN_TESTS, f"only {len(grain)} grain tests ran"
    names = {r["unique_id"].rsplit(".", 1)[-1] for r in unit}
    assert {"int_dossiers_timeliness_classification", "fct_documents_signature_rules"} <= names


def test_every_intermediate_model_has_a_grain_test(empty_parents):
    manifest = json.loads((dbt_work_dir(empty_parents) / "target" / "manifest.json").read_text())
    nodes = manifest["nodes"].values()
    models = {n["unique_id"]: n["name"] for n in nodes
              if n["resource_type"] == "model" and n["name"].startswith("int_")}
    assert len(models) >= 30
    grained = set()
    for n in nodes:
        if n["resource_type"] != "test":
            continue
        kind = (n.get("test_metadata") or {}).get("name")
        if kind in ("unique", "unique_combination_of_columns") or "grain" in n.get("tags", []):
            grained.update(d for d in n["depends_on"]["nodes"] if d in models)
    missing = sorted(models[m] for m in set(models) - grained)
    assert not missing, f"intermediate models without a grain test: {missing}"


def test_a_duplicated_row_fails_the_grain_test(empty_parents):
    """The grain tests do test: two rows of one (dossier_id, fee_seq) fail int_dossier_fees__grain
    (its unique index, which would refuse them, is dropped in this throwaway database)."""
    with psycopg.connect(empty_parents) as conn:
        for (index,) in conn.execute("select indexname from pg_indexes where schemaname = 'int' "
                                     "and tablename = 'int_dossier_fees'").fetchall():
            conn.execute(f'drop index "int"."{index}"')
        conn.execute("insert into int.int_dossier_fees (dossier_id, fee_seq, merge_id) "
                     "values ('DUP', 1, 1), ('DUP', 1, 1), ('ONE', 1, 1)")
        conn.commit()
    result = run_dbt(["test", "--select", "int_dossier_fees__grain"], url=empty_parents, vars=VARS)
    tests = [r for r in result.results if r["resource_type"] == "test"]
    assert [r["status"] for r in tests] == ["fail"], result.log_tail
    assert tests[0]["failures"] == 1  # one duplicated (dossier_id, fee_seq)
    with psycopg.connect(empty_parents) as conn:
        stored = conn.execute("select dossier_id, fee_seq, n_rows from audit.int_dossier_fees__grain").fetchall()
    assert stored == [("DUP", 1, 2)]


def _test_sql_and_failures(url: str, test_name_part: str) -> tuple[str, str]:
    """The compiled SQL of the one test of the last dbt run whose id has test_name_part, and the
    relation of its stored failures (run_results.json)."""
    results = json.loads((dbt_work_dir(url) / "target" / "run_results.json").read_text())["results"]
    found = [(r.get("compiled_code") or "", r.get("relation_name") or "") for r in results
             if test_name_part in r["unique_id"]]
    assert len(found) == 1, [r["unique_id"] for r in results]
    return found[0]


def test_a_unique_index_narrows_the_grain_test_and_nulls_still_fail_it(empty_parents):
    """unique_combination_of_columns on a whole table with a unique index on its columns reads only
    the rows a unique index lets repeat (a NULL in an indexed column), none once they are NOT NULL;
    two (unit, NULL) rows still fail it, and without the index every row is grouped again."""
    select = ["test", "--select", "unique_combination_of_columns_int_report_units_unit_id__report_unit_id"]
    with psycopg.connect(empty_parents) as conn:
        if conn.execute("select to_regclass('int.int_report_units')").fetchone()[0] is None:
            conn.commit()
            built = run_dbt(["build", "--resource-type", "seed", "--resource-type", "model", "--select",
                             "+int_report_units"], url=empty_parents, vars=VARS)
            assert built.success, built.log_tail
        for (index,) in conn.execute("select indexname from pg_indexes where schemaname = 'int' "
                                     "and tablename = 'int_report_units'").fetchall():
            conn.execute(f'drop index "int"."{index}"')
        conn.execute("delete from int.int_report_units")
        conn.execute("create unique index int_report_units_grain on int.int_report_units (unit_id, report_unit_id)")
        conn.execute("insert into int.int_report_units (unit_id, report_unit_id) "
                     "values ('U1', 'U1'), ('U2', null), ('U2', null)")
        conn.commit()

    def run() -> tuple[str, int | None, str, str]:
        result = run_dbt(select, url=empty_parents, vars=VARS)
        tests = [r for r in result.results if r["resource_type"] == "test"]
        assert len(tests) == 1, result.log_tail
        return (tests[0]["status"], tests[0]["failures"],
                *_test_sql_and_failures(empty_parents, "int_report_units"))

    status, failures, sql, stored_in = run()
    assert (status, failures) == ("fail", 1)
    assert re.search(r"where\s+unit_id is null or report_unit_id is null\s", sql), sql  # the index's order
    with psycopg.connect(empty_parents) as conn:
        stored = conn.execute(f"select unit_id, report_unit_id, n_rows from {stored_in}").fetchall()
        assert stored == [("U2", None, 2)]
        conn.execute("delete from int.int_report_units where report_unit_id is null")
        conn.execute("alter table int.int_report_units alter column unit_id set not null, "
                     "alter column report_unit_id set not null")
        conn.commit()
    status, failures, sql, _ = run()
    assert (status, failures) == ("pass", 0)
    assert re.search(r"where\s+false", sql), sql
    with psycopg.connect(empty_parents) as conn:  # no index: the whole table is grouped
        conn.execute("drop index int.int_report_units_grain")
        conn.execute("insert into int.int_report_units (unit_id, report_unit_id) values ('U1', 'U1')")
        conn.commit()
    status, failures, sql, _ = run()
    assert (status, failures) == ("fail", 1)
    assert "where" not in sql.lower().split("from", 1)[1], sql
