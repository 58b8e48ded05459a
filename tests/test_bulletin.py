"""The bulletin of a publication (cchc.reports.bulletin), on the published simulated province.

The page is written per publication, draws its four charts as inline SVG with the thresholds the
published rows carry, names no external resource, says what changed since the previous kept
publication (restated months included) or why it cannot, and renders in headless Chromium with
the network shut: every chart in the DOM, no request tried (a page that does ask is caught).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess

import psycopg
import pytest
from psycopg import sql

from cchc import cli
from cchc.reports import browser
from cchc.reports.bulletin import CHART_IDS, bulletin_html, changes_html, write_bulletin
from cchc.reports.changes import compare, previous_publication
from cchc.reports.published import province_units


@pytest.fixture(scope="module")
def pub(published_warehouse):  # noqa: F811
    with psycopg.connect(published_warehouse["url"]) as conn:
        yield {**published_warehouse, "conn": conn}


@pytest.fixture(scope="module")
def page(pub, tmp_path_factory):
    out = tmp_path_factory.mktemp("bulletin")
    files = write_bulletin(pub["conn"], out, pdf=False)
    return files.html


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium: installed when missing (as `make install` does); skipped, saying why,
    only when it cannot be installed here."""
    exe = browser.find_chromium()
    if exe is None and shutil.which("apt-get"):
        sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
        for cmd in (["apt-get", "install", "-y", "-q", "chromium"], ["apt-get", "update", "-q"],
                    ["apt-get", "install", "-y", "-q", "chromium"]):
            subprocess.run([*sudo, *cmd], capture_output=True, timeout=900)
        exe = browser.find_chromium()
    if exe is None:
        pytest.skip("chromium is not installed and could not be installed (apt-get install chromium)")
    return exe


def svg(html: str, chart_id: str) -> str:
    m = re.search(rf'<svg [^>]*data-chart="{chart_id}".*?</svg>', html, re.S)
    assert m, f"chart {chart_id} missing"
    return m.group(0)


def values(fragment: str, cls: str) -> list[float]:
    return [float(v) for v in re.findall(rf'class="{cls}"[^>]*?data-value="([0-9.]+)"', fragment)]


def test_the_page_is_written_per_publication_with_its_charts_and_thresholds(pub, page):
    conn = pub["conn"]
    assert page.name == f"bulletin-{pub['publication_id']}.html"
    html = page.read_text(encoding="utf-8")
    assert html.count("<svg ") == len(CHART_IDS) == 4
    month = conn.execute("select max(period_start) from kpi.tthc_report where period_type = 'month'").fetchone()[0]
    crit, disc = conn.execute(
        "select distinct criticism_late_share_from, discipline_late_share_from from kpi.late_accountability "
        "where month = %s", (month,)).fetchone()
    provinces = province_units(conn)
    units = conn.execute("select count(*) from kpi.tthc_report where period_type = 'month' and period_start = %s "
                         "and field_code = '*' and on_time_rate is not null and not (unit_id = any(%s))",
                         (month, list(provinces))).fetchone()[0]
    on_time = svg(html, "on-time-by-unit")
    # the 90 % / 95 % lines: 100 % minus the discipline / criticism late shares the published rows carry
    assert sorted(values(on_time, "ref-line")) == pytest.approx(sorted([1 - float(disc), 1 - float(crit)]))
    assert sorted(values(on_time, "ref-line")) == pytest.approx([0.90, 0.95])  # edition 1 of the seed
    assert len(values(on_time, "bar")) == units > 5
    late = svg(html, "late-share-by-unit")
    assert sorted(values(late, "ref-line")) == pytest.approx([float(crit), float(disc)])
    online = svg(html, "online-shares-by-month")
    assert len(values(online, "point")) == 4  # two shares over May and June
    assert values(svg(html, "esignature-by-unit"), "bar")
    # Vietnamese labels a chair reads; the publication and as-of date said
    for text in ("Bản tin cải cách hành chính", "Tỷ lệ giải quyết hồ sơ đúng hạn theo đơn vị",
                 "Hồ sơ trực tuyến và thanh toán trực tuyến", "Ký số văn bản đi",
                 "Đơn vị phải phê bình, xem xét kỷ luật", f"Lần công bố số <b>{pub['publication_id']}</b>",
                 "Số liệu đến hết ngày <b>15/06/2025</b>", "tháng 06/2025 (đến hết ngày 15/06)"):
        assert text in html, text
    # the criticised / disciplined units of the month are listed by name
    for (name,) in conn.execute("select unit_name from kpi.late_accountability where month = %s and verdict in "
                                "('criticism', 'discipline') and not (unit_id = any(%s))", (month, list(provinces))):
        assert name in html
    # one publication only: said, not compared
    assert "lần công bố đầu tiên" in html
    # rewriting gives the same page
    assert bulletin_html(conn) == html


def test_the_page_uses_no_external_resource(page):
    html = page.read_text(encoding="utf-8")
    assert not re.search(r"https?://", html), re.findall(r".{30}https?://.{30}", html)
    assert not re.search(r"""(src|href)\s*=|url\(|@import|<script|<link|<iframe|<img""", html, re.I)


def test_what_changed_names_restated_extended_and_new_months_and_verdicts(pub):
    """compare() on the published tables against an altered copy of them (temporary tables: the
    shared warehouse is not changed): a May unit restated, June shorter before, a verdict moved."""
    conn = pub["conn"]
    provinces = province_units(conn)
    unit = conn.execute("select unit_id from kpi.tthc_report where period_type = 'month' and field_code = '*' "
                        "and period_start = '2025-05-01' and not (unit_id = any(%s)) and received_total > 0 "
                        "order by unit_id limit 1", (list(provinces),)).fetchone()[0]
    with conn.transaction(force_rollback=True):
        for t in ("tthc_report", "late_accountability"):
            conn.execute(sql.SQL("create temporary table {} as select * from kpi.{}").format(
                sql.Identifier(t), sql.Identifier(t)))
        conn.execute("update pg_temp.tthc_report set received_total = received_total + 3, "
                     "pending_total = pending_total + 3 where period_type = 'month' and period_start = '2025-05-01' "
                     "and unit_id = %s and field_code = '*'", (unit,))
        conn.execute("update pg_temp.tthc_report set period_end = '2025-06-10' where period_type = 'month' "
                     "and period_start = '2025-06-01'")
        conn.execute("update pg_temp.late_accountability set verdict = case verdict when 'ok' then 'criticism' "
                     "else 'ok' end where month = '2025-05-01' and unit_id = %s", (unit,))
        months = {m.month.isoformat(): m for m in compare(conn, "pg_temp", "kpi", provinces)}
        conn.execute("delete from pg_temp.tthc_report where period_start = '2025-06-01'")
        new = {m.month.isoformat(): m.status for m in compare(conn, "pg_temp", "kpi", provinces)}
    may, june = months["2025-05-01"], months["2025-06-01"]
    assert may.status == "restated"
    assert [(u["unit_id"], u["changes"]["received_total"][1] - u["changes"]["received_total"][0])
            for u in may.units_changed] == [(unit, -3)]
    assert [v["unit_id"] for v in may.verdicts_changed] == [unit]
    assert june.status == "extended" and str(june.period_end_before) == "2025-06-10"
    assert new["2025-06-01"] == "new" and new["2025-05-01"] == "restated"
    html = changes_html(1, dt.date(2025, 6, 10), dt.date(2025, 6, 15),
                        list(months.values()))
    assert "số liệu điều chỉnh" in html and "thêm ngày số liệu (10/06 → 15/06)" in html
    assert "1</b> tháng đã qua có số liệu điều chỉnh: 05/2025" in html
    # the same tables compared with themselves: nothing changed
    assert {m.status for m in compare(conn, "kpi", "kpi", provinces)} == {"unchanged"}


def test_the_previous_publication_is_found_or_the_page_says_why_not(pub):
    conn = pub["conn"]
    prev = previous_publication(conn, pub["publication_id"])
    assert prev.schema is None and "đầu tiên" in prev.reason  # the fixture published once
    later = previous_publication(conn, pub["publication_id"] + 1)  # as the next publication would see it
    assert later.publication_id == pub["publication_id"] and later.schema == f"kpi_pub_{pub['publication_id']}"


def test_it_renders_offline_in_headless_chromium(page, chromium, tmp_path):
    dom = browser.render(page, dump_dom=True, chromium=chromium)
    assert dom.requests == []  # nothing tried to leave the machine
    for chart_id in CHART_IDS:
        assert f'data-chart="{chart_id}"' in dom.stdout, chart_id
    assert dom.stdout.count('class="ref-line"') == 4 and dom.stdout.count('class="bar"') > 40
    shot = browser.render(page, screenshot=tmp_path / "bulletin.png", window=(1000, 3400), chromium=chromium)
    assert shot.requests == [] and (tmp_path / "bulletin.png").stat().st_size > 50_000
    pdf = browser.render(page, pdf=tmp_path / "bulletin.pdf", chromium=chromium)
    assert pdf.requests == [] and (tmp_path / "bulletin.pdf").read_bytes().startswith(b"%PDF")


def test_the_offline_check_catches_a_page_that_asks_the_network(chromium, tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text('<!doctype html><html><body><img src="http://cdn.example.invalid/chart.png"></body></html>')
    out = browser.render(bad, dump_dom=True, chromium=chromium)
    assert any("cdn.example.invalid" in r for r in out.requests), out.requests


def test_cli_bulletin_writes_html_and_pdf(pub, chromium, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("CCHC_WAREHOUSE_URL", pub["url"])
    assert cli.main(["bulletin", "--out", str(tmp_path), "--pdf"]) == 0
    out = capsys.readouterr().out
    html, pdf = tmp_path / f"bulletin-{pub['publication_id']}.html", tmp_path / f"bulletin-{pub['publication_id']}.pdf"
    assert str(html) in out and str(pdf) in out
    assert html.exists() and pdf.read_bytes().startswith(b"%PDF")


def test_the_publish_step_writes_the_new_publications_bulletin(published_warehouse):
    """Every run that publishes (also under the scheduler: the DAG runs the same publish step)
    leaves the new publication's bulletin behind."""
    from pathlib import Path

    page = Path(published_warehouse["bulletin"])
    assert page.name == f"bulletin-{published_warehouse['publication_id']}.html"
    assert page.is_file() and all(f'data-chart="{c}"' in page.read_text() for c in CHART_IDS)
