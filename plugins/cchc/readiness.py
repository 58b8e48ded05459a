"""When the nightly DAG runs, which days a run handles, and whether their delivery is there yet.

- :class:`ScheduleSettings`: the scheduler's settings, read from the environment when the DAG is
  parsed (the first night, how often and how long to wait for a delivery, task retries).
- :func:`night_for`: the source day a scheduled run handles (the day that ended before its 02:00
  local trigger); :func:`run_days` adds explicit ``start``/``end`` params (``cchc run``, REST);
  :func:`trigger_time`: which of a DAG run's times that is. The wait (``check_run``) and the plan
  (:func:`cchc.pipeline.plan_run`) both decide the days with these.
- :func:`delivery_status` / :func:`first_not_delivered`: ask the configured source
  (:meth:`cchc.extract.base.SourceBase.not_delivered`) whether a day can be landed; None when it can.
- :func:`wait_is_over`: whether a night has waited long enough for its delivery.

Only the standard library is imported at module level: the DAG file imports this module when the
dag-processor parses it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cchc.constants import PROVINCE_TIME_ZONE
from cchc.settings import env_number, schedule_start  # standard library only, like this module

log = logging.getLogger(__name__)

#: the province's time zone (cchc.constants): a source day is a local day
LOCAL_TZ = PROVINCE_TIME_ZONE
#: the nightly trigger, local time (cron); every run handles the source day that ended before it
NIGHTLY_CRON = "0 2 * * *"


@dataclass(frozen=True)
class ScheduleSettings:
    """The nightly schedule (environment variable, default):

    - ``first_night`` (CCHC_SCHEDULE_START, 2025-05-01): the first source day the scheduler
      handles; with catchup, every night from it on gets a run. Changing it takes effect at the
      dag-processor's next parse: a later first night skips the nights before it (see
      :mod:`cchc.nightly_timetable`); nights before the runs that already exist are landed with
      ``cchc run --start … --end …``.
    - ``poke_seconds`` (CCHC_DELIVERY_POKE_SECONDS, 600): how often ``wait_for_delivery`` looks.
    - ``wait_seconds`` (CCHC_DELIVERY_TIMEOUT_SECONDS, 21600 = 6 h): how long after its trigger a
      night waits for its delivery before it ends as "not delivered" (skipped, not failed).
    - ``retries`` (CCHC_TASK_RETRIES, 3), ``retry_delay_seconds`` (CCHC_RETRY_DELAY_SECONDS, 60),
      ``max_retry_delay_seconds`` (CCHC_MAX_RETRY_DELAY_SECONDS, 1800): retries of every task
      that touches a source or the warehouse, with exponential backoff capped at the maximum.
    """

    first_night: dt.date = dt.date(2025, 5, 1)
    poke_seconds: float = 600.0
    wait_seconds: float = 6 * 3600.0
    retries: int = 3
    retry_delay_seconds: float = 60.0
    max_retry_delay_seconds: float = 1800.0

    @classmethod
    def from_env(cls) -> ScheduleSettings:
        first = schedule_start(cls.first_night)
        d = cls()
        settings = cls(
            first_night=first,
            poke_seconds=env_number("CCHC_DELIVERY_POKE_SECONDS", d.poke_seconds, low=1, high=86400),
            wait_seconds=env_number("CCHC_DELIVERY_TIMEOUT_SECONDS", d.wait_seconds, low=1, high=7 * 86400),
            retries=env_number("CCHC_TASK_RETRIES", d.retries, low=0, high=20, cast=int),
            retry_delay_seconds=env_number("CCHC_RETRY_DELAY_SECONDS", d.retry_delay_seconds, low=1, high=86400),
            max_retry_delay_seconds=env_number("CCHC_MAX_RETRY_DELAY_SECONDS", d.max_retry_delay_seconds,
                                               low=1, high=7 * 86400),
        )
        if settings.max_retry_delay_seconds < settings.retry_delay_seconds:
            raise ValueError("CCHC_MAX_RETRY_DELAY_SECONDS must not be below CCHC_RETRY_DELAY_SECONDS")
        return settings

    @property
    def start_date(self) -> dt.datetime:
        """The DAG's start_date: midnight (local) after the first night, so that the first 02:00
        trigger is the one that handles ``first_night``."""
        return dt.datetime.combine(self.first_night + dt.timedelta(days=1), dt.time(0), tzinfo=LOCAL_TZ)

    def retry_args(self) -> dict[str, Any]:
        """Airflow task arguments: retries with exponential backoff and a maximum delay."""
        return {
            "retries": self.retries,
            "retry_delay": dt.timedelta(seconds=self.retry_delay_seconds),
            "retry_exponential_backoff": True,
            "max_retry_delay": dt.timedelta(seconds=self.max_retry_delay_seconds),
        }


def night_for(data_interval_end: dt.datetime) -> dt.date:
    """The source day a scheduled run handles: the local day before the run's trigger time (the
    run fired at 02:00 on 15 May handles 14 May). A naive datetime is taken as UTC."""
    if data_interval_end.tzinfo is None:
        data_interval_end = data_interval_end.replace(tzinfo=dt.UTC)
    return data_interval_end.astimezone(LOCAL_TZ).date() - dt.timedelta(days=1)


def trigger_time(data_interval_end: dt.datetime | None, dag_run: Any = None) -> dt.datetime | None:
    """A DAG run's trigger time: its data interval's end (a scheduled run), else its ``run_after``
    (a manual or REST-triggered run has no interval); None when neither is known."""
    return data_interval_end or getattr(dag_run, "run_after", None)


@dataclass(frozen=True)
class RunDays:
    start: dt.date
    end: dt.date
    explicit: bool  # True when the run's params named the days (cchc run, a REST trigger with conf)

    def days(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    def as_params(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


def run_days(params: Mapping[str, Any] | None, data_interval_end: dt.datetime | None,
             *, now: dt.datetime | None = None) -> RunDays:
    """The days a run handles: params ``start``/``end`` (``end`` defaults to ``start``) when given,
    else the night of the run's trigger time (``now`` for a run without one)."""
    params = params or {}
    start, end = params.get("start"), params.get("end")
    if start:
        try:
            first = dt.date.fromisoformat(str(start))
            last = dt.date.fromisoformat(str(end)) if end else first
        except ValueError as exc:
            raise ValueError(f"params start={start!r} / end={end!r}: {exc} (use YYYY-MM-DD)") from None
        if last < first:
            raise ValueError(f"params end {last} is before start {first}")
        return RunDays(first, last, explicit=True)
    if end:
        raise ValueError(f"params end={end!r} given without start")
    night = night_for(data_interval_end or now or dt.datetime.now(dt.UTC))
    return RunDays(night, night, explicit=False)


def delivery_status(day: dt.date | str, source_settings: Mapping[str, Any] | Any | None = None) -> str | None:
    """None when ``day`` can be landed from the configured source, else the reason.

    ``source_settings``: a :class:`cchc.settings.SourceSettings`, or a mapping with
    ``source_dir``/``source_url`` (the DAG's params; None values fall back to CCHC_SOURCE_DIR /
    CCHC_SOURCE_URL). A misconfigured source raises ValueError; a refused token SourceAuthError.
    """
    return first_not_delivered([day], source_settings)


def first_not_delivered(days, source_settings: Mapping[str, Any] | Any | None = None) -> str | None:
    """The reason of the first of ``days`` that cannot be landed yet; None when all can."""
    from cchc.settings import SourceSettings

    if isinstance(source_settings, SourceSettings):
        settings = source_settings
    else:
        given = dict(source_settings or {})
        settings = SourceSettings.from_env(source_dir=given.get("source_dir"), source_url=given.get("source_url"))
    source = settings.open()
    for day in days:
        day = dt.date.fromisoformat(day) if isinstance(day, str) else day
        reason = source.not_delivered(day)
        if reason is not None:
            return f"{settings.describe()}: {reason}"
    return None


def wait_is_over(trigger_time: dt.datetime | None, wait_seconds: float, *, now: dt.datetime | None = None) -> bool:
    """Whether a night triggered at ``trigger_time`` has waited ``wait_seconds`` for its delivery.
    Counting from the trigger (not from the first look) lets a catch-up of old, never-delivered
    nights skip each of them at the first look instead of waiting hours for every one."""
    if trigger_time is None:
        return False
    if trigger_time.tzinfo is None:
        trigger_time = trigger_time.replace(tzinfo=dt.UTC)
    now = now or dt.datetime.now(dt.UTC)
    return now >= trigger_time + dt.timedelta(seconds=wait_seconds)


@dataclass(frozen=True)
class Readiness:
    """One look of ``wait_for_delivery``: ``ready`` (land now), or keep waiting, or ``give_up``
    (the night waited long enough: it ends as not delivered). ``reason`` says what is missing."""

    days: RunDays
    ready: bool
    give_up: bool = False
    reason: str | None = None


def check_run(params: Mapping[str, Any] | None, trigger_time: dt.datetime | None, wait_seconds: float,
              *, now: dt.datetime | None = None) -> Readiness:
    """Is the delivery of every day of this run there? Runs whose params say ``wait: false``
    (``cchc run``) do not wait: their land step reports what is missing."""
    params = params or {}
    days = run_days(params, trigger_time, now=now)
    if params.get("wait") is False:
        log.info("days %s..%s: not waiting for the delivery (wait=false)", days.start, days.end)
        return Readiness(days, ready=True)
    reason = first_not_delivered(days.days(), params)
    if reason is None:
        log.info("days %s..%s: delivered", days.start, days.end)
        return Readiness(days, ready=True)
    if wait_is_over(trigger_time, wait_seconds, now=now):
        return Readiness(days, ready=False, give_up=True,
                         reason=f"not delivered {wait_seconds:g}s after the run's trigger: {reason}")
    log.info("days %s..%s: waiting for the delivery: %s", days.start, days.end, reason)
    return Readiness(days, ready=False, reason=reason)
