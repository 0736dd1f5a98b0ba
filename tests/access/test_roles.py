"""Each component connects as its own role and can do its job and nothing more; no role can rewrite the audit.

Every statement runs for real as the role (the embedded server trusts its socket, so a component's role
logs in as in production, without the password); writes that are allowed run in a rolled-back transaction.
"""

from __future__ import annotations

import psycopg
import pytest

from vte import warehouse
from vte.access import roles
from vte.migrations import OWNED_SCHEMAS

AUDIT_TABLES = ("ops.intake_requests", "ops.admin_audit")
TAMPERING = ("update {t} set endpoint = endpoint", "delete from {t}", "truncate {t}",
             "alter table {t} disable trigger all", "drop table {t}")
ADMIN_AUDIT_TAMPERING = tuple(s.replace("endpoint = endpoint", "actor = actor") for s in TAMPERING)

CAN = {
    roles.INTAKE: ["select access_key, secret_ciphertext from registry.accounts",
                   "select joined_on from registry.institutions",
                   "select count(*) from registry.institution_status_periods"],
    roles.LOADER: ["insert into ops.intake_audit_files (file_name, loaded_bytes) values ('t.jsonl', 0)",
                   "insert into ops.intake_requests (request_id, requested_at, method, endpoint, outcome, http_status,"
                   " latency_ms, audit_file) values (gen_random_uuid(), now(), 'POST', '/t', 'accepted', 200, 1, 't')",
                   "select count(*) from raw.submission_rows"],
    roles.TRANSFORM: ["select count(*) from raw.submission_rows", "select count(*) from registry.institutions",
                      "select max(processed_through) from ops.publications", "create schema role_test_candidate",
                      "select count(*) from registry.institution_status_periods",
                      "select count(*) from registry.expected_departments",
                      "select count(*) from registry.confirmed_outliers"],
    roles.PUBLISHER: ["insert into ops.alerts (run_id, stage, message) values ('t', 'staged', 't')",
                      "select count(*) from ops.intake_requests", "select count(*) from history.indicator_values"],
    roles.EXTRACTS: ["insert into ops.admin_audit (actor, action, subject) values ('t', 'extract.create', 't')",
                     "select count(*) from history.indicator_values", "select count(*) from ops.publications"],
    roles.ADMIN: ["insert into registry.regions (region_code, region_name, region_level, edition)"
                  " values ('990000', 't', 'province', 't')",
                  "insert into ops.admin_audit (actor, action, subject) values ('t', 't', 't')",
                  "create role role_test_login", "select count(*) from registry.institution_status_changes",
                  "select count(*) from registry.institution_status_periods",
                  "update registry.expected_departments set effective_to = effective_to",
                  "select count(*) from registry.confirmed_outliers"],
}
CANNOT = {
    roles.INTAKE: ["select count(*) from raw.submissions", "select count(*) from ops.intake_requests",
                   "update registry.accounts set status = 'revoked'",
                   "select count(*) from registry.institution_status_changes",
                   "select count(*) from registry.expected_departments",
                   "select count(*) from registry.confirmed_outliers"],
    roles.LOADER: ["select count(*) from registry.accounts", "update raw.submissions set version = version",
                   "delete from raw.submission_rows", "select count(*) from ops.admin_audit",
                   "update ops.publications set success = false"],
    roles.TRANSFORM: ["select count(*) from registry.accounts", "select count(*) from ops.intake_requests",
                      "insert into ops.publications (run_id, candidate_schema, published_schema, success)"
                      " values ('t', 'a', 'b', true)", "delete from raw.submissions",
                      "update history.indicator_values set rate = 0",
                      "delete from registry.institution_status_changes"],
    roles.PUBLISHER: ["select count(*) from registry.accounts", "delete from history.indicator_values",
                      "insert into raw.submission_rows select * from raw.submission_rows",
                      "delete from ops.publications"],
    roles.EXTRACTS: ["select count(*) from registry.accounts", "select count(*) from raw.submission_rows",
                     "update history.indicator_values set rate = 0",
                     "insert into ops.publications (run_id, candidate_schema, published_schema, success)"
                     " values ('t', 'a', 'b', true)"],
    roles.ADMIN: ["select count(*) from raw.submissions", "delete from registry.accounts",
                  "update ops.publications set success = false", "grant vte_owner to vte_admin",
                  "select count(*) from history.indicator_values",
                  "update registry.institution_status_changes set reason = reason",
                  "delete from registry.institution_status_changes",
                  "update registry.expected_departments set department_name = department_name",
                  "delete from registry.expected_departments",
                  "update registry.confirmed_outliers set field_value = field_value",
                  "delete from registry.confirmed_outliers"],
    roles.AIRFLOW: ["select count(*) from registry.accounts", "select count(*) from raw.submissions",
                    "select count(*) from ops.publications"],
}


def run_as(settings, role: str, statement: str) -> None:
    with warehouse.connect(settings, role=role) as conn:
        assert conn.execute("select current_user").fetchone()[0] == role
        with conn.transaction(force_rollback=True):
            conn.execute(statement)


@pytest.mark.parametrize("role", roles.COMPONENTS)
def test_no_component_is_superuser_or_can_become_the_owner(db, role):
    superuser, bypass, owner = db.execute(
        "select rolsuper, rolbypassrls, pg_has_role(%s, 'vte_owner', 'MEMBER') from pg_roles where rolname = %s",
        (role, role)).fetchone()
    assert (superuser, bypass, owner) == (False, False, False)


def test_everything_the_migrations_created_belongs_to_vte_owner(db):
    others = db.execute(
        "select c.oid::regclass::text, c.relowner::regrole::text from pg_class c"
        " join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = any(%s) and c.relkind in ('r', 'p', 'v', 'S') and c.relowner <> 'vte_owner'::regrole",
        (OWNED_SCHEMAS,)).fetchall()
    assert others == []


@pytest.mark.parametrize("role,statement", [(r, s) for r, statements in CAN.items() for s in statements])
def test_each_component_can_do_its_job(settings, warehouse_url, role, statement):
    run_as(settings, role, statement)


@pytest.mark.parametrize("role,statement", [(r, s) for r, statements in CANNOT.items() for s in statements])
def test_each_component_can_do_nothing_else(settings, warehouse_url, role, statement):
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        run_as(settings, role, statement)


@pytest.mark.parametrize("role", [*roles.COMPONENTS, roles.ANALYST])
@pytest.mark.parametrize("table", AUDIT_TABLES)
def test_no_application_role_can_rewrite_the_audit(db, settings, role, table):
    statements = TAMPERING if table == "ops.intake_requests" else ADMIN_AUDIT_TAMPERING
    for statement in statements:
        if role == roles.ANALYST:  # a group role: an analyst login acts through it
            with pytest.raises(psycopg.errors.InsufficientPrivilege), db.transaction(force_rollback=True):
                db.execute("set local role vte_analyst")
                db.execute(statement.format(t=table))
        else:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                run_as(settings, role, statement.format(t=table))


@pytest.mark.parametrize("table", AUDIT_TABLES)
def test_even_the_owner_cannot_change_an_audit_row(db, table):
    db.execute("insert into ops.admin_audit (actor, action, subject) values ('test', 'test', 'test')")
    statements = TAMPERING if table == "ops.intake_requests" else ADMIN_AUDIT_TAMPERING
    for statement in statements[:3]:  # update, delete, truncate: the owner's privileges are not enough
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"), db.transaction(force_rollback=True):
            db.execute("set local role vte_owner")
            db.execute(statement.format(t=table))


def test_the_owner_cannot_log_in(db):
    assert db.execute("select rolcanlogin from pg_roles where rolname = 'vte_owner'").fetchone() == (False,)
