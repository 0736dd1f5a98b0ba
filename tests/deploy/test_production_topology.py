"""The production topology of docker-compose.yml, really run: every service a separate process, configured
from one filled copy of deploy/production.env.example, every connection TLS.

PostgreSQL (Debian's server, TCP + TLS + SCRAM only) → the one-shot init (`vte warehouse start`, `airflow db
migrate`) → `airflow api-server` (HTTPS), `scheduler`, `dag-processor`, `triggerer` and the intake service
(HTTPS) → three hospitals registered with `vte accounts`, their signed reports submitted over HTTPS → the
ingest DAG triggered through Airflow's REST API over HTTPS → the *scheduler* runs ingest, then the transform
DAG on the asset ingest updates (dbt through cosmos, the gate, publish) → the publication and the indicator
values read back over verified TLS. See tests/deploy/deploy_topology.py for how the compose file is mapped.

Every test runs twice: docker-compose.yml alone (LocalExecutor), then with deploy/docker-compose.celery.yml merged
(CeleryExecutor, Redis over TLS with a password, two workers, each of which must run transform tasks).
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import pytest

from vte import client, domain, generator
from vte.config import PROJECT_ROOT

import deploy_topology as tp

pytestmark = [
    pytest.mark.slow,
    pytest.mark.production,  # `make test-production` (CI runs it after `make test`)
    pytest.mark.skipif(tp.postgres_bin() is None,
                       reason="Debian's PostgreSQL server is missing: apt-get install -y postgresql (make test does)"),
]

AIRFLOW_SERVICES = ("airflow-api-server", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer")
SERVICES = ("airflow-init", *AIRFLOW_SERVICES, "intake", "console")
# docker-compose.yml alone (LocalExecutor), and with deploy/docker-compose.celery.yml (Redis, two Celery workers)
TOPOLOGIES = {"local": ((), SERVICES), "celery": ((tp.CELERY_COMPOSE_FILE,), (*SERVICES, "redis", "airflow-worker"))}
INSTITUTIONS, DAYS, SEED = 3, 3, 20261127
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "production-topology"

# The only way into PostgreSQL here: TLS and a SCRAM password, from this host.
PG_HBA = "hostssl all all 127.0.0.1/32 scram-sha-256\n"


@dataclass
class Production:
    kind: str  # a key of TOPOLOGIES
    machine: tp.Machine
    topology: tp.Topology
    postgres: tp.PostgresServer
    env: dict  # the filled env file
    started_in: float
    credentials: dict = field(default_factory=dict)  # institution code -> {"accessKey", "accessSecret"}

    @property
    def intake_url(self) -> str:
        return f"https://localhost:{self.machine.intake_port}"

    @property
    def console_url(self) -> str:
        return f"https://localhost:{self.machine.console_port}"

    @property
    def airflow_url(self) -> str:
        return f"https://localhost:{self.machine.airflow_api_port}"

    def db(self, database: str | None = None) -> psycopg.Connection:
        """The migrator's connection, exactly as the env file's URL asks (verify-full against the test CA)."""
        return psycopg.connect(self.postgres.superuser_url(database), autocommit=True, connect_timeout=10)

    def vte(self, *args: str) -> subprocess.CompletedProcess:
        """`vte …` as an operator runs it in a service's container (`docker compose run --rm intake vte …`)."""
        return subprocess.run(["vte", *args], env=self.topology.env("intake"), cwd=PROJECT_ROOT,
                              capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module", params=sorted(TOPOLOGIES))
def production(request):
    """One topology at a time (pytest finishes every test of one before it sets up the other)."""
    kind = request.param
    overrides, services = TOPOLOGIES[kind]
    if kind == "celery" and shutil.which("redis-server") is None:
        pytest.skip("Debian's Redis is missing: apt-get install -y redis-server (make test does)")
    began = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="vte-topology-"))
    root.chmod(0o711)  # PostgreSQL's own user reaches its directory and its certificate inside
    machine = tp.Machine(root)
    for directory in (machine.logs, machine.home, machine.vte_home):
        directory.mkdir(parents=True)
    tp.make_certificates(machine.secrets_dir)
    machine.secrets_dir.chmod(0o755)
    (machine.secrets_dir / "postgres.crt").chmod(0o644)

    fill_env = tp.fill_env_module()
    env_path = root / "production.env"
    fill_env.write(env_path, fill_env.fill(tp.ENV_TEMPLATE.read_text(), machine.topology()))

    topology = tp.Topology(machine, env_path, *overrides)
    postgres = tp.PostgresServer(machine, topology.file_env, topology.compose["services"]["postgres"])
    try:
        postgres.start(PG_HBA)
        topology.up(services, already_healthy={"postgres"}, timeout=300)
        yield Production(kind, machine, topology, postgres, topology.file_env, time.monotonic() - began)
    finally:
        topology.stop()
        postgres.stop()
        _keep_logs(machine, ARTIFACTS / kind)
        shutil.rmtree(root, ignore_errors=True)


def _keep_logs(machine: tp.Machine, artifacts: Path) -> None:
    """The services' logs (and PostgreSQL's) stay in test-artifacts/ for a failed run's post-mortem."""
    shutil.rmtree(artifacts, ignore_errors=True)
    artifacts.mkdir(parents=True, exist_ok=True)
    for log in [*machine.logs.glob("*.log"), machine.postgres_dir / "server.log"]:
        if log.exists():
            shutil.copyfile(log, artifacts / log.name)
    task_logs = machine.vte_home / "logs" / "airflow"
    if task_logs.exists():
        shutil.copytree(task_logs, artifacts / "airflow-task-logs", dirs_exist_ok=True)


# --- Airflow's REST API, over HTTPS -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def airflow_api(production) -> httpx.Client:
    """A REST client of the api-server, trusting only the deployment's CA, logged in as the admin user
    (closed before the services stop: uvicorn waits for open connections)."""
    passwords = production.machine.vte_home / "airflow" / "simple_auth_manager_passwords.json.generated"
    password = json.loads(passwords.read_text())["admin"]
    with httpx.Client(base_url=production.airflow_url, verify=str(production.machine.ca), timeout=30) as http:
        answer = http.post("/auth/token", json={"username": "admin", "password": password})
        assert answer.status_code == 201, answer.text
        http.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
        yield http


def _wait_for(predicate, timeout: float, what: str, production: Production, interval: float = 3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, service in production.topology.services.items():
            if service.proc.poll() is not None:
                pytest.fail(f"{name} exited with {service.proc.returncode} while waiting for {what}:\n"
                            f"{service.tail()}")
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    pytest.fail(f"no {what} within {timeout:.0f} s\n{tp.tails(production.topology)}")


def _dag_runs(http: httpx.Client, dag_id: str) -> list[dict]:
    answer = http.get(f"/api/v2/dags/{dag_id}/dagRuns", params={"order_by": "-run_after", "limit": 20})
    answer.raise_for_status()
    return answer.json()["dag_runs"]


def _failed_tasks(http: httpx.Client, dag_id: str, run_id: str) -> list[str]:
    answer = http.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 200})
    answer.raise_for_status()
    return [f"{ti['task_id']}: {ti['state']}" for ti in answer.json()["task_instances"]
            if ti["state"] in ("failed", "upstream_failed")]


# --- The tests ----------------------------------------------------------------------------------------------

def test_every_service_is_healthy_by_its_compose_health_check(production):
    for name in production.topology.services:
        ok, output = production.topology.healthy(name)
        assert ok, f"{name}: {output}"
    # postgres's own check (pg_isready) too, against the server of this machine
    postgres = production.topology.compose["services"]["postgres"]
    check = [production.machine.map(arg) for arg in tp.healthcheck_command(postgres)]
    assert subprocess.run(check, capture_output=True).returncode == 0, check


def test_postgres_takes_tls_and_scram_only(production):
    url = production.postgres.superuser_url()
    parts = urlsplit(url)
    with production.db() as conn:
        assert conn.execute("select ssl from pg_stat_ssl where pid = pg_backend_pid()").fetchone() == (True,)
        assert conn.execute("show password_encryption").fetchone() == ("scram-sha-256",)
        # every role `vte warehouse start` gave a password holds a SCRAM verifier, never md5 or plain text
        verifiers = conn.execute("select rolname, rolpassword from pg_authid where rolpassword is not null").fetchall()
        assert verifiers and all(v.startswith("SCRAM-SHA-256$") for _, v in verifiers), [r for r, _ in verifiers]
        rules = conn.execute("select type, auth_method from pg_hba_file_rules").fetchall()
        assert rules == [("hostssl", "scram-sha-256")]
    plain = urlunsplit(parts._replace(query="sslmode=disable"))
    with pytest.raises(psycopg.OperationalError, match="no pg_hba.conf entry"):
        psycopg.connect(plain, connect_timeout=10)
    wrong = urlunsplit(parts._replace(netloc=f"{parts.username}:wrong@{parts.hostname}:{parts.port}"))
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong, connect_timeout=10)
    # verify-full: the certificate must name the host the client asked for (here a name it does not hold,
    # at the server's address)
    other_name = urlunsplit(parts._replace(
        netloc=f"{parts.username}:{parts.password}@warehouse.invalid:{parts.port}",
        query=f"{parts.query}&hostaddr=127.0.0.1"))
    with pytest.raises(psycopg.OperationalError, match="does not match host name"):
        psycopg.connect(other_name, connect_timeout=10)


def test_airflow_intake_and_console_serve_https_only(production):
    for url in (production.airflow_url, production.intake_url, production.console_url):
        plain = url.replace("https://", "http://")
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"{plain}/", timeout=10)
        # a client that trusts only public CAs refuses them: the certificates are the deployment's own
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{url}/", timeout=10)
    assert httpx.get(f"{production.airflow_url}/api/v2/monitor/health", verify=str(production.machine.ca),
                     timeout=10).json()["metadatabase"]["status"] == "healthy"
    # the console reaches the warehouse as vte_console, over TLS with its own password
    assert httpx.get(f"{production.console_url}/readyz", verify=str(production.machine.ca), timeout=10).status_code \
        == 200


def test_redis_takes_tls_and_its_password_only(production):
    if production.kind != "celery":
        pytest.skip("Redis belongs to the Celery topology")
    import redis

    port, password = production.machine.redis_port, production.env["REDISCLI_AUTH"]
    verified = {"host": "localhost", "port": port, "ssl": True, "ssl_ca_certs": str(production.machine.ca),
                "socket_timeout": 10}
    assert redis.Redis(**verified, password=password).ping()
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(**verified, password="wrong").ping()
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(**verified).ping()
    with pytest.raises(redis.ConnectionError):  # plain TCP: the TLS port does not speak it
        redis.Redis(host="localhost", port=port, password=password, socket_timeout=10).ping()


def test_reports_over_https_are_published_by_the_scheduler(production, airflow_api):
    began = time.monotonic()
    end = date.today() - timedelta(days=1)
    start = end - timedelta(days=DAYS - 1)
    # every hospital joins on the first day: a small world with no gaps for the gate to hold out
    institutions = [dataclasses.replace(inst, joined_on=start)
                    for inst in generator.synthetic_institutions(INSTITUTIONS, SEED, start)]

    # 1. The operator registers the hospitals (vte accounts, as vte_admin over TLS).
    for inst in institutions:
        args = ["accounts", "create", "--institution-code", inst.code, "--name", inst.name, "--region-code",
                inst.county_code, "--level", inst.level, "--joined-on", inst.joined_on.isoformat(), "--json",
                "--override-sandbox", "--reason", "production topology test: no sandbox round"]
        if inst.community:
            args += ["--community", inst.community]
        proc = production.vte(*args)
        assert proc.returncode == 0, proc.stderr
        production.credentials[inst.code] = json.loads(proc.stdout.strip().splitlines()[-1])

    # 2. The hospitals submit their signed daily reports over HTTPS (the deployment's CA, nothing else).
    accepted = {}
    for sub in generator.iter_submissions(institutions, start, end, SEED):
        creds = production.credentials[sub.institution_code]
        answer = client.submit(production.intake_url, creds["accessKey"], creds["accessSecret"],
                               {"date": sub.date, "data": sub.data}, verify=production.machine.ca)
        assert answer["code"] == 0, answer
        accepted[(sub.institution_code, sub.date)] = sub.data
    assert len(accepted) == INSTITUTIONS * DAYS
    expected = _province_months(accepted)

    # 3. A data engineer triggers the ingest through the REST API, once the DAG processor has both DAGs.
    http = airflow_api

    def dags_ready():
        dags = [http.get(f"/api/v2/dags/{dag_id}") for dag_id in ("vte_ingest", "vte_transform")]
        return all(answer.status_code == 200 and not answer.json()["is_paused"] for answer in dags)

    _wait_for(dags_ready, 240, "parsed and unpaused vte_ingest and vte_transform", production)
    answer = http.post("/api/v2/dags/vte_ingest/dagRuns", json={"logical_date": None})
    assert answer.status_code == 200, answer.text
    ingest_run = answer.json()["dag_run_id"]

    # 4. The scheduler runs it, and on the asset it updates the transform: dbt (cosmos), gate, publish.
    # (The `wait` endpoint streams the run's state; it reads through Airflow's async database engine.)
    with http.stream("GET", f"/api/v2/dags/vte_ingest/dagRuns/{ingest_run}/wait",
                     params={"interval": 2, "result": "load_landing_zone"}, timeout=300) as answer:
        assert answer.status_code == 200, answer.read()
        states = [json.loads(line) for line in answer.iter_lines() if line.strip()]
    if not states:
        pytest.fail("the wait endpoint streamed nothing (Airflow's async metadata URL?):\n"
                    f"{production.topology.services['airflow-api-server'].tail()}")
    if states[-1]["state"] != "success":
        pytest.fail(f"vte_ingest: {states[-1]}: {_failed_tasks(http, 'vte_ingest', ingest_run)}")

    # The five-minute schedule may have loaded part of the reports first and published them: wait for the
    # publication that holds them all.
    def published_everything():
        runs = _dag_runs(http, "vte_transform")
        for run in runs:
            if run["state"] == "failed":
                with production.db() as conn:
                    alerts = conn.execute("select message from ops.alerts where run_id = %s",
                                          (run["dag_run_id"],)).fetchall()
                pytest.fail(f"vte_transform {run['dag_run_id']} failed: "
                            f"{_failed_tasks(http, 'vte_transform', run['dag_run_id'])}; alerts: {alerts}")
        if not runs or any(run["state"] != "success" for run in runs):
            return None
        with production.db() as conn:
            publication = conn.execute("select publication_id, run_id from ops.publications where success"
                                       " order by publication_id desc limit 1").fetchone()
            if publication is None or _published_province_months(conn, expected) != expected:
                return None
        return publication

    publication_id, run_id = _wait_for(published_everything, 900, "publication of every report", production,
                                       interval=5)
    transform = next(r for r in _dag_runs(http, "vte_transform") if r["dag_run_id"] == run_id)
    assert transform["run_type"] == "asset_triggered", transform  # the scheduler's, not dag.test()'s

    # 5. Every connection to the warehouse server is TLS: the migrator's here, Airflow's and its tasks'.
    with production.db() as conn:
        assert conn.execute("select ssl from pg_stat_ssl where pid = pg_backend_pid()").fetchone() == (True,)
        plain = conn.execute("select count(*) from pg_stat_activity a join pg_stat_ssl s using (pid)"
                             " where a.backend_type = 'client backend' and not s.ssl").fetchone()[0]
        users = {row[0] for row in conn.execute(
            "select distinct usename from pg_stat_activity where backend_type = 'client backend'")}
    assert plain == 0
    assert "vte_airflow" in users, users  # Airflow's metadata connections use its own role
    if production.kind == "celery":  # the transform's tasks ran on both Celery workers, none in the scheduler
        for worker in production.topology.containers("airflow-worker"):
            log = production.topology.services[worker].log.read_text(errors="replace")
            assert re.search(r"Executing workload in Celery: dag_rel_path=\S*'vte_transform\.py'", log), worker
    print(f"\nproduction topology: services up in {production.started_in:.0f} s, "
          f"reports to publication {publication_id} in {time.monotonic() - began:.0f} s")


def _province_months(accepted: dict) -> dict:
    """(month, indicator) -> (Σ numerator, Σ denominator) of the accepted rows that pass the quarantine rules:
    what marts.fct_indicator_values must hold for the province, computed here, sharing nothing with dbt."""
    sums = defaultdict(lambda: [0, 0])
    quarantine = [rule for rule in domain.rules() if rule.severity == "quarantine"]
    for (_, day), rows in accepted.items():
        month = date.fromisoformat(day).replace(day=1)
        for row in rows:
            if any(row[rule.lesser] > row[rule.greater] for rule in quarantine):
                continue
            for indicator in domain.indicators():
                sums[(month, indicator.indicator_id)][0] += row[indicator.numerator]
                sums[(month, indicator.indicator_id)][1] += row[indicator.denominator]
    return {key: tuple(value) for key, value in sums.items()}


def _published_province_months(conn: psycopg.Connection, expected: dict) -> dict:
    """An analyst's query, over verified TLS: the province's monthly values of the months expected."""
    try:
        rows = conn.execute("select period_start, indicator_id, numerator, denominator"
                            " from marts.fct_indicator_values where level = 'province' and period_type = 'month'"
                            " and period_start = any(%s)", (sorted({month for month, _ in expected}),)).fetchall()
    except psycopg.errors.UndefinedTable:
        return {}
    return {(row[0], row[1]): (row[2], row[3]) for row in rows if (row[0], row[1]) in expected}
