"""The institution registry: institutions and their API accounts, production and test.

An account's secret is shown once, when it is created, rotated or replaced, and stored only encrypted.
Every administrative action is recorded in ``ops.admin_audit`` (never with a secret). An institution's
suspensions and closure (vte.lifecycle) travel with its account, so the intake can refuse their dates.
Test accounts (``registry.test_accounts``, keys ``tk…``) are the sandbox's (vte.sandbox): the institution need
not be registered yet, and what they send is landed apart.
"""

from __future__ import annotations

import getpass
import secrets
from dataclasses import dataclass
from datetime import date

import psycopg
from psycopg.types.json import Jsonb

from vte import crypto
from vte.config import Settings

HOSPITAL_LEVELS = ("二级", "三级")
PRODUCTION, TEST = "production", "test"


class RegistryError(ValueError):
    """A refused administrative request; the message says what was wrong."""


@dataclass(frozen=True)
class Credentials:
    access_key: str
    access_secret: str
    institution_code: str


@dataclass(frozen=True)
class StatusPeriod:
    """Report dates an institution is not expected to report: ``from_date`` up to ``resumed_on`` (exclusive)."""

    status: str  # suspended | closed
    from_date: date
    resumed_on: date | None = None  # the first date expected again; None while it lasts

    def covers(self, day: date) -> bool:
        return self.from_date <= day and (self.resumed_on is None or day < self.resumed_on)


@dataclass(frozen=True)
class ActiveAccount:
    access_key: str
    access_secret: str
    institution_code: str
    joined_on: date | None = None  # the institution's first report date: earlier dates are refused
    status_periods: tuple[StatusPeriod, ...] = ()  # its suspensions and closure (registry.institution_status_periods)
    kind: str = PRODUCTION  # 'test': a sandbox account, whose submissions are landed apart (vte.sandbox)

    @property
    def is_test(self) -> bool:
        return self.kind == TEST

    def status_on(self, day: date) -> StatusPeriod | None:
        """The suspension or closure that covers ``day``, or None when a report for it is expected."""
        return next((period for period in self.status_periods if period.covers(day)), None)


def audit(conn: psycopg.Connection, action: str, subject: str, **details) -> None:
    conn.execute(
        "insert into ops.admin_audit (actor, action, subject, details) values (%s, %s, %s, %s)",
        (getpass.getuser(), action, subject, Jsonb(details)),
    )


def create_institution(
    conn: psycopg.Connection,
    *,
    code: str,
    name: str,
    level: str,
    county_code: str,
    community: str | None = None,
    joined_on: date | None = None,
) -> None:
    if level not in HOSPITAL_LEVELS:
        raise RegistryError(f"level {level!r} is not one of {' / '.join(HOSPITAL_LEVELS)} (医院等级须为二级或三级)")
    if not name.strip():
        raise RegistryError("name is empty (机构名称不能为空)")
    region = conn.execute(
        "select region_level from registry.regions where region_code = %s", (county_code,)
    ).fetchone()
    if region is None:
        raise RegistryError(f"region code {county_code} is not a known GB/T 2260 code (未知的行政区划代码)")
    if region[0] != "county":
        raise RegistryError(
            f"region code {county_code} is a {region[0]}, not a county-level division (须为区县级行政区划代码)"
        )
    if conn.execute("select 1 from registry.institutions where institution_code = %s", (code,)).fetchone():
        raise RegistryError(f"institution {code} is already registered (机构已存在)")
    try:
        conn.execute(
            """
            insert into registry.institutions
                (institution_code, institution_name, hospital_level, county_code, community_name, joined_on)
            values (%s, %s, %s, %s, %s, coalesce(%s, current_date))
            """,
            (code, name.strip(), level, county_code, community, joined_on),
        )
    except psycopg.errors.CheckViolation as exc:
        raise RegistryError(
            f"institution code {code!r} must be 2-40 letters, digits, '-' or '_' (机构代码格式不正确)"
        ) from exc
    audit(conn, "institution.create", code, name=name, level=level, county_code=county_code, community=community)


def _new_secret() -> str:
    return secrets.token_urlsafe(30)


def create_account(conn: psycopg.Connection, institution_code: str, settings: Settings | None = None) -> Credentials:
    if not conn.execute(
        "select 1 from registry.institutions where institution_code = %s", (institution_code,)
    ).fetchone():
        raise RegistryError(f"institution {institution_code} is not registered (机构未注册)")
    if conn.execute(
        "select 1 from registry.accounts where institution_code = %s and status = 'active'", (institution_code,)
    ).fetchone():
        raise RegistryError(f"institution {institution_code} already has an active account: rotate or revoke it")
    access_key = "ak" + secrets.token_hex(9)
    secret = _new_secret()
    conn.execute(
        "insert into registry.accounts (access_key, institution_code, secret_ciphertext) values (%s, %s, %s)",
        (access_key, institution_code, crypto.encrypt(secret, settings)),
    )
    audit(conn, "account.create", access_key, institution_code=institution_code)
    return Credentials(access_key, secret, institution_code)


def replace_account(conn: psycopg.Connection, access_key: str, settings: Settings | None = None) -> Credentials:
    """A new account for the institution of ``access_key``, which is revoked if it is still active.

    Everything stays the institution's: landed versions, the warehouse's history and the feedback reports are
    kept by institution code, so the new account continues them (its next report of a date is a new version).
    """
    if _table_of(access_key) != "registry.accounts":
        raise RegistryError(f"{access_key} is a test account: revoke it and issue another with create-test")
    with conn.transaction():
        institution_code, status = _account_row(conn, access_key)
        conn.execute("select 1 from registry.institutions where institution_code = %s for update", (institution_code,))
        other = conn.execute(
            "select access_key from registry.accounts"
            " where institution_code = %s and status = 'active' and access_key <> %s", (institution_code, access_key)
        ).fetchone()
        if other is not None:
            raise RegistryError(f"institution {institution_code} already has another active account, {other[0]}:"
                                " replace or rotate that one")
        if status == "active":
            conn.execute("update registry.accounts set status = 'revoked', revoked_at = now() where access_key = %s",
                         (access_key,))
            audit(conn, "account.revoke", access_key, institution_code=institution_code)
        creds = create_account(conn, institution_code, settings)
        audit(conn, "account.replace", access_key, institution_code=institution_code, replaced_by=creds.access_key)
    return creds


def register(conn: psycopg.Connection, *, settings: Settings | None = None, **institution) -> Credentials:
    """Register an institution and open its account, in one transaction."""
    with conn.transaction():
        create_institution(conn, **institution)
        return create_account(conn, institution["code"], settings)


def create_test_account(conn: psycopg.Connection, institution_code: str, name: str | None = None,
                        settings: Settings | None = None) -> Credentials:
    """Test credentials for the sandbox; the institution may be registered or not yet (then ``name`` names it)."""
    with conn.transaction():
        registered = conn.execute("select institution_name from registry.institutions where institution_code = %s",
                                  (institution_code,)).fetchone()
        if registered is None and not (name or "").strip():
            raise RegistryError(f"institution {institution_code} is not registered: give its --name (机构未注册，请给出名称)")
        active = conn.execute("select access_key from registry.test_accounts where institution_code = %s"
                              " and status = 'active'", (institution_code,)).fetchone()
        if active is not None:
            raise RegistryError(f"institution {institution_code} already has an active test account, {active[0]}:"
                                " rotate or revoke it")
        access_key = "tk" + secrets.token_hex(9)
        secret = _new_secret()
        try:
            conn.execute(
                "insert into registry.test_accounts (access_key, institution_code, institution_name, secret_ciphertext)"
                " values (%s, %s, %s, %s)",
                (access_key, institution_code, registered[0] if registered else name.strip(),
                 crypto.encrypt(secret, settings)))
        except psycopg.errors.CheckViolation as exc:
            raise RegistryError(
                f"institution code {institution_code!r} must be 2-40 letters, digits, '-' or '_' (机构代码格式不正确)"
            ) from exc
        audit(conn, "account.create_test", access_key, institution_code=institution_code,
              registered=registered is not None)
    return Credentials(access_key, secret, institution_code)


def _table_of(access_key: str) -> str:
    return "registry.test_accounts" if access_key.startswith("tk") else "registry.accounts"


def _account_row(conn: psycopg.Connection, access_key: str) -> tuple[str, str]:
    row = conn.execute(
        f"select institution_code, status from {_table_of(access_key)} where access_key = %s", (access_key,)
    ).fetchone()
    if row is None:
        raise RegistryError(f"access key {access_key} is unknown (未知的accessKey)")
    return row


def rotate(conn: psycopg.Connection, access_key: str, settings: Settings | None = None) -> Credentials:
    """A new secret for the same access key; the old secret stops working at once."""
    with conn.transaction():
        institution_code, status = _account_row(conn, access_key)
        if status != "active":
            raise RegistryError(f"access key {access_key} is {status} and cannot be rotated")
        secret = _new_secret()
        conn.execute(
            f"update {_table_of(access_key)} set secret_ciphertext = %s, rotated_at = now() where access_key = %s",
            (crypto.encrypt(secret, settings), access_key),
        )
        audit(conn, "account.rotate", access_key, institution_code=institution_code)
    return Credentials(access_key, secret, institution_code)


def revoke(conn: psycopg.Connection, access_key: str) -> None:
    with conn.transaction():
        institution_code, status = _account_row(conn, access_key)
        if status == "revoked":
            raise RegistryError(f"access key {access_key} is already revoked")
        conn.execute(
            f"update {_table_of(access_key)} set status = 'revoked', revoked_at = now() where access_key = %s",
            (access_key,)
        )
        audit(conn, "account.revoke", access_key, institution_code=institution_code)


def set_joined_on(conn: psycopg.Connection, institution_code: str, joined_on: date) -> None:
    """Move the institution's first accepted report date (the intake refuses earlier dates)."""
    with conn.transaction():
        row = conn.execute("select joined_on from registry.institutions where institution_code = %s for update",
                           (institution_code,)).fetchone()
        if row is None:
            raise RegistryError(f"institution {institution_code} is not registered (机构未注册)")
        conn.execute("update registry.institutions set joined_on = %s where institution_code = %s",
                     (joined_on, institution_code))
        audit(conn, "institution.joined_on", institution_code, previous=row[0].isoformat(),
               joined_on=joined_on.isoformat())


def list_accounts(conn: psycopg.Connection) -> list[dict]:
    cur = conn.execute(
        """
        select i.institution_code, i.institution_name, i.hospital_level, i.county_code, i.community_name,
               i.status as institution_status, a.access_key, a.status as account_status, a.created_at, a.revoked_at
        from registry.institutions as i
        left join registry.accounts as a on a.institution_code = i.institution_code
        order by i.institution_code, a.created_at
        """
    )
    names = [c.name for c in cur.description]
    return [dict(zip(names, row)) for row in cur]


def list_test_accounts(conn: psycopg.Connection) -> list[dict]:
    cur = conn.execute(
        """
        select t.institution_code, coalesce(i.institution_name, t.institution_name) as institution_name,
               i.institution_code is not null as is_registered, t.access_key, t.status as account_status,
               t.created_at, t.revoked_at
        from registry.test_accounts as t
        left join registry.institutions as i on i.institution_code = t.institution_code
        order by t.institution_code, t.created_at
        """
    )
    names = [c.name for c in cur.description]
    return [dict(zip(names, row)) for row in cur]


# A test account answers for any report date from 2020 on and is never suspended: the sandbox is for trying
# the interface, before (or beside) the institution's registration.
ACCOUNT_ROWS = """
        select a.access_key, a.institution_code, a.secret_ciphertext, a.status, i.joined_on,
               (select json_agg(json_build_array(p.status, p.from_date, p.resumed_on) order by p.from_date)
                from registry.institution_status_periods as p
                where p.institution_code = a.institution_code) as status_periods,
               'production' as kind
        from registry.accounts as a
        join registry.institutions as i on i.institution_code = a.institution_code
        union all
        select t.access_key, t.institution_code, t.secret_ciphertext, t.status, null, null, 'test'
        from registry.test_accounts as t
"""
_ACCOUNTS = f"select * from ({ACCOUNT_ROWS}) as accounts"


def _periods(rows: list | None) -> tuple[StatusPeriod, ...]:
    return tuple(StatusPeriod(status, date.fromisoformat(start), date.fromisoformat(end) if end else None)
                 for status, start, end in rows or ())


def account_from_row(row: tuple, settings: Settings | None) -> ActiveAccount | None:
    """An ``ACCOUNT_ROWS`` row as the intake uses it: None for a revoked account."""
    access_key, institution_code, ciphertext, status, joined_on, periods, kind = row
    if status != "active":
        return None
    return ActiveAccount(access_key, crypto.decrypt(ciphertext, settings), institution_code, joined_on,
                         _periods(periods), kind)


def account_statuses(conn: psycopg.Connection, settings: Settings | None = None) -> dict[str, ActiveAccount | None]:
    """Every known access key: its decrypted credentials when active, None when revoked."""
    return {row[0]: account_from_row(row, settings) for row in conn.execute(_ACCOUNTS)}
