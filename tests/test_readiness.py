"""Which days a run handles and whether their delivery is there: no Airflow, real export folders."""

from __future__ import annotations

import datetime as dt

import pytest
from export_fixtures import write_good_day

from cchc.readiness import (
    ScheduleSettings,
    check_run,
    delivery_status,
    night_for,
    run_days,
    wait_is_over,
)
from cchc.settings import SourceSettings

VN = dt.timezone(dt.timedelta(hours=7))
DAY = dt.date(2025, 6, 2)


def test_night_for_is_the_local_day_before_the_trigger():
    assert night_for(dt.datetime(2025, 6, 3, 2, 0, tzinfo=VN)) == DAY
    # 02:00 local is 19:00 UTC the day before: the local date counts
    assert night_for(dt.datetime(2025, 6, 2, 19, 0, tzinfo=dt.UTC)) == DAY
    assert night_for(dt.datetime(2025, 6, 2, 19, 0)) == DAY  # naive = UTC
    assert night_for(dt.datetime(2025, 6, 3, 23, 59, tzinfo=VN)) == DAY


def test_run_days_from_params_or_the_trigger():
    trigger = dt.datetime(2025, 6, 3, 2, 0, tzinfo=VN)
    scheduled = run_days({"start": None, "end": None}, trigger)
    assert (scheduled.start, scheduled.end, scheduled.explicit) == (DAY, DAY, False)
    explicit = run_days({"start": "2025-05-01", "end": "2025-05-03"}, trigger)
    assert explicit.explicit and [d.day for d in explicit.days()] == [1, 2, 3]
    assert explicit.as_params() == {"start": "2025-05-01", "end": "2025-05-03"}
    assert run_days({"start": "2025-05-01"}, None).end == dt.date(2025, 5, 1)
    with pytest.raises(ValueError, match="end 2025-04-01 is before start 2025-05-01"):
        run_days({"start": "2025-05-01", "end": "2025-04-01"}, trigger)
    with pytest.raises(ValueError, match="use YYYY-MM-DD"):
        run_days({"start": "1/5/2025"}, trigger)
    with pytest.raises(ValueError, match="without start"):
        run_days({"end": "2025-05-01"}, trigger)


def test_schedule_settings_from_the_environment(monkeypatch):
    for name in ("CCHC_SCHEDULE_START", "CCHC_DELIVERY_POKE_SECONDS", "CCHC_DELIVERY_TIMEOUT_SECONDS",
                 "CCHC_TASK_RETRIES", "CCHC_RETRY_DELAY_SECONDS", "CCHC_MAX_RETRY_DELAY_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    s = ScheduleSettings.from_env()
    assert s.first_night == dt.date(2025, 5, 1) and s.start_date.isoformat() == "2025-05-02T00:00:00+07:00"
    assert s.retry_args() == {"retries": 3, "retry_delay": dt.timedelta(seconds=60),
                              "retry_exponential_backoff": True, "max_retry_delay": dt.timedelta(minutes=30)}
    monkeypatch.setenv("CCHC_SCHEDULE_START", "2025-06-28")
    monkeypatch.setenv("CCHC_DELIVERY_TIMEOUT_SECONDS", "20")
    s = ScheduleSettings.from_env()
    assert s.first_night == dt.date(2025, 6, 28) and s.wait_seconds == 20
    monkeypatch.setenv("CCHC_TASK_RETRIES", "2.5")
    with pytest.raises(ValueError, match="CCHC_TASK_RETRIES='2.5' is not a whole number"):
        ScheduleSettings.from_env()
    monkeypatch.setenv("CCHC_TASK_RETRIES", "1")
    monkeypatch.setenv("CCHC_DELIVERY_POKE_SECONDS", "0")
    with pytest.raises(ValueError, match="CCHC_DELIVERY_POKE_SECONDS='0' must be between 1 and 86400"):
        ScheduleSettings.from_env()
    monkeypatch.setenv("CCHC_DELIVERY_POKE_SECONDS", "60")
    monkeypatch.setenv("CCHC_MAX_RETRY_DELAY_SECONDS", "10")
    with pytest.raises(ValueError, match="must not be below CCHC_RETRY_DELAY_SECONDS"):
        ScheduleSettings.from_env()


def test_delivery_status_of_an_export_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("CCHC_SOURCE_URL", raising=False)
    write_good_day(tmp_path, DAY, n=1)
    assert delivery_status(DAY, {"source_dir": str(tmp_path)}) is None
    assert delivery_status(DAY.isoformat(), SourceSettings(source_dir=tmp_path)) is None
    reason = delivery_status(DAY + dt.timedelta(days=1), {"source_dir": str(tmp_path)})
    assert reason.startswith(f"export files {tmp_path}: the export of 2025-06-03 is not complete")
    monkeypatch.setenv("CCHC_SOURCE_DIR", str(tmp_path))  # None values fall back to the environment
    assert delivery_status(DAY, {"source_dir": None, "source_url": None}) is None
    monkeypatch.delenv("CCHC_SOURCE_DIR")
    with pytest.raises(ValueError, match="no source configured"):
        delivery_status(DAY, {})


def test_wait_is_counted_from_the_trigger():
    trigger = dt.datetime(2025, 6, 3, 2, 0, tzinfo=VN)
    assert not wait_is_over(trigger, 3600, now=trigger + dt.timedelta(minutes=59))
    assert wait_is_over(trigger, 3600, now=trigger + dt.timedelta(minutes=60))
    assert not wait_is_over(None, 1)


def test_check_run_waits_then_gives_up_and_lets_explicit_runs_through(tmp_path):
    write_good_day(tmp_path, DAY, n=1)
    params = {"source_dir": str(tmp_path), "start": None, "end": None}
    trigger = dt.datetime(2025, 6, 3, 2, 0, tzinfo=VN)
    ready = check_run(params, trigger, 3600, now=trigger)
    assert ready.ready and ready.days.as_params() == {"start": "2025-06-02", "end": "2025-06-02"}
    later = trigger + dt.timedelta(days=1)  # the night of 3 June has no delivery
    waiting = check_run(params, later, 3600, now=later + dt.timedelta(minutes=10))
    assert not waiting.ready and not waiting.give_up and "2025-06-03 is not complete" in waiting.reason
    over = check_run(params, later, 3600, now=later + dt.timedelta(hours=1))
    assert over.give_up and over.reason.startswith("not delivered 3600s after the run's trigger: export files")
    # a catch-up of an old night that never came gives up at the first look
    assert check_run(params, later, 3600, now=later + dt.timedelta(days=30)).give_up
    # an explicit range waits for every day of it; with wait=false (cchc run) it does not look
    rng = {**params, "start": "2025-06-02", "end": "2025-06-03"}
    assert "2025-06-03" in check_run(rng, trigger, 3600, now=trigger).reason
    assert check_run({**rng, "wait": False}, trigger, 3600, now=trigger).ready
