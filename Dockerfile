# Image for the docker-compose deployment: Airflow + dbt + GX + the cchc package, from the lock.
# The editable install carries both packages under plugins/: cchc (what the Airflow services
# import) and cchc_demo (the source simulator, run only by the compose file's simulator service).
# The build context is filtered by .dockerignore: no .venv, .cchc (database, pseudonymisation
# key), .env (secrets), .git or caches ever enter the image.
FROM python:3.11-slim-bookworm

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1 \
    AIRFLOW_HOME=/opt/airflow CCHC_HOME=/opt/cchc-state
RUN apt-get update && apt-get install -y --no-install-recommends make git && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 50000 --gid 0 airflow
WORKDIR /opt/cchc
COPY requirements.lock pyproject.toml ./
RUN pip install --no-cache-dir "uv==0.13.8" \
    && uv pip sync --system requirements.lock
COPY . .
# Folders the containers write to (mounted as named volumes, which start with this ownership):
# Airflow's home and task logs, the cchc state folder, the simulator's export folder. Owned by the
# image's user and group-writable for group 0, so another AIRFLOW_UID (with group 0) works too.
RUN uv pip install --system --no-deps -e . \
    && mkdir -p "$AIRFLOW_HOME/logs" "$CCHC_HOME" /data \
    && chown -R airflow:0 "$AIRFLOW_HOME" "$CCHC_HOME" /data /opt/cchc \
    && chmod -R g+rwX "$AIRFLOW_HOME" "$CCHC_HOME" /data /opt/cchc \
    && chmod +x /opt/cchc/deploy/check-config.sh
USER airflow
