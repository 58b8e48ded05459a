-- The Airflow metadata database lives beside the warehouse on the same server.
CREATE DATABASE airflow;
