"""What vte_console may do (migration 011_console.sql): read what the pages show and keep its sessions and
audit; never read the counts of raw submissions or the accounts, create users, change a role or a password,
or rewrite the audit. Each statement runs as the role itself; allowed writes are rolled back."""

from __future__ import annotations

import psycopg
import pytest

from vte import warehouse
from vte.access import roles

CAN = [
    "select count(*) from console.users",
    "update console.users set failed_attempts = failed_attempts",
    "insert into console.audit_events (username, action) values ('t', 't')",
    "select count(*) from raw.submissions",
    "select count(*) from ops.intake_requests",
    "select count(*) from registry.institutions",
    "select count(*) from review.approvals",
    "select count(*) from alerts.alerts",
    "select access.regions_inside('330300')",
    "select count(*) from registry.sandbox_institutions",
]
CANNOT = [
    "select count(*) from raw.submission_rows",
    "select count(*) from registry.accounts",
    "select count(*) from registry.test_accounts",
    "insert into console.users (username, display_name, role, region_code, password_hash)"
    " values ('sneaky', 's', 'admin', '330000', '$argon2id$x')",
    "update console.users set role = 'admin'",
    "update console.users set password_hash = password_hash",
    "update console.users set disabled_at = null",
    "delete from console.users",
    "update console.audit_events set action = action",
    "delete from console.audit_events",
    "truncate console.audit_events",
    "delete from console.sessions",
    "update registry.institutions set status = status",
    "select count(*) from ops.admin_audit",
]


def _run(world, role: str, statement: str) -> None:
    with warehouse.connect(world.settings, role=role) as conn:
        with conn.transaction(force_rollback=True):
            conn.execute(statement)


@pytest.mark.parametrize("statement", CAN)
def test_the_console_can(world, statement):
    _run(world, roles.CONSOLE, statement)


@pytest.mark.parametrize("statement", CANNOT)
def test_the_console_cannot(world, statement):
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        _run(world, roles.CONSOLE, statement)


@pytest.mark.parametrize("statement", ["update console.audit_events set action = action",
                                       "delete from console.audit_events", "delete from console.users"])
def test_nor_can_the_operators_commands(world, statement):
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        _run(world, roles.ADMIN, statement)


def test_the_audit_refuses_a_change_even_from_its_owner(world):
    with psycopg.connect(warehouse.url(world.settings)) as conn, conn.transaction(force_rollback=True):
        conn.execute("set local role vte_owner")
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            conn.execute("delete from console.audit_events")


def test_a_role_needs_a_region_of_its_level(world):
    for role, region in (("admin", "330300"), ("city_reviewer", "330328"), ("county_reviewer", "330000")):
        with pytest.raises(psycopg.errors.CheckViolation, match=f"role {role} needs"):
            _run(world, roles.ADMIN, "insert into console.users (username, display_name, role, region_code,"
                                     f" password_hash) values ('t_{role}', 't', '{role}', '{region}', '$argon2id$x')")
    _run(world, roles.ADMIN, "insert into console.users (username, display_name, role, region_code, password_hash)"
                             " values ('t_viewer', 't', 'viewer', '330328', '$argon2id$x')")


def test_regions_inside_is_the_region_and_every_division_under_it(world):
    def inside(code):
        return {r for r, in world.query("select access.regions_inside(%s)", (code,))}

    assert inside("330300") >= {"330300", "330302", "330328"} and "330100" not in inside("330300")
    assert inside("330328") == {"330328"}
    assert inside("330000") >= inside("330300") | inside("330100")
    assert inside("999999") == set()
