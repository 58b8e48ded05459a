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
