"""Export-folder reader: manifest verification and refusals, on hand-made files."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json

import pytest
from export_fixtures import dossier, gz, step, write_export_day, write_good_day

from cchc.extract import DeliveryRefused, FileSource

DAY = dt.date(2025, 5, 6)


def test_fetch_reads_lines_and_checksum(tmp_path):
    written = write_good_day(tmp_path, DAY, n=3)
    src = FileSource(tmp_path)
    d = src.fetch("dossiers", DAY)
    assert d.mode == "file" and d.count == 3 and d.records is None
    assert [json.loads(x)["MaHoSo"] for x in d.lines] == [r["MaHoSo"] for r in written["dossiers"]]
    path = tmp_path / "onestop" / DAY.isoformat() / "dossiers.jsonl.gz"
    assert d.uri == str(path)
    assert d.content_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    all_onestop = src.deliveries("onestop", DAY.isoformat())
    assert set(all_onestop) == {"dossiers", "steps"}
    assert all(not isinstance(v, Exception) for v in all_onestop.values())


def test_missing_manifest_refuses_the_day_naming_the_folder(tmp_path):
    write_export_day(tmp_path, "onestop", DAY, {"dossiers": [dossier("A", DAY)]}, manifest=False)
    with pytest.raises(DeliveryRefused) as exc:
        FileSource(tmp_path).fetch("dossiers", DAY)
    folder = tmp_path / "onestop" / DAY.isoformat()
    assert str(folder) in str(exc.value) and "_manifest.json" in str(exc.value)
    assert "not complete" in str(exc.value)
    assert exc.value.refusals[0].feed == "dossiers"


def test_missing_folder_is_refused(tmp_path):
    with pytest.raises(DeliveryRefused, match="no export folder"):
        FileSource(tmp_path).fetch("documents", DAY)


def test_count_mismatch_is_refused_with_expected_and_actual(tmp_path):
    lines = [dossier("A", DAY), dossier("B", DAY)]
    data = gz(lines)
    write_export_day(tmp_path, "onestop", DAY, {"dossiers": lines, "steps": [step("A", 1, DAY)]},
                     manifest_override={"dossiers.jsonl.gz": {"lines": 3, "sha256": hashlib.sha256(data).hexdigest()}})
    src = FileSource(tmp_path)
    with pytest.raises(DeliveryRefused) as exc:
        src.fetch("dossiers", DAY)
    msg = str(exc.value)
    assert "line count expected 3 (manifest), actual 2" in msg and "sha256" not in msg
    assert src.fetch("steps", DAY).count == 1  # the other file of the day is fine


def test_checksum_mismatch_is_refused(tmp_path):
    folder = write_export_day(tmp_path, "onestop", DAY, {"dossiers": [dossier("A", DAY)]})
    path = folder / "dossiers.jsonl.gz"
    expected = hashlib.sha256(path.read_bytes()).hexdigest()
    path.write_bytes(gzip.compress(json.dumps(dossier("Z", DAY)).encode() + b"\n", mtime=0))
    with pytest.raises(DeliveryRefused) as exc:
        FileSource(tmp_path).fetch("dossiers", DAY)
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    assert f"sha256 expected {expected} (manifest), actual {actual}" in str(exc.value)
    assert exc.value.refusals[0].content_sha256 == actual


def test_corrupt_gzip_is_refused(tmp_path):
    folder = write_export_day(tmp_path, "edoc", DAY, {"documents": []})
    (folder / "documents.jsonl.gz").write_bytes(b"not gzip at all")
    with pytest.raises(DeliveryRefused, match="cannot be decompressed"):
        FileSource(tmp_path).fetch("documents", DAY)


def test_file_missing_from_folder_or_manifest(tmp_path):
    folder = write_export_day(tmp_path, "onestop", DAY, {"dossiers": [dossier("A", DAY)]})
    with pytest.raises(DeliveryRefused, match="steps.jsonl.gz is missing"):
        FileSource(tmp_path).fetch("steps", DAY)
    (folder / "steps.jsonl.gz").write_bytes(gz([step("A", 1, DAY)]))
    with pytest.raises(DeliveryRefused, match="not listed in"):
        FileSource(tmp_path).fetch("steps", DAY)
    (folder / "dossiers.jsonl.gz").unlink()
    with pytest.raises(DeliveryRefused, match="listed in the manifest but absent"):
        FileSource(tmp_path).fetch("dossiers", DAY)
    refused = FileSource(tmp_path).deliveries("onestop", DAY)
    assert all(isinstance(v, DeliveryRefused) for v in refused.values())


def test_empty_file_and_crlf_lines(tmp_path):
    write_export_day(tmp_path, "onestop", DAY, {"dossiers": [], "steps": [json.dumps(step("A", 1, DAY)) + "\r"]})
    src = FileSource(tmp_path)
    assert src.fetch("dossiers", DAY).lines == []
    assert src.fetch("steps", DAY).count == 1


# -- not_delivered: may the day be landed yet? ---------------------------------------------------

def test_not_delivered_is_none_when_every_delivered_system_has_its_manifest(tmp_path):
    write_good_day(tmp_path, DAY, n=1)
    assert FileSource(tmp_path).not_delivered(DAY) is None
    assert FileSource(tmp_path).not_delivered(DAY.isoformat()) is None


def test_not_delivered_names_the_missing_or_incomplete_folders(tmp_path):
    write_good_day(tmp_path, DAY, n=1)
    nxt = DAY + dt.timedelta(days=1)
    reason = FileSource(tmp_path).not_delivered(nxt)
    assert reason and nxt.isoformat() in reason
    for system in ("onestop", "edoc", "reference"):
        assert str(tmp_path / system / nxt.isoformat()) in reason
    # a folder whose manifest has not been written yet is not complete
    write_good_day(tmp_path, nxt, n=1)
    (tmp_path / "edoc" / nxt.isoformat() / "_manifest.json").unlink()
    reason = FileSource(tmp_path).not_delivered(nxt)
    assert reason == (f"the export of {nxt.isoformat()} is not complete: "
                      f"{tmp_path / 'edoc' / nxt.isoformat()} has no _manifest.json yet")


def test_not_delivered_ignores_systems_the_root_does_not_deliver(tmp_path):
    write_good_day(tmp_path, DAY, n=1)
    import shutil
    shutil.rmtree(tmp_path / "edoc")  # a province that exports its one-stop system only
    assert FileSource(tmp_path).not_delivered(DAY) is None
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "has no export folder of any system" in FileSource(empty).not_delivered(DAY)
