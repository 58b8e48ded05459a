"""Airflow plugin of this project: registers the nightly DAG's timetable, so that the scheduler,
the dag-processor and the api-server can deserialise it (Airflow refuses unregistered custom
timetables). Everything else of the project is the ``cchc`` package, kept out of the plugin loader
by ``plugins/.airflowignore``."""

from airflow.plugins_manager import AirflowPlugin

from cchc.nightly_timetable import NightlyTimetable


class CchcPlugin(AirflowPlugin):
    name = "cchc"
    timetables = [NightlyTimetable]
