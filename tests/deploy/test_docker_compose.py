"""The production compose file parses, names every service the README mentions, and keeps secrets out."""

import re

import yaml

from vte.config import PROJECT_ROOT

SERVICES = {"postgres", "airflow-api-server", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
            "intake"}


def _compose() -> dict:
    return yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())


def test_every_service_is_defined_and_health_checked():
    services = _compose()["services"]
    assert SERVICES <= set(services)
    for name in SERVICES:
        assert "healthcheck" in services[name], f"{name} has no health check"


def test_readme_mentions_every_service():
    readme = (PROJECT_ROOT / "README.md").read_text()
    for name in SERVICES:
        assert f"`{name}`" in readme, f"README does not mention {name}"


def test_intake_is_served_over_tls_only():
    intake = _compose()["services"]["intake"]
    command = intake["command"]
    assert "--tls-cert" in command and "--tls-key" in command
    assert all(str(port).endswith("8443") for port in intake["ports"])


def test_no_secret_literals():
    compose = _compose()
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            assert not re.search(r"PASSWORD|SECRET|FERNET|KEY$", key), f"{name} sets {key} as a literal"
        assert service.get("env_file") == "deploy/production.env"
