"""The sandbox (HQMS's test system): test credentials against the same endpoints, the same answers, kept apart;
production credentials only after a sandbox submission passed, or an audited override."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest
import yaml
from intake_support import payload, row

from vte import client, ingest, registry, sandbox, warehouse
from vte.access import roles
from vte.config import DBT_PROJECT_DIR, PROJECT_ROOT
from vte.excel.template import filled_workbook
from vte.intake import audit
from vte.landing import LandingZone


def new_code() -> str:
    return "S" + uuid.uuid4().hex[:10]


def _answers_without_ids(answer: dict) -> dict:
    data = {k: v for k, v in (answer.get("data") or {}).items()
            if k not in ("requestId", "submissionId", "receivedAt", "sandbox")}
    return {"code": answer["code"], "message": answer["message"], "data": data}


def _documents(root: Path, code: str) -> list[Path]:
    return sorted((root / code).rglob("v*.json")) if (root / code).exists() else []


def _audit_lines(directory: Path) -> list[dict]:
    return [json.loads(line) for path in sorted(directory.glob("*.jsonl")) for line in path.read_text().splitlines()]


@pytest.fixture
def production(db) -> registry.Credentials:
    return registry.register(db, code=new_code(), name="正式医院", level="二级", county_code="330328",
                             joined_on=payload(days_ago=30)["date"])


@pytest.fixture
def test_account(db) -> registry.Credentials:
    """Test credentials of an institution that is not registered yet."""
    return registry.create_test_account(db, new_code(), "沙箱医院")


def test_a_test_account_gets_the_same_answers_as_production(intake, production, test_account, settings):
    warning = row(dept="心内科", newPe=2, newDvtAndPe=0, hospitalVte=2, newDvt=0)  # W.11-style breaks only
    quarantine = row(dept="ICU", medicine=999)
    bad = {**payload(), "data": [row(), {**row(dept="儿科"), "medicine": -1}]}
    cases = [(payload(rows=[row(), warning]), {}), (payload(days_ago=2, rows=[quarantine]), {}), (bad, {}),
             (payload(days_ago=3), {"dry_run": True})]
    for body, options in cases:
        real = intake.submit(production, body, **options).json()
        tried = intake.submit(test_account, body, **options).json()
        assert _answers_without_ids(tried) == _answers_without_ids(real)
        assert tried["data"].get("sandbox") is (True if tried["code"] == 0 and not options else None)

    assert test_account.access_key.startswith("tk")
    sandbox_root, code = sandbox.landing_root(settings), test_account.institution_code
    assert len(_documents(sandbox_root, code)) == 2  # the two accepted, stored; the refused and the dry run not
    assert _documents(settings.landing_dir, code) == []


def test_excel_uploads_and_the_upload_page_of_a_test_account_land_in_the_sandbox(intake, test_account, settings):
    workbook = filled_workbook([payload(days_ago=4), payload(days_ago=5)])
    answer = client.upload(intake.url, test_account.access_key, test_account.access_secret, "test.xlsx", workbook)
    assert answer["code"] == 0 and answer["data"]["sandbox"] is True
    code = test_account.institution_code
    assert len(_documents(sandbox.landing_root(settings), code)) == 2
    assert not (settings.landing_dir / code).exists()

    page = intake.http.get("/upload")
    token = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    intake.http.post("/upload/sign-in", data={"accessKey": test_account.access_key,
                                              "accessSecret": test_account.access_secret, "csrf": token})
    signed_in = intake.http.get("/upload")
    assert 'id="sandbox-notice"' in signed_in.text
    intake.http.cookies.clear()


def test_sandbox_submissions_never_reach_raw_or_the_request_log(intake, db, test_account, production, settings):
    registered_test = registry.create_test_account(db, production.institution_code)  # a registered one tries too
    sandbox_only = test_account.institution_code
    for creds in (test_account, registered_test):
        assert intake.submit(creds, payload(days_ago=6)).json()["code"] == 0
        assert intake.submit(creds, {**payload(days_ago=6), "data": []}).json()["code"] != 0  # refused
    assert intake.submit(production, payload(days_ago=7)).json()["code"] == 0

    ingest.load_landing_zone(db, LandingZone(settings=settings))
    audit.load_into_warehouse(db, settings)
    keys = (test_account.access_key, registered_test.access_key)
    assert db.execute("select count(*) from raw.submissions where access_key = any(%s) or institution_code = %s",
                      (list(keys), sandbox_only)).fetchone()[0] == 0
    assert db.execute("select count(*) from raw.submissions where access_key = %s",
                      (production.access_key,)).fetchone()[0] == 1
    assert db.execute("select count(*) from ops.intake_requests where access_key = any(%s) or institution_code = %s",
                      (list(keys), sandbox_only)).fetchone()[0] == 0
    logged = _audit_lines(sandbox.audit_dir(settings))
    assert {(e["access_key"], e["outcome"]) for e in logged if e["access_key"] in keys} == {
        (key, outcome) for key in keys for outcome in ("accepted", "refused")}
    assert not any(e["access_key"] in keys for e in _audit_lines(settings.audit_dir))
    # Nothing expects reports from an institution that is only in the sandbox: it is not registered.
    assert db.execute("select count(*) from registry.institutions where institution_code = %s",
                      (sandbox_only,)).fetchone()[0] == 0


def test_what_builds_the_marts_extracts_completeness_and_alerts_never_reads_the_sandbox():
    """Marts, extracts and completeness are built by dbt from its sources; alerts and the console read those and
    registry.institutions. None of them names the sandbox's table or directory, but the console's onboarding page,
    which shows vte.sandbox's status."""
    sources = yaml.safe_load((DBT_PROJECT_DIR / "models/staging/vte/_vte__sources.yml").read_text())
    tables = {f"{s['schema'] if 'schema' in s else s['name']}.{t['name']}" for s in sources["sources"]
              for t in s["tables"]}
    assert tables and not any("test_account" in t or "sandbox" in t for t in tables)
    readers = [*DBT_PROJECT_DIR.joinpath("models").rglob("*.sql"), PROJECT_ROOT / "plugins/vte/ingest.py"]
    for area in ("alerts", "extracts", "console", "publication", "exchange"):
        readers += (PROJECT_ROOT / "plugins/vte" / area).rglob("*.py")
    onboarding = PROJECT_ROOT / "plugins/vte/console/pages/onboarding.py"
    assert onboarding in readers and "import sandbox" in onboarding.read_text()
    readers.remove(onboarding)
    assert len(readers) > 20
    for path in readers:
        text = path.read_text()
        assert "test_accounts" not in text and "vte.sandbox" not in text and "import sandbox" not in text, path


def test_production_credentials_are_refused_until_a_sandbox_submission_passed(intake, db, settings):
    code = new_code()
    details = {"code": code, "name": "新医院", "level": "二级", "county_code": "330328"}
    with pytest.raises(registry.RegistryError, match="no passed sandbox submission"):
        sandbox.issue_production(db, institution=details, settings=settings)
    assert db.execute("select count(*) from registry.institutions where institution_code = %s",
                      (code,)).fetchone()[0] == 0

    tried = registry.create_test_account(db, code, "新医院")
    held_out = intake.submit(tried, payload(rows=[row(medicine=999)])).json()  # accepted, but a quarantine break
    assert held_out["code"] == 0
    with pytest.raises(registry.RegistryError, match="no passed sandbox submission"):
        sandbox.issue_production(db, institution=details, settings=settings)
    assert [r["passed"] for r in sandbox.status(db, settings) if r["institution_code"] == code] == [False]

    passed = intake.submit(tried, payload(days_ago=2)).json()
    assert passed["code"] == 0
    creds = sandbox.issue_production(db, institution=details, settings=settings)
    assert creds.access_key.startswith("ak") and creds.institution_code == code
    audited = db.execute("select details from ops.admin_audit where action = 'account.sandbox_passed'"
                         " and subject = %s", (code,)).fetchone()[0]
    assert audited["submission_id"] == passed["data"]["submissionId"]
    (status,) = [r for r in sandbox.status(db, settings) if r["institution_code"] == code]
    assert status["passed"] and status["has_production_account"] and status["sandbox_submissions"] == 2


def test_the_cli_refuses_production_credentials_without_a_pass_and_audits_an_override(db, warehouse_url):
    code = new_code()
    create = ["vte", "accounts", "create", "--institution-code", code, "--name", "覆盖医院", "--region-code",
              "330328", "--level", "二级", "--json"]
    refused = subprocess.run(create, capture_output=True, text=True)
    assert refused.returncode == 2 and "sandbox" in refused.stderr and "create-test" in refused.stderr
    no_reason = subprocess.run([*create, "--override-sandbox"], capture_output=True, text=True)
    assert no_reason.returncode == 2 and "--reason" in no_reason.stderr

    done = subprocess.run([*create, "--override-sandbox", "--reason", "省平台迁移，已在旧平台对接"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["institution_code"] == code
    actor, details = db.execute("select actor, details from ops.admin_audit where action = 'account.sandbox_override'"
                                " and subject = %s", (code,)).fetchone()
    assert actor and details == {"reason": "省平台迁移，已在旧平台对接"}

    test = subprocess.run(["vte", "accounts", "create-test", "--institution-code", code, "--json"],
                          capture_output=True, text=True)
    assert test.returncode == 0, test.stderr
    status = subprocess.run(["vte", "accounts", "sandbox-status", "--json"], capture_output=True, text=True,
                            check=True).stdout
    (mine,) = [json.loads(line) for line in status.splitlines() if json.loads(line)["institution_code"] == code]
    assert mine["passed"] is False and mine["has_production_account"] is True
    assert mine["test_access_key"] == json.loads(test.stdout)["accessKey"]


def test_test_accounts_rotate_and_revoke_but_are_not_replaced(db, intake, test_account):
    rotated = registry.rotate(db, test_account.access_key)
    assert intake.submit(test_account, payload()).json()["code"] == 40101  # the old secret no longer works
    assert intake.submit(rotated, payload()).json()["code"] == 0
    with pytest.raises(registry.RegistryError, match="test account"):
        registry.replace_account(db, test_account.access_key)
    with pytest.raises(registry.RegistryError, match="already has an active test account"):
        registry.create_test_account(db, test_account.institution_code, "沙箱医院")
    registry.revoke(db, test_account.access_key)
    assert registry.account_statuses(db)[test_account.access_key] is None


@pytest.mark.parametrize(("role", "allowed", "refused"), [
    (roles.INTAKE, "select access_key, secret_ciphertext, status from registry.test_accounts",
     "update registry.test_accounts set status = 'revoked'"),
    (roles.ADMIN, "update registry.test_accounts set status = status", "delete from registry.test_accounts"),
    (roles.LOADER, None, "select count(*) from registry.test_accounts"),
    (roles.TRANSFORM, None, "select count(*) from registry.test_accounts"),
])
def test_only_the_intake_reads_test_accounts_and_only_the_operators_write_them(settings, warehouse_url, role,
                                                                               allowed, refused):
    with warehouse.connect(settings, role=role) as conn:
        if allowed:
            conn.execute(allowed)
            conn.rollback()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(refused)
