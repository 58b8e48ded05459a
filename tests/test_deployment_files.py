"""The deployment files can't be run here (no Docker engine), so they are checked by reading them,
by running the config check they ship, and with ``docker-compose config`` when it is installed."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
AIRFLOW_SERVICES = ("airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                    "airflow-triggerer")
SECRETS = ("POSTGRES_PASSWORD", "CCHC_PSEUDONYM_KEY", "CCHC_SOURCE_TOKEN", "AIRFLOW_JWT_SECRET",
           "AIRFLOW_API_SECRET_KEY")


def load_compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def env_example() -> dict[str, str]:
    return dict(line.split("=", 1) for line in (ROOT / ".env.example").read_text().splitlines()
                if line and not line.startswith("#"))


def test_compose_has_every_service_of_the_deployment():
    services = load_compose()["services"]
    assert set(services) >= {"config-check", "postgres", "simulator", *AIRFLOW_SERVICES}
    commands = {name: " ".join(s.get("command", [])) if isinstance(s.get("command"), list)
                else str(s.get("command", "")) for name, s in services.items()}
    assert "db migrate" in commands["airflow-init"]
    for name, cmd in (("airflow-apiserver", "api-server"), ("airflow-scheduler", "scheduler"),
                      ("airflow-dag-processor", "dag-processor"), ("airflow-triggerer", "triggerer")):
        assert cmd in commands[name]
        deps = services[name]["depends_on"]
        assert deps["postgres"]["condition"] == "service_healthy"
        assert deps["airflow-init"]["condition"] == "service_completed_successfully"
    assert "cchc serve-sources" in commands["simulator"]


def test_compose_points_every_airflow_service_at_the_same_configuration():
    services = load_compose()["services"]
    envs = [services[n]["environment"] for n in AIRFLOW_SERVICES]
    for env in envs:
        assert env["CCHC_WAREHOUSE_URL"].startswith("postgresql://")
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg://")
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"].startswith("postgresql+psycopg://")
        assert env["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/cchc/dags"
        assert env["AIRFLOW__CORE__PLUGINS_FOLDER"] == "/opt/cchc/plugins"  # registers the timetable
        assert env["CCHC_SOURCE_URL"].endswith("http://simulator:8080}")
        # the DAG runs as soon as it is parsed
        assert env["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] == "False"
        # ONE JWT secret and ONE API secret key, shared by every Airflow service
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"].startswith("${AIRFLOW_JWT_SECRET:?")
        assert env["AIRFLOW__API__SECRET_KEY"].startswith("${AIRFLOW_API_SECRET_KEY:?")
    assert all(e == envs[0] for e in envs), "Airflow services must share one configuration"


def test_one_logs_volume_for_every_airflow_service():
    compose = load_compose()
    services = compose["services"]
    log_folder = services["airflow-scheduler"]["environment"]["AIRFLOW__LOGGING__BASE_LOG_FOLDER"]
    for name in AIRFLOW_SERVICES:
        assert f"airflow-logs:{log_folder}" in services[name]["volumes"], name
    assert "airflow-logs" in compose["volumes"]


def test_healthchecks_of_every_long_running_service():
    services = load_compose()["services"]
    for name, job in (("airflow-scheduler", "SchedulerJob"), ("airflow-dag-processor", "DagProcessorJob"),
                      ("airflow-triggerer", "TriggererJob")):
        test = " ".join(services[name]["healthcheck"]["test"])
        assert f"airflow jobs check --job-type {job} --local" in test, name
    assert "/api/v2/monitor/health" in " ".join(services["airflow-apiserver"]["healthcheck"]["test"])
    assert "/health" in " ".join(services["simulator"]["healthcheck"]["test"])
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])


def test_the_kpi_api_service_reads_the_warehouse_and_holds_no_pipeline_secret():
    services = load_compose()["services"]
    api = services["api"]
    assert api["command"][:2] == ["cchc", "api"]
    assert api["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert api["depends_on"]["postgres"] == services["airflow-init"]["depends_on"]["postgres"]
    env = api["environment"]
    assert env["CCHC_WAREHOUSE_URL"] == services["airflow-scheduler"]["environment"]["CCHC_WAREHOUSE_URL"]
    assert env["CCHC_API_HOST"] == "0.0.0.0" and env["CCHC_API_PORT"] == "8000"
    # it reads kpi as a BI login: no pseudonymisation key, no source token, no Airflow secret
    assert not {"CCHC_PSEUDONYM_KEY", "CCHC_SOURCE_TOKEN", "AIRFLOW__API_AUTH__JWT_SECRET"} & set(env)
    assert "/health" in " ".join(api["healthcheck"]["test"]) and "8000" in " ".join(api["healthcheck"]["test"])
    assert api["ports"] == ["${CCHC_BIND_ADDRESS:-127.0.0.1}:${CCHC_API_PORT:-8000}:8000"]
    assert api["user"] == services["airflow-scheduler"]["user"] and api["image"] == "cchc:latest"


def test_ports_listen_on_loopback_unless_configured():
    services = load_compose()["services"]
    published = [(name, p) for name, s in services.items() for p in s.get("ports", [])]
    assert {name for name, _ in published} == {"postgres", "airflow-apiserver", "api"}
    for name, port in published:
        assert str(port).startswith("${CCHC_BIND_ADDRESS:-127.0.0.1}:"), (name, port)


def test_no_secret_has_a_default_and_every_service_waits_for_the_config_check():
    text = (ROOT / "docker-compose.yml").read_text()
    for name in SECRETS:
        uses = re.findall(r"\$\{" + name + r"([^}]*)\}", text)
        assert uses, name
        assert all(u.startswith(":?") for u in uses), f"{name} must be required (${{{name}:?...}}): {uses}"
    services = load_compose()["services"]
    check = services["config-check"]
    assert set(check["environment"]) == set(SECRETS)
    assert "check-config.sh" in " ".join(check["command"])
    for name in ("postgres", "simulator"):
        assert services[name]["depends_on"]["config-check"]["condition"] == "service_completed_successfully"
    # the Airflow services wait for airflow-init, which waits for postgres, which waits for the check
    assert services["airflow-init"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def run_check(**env) -> subprocess.CompletedProcess:
    return subprocess.run(["sh", str(ROOT / "deploy" / "check-config.sh"), str(ROOT / ".env.example")],
                          env={"PATH": os.environ["PATH"], **env}, capture_output=True, text=True, timeout=30)


def test_the_config_check_refuses_missing_placeholder_and_short_secrets():
    example = env_example()
    assert all(example[name].startswith("CHANGE-ME") for name in SECRETS)
    res = run_check(**{name: example[name] for name in SECRETS})  # .env copied, nothing changed
    assert res.returncode == 1
    for name in SECRETS:
        assert f"{name} is still the placeholder of .env.example" in res.stderr
    good = {name: f"{i}" * 32 for i, name in enumerate(SECRETS)}
    assert run_check(**good).returncode == 0
    res = run_check(**{**good, "AIRFLOW_JWT_SECRET": "short"})
    assert res.returncode == 1 and "AIRFLOW_JWT_SECRET is shorter than 16 characters" in res.stderr
    res = run_check(**{k: v for k, v in good.items() if k != "CCHC_PSEUDONYM_KEY"})
    assert res.returncode == 1 and "CCHC_PSEUDONYM_KEY is not set" in res.stderr


def test_the_simulator_stops_when_generation_fails_and_writes_a_volume_it_owns():
    services = load_compose()["services"]
    sim = services["simulator"]
    script = sim["command"]
    assert script[:2] == ["bash", "-euc"], "errors must stop the script (set -e)"
    assert "||" not in script[2], "a failed simulate must not fall through to serving"
    assert script[2].strip().splitlines()[-1].startswith("exec cchc serve-sources")
    assert sim["restart"].startswith("on-failure")
    assert "simdata:/data" in sim["volumes"]
    assert sim["user"] == services["airflow-scheduler"]["user"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    # the named volume starts with the ownership of the image's folder
    assert re.search(r"mkdir -p [^\n]*/data", dockerfile) and re.search(r"chown -R airflow:0 [^\n]*/data", dockerfile)


def test_every_variable_the_compose_file_uses_is_documented_in_env_example():
    text = (ROOT / "docker-compose.yml").read_text()
    used = set(re.findall(r"(?<!\$)\$\{([A-Z_]+)", text))
    example = set(env_example())
    assert used <= example, f"undocumented in .env.example: {sorted(used - example)}"


def test_dockerfile_installs_from_the_lock_file_and_the_context_leaves_out_state_and_secrets():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "requirements.lock" in dockerfile and "uv pip sync" in dockerfile
    assert (ROOT / "deploy" / "postgres-init").is_dir()
    ignored = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    for pattern in (".venv/", ".cchc/", ".env", ".git/", "**/__pycache__/", ".pytest_cache/",
                    "dbt_project/target/"):
        assert pattern in ignored, pattern
    assert "!.env.example" in ignored  # the config check compares against it


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose is not installed")
def test_docker_compose_accepts_the_file(tmp_path):
    for name in ("docker-compose.yml", ".env.example"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    res = subprocess.run(["docker-compose", "config", "-q"], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode != 0 and "set POSTGRES_PASSWORD in .env" in res.stderr  # no .env: refused
    (tmp_path / ".env").write_text("\n".join(f"{k}={'x' * 32}" for k in SECRETS) + "\n")
    res = subprocess.run(["docker-compose", "config"], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    resolved = yaml.safe_load(res.stdout)["services"]
    ports = resolved["airflow-apiserver"]["ports"][0]
    assert (ports.get("host_ip") if isinstance(ports, dict) else str(ports).split(":")[0]) == "127.0.0.1"
