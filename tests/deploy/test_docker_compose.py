"""The production compose file: what it runs, with what, and that tests/deploy/test_production_topology.py runs
the same (one env file, the same commands and health checks, only paths mapped).

No Docker here: what can be checked without it is checked against the image's recipe (Dockerfile,
requirements.lock, pyproject.toml) and the product's own derivations (vte.airflow_env, vte.dbt).
"""

import ast
import re
import shlex
import sys
from pathlib import Path

import pytest
import yaml

import deploy_topology as tp
from vte import airflow_env
from vte.config import PROJECT_ROOT, Settings

SERVICES = {"postgres", "airflow-api-server", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
            "intake", "console"}
VTE_IMAGE_SERVICES = SERVICES - {"postgres"} | {"airflow-init"}
CELERY_SERVICES = {"redis", "airflow-worker"}
COMPOSE_FILES = (tp.COMPOSE_FILE, tp.CELERY_COMPOSE_FILE)
# What python:3.11-slim-bookworm has on its PATH that a health check may call, besides the pip-installed
# console scripts of requirements.lock and pyproject.toml.
BASE_IMAGE_COMMANDS = {"python", "python3", "bash", "sh"}
# What the other images' health checks may call.
OTHER_IMAGE_COMMANDS = {"postgres": {"pg_isready"}, "redis": {"redis-cli"}}


def _compose() -> dict:
    return yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())


def _celery() -> dict:
    """docker-compose.yml with deploy/docker-compose.celery.yml merged (as the topology test merges them)."""
    return tp.compose(tp.CELERY_COMPOSE_FILE)


@pytest.fixture(scope="module")
def compose_env(tmp_path_factory) -> dict[str, str]:
    """deploy/production.env.example filled for compose's own topology, read as compose reads it."""
    fill_env = tp.fill_env_module()
    path = tmp_path_factory.mktemp("env") / "production.env"
    fill_env.write(path, fill_env.fill(tp.ENV_TEMPLATE.read_text()))
    return tp.read_env_file(path)


def test_every_service_is_defined_and_health_checked():
    services = _compose()["services"]
    assert SERVICES <= set(services)
    for name in SERVICES:
        assert "healthcheck" in services[name], f"{name} has no health check"
    assert services["airflow-init"]["restart"] == "no" and "healthcheck" not in services["airflow-init"]


def test_readme_mentions_every_service():
    readme = (PROJECT_ROOT / "README.md").read_text()
    for name in SERVICES:
        assert f"`{name}`" in readme, f"README does not mention {name}"


def test_intake_is_served_over_tls_only():
    intake = _compose()["services"]["intake"]
    command = intake["command"]
    assert "--tls-cert" in command and "--tls-key" in command
    assert all(str(port).endswith("8443") for port in intake["ports"])
    targets = {secret["target"] for secret in intake["secrets"]}
    assert {Path(command[command.index(option) + 1]).name for option in ("--tls-cert", "--tls-key")} <= targets


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_every_dollar_is_escaped_for_compose(path):
    """Compose interpolates `$NAME` in the compose file itself: a shell's `$` must be written `$$`."""
    assert "$" not in path.read_text().replace("$$", "")


def test_no_secret_literals():
    for name, service in _celery()["services"].items():
        for key, value in (service.get("environment") or {}).items():
            assert not re.search(r"PASSWORD|SECRET|FERNET|KEY$", key), f"{name} sets {key} as a literal"
        assert service.get("env_file") == "deploy/production.env"


# --- One env file for compose and the topology test ----------------------------------------------------

def test_compose_and_the_topology_test_read_one_env_file():
    for name, service in _celery()["services"].items():
        assert service["env_file"] == "deploy/production.env", name
    # the test fills the same template, with the same tool an operator uses
    assert tp.ENV_TEMPLATE == PROJECT_ROOT / "deploy" / "production.env.example"
    assert tp.FILL_ENV == PROJECT_ROOT / "deploy" / "fill_env.py"
    assert tp.COMPOSE_FILE == PROJECT_ROOT / "docker-compose.yml"
    ignored = (PROJECT_ROOT / ".gitignore").read_text().splitlines()
    assert "deploy/production.env" in ignored and "deploy/tls/" in ignored


def test_the_topology_test_adds_only_what_compose_sets_in_environment(tmp_path, compose_env):
    """A service process gets: a container's PATH and HOME, the image's ENV, the env file, compose's
    `environment:` (mapped). Nothing from the test's own environment."""
    machine = tp.Machine(tmp_path)
    env_file = tmp_path / "production.env"
    fill_env = tp.fill_env_module()
    fill_env.write(env_file, fill_env.fill(tp.ENV_TEMPLATE.read_text(), machine.topology()))
    topology = tp.Topology(machine, env_file)
    for name in VTE_IMAGE_SERVICES:
        env = topology.env(name)
        compose_keys = set(_compose()["services"][name].get("environment") or {})
        assert set(env) == (set(machine.base_env()) | {"HOSTNAME"} | set(tp.image_env()) | set(topology.file_env)
                            | compose_keys)
        assert set(topology.file_env) == set(compose_env)


def test_compose_environment_holds_only_paths_and_the_bind_address():
    for name, service in _compose()["services"].items():
        for key, value in (service.get("environment") or {}).items():
            assert str(value).startswith("/") or value == "0.0.0.0", f"{name}: {key}={value} belongs in the env file"
    # the scale-out override adds only the executor, and gives the workers the same paths as every service
    base = _compose()["x-vte-service"]["environment"]
    for name, service in yaml.safe_load(tp.CELERY_COMPOSE_FILE.read_text())["services"].items():
        environment = service.get("environment") or {}
        extra = {key: value for key, value in environment.items() if key not in base}
        assert extra in ({}, {"AIRFLOW__CORE__EXECUTOR": "CeleryExecutor"}), (name, extra)
        assert all(base[key] == value for key, value in environment.items() if key in base), name
    worker = _celery()["services"]["airflow-worker"]["environment"]
    assert set(base) - set(worker) == {"AIRFLOW__API__HOST"}  # a worker serves nothing


def test_the_template_fills_completely(compose_env):
    text = tp.ENV_TEMPLATE.read_text()
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            assert re.fullmatch(r"[A-Z][A-Z0-9_]*", key), line
            assert not re.search(r"[\"'$]| #", value), f"{key}: compose and dotenv must read it literally"
    assert not any(tp.fill_env_module().PLACEHOLDER.search(v) for v in compose_env.values())
    assert compose_env["VTE_DB_PASSWORD_MIGRATOR"] == compose_env["POSTGRES_PASSWORD"]
    passwords = [v for k, v in compose_env.items() if k.startswith("VTE_DB_PASSWORD_") and not k.endswith("MIGRATOR")]
    assert len(set(passwords)) == len(passwords) and compose_env["VTE_DB_PASSWORD_MIGRATOR"] not in passwords


def test_the_template_declares_every_component_password():
    from vte.access import roles

    keys = set(tp.read_env_file(tp.ENV_TEMPLATE))
    assert {roles.password_variable(role) for role in (*roles.COMPONENTS, roles.MIGRATOR)} <= keys


def test_the_env_file_equals_what_the_local_runner_derives(compose_env, monkeypatch):
    """vte.airflow_env (the local runner, `vte airflow`, `vte pipeline`) derives the Airflow and dbt
    settings from VTE_WAREHOUSE_URL; the containers run plain `airflow`, so the env file spells them out.
    They must agree, paths mapped, so that the containers run with what the tests run with."""
    for key in list(__import__("os").environ):
        if key.startswith(("VTE_", "AIRFLOW", "DBT_")):
            monkeypatch.delenv(key)
    for key, value in compose_env.items():
        monkeypatch.setenv(key, value)
    machine = tp.Machine(Path("/nonexistent-machine"), 1, 2, 3)
    settings = Settings(home=machine.vte_home, warehouse_url=compose_env["VTE_WAREHOUSE_URL"])
    derived = airflow_env.airflow_env(settings)
    service = _compose()["services"]["airflow-scheduler"]
    configured = compose_env | {key: machine.map(str(value)) for key, value in service["environment"].items()}
    differences = {key: (value, configured.get(key)) for key, value in derived.items()
                   if key != "PATH" and configured.get(key) != value}
    assert not differences, f"derived value, env file / compose value: {differences}"


# --- The health checks run in the image ------------------------------------------------------------------

def _installed_scripts() -> set[str]:
    """Console scripts the image's `pip install` provides: those of this virtual environment, which was
    installed from the same requirements.lock and pyproject.toml."""
    return {p.name for p in Path(sys.executable).parent.iterdir()}


@pytest.mark.parametrize("name", sorted(SERVICES | CELERY_SERVICES))
def test_every_health_check_command_exists_in_its_image(name):
    service = _celery()["services"][name]
    command = tp.healthcheck_command(service)
    if command[:2] == ["bash", "-c"]:
        command = shlex.split(command[2].split("|")[0])
    executable = command[0]
    assert executable not in {"curl", "wget", "nc"}, f"{name}: {executable} is not in the slim image"
    if name in OTHER_IMAGE_COMMANDS:
        assert executable in OTHER_IMAGE_COMMANDS[name]
        return
    assert service["image"] == "vte-warehouse:latest"
    assert executable in BASE_IMAGE_COMMANDS | {"airflow", "vte", "celery"}, f"{name}: {executable}"
    assert executable in BASE_IMAGE_COMMANDS or executable in _installed_scripts(), executable
    if executable.startswith("python") and command[1] == "-c":
        tree = ast.parse(command[2])  # it compiles, and imports only the standard library
        modules = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                   for alias in node.names}
        assert modules <= set(sys.stdlib_module_names), modules
    if executable == "airflow":
        assert "apache-airflow-core==" in (PROJECT_ROOT / "requirements.lock").read_text()
    if executable == "vte":
        assert 'vte = "vte.cli:main"' in (PROJECT_ROOT / "pyproject.toml").read_text()
    if executable == "celery":
        assert "celery==" in (PROJECT_ROOT / "requirements.lock").read_text()


def test_health_checks_speak_https_to_the_tls_services():
    services = _compose()["services"]
    for name in ("airflow-api-server", "intake", "console"):
        test = " ".join(services[name]["healthcheck"]["test"])
        assert "https://localhost:" in test and "http://" not in test


# --- TLS everywhere ----------------------------------------------------------------------------------------

def test_postgres_takes_hostssl_and_scram_only():
    postgres = _compose()["services"]["postgres"]
    options = [postgres["command"][i + 1] for i, arg in enumerate(postgres["command"]) if arg == "-c"]
    assert {"ssl=on", "password_encryption=scram-sha-256"} <= set(options)
    hba_option = next(o for o in options if o.startswith("hba_file="))
    mounted = {volume.split(":")[1]: volume.split(":")[0] for volume in postgres["volumes"] if volume.startswith("./")}
    hba = (PROJECT_ROOT / mounted[hba_option.partition("=")[2]]).read_text()
    rules = [line.split() for line in hba.splitlines() if line.strip() and not line.startswith("#")]
    for rule in rules:
        if rule[0] == "local":
            assert rule[1:] == ["all", "postgres", "peer"], rule  # the image's own init scripts, on its socket
        else:
            assert rule[0] == "hostssl" and rule[-1] == "scram-sha-256", rule
    assert any(rule[0] == "hostssl" for rule in rules)


def test_every_connection_string_asks_for_verified_tls(compose_env):
    urls = ("VTE_WAREHOUSE_URL", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC")
    for key in urls:
        assert "sslmode=verify-full" in compose_env[key] and "sslrootcert=/run/secrets/ca.crt" in compose_env[key]
    # Airflow's own async URL would be postgresql+asyncpg://, whose driver refuses sslmode and sslrootcert
    sync = compose_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    async_ = compose_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"]
    assert async_.startswith("postgresql+psycopg://")
    assert async_.partition("://")[2] == sync.partition("://")[2]
    assert compose_env["VTE_DBT_SSLMODE"] == "verify-full"
    assert compose_env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].startswith("https://airflow-api-server:8080/")


def test_airflow_serves_tls_with_certificates_given_as_secrets(compose_env):
    services = _celery()["services"]
    mounted = {name: {f"/run/secrets/{s['target']}" for s in service.get("secrets", [])}
               for name, service in services.items()}
    api = ("AIRFLOW__API__SSL_CERT", "AIRFLOW__API__SSL_KEY", "AIRFLOW__API__SSL_CA_FILE")
    assert {compose_env[key] for key in api} <= mounted["airflow-api-server"]
    # every Airflow process runs task or trigger code that calls the execution API: it trusts the
    # api-server's certificate (the task SDK loads [api] ssl_cert) and the CA
    for name in ("airflow-init", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer", "airflow-worker"):
        assert {compose_env["AIRFLOW__API__SSL_CERT"], compose_env["AIRFLOW__API__SSL_CA_FILE"]} <= mounted[name]
    assert "8080:8080" in services["airflow-api-server"]["ports"]
    for name in VTE_IMAGE_SERVICES:
        assert "/run/secrets/ca.crt" in mounted[name], name
    for secret in _celery()["secrets"].values():
        assert secret["file"].startswith("deploy/tls/")


def test_the_topology_test_maps_every_path_of_the_compose_file(tmp_path):
    machine = tp.Machine(tmp_path)
    for name, service in _celery()["services"].items():
        strings = [*tp.compose_command(service.get("command") or []),
                   *(tp.healthcheck_command(service) if "healthcheck" in service else []),
                   *(str(v) for v in (service.get("environment") or {}).values())]
        for text in strings:
            mapped = machine.map(text)
            assert not re.search(r"/run/secrets|/var/lib/(vte|postgresql)|/opt/vte|/etc/vte", mapped), (name, mapped)


def test_redis_takes_tls_and_a_password_only(compose_env):
    redis = _celery()["services"]["redis"]
    command = " ".join(redis["command"])
    for option in ("--port 0", "--tls-port 6379", "--tls-cert-file /run/secrets/redis.crt",
                   "--tls-key-file /run/secrets/redis.key", '--requirepass "$REDISCLI_AUTH"'):
        assert option in command, option
    assert {s["target"] for s in redis["secrets"]} == {"ca.crt", "redis.crt", "redis.key"}
    assert compose_env["AIRFLOW__CELERY__BROKER_URL"] == f"rediss://:{compose_env['REDISCLI_AUTH']}@redis:6379/0"
    assert compose_env["AIRFLOW__CELERY__SSL_ACTIVE"] == "True"
    assert compose_env["AIRFLOW__CELERY__SSL_CACERT"] == "/run/secrets/ca.crt"
    assert _celery()["services"]["airflow-worker"]["deploy"]["replicas"] >= 2
