"""The batch ledger: re-delivery rules, dispositions, the current state, completeness.

The rules are tested on their own (pure functions), then through real landings into a real
PostgreSQL (`land_day` over hand-made export folders), the state merge and the completeness query.
The whole pipeline under `cchc run` is tests/test_reliability.py.
"""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from cchc.extract import FileSource
from cchc.land import land_day
from cchc.ledger import completeness, list_batches, record_gate, refresh_state, review
from cchc.ledger.rules import Version, decide
from cchc.ledger.state import STATE_SCHEMA
from export_fixtures import dossier, step, write_export_day, write_reference_day

KEY = b"ledger-test-key-0123456789"
D1, D2, D3, D4 = (dt.date(2025, 6, 2) + dt.timedelta(days=i) for i in range(4))
T = dt.datetime(2025, 6, 3, 3, 10, tzinfo=dt.timezone(dt.timedelta(hours=7)))


# -- the rules, alone ------------------------------------------------------------------------------

def ref(keys=10, generated_at=T, disposition="in_force"):
    return Version(7, disposition, generated_at, keys)


@pytest.mark.parametrize("kwargs, disposition, words", [
    ({"generated_at": T, "keys": 5, "dropped_keys": 0, "reference": None}, "pending", "first delivery"),
    ({"generated_at": None, "keys": 0, "dropped_keys": 0, "reference": None}, "pending", "first delivery"),
    ({"generated_at": T - dt.timedelta(hours=1), "keys": 10, "dropped_keys": 0, "reference": ref()},
     "stale", "before batch 7"),
    ({"generated_at": T, "keys": 10, "dropped_keys": 0, "reference": ref()}, "held", "same generated_at"),
    ({"generated_at": None, "keys": 10, "dropped_keys": 0, "reference": ref()}, "held", "no generated_at"),
    ({"generated_at": T + dt.timedelta(hours=1), "keys": 0, "dropped_keys": 10, "reference": ref()},
     "held", "empty re-delivery"),
    ({"generated_at": T + dt.timedelta(hours=1), "keys": 7, "dropped_keys": 3, "reference": ref()},
     "held", "drops 3 of the 10 keys"),
    ({"generated_at": T + dt.timedelta(hours=1), "keys": 12, "dropped_keys": 2, "reference": ref()},
     "pending", "replacing batch 7"),
    # an older exporter's day, corrected by a delivery that says when it was produced
    ({"generated_at": T, "keys": 10, "dropped_keys": 0, "reference": ref(generated_at=None)},
     "pending", "replacing batch 7"),
    # an empty re-delivery of an empty day changes nothing that matters
    ({"generated_at": T + dt.timedelta(hours=1), "keys": 0, "dropped_keys": 0, "reference": ref(keys=0)},
     "pending", "replacing"),
])
def test_redelivery_rules(kwargs, disposition, words):
    decision = decide(max_dropped_share=0.2, **kwargs)
    assert decision.disposition == disposition
    assert words in decision.reason


# -- through real landings -------------------------------------------------------------------------

def gen(day: dt.date, hours: int = 0) -> str:
    return (dt.datetime.combine(day + dt.timedelta(days=1), dt.time(3, 10)) + dt.timedelta(hours=hours)
            ).isoformat() + "+07:00"


def deliver(root, day, dossiers, *, generated_at="default", steps=None):
    write_reference_day(root, day, generated_at=gen(day))
    write_export_day(root, "onestop", day, {"dossiers": dossiers,
                                            "steps": steps if steps is not None else
                                            [step(d["MaHoSo"], 1, day) for d in dossiers]},
                     generated_at=gen(day) if generated_at == "default" else generated_at)


def codes(day, n, start=0):
    return [f"000.00.01.H26-{day:%y%m%d}-{i:04d}" for i in range(start, start + n)]


def land(url, root, day):
    return land_day(url, FileSource(root), day, feeds=["units", "procedures", "dossiers", "steps"],
                    pseudonym_key=KEY, run_id="ledger-test")


def gate_all(conn, failed=()):
    pending = [r["batch_id"] for r in list_batches(conn, dispositions=["pending"], limit=1000)]
    record_gate(conn, "ledger-test", passed=[b for b in pending if b not in failed],
                failed={b: "test says no" for b in failed})
    conn.commit()


def state(conn, table="onestop__dossiers"):
    return {k: p for k, p in conn.execute(
        f"select record_key, payload ->> 'TrangThaiHoSo' from {STATE_SCHEMA}.{table}").fetchall()}


def disposition(conn, batch_id):
    return conn.execute("select disposition from raw.load_batches where batch_id = %s", (batch_id,)).fetchone()[0]


@pytest.fixture(scope="module")
def url(warehouse_db):
    return warehouse_db


def test_a_day_lands_pending_then_comes_into_force_and_is_merged(url, tmp_path):
    deliver(tmp_path, D1, [dossier(c, D1) for c in codes(D1, 5)])
    result = land(url, tmp_path, D1)
    assert {b.disposition for b in result} == {"pending"}
    with psycopg.connect(url) as conn:
        gate_all(conn)
        assert {b.batch_id: disposition(conn, b.batch_id) for b in result} == \
            {b.batch_id: "in_force" for b in result}
        stats = refresh_state(conn, D1)
        assert stats.tables["onestop__dossiers"]["keys"] == 5
        assert len(state(conn)) == 5
        c = completeness(conn)
    assert c.complete_through == {"onestop": D1} and c.as_of_date == D1 and not any(c.missing_days.values())


def test_rerun_of_the_same_delivery_writes_nothing(url, tmp_path):
    deliver(tmp_path, D1, [dossier(c, D1) for c in codes(D1, 5)])
    again = land(url, tmp_path, D1)
    assert {b.status for b in again} == {"unchanged"}
    assert {b.disposition for b in again} == {"in_force"}


def test_an_older_and_an_empty_redelivery_change_nothing(url, tmp_path):
    with psycopg.connect(url) as conn:
        before = state(conn)
    older = [dossier(c, D1, TrangThaiHoSo="4") for c in codes(D1, 5)]
    deliver(tmp_path, D1, older, generated_at=gen(D1, hours=-2))
    stale = land(url, tmp_path, D1).feed("dossiers")
    assert stale.disposition == "stale"
    deliver(tmp_path, D1, [], steps=[], generated_at=gen(D1, hours=+2))
    empty = land(url, tmp_path, D1)
    assert empty.feed("dossiers").disposition == "held" and "empty re-delivery" in empty.feed("dossiers").disposition_reason
    deliver(tmp_path, D1, older[:2], generated_at=gen(D1, hours=+3))
    dropping = land(url, tmp_path, D1).feed("dossiers")
    assert dropping.disposition == "held" and "drops 3 of the 5 keys" in dropping.disposition_reason
    undated_records = [dossier(c, D1, TrangThaiHoSo="4", TrichYeuHoSo="corrected") for c in codes(D1, 5)]
    deliver(tmp_path, D1, undated_records, generated_at=None)
    undated = land(url, tmp_path, D1).feed("dossiers")
    assert undated.disposition == "held" and "no generated_at" in undated.disposition_reason
    with psycopg.connect(url) as conn:
        gate_all(conn)  # nothing is pending: none of them goes anywhere
        refresh_state(conn, D1)
        assert state(conn) == before
        review_list = {r["batch_id"]: r["disposition"] for r in list_batches(conn, day=D1, feed="dossiers")}
    assert review_list[stale.batch_id] == "stale"
    assert [review_list[b.batch_id] for b in (empty.feed("dossiers"), dropping, undated)] == ["held"] * 3


def test_an_accepted_held_delivery_goes_through_the_gate_and_replaces_the_day(url, tmp_path):
    with psycopg.connect(url) as conn:
        held = [r for r in list_batches(conn, day=D1, feed="dossiers", dispositions=["held"])
                if "no generated_at" in r["disposition_reason"]][0]
        assert review(conn, held["batch_id"], action="accept", by="tester", reason="confirmed by phone") == "pending"
        gate_all(conn)
        assert disposition(conn, held["batch_id"]) == "in_force"
        refresh_state(conn, D1)
        assert set(state(conn).values()) == {"4"}
        log = conn.execute("select action, disposition_before, disposition_after, reviewed_by, reason "
                           "from raw.batch_reviews where batch_id = %s", (held["batch_id"],)).fetchall()
    assert log == [("accept", "held", "pending", "tester", "confirmed by phone")]


def test_a_correction_that_drops_a_key_falls_back_to_its_previous_version(url, tmp_path):
    # D2 updates dossier 0 of D1 and adds one; a correction of D2 no longer carries dossier 0
    first = codes(D1, 1)[0]
    deliver(tmp_path, D2, [dossier(first, D1, TrangThaiHoSo="9", NgayCapNhat=f"{D2:%Y%m%d}100000"),
                           dossier(codes(D2, 1)[0], D2)] + [dossier(c, D2) for c in codes(D2, 4, 1)])
    land(url, tmp_path, D2)
    with psycopg.connect(url) as conn:
        gate_all(conn)
        refresh_state(conn, D2)
        assert state(conn)[first] == "9"
    deliver(tmp_path, D2, [dossier(c, D2, TrangThaiHoSo="5") for c in codes(D2, 5)], generated_at=gen(D2, 1))
    assert land(url, tmp_path, D2).feed("dossiers").disposition == "pending"  # drops 1 of 6: allowed
    with psycopg.connect(url) as conn:
        gate_all(conn)
        incremental = refresh_state(conn, D2)
        assert incremental.tables["onestop__dossiers"]["mode"] == "incremental"
        merged = state(conn)
        assert merged[first] == "4"  # back to D1's version in force
        assert all(merged[c] == "5" for c in codes(D2, 5))
        full = refresh_state(conn, D2, full=True)
        assert full.tables["onestop__dossiers"]["mode"] == "full"
        assert state(conn) == merged  # the incremental merge equals a full rebuild


def test_a_blocked_batch_leaves_a_hole_that_later_days_wait_behind(url, tmp_path):
    deliver(tmp_path, D3, [dossier(c, D3) for c in codes(D3, 3)])
    deliver(tmp_path, D4, [dossier(c, D4) for c in codes(D4, 3)])
    d3 = land(url, tmp_path, D3)
    land(url, tmp_path, D4)
    with psycopg.connect(url) as conn:
        gate_all(conn, failed=[d3.feed("dossiers").batch_id])
        c = completeness(conn)
        assert c.complete_through == {"onestop": D2} and c.missing_days == {"onestop": [D3]}
        assert c.as_of_date == D2 and c.horizon == D4
        refresh_state(conn, c.as_of_date)
        assert not any(k.startswith("000.00.01.H26-250605") for k in state(conn))  # D4 waits
        blocked = d3.feed("dossiers").batch_id
        assert review(conn, blocked, action="accept", by="tester", reason="rejects are known test noise") \
            == "in_force"
        c = completeness(conn)
        assert c.as_of_date == D4 and not any(c.missing_days.values())
        refresh_state(conn, c.as_of_date)
        assert sum(k.startswith("000.00.01.H26-250605") for k in state(conn)) == 3


def test_review_needs_a_reason_and_a_reviewable_batch(url):
    from cchc.ledger import LedgerError

    with psycopg.connect(url) as conn:
        in_force = list_batches(conn, dispositions=["in_force"], limit=1)[0]["batch_id"]
        with pytest.raises(LedgerError, match="reason is required"):
            review(conn, in_force, action="accept", by="x", reason=" ")
        with pytest.raises(LedgerError, match="only held, stale or blocked"):
            review(conn, in_force, action="accept", by="x", reason="why not")
        with pytest.raises(LedgerError, match="no batch 999999"):
            review(conn, 999999, action="reject", by="x", reason="gone")
