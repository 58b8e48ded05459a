# Image for the docker-compose deployment: Airflow + dbt + GX + the cchc package, from the lock.
FROM python:3.11-slim-bookworm

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1 \
    AIRFLOW_HOME=/opt/airflow CCHC_HOME=/opt/cchc-state
RUN apt-get update && apt-get install -y --no-install-recommends make git && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 50000 airflow
WORKDIR /opt/cchc
COPY requirements.lock pyproject.toml ./
RUN pip install --no-cache-dir "uv==0.13.8" \
    && uv pip sync --system requirements.lock
COPY . .
RUN uv pip install --system --no-deps -e . \
    && mkdir -p "$AIRFLOW_HOME" "$CCHC_HOME" && chown -R airflow "$AIRFLOW_HOME" "$CCHC_HOME" /opt/cchc
USER airflow
