"""Shared fixtures: one real embedded PostgreSQL for the whole session, under a throw-away VTE_HOME."""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest

from vte import client, generator, pipeline, registry, stack, warehouse
from vte.config import Settings, get_settings
from vte.excel.template import filled_workbook
from vte.quality import roster

# Tests run the real `vte`, `dbt` and `airflow` commands of this virtual environment.
os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")


@pytest.fixture(scope="session")
def vte_home(tmp_path_factory) -> Path:
    """A fresh VTE_HOME for the session (set in the environment so subprocesses inherit it)."""
    home = tmp_path_factory.mktemp("vte")
    previous = os.environ.get("VTE_HOME")
    os.environ["VTE_HOME"] = str(home)
    yield home
    if previous is None:
        os.environ.pop("VTE_HOME", None)
    else:
        os.environ["VTE_HOME"] = previous


@pytest.fixture(scope="session")
def warehouse_url(vte_home) -> str:
    """The running warehouse, schema applied and the bundled regions loaded."""
    yield warehouse.start()
    warehouse.stop()


@pytest.fixture
def db(warehouse_url) -> psycopg.Connection:
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="session")
def settings(vte_home):
    return get_settings()


# --- The whole product once: generator data over real HTTP (JSON and Excel) → `vte pipeline run` ---------

E2E_START, E2E_END = date(2025, 9, 1), date(2026, 10, 31)
E2E_INSTITUTIONS, E2E_SEED = 6, 20251
E2E_EXCEL_DAYS = 10  # the first institution reports its last days through the Excel upload
# One institution has a roster: every department it reports, expected from the start, and a declared department
# it never reports, expected from the phantom's date on (missing from then on, never read as zero).
ROSTER_INSTITUTION = 2
PHANTOM_DEPARTMENT = ("9901", "康复医学科", date(2026, 3, 10))
INTAKE_ENV = {"VTE_INTAKE_RATE": "10000", "VTE_INTAKE_BURST": "10000", "VTE_INTAKE_ACCOUNTS_REFRESH": "1"}


@dataclass
class PublishedPipeline:
    settings: Settings
    institutions: list
    start: date
    end: date
    credentials: dict  # institution code -> registry.Credentials
    intake_url: str
    accepted: dict = field(default_factory=dict)  # (institution code, date) -> data rows of the newest version
    refused: int = 0
    excel_dates: list = field(default_factory=list)
    sandbox: SandboxTraffic | None = None
    roster_code: str | None = None  # the institution with a roster (ROSTER_INSTITUTION)
    phantom_department: tuple = PHANTOM_DEPARTMENT  # on its roster, never reported: (code, name, expected from)


@dataclass
class SandboxTraffic:
    """What test accounts sent to the same intake during the run: none of it may reach the warehouse."""
    credentials: dict  # institution code -> test registry.Credentials
    registered_code: str  # a registered institution trying the sandbox too
    sandbox_only_code: str  # given test credentials only: not registered
    missing_day: str  # the registered one's production report was refused that day; the sandbox sent one
    reported_day: str  # the registered one reported that day; the sandbox sent other counts
    sent: list = field(default_factory=list)  # (institution code, report date, channel, answer)


@pytest.fixture(scope="session")
def published_pipeline(warehouse_url, tmp_path_factory) -> PublishedPipeline:
    """A warehouse of its own (no other test writes to it), filled through the real interfaces and published.

    Tests that read it run with ``in_published_home`` so that the product's commands find it.
    """
    settings = Settings(home=tmp_path_factory.mktemp("published"), warehouse_url=None)
    with psycopg.connect(warehouse.start(settings), autocommit=True) as conn:
        institutions = generator.synthetic_institutions(E2E_INSTITUTIONS, E2E_SEED, E2E_START)
        credentials = generator.register_institutions(conn, institutions, settings)
        test_credentials = {code: registry.create_test_account(conn, code, name, settings) for code, name in (
            (institutions[1].code, None), (SANDBOX_ONLY_CODE, "沙箱测试医院"))}
        roster_code = _declare_roster(conn, institutions[ROSTER_INSTITUTION])
    intake, intake_url = stack.start_intake(settings, extra_env=INTAKE_ENV)
    result = PublishedPipeline(settings, institutions, E2E_START, E2E_END, credentials, intake_url,
                               roster_code=roster_code)
    try:
        _submit_through_the_interfaces(result)
        _submit_sandbox_traffic(result, test_credentials)
        assert pipeline.run_once(settings), "vte pipeline run failed: see the output above"
        yield result
    finally:
        intake.terminate()
        intake.wait(timeout=30)
        warehouse.stop(settings)


def _declare_roster(conn: psycopg.Connection, institution) -> str:
    units = generator.department_units(institution)
    for campus, department in units:
        roster.add(conn, institution.code, campus, department, E2E_START, "declared by the hospital")
    code, name, since = PHANTOM_DEPARTMENT
    roster.add(conn, institution.code, units[0][0], code, since, "opened, not reporting yet", name=name)
    return institution.code


def _submit_through_the_interfaces(result: PublishedPipeline) -> None:
    defects = generator.Defects(refusable=0.02, quarantine=0.01, warning=0.02)
    submissions = list(generator.iter_submissions(result.institutions, result.start, result.end, E2E_SEED, defects))
    excel_code = result.institutions[0].code
    excel_from = (result.end - timedelta(days=E2E_EXCEL_DAYS - 1)).isoformat()
    by_excel = [s for s in submissions if s.institution_code == excel_code and s.date >= excel_from
                and not (s.defect or "").startswith("refusable")]
    by_json = [s for s in submissions if s not in by_excel]

    def send(sub):
        creds = result.credentials[sub.institution_code]
        return sub, client.submit(result.intake_url, creds.access_key, creds.access_secret,
                                  {"date": sub.date, "data": sub.data})

    with ThreadPoolExecutor(max_workers=4) as pool:
        for sub, answer in pool.map(send, by_json):
            if answer["code"] == 0:
                result.accepted[(sub.institution_code, sub.date)] = sub.data
            else:
                result.refused += 1

    payloads = [{"date": s.date, "data": s.data} for s in by_excel]
    creds = result.credentials[excel_code]
    answer = client.upload(result.intake_url, creds.access_key, creds.access_secret, "last-days.xlsx",
                           filled_workbook(payloads))
    assert answer["code"] == 0, answer
    for payload in payloads:
        result.accepted[(excel_code, payload["date"])] = payload["data"]
    result.excel_dates = [p["date"] for p in payloads]


SANDBOX_ONLY_CODE = "SBX0001"


def _submit_sandbox_traffic(result: PublishedPipeline, test_credentials: dict) -> None:
    """Both test accounts send, through the same endpoints, a passing report for the day the registered
    institution's production report was refused, other counts with a quarantine break for a day it reported, and
    a malformed report; the sandbox-only one also uploads a workbook (tests/e2e/test_sandbox_isolation.py)."""
    (registered,) = [i for i in result.institutions if i.code in test_credentials]
    code = registered.code
    days = [(registered.joined_on + timedelta(days=n)).isoformat()
            for n in range((date(2025, 12, 31) - registered.joined_on).days + 1)]
    missing = next(d for d in days if (code, d) not in result.accepted)
    reported = next(d for d in days if d[:7] == missing[:7] and (code, d) in result.accepted)
    day = date.fromisoformat(missing)
    (clean,) = generator.iter_submissions([registered], day, day, E2E_SEED)
    doubled = [{k: v * 2 if isinstance(v, int) else v for k, v in r.items()} for r in result.accepted[(code, reported)]]
    doubled[0]["riskAssessment"] = doubled[0]["dischargeHospitalNodaily"] + 1  # quarantine: Q.B.1.1
    traffic = SandboxTraffic(test_credentials, code, SANDBOX_ONLY_CODE, missing, reported)
    for inst_code, creds in test_credentials.items():
        for report_date, rows in ((missing, clean.data), (reported, doubled), (missing, [])):
            answer = client.submit(result.intake_url, creds.access_key, creds.access_secret,
                                   {"date": report_date, "data": rows})
            assert (answer["code"] == 0) == bool(rows), answer
            traffic.sent.append((inst_code, report_date, "api", answer))
    creds = test_credentials[SANDBOX_ONLY_CODE]
    before = (day - timedelta(days=1)).isoformat()  # a day of its own: the same content again is the same version
    answer = client.upload(result.intake_url, creds.access_key, creds.access_secret, "sandbox.xlsx",
                           filled_workbook([{"date": before, "data": clean.data}]))
    assert answer["code"] == 0 and answer["data"]["sandbox"] is True, answer
    traffic.sent.append((SANDBOX_ONLY_CODE, before, "excel", answer))
    result.sandbox = traffic


@pytest.fixture
def in_published_home(published_pipeline, monkeypatch) -> PublishedPipeline:
    """Run the test against the published pipeline's VTE_HOME (its warehouse, landing zone, exports)."""
    monkeypatch.setenv("VTE_HOME", str(published_pipeline.settings.home))
    return published_pipeline



# Under pytest-xdist (`make test` runs two workers) a folder's tests run whole on one worker, so the session
# worlds they share are built once; the folders that read the published pipeline's world (published_pipeline
# above) count as one, while the province worlds of e2e/test_publication_worlds.py (each its own warehouse) are
# a unit of their own. (xdist's own --dist loadgroup cannot regroup tests under pytest 9.)
_SHARED_WORLDS = {"e2e": "published", "extracts": "published", "console": "published",
                  "e2e/test_publication_worlds": "worlds"}
# The longest units first, each worker starting one: the published world on one; on the other the dbt folder,
# which must come before the folders whose worlds its independent computations do not model (they read the
# whole session warehouse, tests/dbt/indicator_oracle.py), as in a serial run, then the province worlds.
_FIRST = ("published", "dbt", "worlds", "exchange")


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook: plain `pytest` runs without the plugin too
def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class FolderScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::")[0].removeprefix("tests/").removesuffix(".py")  # <folder>/<module> or <file>
            return _SHARED_WORLDS.get(path) or _SHARED_WORLDS.get(path.split("/")[0]) or path.split("/")[0]

        def _assign_work_unit(self, node) -> None:
            for scope in reversed(_FIRST):
                if scope in self.workqueue:
                    self.workqueue.move_to_end(scope, last=False)
            super()._assign_work_unit(node)

    return FolderScheduling(config, log)
