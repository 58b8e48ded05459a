"""HTTP API client: pagination, retries, auth and errors, against real HTTP on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import json
import socket

import pytest
from export_fixtures import ExportApi, write_good_day

from cchc.extract import ApiSource, FileSource, SourceAuthError, SourceError
from cchc.extract.api import canonical_sha256, retry_after_seconds

DAY = dt.date(2025, 5, 6)


@pytest.fixture()
def export(tmp_path):
    write_good_day(tmp_path, DAY, n=7)
    return tmp_path


def source(url, **kw):
    kw.setdefault("backoff", 0.001)
    return ApiSource(url, "secret", **kw)


def test_pagination_follows_next_cursor(export):
    with ExportApi(export) as api:
        d = source(api.url, page_limit=3).fetch("dossiers", DAY)
    assert d.mode == "api" and d.count == 7 and d.lines is None
    expected = [json.loads(x) for x in FileSource(export).fetch("dossiers", DAY).lines]
    assert d.records == expected
    assert d.content_sha256 == canonical_sha256(expected)
    assert [q["cursor"] for _, q in api.requests] == ["", "3", "6"]
    assert all(q["updated_from"] == "20250506000000" and q["updated_to"] == "20250506235959"
               and q["limit"] == "3" for _, q in api.requests)
    assert d.uri.endswith("/api/v1/dossiers?updated_from=20250506000000&updated_to=20250506235959")


def test_retries_429_and_5xx_honouring_retry_after(export):
    slept = []
    faults = [(429, {"Retry-After": "0.05"}), (503, {}), (500, {}), (502, {})]
    with ExportApi(export, faults=faults) as api:
        src = ApiSource(api.url, "secret", backoff=0.001, sleep=slept.append)
        d = src.fetch("steps", DAY)
    assert d.count == 7
    assert src.retries == 4 and len(api.requests) == 5
    assert slept[0] == pytest.approx(0.05)
    assert all(s <= 0.01 for s in slept[1:])


def test_retries_are_bounded(export):
    with ExportApi(export, faults=[(503, {})] * 10) as api:
        with pytest.raises(SourceError, match="giving up after 3 attempts; last: HTTP 503"):
            source(api.url, max_retries=2).fetch("steps", DAY)
        assert len(api.requests) == 3


def test_connection_errors_are_retried_then_fail():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    src = source(f"http://127.0.0.1:{port}", max_retries=2)
    with pytest.raises(SourceError, match="giving up after 3 attempts; last: ConnectionError"):
        src.fetch("units", DAY)
    assert src.retries == 2


def test_401_fails_at_once(export):
    with ExportApi(export) as api:
        with pytest.raises(SourceAuthError, match="401 Unauthorized"):
            ApiSource(api.url, "wrong", backoff=0.001).fetch("dossiers", DAY)
        assert len(api.requests) == 1


def test_400_and_404_carry_the_body(export):
    with ExportApi(export, faults=[(400, {})]) as api:
        with pytest.raises(SourceError, match="HTTP 400.*injected 400"):
            source(api.url).fetch("dossiers", DAY)
        with pytest.raises(SourceError, match="HTTP 404.*no feed"):
            ApiSource(api.url + "/x", "secret").fetch("dossiers", DAY)
        assert len(api.requests) == 2


def test_retry_after_forms():
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


# -- not_delivered: has the API produced the day yet? ---------------------------------------------

AFTER = dt.datetime(2025, 5, 8, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=7)))


class GeneratedAtApi:
    """A units feed whose answer carries a given X-Generated-At header (None: no header)."""

    def __init__(self, generated_at: str | None, items=({"UnitId": "u1"},)):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                body = json.dumps({"items": list(items), "next_cursor": None}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                if outer.generated_at is not None:
                    self.send_header("X-Generated-At", outer.generated_at)
                self.end_headers()
                self.wfile.write(body)

        self.generated_at = generated_at
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_not_delivered_api_day_served_without_header_is_delivered(export):
    with ExportApi(export) as api:
        src = source(api.url)
        assert src.not_delivered(DAY, now=AFTER) is None
        assert api.requests[-1][0] == "/api/v1/units" and api.requests[-1][1]["limit"] == "1"
        # ExportApi serves nothing for a day without files
        reason = src.not_delivered(DAY + dt.timedelta(days=1), now=AFTER)
        assert reason and "serves no reference units for 2025-05-07" in reason


def test_not_delivered_api_day_that_has_not_ended(export):
    with ExportApi(export) as api:
        reason = source(api.url).not_delivered(DAY, now=dt.datetime(2025, 5, 6, 23, 59, tzinfo=AFTER.tzinfo))
        assert reason == "2025-05-06 has not ended yet (it ends 2025-05-07T00:00:00+07:00)"
        assert api.requests == []  # not even asked


def test_not_delivered_api_compares_x_generated_at_with_the_end_of_the_day():
    with GeneratedAtApi("2025-05-07T03:10:00+07:00") as api:
        src = source(api.url)
        assert src.not_delivered(DAY, now=AFTER) is None  # produced after 6 May ended
        reason = src.not_delivered(DAY + dt.timedelta(days=1), now=AFTER)  # the 6 May list again
        assert reason and "generated at 2025-05-07T03:10:00+07:00, before the end of 2025-05-07" in reason
    with GeneratedAtApi("2025-05-06T16:59:59Z") as api:  # 23:59:59 local: before the day ended
        assert "before the end of 2025-05-06" in source(api.url).not_delivered(DAY, now=AFTER)
    with GeneratedAtApi("yesterday") as api:
        assert "is not an ISO 8601 timestamp" in source(api.url).not_delivered(DAY, now=AFTER)
    with GeneratedAtApi(None, items=()) as api:
        assert "serves no reference units" in source(api.url).not_delivered(DAY, now=AFTER)


def test_not_delivered_api_unreachable_is_a_reason_a_bad_token_is_an_error(export):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    reason = source(f"http://127.0.0.1:{port}").not_delivered(DAY, now=AFTER)
    assert reason and "does not answer (ConnectionError" in reason
    with ExportApi(export, token="other") as api, pytest.raises(SourceAuthError, match="401"):
        source(api.url).not_delivered(DAY, now=AFTER)
    with ExportApi(export, faults=[(503, {})]) as api:
        assert "answers HTTP 503" in source(api.url).not_delivered(DAY, now=AFTER)


def test_not_delivered_api_against_the_simulator(tmp_path):
    """The simulator stamps each day's delivery 03:10 the next morning (X-Generated-At)."""
    from cchc_demo.simulator import SimulatorConfig, generate, serve

    d1, d2 = dt.date(2025, 6, 2), dt.date(2025, 6, 3)
    generate(tmp_path, SimulatorConfig(start=d1, end=d2, seed=3, dossiers_per_day=3, documents_per_day=2))
    with serve(tmp_path, token="secret") as server:
        src = source(server.url)
        assert src.not_delivered(d2) is None
        reason = src.not_delivered(d2 + dt.timedelta(days=1))
        assert reason and "before the end of 2025-06-04" in reason
