"""The official report files (cchc.reports.exports) against the published kpi they are made from.

One published simulated province (tests/published_fixture.py, 1 May – 15 June 2025): the XLSX
opens with openpyxl and every row (and the province total) equals kpi.tthc_report for the same
unit and period; the CSV starts with a BOM and reads back to the same numbers; the late-unit list
and the e-signature table likewise; `cchc export` writes them and refuses bad input clearly.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from decimal import Decimal

import openpyxl
import psycopg
import pytest
from psycopg.rows import dict_row

from cchc import cli
from cchc.reports import exports
from cchc.reports.layouts import ESIGNATURE, LATE_UNITS, REPORT
from cchc.reports.xlsx import data_start_row

JUNE, MAY = dt.date(2025, 6, 1), dt.date(2025, 5, 1)


@pytest.fixture(scope="module")
def pub(published_warehouse):  # noqa: F811
    with psycopg.connect(published_warehouse["url"]) as conn:
        yield {**published_warehouse, "conn": conn,
               "province": conn.execute("select distinct province_unit_id from kpi.dossier_facts_daily").fetchone()[0]}


def kpi_rows(conn, query, params) -> list[dict]:
    return conn.cursor(row_factory=dict_row).execute(query, params).fetchall()


def sheet(data: bytes):
    ws = openpyxl.load_workbook(io.BytesIO(data)).active
    return ws


def sheet_rows(ws, layout, title_lines: int) -> list[dict]:
    """The data rows of a sheet, keyed by kpi column (cells in the layout's XLSX order after STT)."""
    cols = layout.xlsx_columns()
    out = []
    r = data_start_row(title_lines)
    while isinstance(ws.cell(row=r, column=1).value, int):
        row = {c.key: ws.cell(row=r, column=j).value for j, c in enumerate(cols, start=2)}
        row["_stt"], row["_bold"] = ws.cell(row=r, column=1).value, ws.cell(row=r, column=2).font.b
        row["_cells"] = {c.key: ws.cell(row=r, column=j) for j, c in enumerate(cols, start=2)}
        out.append(row)
        r += 1
    return out


def texts(ws) -> list[str]:
    return [str(v) for row in ws.iter_rows(values_only=True) for v in row if v is not None]


def assert_same_figures(layout, got: dict, want: dict, *, exact_rates: bool):
    for c in layout.columns:
        if c.key not in got:  # the XLSX has no csv_only columns
            continue
        if c.kind == "int" and not c.csv_only:
            assert got[c.key] == want[c.key], (want["unit_id"], c.key)
            assert got[c.key] is None or isinstance(got[c.key], int)
        elif c.kind == "rate":
            if want[c.key] is None:
                assert got[c.key] is None, (want["unit_id"], c.key)
            elif exact_rates:
                assert got[c.key] == want[c.key], (want["unit_id"], c.key)
            else:
                assert got[c.key] == pytest.approx(float(want[c.key]), abs=1e-12), (want["unit_id"], c.key)
        elif c.kind == "text" and c.key in want:
            assert got[c.key] == want[c.key], (want["unit_id"], c.key)


def test_report_xlsx_equals_tthc_report_every_unit_and_the_province_total(pub):
    conn = pub["conn"]
    data = exports.report_xlsx(conn, "month", MAY)
    ws = sheet(data)
    want = kpi_rows(conn, "select * from kpi.tthc_report where period_type = 'month' and period_start = %s "
                          "and field_code = '*'", (MAY,))
    rows = sheet_rows(ws, REPORT, title_lines=2)
    assert len(rows) == len(want) > 5
    by_unit = {r["unit_id"]: r for r in want}
    assert {r["unit_id"] for r in rows} == set(by_unit)
    for r in rows:
        assert_same_figures(REPORT, r, by_unit[r["unit_id"]], exact_rates=False)
    # the province's roll-up row last, in bold; numbered rows; rates as percentages, counts as integers
    assert rows[-1]["unit_id"] == pub["province"] and rows[-1]["_bold"]
    assert not any(r["_bold"] for r in rows[:-1])
    assert [r["_stt"] for r in rows] == list(range(1, len(rows) + 1))
    assert rows[0]["_cells"]["on_time_rate"].number_format == "0.00%"
    assert rows[0]["_cells"]["received_total"].number_format == "#,##0"
    # title with the period and the as-of date, Vietnamese headers of the form's groups, footer with the id
    assert ws["A1"].value.startswith("BÁO CÁO TÌNH HÌNH, KẾT QUẢ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH")
    assert ws["A2"].value == "Kỳ báo cáo: Tháng 05/2025 (từ ngày 01/05/2025 đến ngày 31/05/2025)"
    as_of = pub["as_of_date"] if isinstance(pub["as_of_date"], dt.date) else dt.date.fromisoformat(pub["as_of_date"])
    assert ws["A3"].value == f"Số liệu tính đến hết ngày {as_of:%d/%m/%Y}"
    all_text = texts(ws)
    for header in ("STT", "Số hồ sơ nhận giải quyết", "Số hồ sơ đã giải quyết", "Số hồ sơ đang giải quyết",
                   "Trong kỳ: trực tuyến", "Trong kỳ: trực tiếp, dịch vụ bưu chính công ích", "Từ kỳ trước chuyển qua",
                   "Trước hạn", "Đúng hạn", "Quá hạn", "Trong hạn", "Tỷ lệ giải quyết đúng hạn (%)"):
        assert header in all_text, header
    assert any(t.startswith(f"Nguồn: lần công bố số {pub['publication_id']} (kpi.tthc_report)") for t in all_text)
    assert ws.merged_cells  # the title and the column groups are merged cells


def test_a_period_not_over_says_so_and_a_unit_by_field_has_its_fields(pub):
    conn = pub["conn"]
    unit = conn.execute("select unit_id from kpi.tthc_report where period_type = 'month' and period_start = %s "
                        "and field_code <> '*' group by 1 order by count(*) desc, 1 limit 1", (JUNE,)).fetchone()[0]
    ws = sheet(exports.report_xlsx(conn, "month", JUNE, unit_id=unit, by_field=True))
    assert "kỳ chưa kết thúc, số liệu đến hết ngày 15/06/2025" in ws["A2"].value
    assert unit in ws["A4"].value  # the unit's line in the title
    want = kpi_rows(conn, "select * from kpi.tthc_report where period_type = 'month' and period_start = %s "
                          "and unit_id = %s", (JUNE, unit))
    rows = sheet_rows(ws, REPORT, title_lines=4)
    assert len(rows) == len(want) > 2
    assert rows[0]["field_code"] == "*"  # the unit's all-fields row, then its fields
    by_field = {r["field_code"]: r for r in want}
    for r in rows:
        assert_same_figures(REPORT, r, by_field[r["field_code"]], exact_rates=False)


def test_report_csv_has_a_bom_and_round_trips_to_tthc_report(pub):
    conn = pub["conn"]
    for period_type, start in (("month", MAY), ("quarter", dt.date(2025, 4, 1)), ("day", dt.date(2025, 6, 3))):
        data = exports.report_csv(conn, period_type, start, by_field=True)
        assert data.startswith(b"\xef\xbb\xbf")
        back = exports.read_csv("report", data)
        want = kpi_rows(conn, "select * from kpi.tthc_report where period_type = %s and period_start = %s",
                        (period_type, start))
        assert len(back) == len(want) > 0
        key = {(r["unit_id"], r["field_code"]): r for r in want}
        for r in back:
            w = key[(r["unit_id"], r["field_code"])]
            assert_same_figures(REPORT, r, w, exact_rates=True)
            assert (r["period_type"], r["period_start"], r["period_end"]) == \
                (w["period_type"], w["period_start"], w["period_end"])
            assert r["publication_id"] == pub["publication_id"] == w["publication_id"]
    # an ordinary CSV reader with utf-8-sig (as Excel does) sees the Vietnamese headers
    text = exports.report_csv(conn, "month", MAY).decode("utf-8-sig")
    header = next(csv.reader(io.StringIO(text)))
    assert header[:4] == ["Mã đơn vị", "Tên đơn vị", "Lĩnh vực (* = tất cả lĩnh vực)", "Tổng số"]
    assert "Ủy ban nhân dân" in text  # Vietnamese unit names as they are
    with pytest.raises(ValueError, match="byte-order mark"):
        exports.read_csv("report", text.encode("utf-8"))


def test_late_units_are_the_criticised_and_disciplined_units_of_late_accountability(pub):
    conn = pub["conn"]
    month = conn.execute("select month from kpi.late_accountability group by 1 order by "
                         "count(*) filter (where verdict <> 'ok') desc, 1 limit 1").fetchone()[0]
    want = kpi_rows(conn, "select * from kpi.late_accountability where month = %s and verdict in "
                          "('criticism', 'discipline')", (month,))
    assert want, "the simulated province has criticised units"
    ws = sheet(exports.late_units_xlsx(conn, "month", month))
    rows = sheet_rows(ws, LATE_UNITS, title_lines=3)
    by_unit = {r["unit_id"]: r for r in want}
    assert {r["unit_id"] for r in rows} == set(by_unit)
    for r in rows:
        assert_same_figures(LATE_UNITS, r, by_unit[r["unit_id"]], exact_rates=False)
        assert r["verdict_vi"] in ("Phê bình", "Xem xét kỷ luật")
    shares = [r["late_share"] for r in rows if not r["_bold"]]
    assert shares == sorted(shares, reverse=True)  # worst first
    assert any("phê bình từ 5 %" in t for t in texts(ws))  # the thresholds the rows carry
    back = exports.read_csv("late-units", exports.late_units_csv(conn, "month", month))
    assert {r["unit_id"]: (r["verdict"], r["late_share"], r["late_without_apology"]) for r in back} == \
        {u: (w["verdict"], w["late_share"], w["late_without_apology"]) for u, w in by_unit.items()}


def test_esignature_table_equals_esignature_usage(pub):
    conn = pub["conn"]
    want = kpi_rows(conn, "select * from kpi.esignature_usage where period_type = 'month' and period_start = %s",
                    (MAY,))
    by_unit = {r["unit_id"]: r for r in want}
    rows = sheet_rows(sheet(exports.esignature_xlsx(conn, "month", MAY)), ESIGNATURE, title_lines=2)
    assert {r["unit_id"] for r in rows} == set(by_unit) and len(rows) > 5
    for r in rows:
        assert_same_figures(ESIGNATURE, r, by_unit[r["unit_id"]], exact_rates=False)
    back = exports.read_csv("esignature", exports.esignature_csv(conn, "month", MAY))
    assert len(back) == len(want)
    for r in back:
        assert_same_figures(ESIGNATURE, r, by_unit[r["unit_id"]], exact_rates=True)


def test_exports_read_kpi_only_a_bi_login_gets_the_same_files(pub):
    """Made from published data only: a BI login (schema kpi and nothing else) gets the same CSV."""
    from cchc.warehouse.roles import add_reader, remove_reader

    name = f"files_bi_{uuid.uuid4().hex[:6]}"
    login = add_reader(name, url=pub["url"])
    try:
        with psycopg.connect(login.url) as bi:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                bi.execute("select 1 from marts.dim_unit limit 1")
            bi.rollback()
            for name_, start in (("report", MAY), ("late-units", MAY), ("esignature", JUNE)):
                assert exports.export(bi, name_, "csv", "month", start) == \
                    exports.export(pub["conn"], name_, "csv", "month", start)
    finally:
        remove_reader(name, url=pub["url"])


def run_cli(monkeypatch, capsys, url, *argv) -> tuple[int, str, str]:
    monkeypatch.setenv("CCHC_WAREHOUSE_URL", url)
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_export_writes_the_files(pub, monkeypatch, capsys, tmp_path):
    out = tmp_path / "mau06.csv"
    code, stdout, _ = run_cli(monkeypatch, capsys, pub["url"], "export", "report", "--period-type", "month",
                              "--period", "2025-05-01", "--by-field", "--format", "csv", "--out", str(out))
    assert code == 0 and f"wrote {out}" in stdout
    assert out.read_bytes() == exports.report_csv(pub["conn"], "month", MAY, by_field=True)
    xlsx = tmp_path / "late.xlsx"
    code, _, _ = run_cli(monkeypatch, capsys, pub["url"], "export", "late-units", "--period-type", "month",
                         "--period", "2025-05-01", "--format", "xlsx", "--out", str(xlsx))
    assert code == 0 and sheet(xlsx.read_bytes())["A1"].value == LATE_UNITS.title


@pytest.mark.parametrize("argv, message", [
    (["report", "--period-type", "month", "--period", "2025-06-02"],
     "no month starting 2025-06-02 is published in kpi.tthc_report: published month starts are 2025-05-01, 2025-06-01"),
    (["report", "--period-type", "month", "--period", "2024-01-01"], "no month starting 2024-01-01 is published"),
    # weeks are published (ISO weeks): a week starts on a Monday, 2025-06-03 is a Tuesday
    (["report", "--period-type", "week", "--period", "2025-06-03"],
     "no week starting 2025-06-03 is published in kpi.tthc_report: published week starts are"),
    (["report", "--period-type", "month", "--period", "2025-06-01", "--unit", "NO.SUCH.UNIT"],
     "unknown unit 'NO.SUCH.UNIT'"),
    (["late-units", "--period-type", "quarter", "--period", "2025-04-01"], "published per month only"),
    (["esignature", "--period-type", "month", "--period", "2025-06-01", "--by-field"],
     "--by-field applies to the report only"),
])
def test_cli_export_refuses_bad_input_clearly(pub, monkeypatch, capsys, tmp_path, argv, message):
    out = tmp_path / "x.csv"
    code, _, err = run_cli(monkeypatch, capsys, pub["url"], "export", *argv, "--format", "csv", "--out", str(out))
    assert code == 2 and message in err, err
    assert not out.exists()


def test_cli_export_refuses_a_bad_out_path_and_a_bad_date(pub, monkeypatch, capsys, tmp_path):
    code, _, err = run_cli(monkeypatch, capsys, pub["url"], "export", "report", "--period-type", "month",
                           "--period", "2025-06-01", "--format", "csv", "--out", str(tmp_path / "no" / "x.csv"))
    assert code == 2 and "does not exist" in err
    with pytest.raises(SystemExit) as exc:
        cli.main(["export", "report", "--period-type", "month", "--period", "June", "--format", "csv",
                  "--out", str(tmp_path / "x.csv")])
    assert exc.value.code == 2 and "not a date (YYYY-MM-DD): 'June'" in capsys.readouterr().err


def test_rates_in_csv_are_exact_percentages(pub):
    row = exports.read_csv("report", exports.report_csv(pub["conn"], "month", MAY))[-1]
    text = exports.report_csv(pub["conn"], "month", MAY).decode("utf-8-sig").splitlines()[-1]
    assert isinstance(row["on_time_rate"], Decimal) and 0 < row["on_time_rate"] <= 1
    assert format((row["on_time_rate"] * 100).normalize(), "f") in text
