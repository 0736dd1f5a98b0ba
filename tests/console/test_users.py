"""`vte users`: create (role matching the region's level), list, reset-password, disable; disabling a user or
resetting its password ends its open sessions at once; every change is audited; passwords are argon2id."""

from __future__ import annotations

import pytest
from console_support import signed_in_client
from typer.testing import CliRunner

from vte.cli import users as users_cli


@pytest.fixture
def run(world, monkeypatch):
    monkeypatch.setenv("VTE_HOME", str(world.settings.home))
    runner = CliRunner()

    def invoke(*args: str, stdin: str | None = None):
        return runner.invoke(users_cli.app, list(args), input=stdin)

    return invoke


def test_users_are_created_listed_reset_and_disabled(world, run):
    created = run("create", "--username", "lc_reviewer", "--role", "county_reviewer", "--region", "330302",
                  "--display-name", "鹿城区卫健局 李四")
    assert created.exit_code == 0, created.output
    password = created.output.split("password: ")[1].split()[0]
    assert "shown only this once" in created.output
    [(stored,)] = world.query("select password_hash from console.users where username = 'lc_reviewer'")
    assert stored.startswith("$argon2id$") and password not in stored

    mismatched = run("create", "--username", "wz_wrong", "--role", "county_reviewer", "--region", "330300")
    assert mismatched.exit_code == 2 and len(mismatched.output.strip().splitlines()) == 1
    assert "needs a county code" in mismatched.output and "330300 is a city" in mismatched.output
    assert run("create", "--username", "x", "--role", "viewer", "--region", "330300").exit_code == 2
    assert run("create", "--username", "short_pw", "--role", "viewer", "--region", "330300", "--password-stdin",
               stdin="too short\n").exit_code == 2
    chosen = run("create", "--username", "stdin_user", "--role", "viewer", "--region", "330000", "--password-stdin",
                 stdin="a long enough password\n")
    assert chosen.exit_code == 0 and "password:" not in chosen.output

    listed = run("list").output
    assert "lc_reviewer\tcounty_reviewer\t330302 鹿城区\tactive\t鹿城区卫健局 李四" in listed

    http = signed_in_client(world.console.url, "lc_reviewer", password)
    assert http.get("/monitoring").status_code == 200
    reset = run("reset-password", "lc_reviewer")
    assert reset.exit_code == 0, reset.output
    assert http.get("/monitoring").headers.get("location") == "/sign-in"  # the old session ended
    password = reset.output.split("password: ")[1].split()[0]

    http = signed_in_client(world.console.url, "lc_reviewer", password)
    assert run("disable", "lc_reviewer").output.startswith("disabled lc_reviewer (1 open session(s) ended)")
    assert http.get("/monitoring").headers.get("location") == "/sign-in"
    assert "disabled" in run("list").output.split("lc_reviewer")[1].splitlines()[0]
    assert run("disable", "lc_reviewer").exit_code == 2

    assert world.query("select action, username like 'cli:%%' from console.audit_events"
                       " where subject = 'lc_reviewer' and action like 'user.%%' order by event_id") == \
        [("user.create", True), ("user.reset_password", True), ("user.disable", True)]
    assert world.query("select ended_why from console.sessions where username = 'lc_reviewer' order by created_at") \
        == [("password_reset",), ("disabled",)]


def test_a_disabled_user_cannot_sign_in_even_with_its_password(world, run):
    created = run("create", "--username", "short_lived", "--role", "viewer", "--region", "330300")
    password = created.output.split("password: ")[1].split()[0]
    run("disable", "short_lived")
    with pytest.raises(AssertionError, match="已停用"):
        signed_in_client(world.console.url, "short_lived", password)
