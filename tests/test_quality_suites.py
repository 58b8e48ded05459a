"""Suite files are checked at load time, before anything runs (no database needed)."""

from __future__ import annotations

import pytest

from cchc.quality import RAW_BATCH_SUITES, SuiteError, available_suites, load_suite, published_suites
from cchc.quality.suites import resolve_schemas


def write(tmp_path, name, text):
    (tmp_path / f"{name}.yml").write_text(text, encoding="utf-8")


def test_every_shipped_suite_loads_and_every_feed_has_one():
    names = available_suites()
    assert set(RAW_BATCH_SUITES) <= set(names)
    assert {"tthc_report", "dossier_facts_daily"} <= set(published_suites())
    for name in names:
        spec = load_suite(name)
        assert spec.checks, name
        assert len({c.name for c in spec.checks}) == len(spec.checks)


def test_types_map_generically_to_gx_classes(tmp_path):
    import great_expectations as gx

    write(tmp_path, "s", """
suite: s
table: "{kpi}.t"
expectations:
  - type: expect_column_values_to_match_regex
    kwargs: {column: code, regex: "^[0-9]+$"}
  - type: expect_column_values_to_not_be_null
    name: "{column}_filled"
    columns: [a, b]
  - type: unexpected_rows
    name: neg
    query: "select * from {batch} b join {marts}.dim_unit u using (unit_id) where x < 0 and y = '{{z}}'"
""")
    spec = load_suite("s", tmp_path)
    assert [c.name for c in spec.checks] == ["expect_column_values_to_match_regex:code", "a_filled", "b_filled"] + ["neg"]
    exps = spec.expectations({"kpi": "kpi_build", "marts": "m2"})
    assert isinstance(exps[0], gx.expectations.ExpectColumnValuesToMatchRegex)
    assert isinstance(exps[3], gx.expectations.UnexpectedRowsExpectation)
    assert exps[3].unexpected_rows_query.startswith("select * from {batch} b join m2.dim_unit")
    assert "'{{z}}'" in exps[3].unexpected_rows_query  # literal braces are left to GX
    assert spec.target({"kpi": "kpi_build"}) == "kpi_build.t"


@pytest.mark.parametrize(
    "body, message",
    [
        ("  - type: expect_column_values_to_be_purple\n    kwargs: {column: a}",
         "unknown expectation type 'expect_column_values_to_be_purple'"),
        ("  - type: ExpectColumnValuesToNotBeNull\n    kwargs: {column: a}", "unknown expectation type"),
        ("  - type: expect_column_values_to_not_be_null\n    kwargs: {columnn: a}", "check 'expect_column_values_to_not_be_null'"),
        ("  - type: unexpected_rows\n    name: q\n    query: select * from {batch} where {nope}", "unknown placeholder {nope}"),
        ("  - type: unexpected_rows\n    query: select * from {batch}", "needs a 'name' and a 'query'"),
        ("  - type: unexpected_rows\n    name: q\n    query: select * from {batch} where {where}", "not filterable"),
        ("  - type: expect_table_row_count_to_be_between\n    name: n\n    kwargs: {min_value: 1}\n"
         "  - type: expect_table_row_count_to_equal\n    name: n\n    kwargs: {value: 1}", "two checks are named 'n'"),
        ("  - type: expect_table_row_count_to_be_between\n    kwargs: {min_value: 1}\n    severity: high", "unknown keys ['severity']"),
    ],
)
def test_bad_suite_files_fail_at_load_time(tmp_path, body, message):
    write(tmp_path, "bad", f'suite: bad\ntable: "{{kpi}}.t"\nexpectations:\n{body}\n')
    with pytest.raises(SuiteError, match=None) as err:
        load_suite("bad", tmp_path)
    assert message in str(err.value)
    assert "bad.yml" in str(err.value)


def test_suite_name_and_schema_map_are_checked(tmp_path):
    write(tmp_path, "one", 'suite: two\ntable: "{kpi}.t"\nexpectations:\n  - type: expect_table_row_count_to_equal\n    kwargs: {value: 1}\n')
    with pytest.raises(SuiteError, match="must equal the file name"):
        load_suite("one", tmp_path)
    with pytest.raises(SuiteError, match="unknown suite 'nope'"):
        load_suite("nope", tmp_path)
    with pytest.raises(SuiteError, match="not logical schemas"):
        resolve_schemas({"tthc_report": "kpi_build"})
    with pytest.raises(SuiteError, match="not a plain schema name"):
        resolve_schemas({"kpi": "kpi; drop table x"})
    assert resolve_schemas({"kpi": "kpi_build"})["kpi"] == "kpi_build"


def test_batch_filter_reaches_filterable_queries_only_escaped():
    spec = load_suite("raw_onestop__dossiers")
    assert spec.filterable and spec.vars["max_reject_share"] == 0.2
    exps = spec.expectations(None, "batch_id in (select batch_id from raw.load_batches where run_id = 'a:b{1}')")
    reject = next(e for e in exps if e.meta["cchc_check"] == "reject_share_under_threshold")
    assert "run_id = 'a\\:b{{1}}'" in reject.unexpected_rows_query
    assert "feed = 'dossiers'" in reject.unexpected_rows_query
    with pytest.raises(SuiteError, match="one SQL boolean expression"):
        spec.expectations(None, "true; drop table raw.rejects")


def test_published_suites_follow_the_candidate_tables(tmp_path):
    assert published_suites(["dossier_facts_daily", "tthc_report"]) == ["dossier_facts_daily", "tthc_report"]
    write(tmp_path, "a", 'suite: a\ntable: "{kpi}.t_a"\nexpectations: []\n')
    write(tmp_path, "b", 'suite: b\ntable: "{raw}.t_b"\nexpectations: []\n')
    assert published_suites(None, tmp_path) == ["a"]
    with pytest.raises(SuiteError, match=r"no suite validates the published table\(s\) \['t_b'\]"):
        published_suites(["t_a", "t_b"], tmp_path)
