"""The nightly DAG's timetable: Airflow's cron trigger, except that a moved start date is honoured.

Why it is needed: with ``catchup=True``, Airflow 3.3's ``CronTriggerTimetable`` computes the next
run from the latest scheduled run alone (``next_dagrun_info_v2``: "last run + one tick") and looks
at the DAG's ``start_date`` only before the first run. The dag-processor re-parses the DAG file
and stores the new start date, and recomputes ``next_dagrun`` at every parse, but from the latest
run: so once a DAG has runs, setting CCHC_SCHEDULE_START to a later night changes nothing, and
the scheduler keeps catching up every night since the old start.

:class:`NightlyTimetable` takes the later of "latest run + one tick" and "the first tick at or
after start_date": a later start skips the nights before it at the next parse. (A start moved
*earlier* cannot create runs before the latest one; land those nights with ``cchc run``.)

Airflow only deserialises timetables registered by a plugin: ``plugins/cchc_airflow_plugin.py``
registers this one.
"""

from __future__ import annotations

from airflow.timetables.base import DagRunInfo, TimeRestriction
from airflow.timetables.trigger import CronTriggerTimetable


class NightlyTimetable(CronTriggerTimetable):
    """``CronTriggerTimetable`` whose next run is never before the DAG's start date."""

    def _not_before_start(self, info: DagRunInfo | None, restriction: TimeRestriction,
                          from_start) -> DagRunInfo | None:
        if info is None or restriction.earliest is None:
            return info
        first = self._align_to_next(restriction.earliest)
        if info.run_after is not None and info.run_after >= first:
            return info
        return from_start()

    def next_dagrun_info_v2(self, *, last_dagrun_info: DagRunInfo | None,
                            restriction: TimeRestriction) -> DagRunInfo | None:
        info = super().next_dagrun_info_v2(last_dagrun_info=last_dagrun_info, restriction=restriction)
        return self._not_before_start(info, restriction, lambda: super(NightlyTimetable, self)
                                      .next_dagrun_info_v2(last_dagrun_info=None, restriction=restriction))

    def next_dagrun_info(self, *, last_automated_data_interval, restriction: TimeRestriction):
        info = super().next_dagrun_info(last_automated_data_interval=last_automated_data_interval,
                                        restriction=restriction)
        return self._not_before_start(info, restriction, lambda: super(NightlyTimetable, self)
                                      .next_dagrun_info(last_automated_data_interval=None,
                                                        restriction=restriction))
