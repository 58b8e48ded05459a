"""BI access to the published schema (issue 8, part 1), on a real published province.

What a BI tool sees under ``kpi``: a read-only login sees every row of every view; a unit-scoped
login (``cchc readers add NAME --unit U``) sees only U and the units under it in every ``kpi``
view with a unit_id, and nothing else of the warehouse; every view and column carries a comment;
every published table has a primary key on its grain. The scoping survives a new publication and
a rollback (a small warehouse of this module's own).
"""

from __future__ import annotations

import datetime as dt
import uuid

import psycopg
import pytest
from psycopg import sql

from cchc.warehouse.connection import WarehouseError
from cchc.warehouse.roles import add_reader, list_readers, remove_reader

SUFFIX = uuid.uuid4().hex[:6]


def _subtree(conn, unit: str) -> set[str]:
    rows = conn.execute(
        "with recursive s(u) as (select %s::text union select k.unit_id from kpi.units k join s on k.parent_unit_id = s.u) "
        "select u from s", (unit,)).fetchall()
    return {r[0] for r in rows}


def _unit_views(conn) -> list[str]:
    """The kpi views with a unit_id column (read from the catalog: every one, as it lands)."""
    return [r[0] for r in conn.execute(
        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "join pg_attribute a on a.attrelid = c.oid and a.attname = 'unit_id' and not a.attisdropped "
        "where n.nspname = 'kpi' and c.relkind = 'v' order by 1")]


def _kpi_relations(conn) -> list[str]:
    return [r[0] for r in conn.execute(
        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = 'kpi' and c.relkind in ('v', 'r') order by 1")]


@pytest.fixture(scope="module")
def pub(published_warehouse):
    url = published_warehouse["url"]
    with psycopg.connect(url) as conn:
        district, sibling = conn.execute(
            "select d.unit_id, (select s.unit_id from kpi.units s where s.unit_level = d.unit_level "
            "                   and s.parent_unit_id = d.parent_unit_id and s.unit_id <> d.unit_id "
            "                   and exists (select 1 from kpi.units c where c.parent_unit_id = s.unit_id) "
            "                   order by 1 limit 1) "
            "from kpi.units d where d.unit_level = 'HUYEN' "
            "and exists (select 1 from kpi.units c where c.parent_unit_id = d.unit_id) order by 1 limit 1").fetchone()
        commune = conn.execute("select unit_id from kpi.units where parent_unit_id = %s order by 1 limit 1",
                               (district,)).fetchone()[0]
        other_commune = conn.execute("select unit_id from kpi.units where parent_unit_id = %s and unit_id <> %s "
                                     "order by 1 limit 1", (district, commune)).fetchone()[0]
        district_units, commune_units = _subtree(conn, district), _subtree(conn, commune)
    assert sibling and district_units > {district, commune}, "the province needs two districts with communes"
    names = {k: f"bi_{k}_{SUFFIX}" for k in ("all", "district", "commune")}
    logins = {"all": add_reader(names["all"], url),
              "district": add_reader(names["district"], url, unit=district),
              "commune": add_reader(names["commune"], url, unit=commune)}
    yield {"url": url, "logins": logins, "district": district, "sibling": sibling, "commune": commune,
           "other_commune": other_commune, "district_units": district_units, "commune_units": commune_units}
    for name in names.values():
        remove_reader(name, url)


def _as(pub, who):
    return psycopg.connect(pub["logins"][who].url, autocommit=True)


def test_the_unit_tables_are_every_kpi_table_but_publications(pub):
    with psycopg.connect(pub["url"]) as conn:
        views = _unit_views(conn)
        relations = _kpi_relations(conn)
    assert {"tthc_report", "dossier_facts_daily", "esignature_usage", "dx_indicators", "service_index",
            "late_accountability", "leader_paper_documents", "units"} <= set(views)
    assert set(relations) - set(views) == {"publications"}


def test_the_read_only_login_sees_every_row_of_every_kpi_table(pub):
    with psycopg.connect(pub["url"]) as owner, _as(pub, "all") as bi:
        for rel in _kpi_relations(owner):
            q = sql.SQL("select count(*) from kpi.{}").format(sql.Identifier(rel))
            want = owner.execute(q).fetchone()[0]
            assert bi.execute(q).fetchone()[0] == want > 0, rel


@pytest.mark.parametrize("who", ["district", "commune"])
def test_a_unit_login_sees_its_subtree_and_no_sibling_in_any_kpi_table(pub, who):
    scope = pub["district_units"] if who == "district" else pub["commune_units"]
    sibling = pub["sibling"] if who == "district" else pub["other_commune"]
    with psycopg.connect(pub["url"]) as owner, _as(pub, who) as bi:
        views = _unit_views(owner)
        for view in views:
            rel = sql.Identifier(view)
            units = {r[0] for r in bi.execute(sql.SQL("select distinct unit_id from kpi.{}").format(rel))}
            assert units <= scope, (view, units - scope)
            want = owner.execute(sql.SQL("select count(*) from kpi.{} where unit_id = any(%s)").format(rel),
                                 (sorted(scope),)).fetchone()[0]
            assert bi.execute(sql.SQL("select count(*) from kpi.{}").format(rel)).fetchone()[0] == want, view
            # the sibling's rows exist, and the login does not see one of them
            assert bi.execute(sql.SQL("select count(*) from kpi.{} where unit_id = %s").format(rel),
                              (sibling,)).fetchone()[0] == 0, view
        # the sibling has rows in the main tables: the zero above is the scope, not an empty unit
        assert owner.execute("select count(*) from kpi.tthc_report where unit_id = %s", (sibling,)).fetchone()[0] > 0
        assert bi.execute("select count(*) from kpi.tthc_report").fetchone()[0] > 0
        # kpi.publications has no unit: every login sees it
        assert bi.execute("select count(*) from kpi.publications").fetchone()[0] == \
            owner.execute("select count(*) from kpi.publications").fetchone()[0] >= 1


def test_a_unit_login_cannot_widen_its_scope_nor_read_outside_kpi(pub):
    with psycopg.connect(pub["url"]) as owner:
        pub_schema = owner.execute("select 'kpi_pub_' || publication_id from kpi.publications where is_current"
                                   ).fetchone()[0]
    with _as(pub, "commune") as bi:
        bi.execute("set role cchc_reader")  # the group it belongs to: the scope follows the login
        assert {r[0] for r in bi.execute("select distinct unit_id from kpi.tthc_report")} <= pub["commune_units"]
        bi.execute("reset role")
        # a function that fails on a value (a cast) does not reveal a hidden row: the filter runs first
        assert bi.execute("select unit_name::int from kpi.units where unit_id = %s",
                          (pub["other_commune"],)).fetchall() == []
        for relation in (f"{pub_schema}.tthc_report", f"{pub_schema}.units", "ops.reader_scopes", "marts.dim_unit",
                         "raw.load_batches"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                bi.execute(f"select 1 from {relation} limit 1")
        for statement in ("create table kpi.mine (x int)", "delete from kpi.tthc_report",
                          "create view kpi.mine as select 1"):
            with pytest.raises((psycopg.errors.InsufficientPrivilege, psycopg.errors.ObjectNotInPrerequisiteState,
                                psycopg.errors.FeatureNotSupported)):
                bi.execute(statement)


def test_readers_command_scopes_and_keeps_scopes(pub, capsys):
    from cchc.cli import main

    url, name = pub["url"], f"bi_cli_{SUFFIX}"
    mp = pytest.MonkeyPatch()
    mp.setenv("CCHC_WAREHOUSE_URL", url)
    try:
        assert main(["readers", "add", name, "--unit", "no-such-unit"]) == 1
        assert "unknown unit 'no-such-unit'" in capsys.readouterr().err
        assert name not in {r["name"] for r in list_readers(url)}  # nothing was created
        assert main(["readers", "add", name, "--unit", pub["district"]]) == 0
        assert f"sees: unit {pub['district']}" in capsys.readouterr().out
        assert main(["readers", "add", name]) == 0  # a new password never widens the scope
        assert f"sees: unit {pub['district']}" in capsys.readouterr().out
        assert main(["readers", "list"]) == 0
        assert f"{name}  (sees unit {pub['district']} and its subtree)" in capsys.readouterr().out
        assert main(["readers", "add", name, "--all-units"]) == 0
        assert "sees: every unit" in capsys.readouterr().out
        assert {r["name"]: r["unit"] for r in list_readers(url)}[name] is None
        with pytest.raises(WarehouseError, match="not both"):
            add_reader(name, url, unit=pub["district"], all_units=True)
    finally:
        remove_reader(name, url)
        mp.undo()
    with psycopg.connect(url) as conn:
        assert conn.execute("select count(*) from ops.reader_scopes where login = %s", (name,)).fetchone()[0] == 0


def test_every_kpi_table_and_column_has_a_comment(pub):
    """What `\\d+ kpi.<table>` shows: a comment on the table and on every column, for every kpi table."""
    with psycopg.connect(pub["url"]) as conn:
        rows = conn.execute(
            "select c.relname, obj_description(c.oid, 'pg_class'), "
            "       array_agg(a.attname order by a.attnum) filter (where col_description(c.oid, a.attnum) is null) "
            "from pg_class c join pg_namespace n on n.oid = c.relnamespace "
            "join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped "
            "where n.nspname = 'kpi' and c.relkind in ('v', 'r') group by c.relname, c.oid order by 1").fetchall()
        report = conn.execute("select col_description('kpi.tthc_report'::regclass, a.attnum) from pg_attribute a "
                              "where a.attrelid = 'kpi.tthc_report'::regclass and a.attname = 'on_time_rate'"
                              ).fetchone()[0]
    assert len(rows) >= 9
    for relname, comment, uncommented in rows:
        assert comment and len(comment) > 20, relname
        assert not uncommented, (relname, uncommented)
    assert "resolved_total" in report and "not a percentage" in report
    tthc = dict((r[0], r[1]) for r in rows)["tthc_report"]
    assert "Primary key (one row per): (period_type, period_start, unit_id, field_code)" in tthc


def test_every_published_table_has_a_primary_key_on_its_grain(pub):
    from cchc.api.registry import BY_NAME

    with psycopg.connect(pub["url"]) as conn:
        schema = conn.execute("select 'kpi_pub_' || publication_id from kpi.publications where is_current").fetchone()[0]
        keys = dict(conn.execute(
            "select c.relname, (select array_agg(a.attname::text order by k.ord) "
            "  from unnest(p.conkey) with ordinality k(attnum, ord) "
            "  join pg_attribute a on a.attrelid = c.oid and a.attnum = k.attnum) "
            "from pg_class c join pg_namespace n on n.oid = c.relnamespace "
            "left join pg_constraint p on p.conrelid = c.oid and p.contype = 'p' "
            "where n.nspname = %s and c.relkind = 'r'", (schema,)).fetchall())
        tables = conn.execute("select tables_published from kpi.publications where is_current").fetchone()[0]
    assert sorted(keys) == sorted(tables)
    for table, key in keys.items():
        assert key, f"{schema}.{table} has no primary key"
        if table in BY_NAME and table != "leader_paper_documents":  # its grain: one row per document
            assert tuple(key) == BY_NAME[table].grain, table
    assert keys["leader_paper_documents"] == ["document_id"] and keys["units"] == ["unit_id"]


# -- survives a publication and a rollback (a small warehouse of this module's own) ----------------------

@pytest.fixture(scope="module")
def small(warehouse_db, tmp_path_factory):
    from cchc import pipeline
    from cchc_demo.simulator import SimulatorConfig, generate

    start, end = dt.date(2025, 5, 5), dt.date(2025, 5, 9)
    root = tmp_path_factory.mktemp("bi_small_sources")
    generate(root, SimulatorConfig(start=start, end=end, seed=5, dossiers_per_day=12, documents_per_day=5,
                                   bad_rate=0.0))
    mp = pytest.MonkeyPatch()
    mp.setenv("CCHC_PSEUDONYM_KEY", "bi-access-tests-key-0123456789")
    try:
        first = pipeline.run_in_process(run_id=f"bi-a-{SUFFIX}", start=start.isoformat(),
                                        end=(end - dt.timedelta(days=1)).isoformat(), source={"source_dir": str(root)})
        yield {"url": warehouse_db, "root": root, "first": first, "end": end, "run": pipeline.run_in_process, "mp": mp}
    finally:
        mp.undo()


def test_the_scope_survives_a_new_publication_and_a_rollback(small):
    from cchc.publish import rollback

    url = small["url"]
    with psycopg.connect(url) as conn:
        district = conn.execute("select d.unit_id from kpi.units d where d.unit_level = 'HUYEN' and exists "
                                "(select 1 from kpi.units c where c.parent_unit_id = d.unit_id) order by 1 limit 1"
                                ).fetchone()[0]
    name = f"bi_small_{SUFFIX}"
    login = add_reader(name, url, unit=district)
    try:
        def seen() -> dict[str, set[str]]:
            with psycopg.connect(login.url) as bi, psycopg.connect(url) as owner:
                scope = _subtree(owner, district)
                out = {}
                for view in _unit_views(owner):
                    units = {r[0] for r in bi.execute(sql.SQL("select distinct unit_id from kpi.{}").format(
                        sql.Identifier(view)))}
                    assert units <= scope, (view, units - scope)
                    out[view] = units
                assert out["tthc_report"] and out["units"] == scope
                return out

        before = seen()
        second = small["run"](run_id=f"bi-b-{SUFFIX}", start=small["end"].isoformat(), end=small["end"].isoformat(),
                              source={"source_dir": str(small["root"])})
        assert second["publication_id"] > small["first"]["publication_id"]
        seen()
        with psycopg.connect(url, autocommit=True) as conn:
            rolled = rollback(conn, by="test", reason="scope after a rollback")
            assert rolled.publication_id == small["first"]["publication_id"]
        assert seen() == before  # the first publication's rows, in the same scope
        with psycopg.connect(url) as conn:  # the views still carry their comments after the swap
            assert conn.execute("select count(*) from pg_attribute a where a.attrelid = 'kpi.tthc_report'::regclass "
                                "and a.attnum > 0 and col_description(a.attrelid, a.attnum) is null").fetchone()[0] == 0
    finally:
        remove_reader(name, url)
