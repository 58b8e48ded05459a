"""One owner per check (issue 10, part 3): static checks that dbt and the GX gate do not restate each
other on the publication candidates (kpi_build), and that nothing moved from one to the other was lost.

The rule (expectations/README.md and dbt_project/models/overview.md, "One owner per check"):
- the gate (GX) owns the landed batches, and the publication candidates' identities, formulas,
  ranges and thresholds, and their agreement with other tables;
- dbt owns each model's grain, keys, relationships and accepted values (on the candidates too: the
  candidate's grain is also its primary key, macros/publish_primary_key.sql), and what only dbt sees:
  the run's vars (as_of_date, publication_id).
Both block a publication: a failing dbt test fails the build, a failing gate check the gate.
"""

from __future__ import annotations

import csv
import pathlib
import re

import pytest
import yaml

from cchc.quality import load_suite

ROOT = pathlib.Path(__file__).resolve().parents[1]
DBT = ROOT / "dbt_project"
PUBLISH = DBT / "models" / "publish"
EXPECTATIONS = ROOT / "expectations"

#: dbt's kinds of test on a candidate; an expression_is_true only for what the gate cannot see
DBT_OWNED = {"unique_combination_of_columns", "unique", "not_null", "relationships", "accepted_values"}
#: GX types that restate a grain, a key or an accepted-values list
GRAIN_TYPES = {"expect_compound_columns_to_be_unique", "expect_column_values_to_be_unique",
               "expect_column_values_to_be_in_set"}


def candidates() -> dict[str, dict]:
    """publish model name -> its YAML declaration."""
    models = {}
    for path in sorted(PUBLISH.rglob("_*__models.yml")):
        for model in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("models") or []:
            models[model["name"]] = model
    return models


def grain(model: str) -> list[str]:
    """The candidate's grain: the columns of its first unique index (it becomes the primary key)."""
    (sql,) = PUBLISH.rglob(f"{model}.sql")
    head = sql.read_text(encoding="utf-8").split("}}", 1)[0]
    for match in re.finditer(r'\{"columns":\s*\[([^\]]*)\],\s*"unique":\s*true\}', head):
        return re.findall(r'"([a-z_0-9]+)"', match.group(1))
    raise AssertionError(f"{sql}: no unique index")


def declared_tests(declaration) -> list[tuple[str, dict]]:
    out = []
    for test in declaration.get("data_tests") or []:
        if isinstance(test, str):
            out.append((test, {}))
        else:
            (kind, config), = test.items()
            out.append((kind, config or {}))
    return out


def column_tests(model: dict) -> dict[str, list[tuple[str, dict]]]:
    return {c["name"]: declared_tests(c) for c in model.get("columns") or []}


def test_there_are_candidates_and_suites():
    assert len(candidates()) >= 12
    assert {"tthc_report", "late_dossiers", "service_index"} <= set(candidates())


@pytest.mark.parametrize("model", sorted(candidates()))
def test_dbt_owns_the_grain_keys_and_unit_relationship_of_each_candidate(model):
    declaration = candidates()[model]
    columns = column_tests(declaration)
    keys = grain(model)
    model_tests = declared_tests(declaration)
    combos = [c.get("arguments", {}).get("combination_of_columns") for k, c in model_tests
              if k == "unique_combination_of_columns"]
    unique_columns = [key for key in keys if "unique" in [k for k, _ in columns.get(key, [])]]
    # the grain, or a stricter key inside it (kpi.due_date_audit: one row per dossier)
    assert sorted(keys) in [sorted(c) for c in combos if c] or unique_columns, f"{model}: no unique test on {keys}"
    for key in keys:
        assert "not_null" in [k for k, _ in columns.get(key, [])], f"{model}.{key}: no not_null test"
    if "unit_id" in columns and model != "units":
        related = [c.get("arguments", {}).get("to") for k, c in columns["unit_id"] if k == "relationships"]
        assert "ref('dim_unit')" in related, f"{model}.unit_id: no relationships test to dim_unit"


@pytest.mark.parametrize("model", sorted(candidates()))
def test_dbt_leaves_the_identities_and_thresholds_of_each_candidate_to_the_gate(model):
    declaration = candidates()[model]
    every = declared_tests(declaration) + [t for tests in column_tests(declaration).values() for t in tests]
    for kind, config in every:
        if kind in DBT_OWNED:
            continue
        expression = str(config.get("arguments", {}).get("expression", ""))
        assert kind == "expression_is_true" and re.search(r"as_of_date\(\)|publication_id\(\)|ref\(", expression), (
            f"{model}: dbt test {kind} {config.get('name', '')} restates a check the gate owns "
            "(only the run's vars or a relationship to another model may be an expression here)")
    # the gate's checks, not restated in dbt: no generic identity test, no singular test on a candidate
    for sql in sorted((DBT / "tests").rglob("*.sql")):
        text = sql.read_text(encoding="utf-8")
        assert f"ref('{model}')" not in text, f"{sql.relative_to(ROOT)} tests the candidate {model}: the gate's"


@pytest.mark.parametrize("model", sorted(candidates()))
def test_the_gate_leaves_the_grain_and_keys_of_each_candidate_to_dbt(model):
    spec = load_suite(model)
    assert spec.table == f"{{kpi}}.{model}"
    keys = set(grain(model))
    for check in spec.checks:
        assert check.type not in GRAIN_TYPES, f"{model}.{check.name}: a grain/key/accepted-values check (dbt's)"
        assert check.name != "unit_known", f"{model}.unit_known: dbt's relationships test"
        if check.type == "expect_column_values_to_not_be_null":
            assert check.kwargs.get("column") not in keys, f"{model}.{check.name}: the grain is dbt's"


def test_the_gate_still_checks_the_report_identities():
    """The five identities and identity 5's completeness (once dbt's mau06_identities) are in every report suite."""
    wanted = {"identity_1_received", "identity_2_resolved", "identity_3_pending", "identity_4_balance",
              "identity_5_carried_over", "identity_5_nothing_carried_from_nowhere",
              "identity_5_backlog_carried_into_the_next_period", "withdrawn_within_on_time",
              "on_time_rate_formula", "counts_non_negative", "counts_not_null"}
    for suite in ("tthc_report", "tthc_report_subtree", "tthc_report_current_map"):
        assert wanted <= {c.name for c in load_suite(suite).checks}, suite


def test_the_gates_copies_of_seeded_rules_equal_the_seeds():
    """The gate cannot read the seeds (schema ref): its maxima of the service index and its late
    reason codes are copies, checked here against seeds/ (the definition)."""
    spec = load_suite("service_index")
    with (DBT / "seeds" / "service_index_groups.csv").open(encoding="utf-8") as f:
        maxima = {row["group_code"]: int(row["max_points"]) for row in csv.DictReader(f)}
    assert {g: int(spec.vars[f"max_{g}"]) for g in maxima} == maxima
    with (DBT / "seeds" / "lateness_reasons.csv").open(encoding="utf-8") as f:
        late_codes = {row["code"] for row in csv.DictReader(f) if row["classification"] == "late"}
    (reasons,) = [c for c in load_suite("late_dossiers").checks if c.name == "reasons_allowed"]
    where = reasons.query.split("where", 1)[1].split(" or (finished_at")[0]
    assert set(re.findall(r"'([a-z_0-9]+)'", where)) - {"decision_766"} == late_codes
