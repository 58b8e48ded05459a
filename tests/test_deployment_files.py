"""The deployment files can't be run here (no Docker engine), so they are checked by reading them."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def load_compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_every_service_of_the_deployment():
    services = load_compose()["services"]
    assert set(services) >= {"postgres", "simulator", "airflow-init", "airflow-apiserver",
                             "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"}
    commands = {name: str(s.get("command", "")) for name, s in services.items()}
    assert "db migrate" in commands["airflow-init"]
    for name, cmd in (("airflow-apiserver", "api-server"), ("airflow-scheduler", "scheduler"),
                      ("airflow-dag-processor", "dag-processor"), ("airflow-triggerer", "triggerer")):
        assert cmd in commands[name]
        deps = services[name]["depends_on"]
        assert deps["postgres"]["condition"] == "service_healthy"
        assert deps["airflow-init"]["condition"] == "service_completed_successfully"
    assert "cchc.simulator.server" in commands["simulator"]


def test_compose_points_every_airflow_service_at_the_same_configuration():
    services = load_compose()["services"]
    envs = [services[n]["environment"] for n in services if n.startswith("airflow-")]
    for env in envs:
        assert env["CCHC_WAREHOUSE_URL"].startswith("postgresql://")
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg://")
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"].startswith("postgresql+psycopg://")
        assert env["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/cchc/dags"
        assert env["CCHC_SOURCE_URL"] == "http://simulator:8080"
        assert "JWT_SECRET" in " ".join(env)
    assert all(e == envs[0] for e in envs), "Airflow services must share one configuration"


def test_every_variable_the_compose_file_uses_is_documented_in_env_example():
    text = (ROOT / "docker-compose.yml").read_text()
    used = set(re.findall(r"\$\{([A-Z_]+)", text))
    example = {line.split("=", 1)[0] for line in (ROOT / ".env.example").read_text().splitlines()
               if line and not line.startswith("#")}
    assert used <= example, f"undocumented in .env.example: {sorted(used - example)}"


def test_dockerfile_installs_from_the_lock_file():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "requirements.lock" in dockerfile and "uv pip sync" in dockerfile
    assert (ROOT / "deploy" / "postgres-init").is_dir()
