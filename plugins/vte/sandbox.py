"""The sandbox (HQMS's test system): test credentials, their submissions kept apart, and who has passed.

Test accounts (``vte accounts create-test``, ``registry.test_accounts``) work against the same endpoints as
production ones. The intake checks and answers their requests the same way, then lands what they send in
``$VTE_HOME/sandbox/landing`` and logs their requests in ``$VTE_HOME/sandbox/audit``. Only this module reads
those: the ingest reads ``$VTE_HOME/landing`` and ``$VTE_HOME/audit``, so sandbox data never reaches raw, the
marts, the extracts, completeness or alerts. An institution still in the sandbox is not in
``registry.institutions`` either, so no report is expected from it.

An institution has *passed* once one of its sandbox submissions was accepted with no row breaking a
quarantine rule (such a row would be held out of the indicators in production); rule warnings do not count
against it. ``issue_production`` (``vte accounts create``) gives production credentials only then, unless an
administrator overrides it with a reason, which ``ops.admin_audit`` keeps.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import psycopg

from vte import registry
from vte.config import Settings, get_settings
from vte.domain import broken_rules
from vte.landing import LandingZone, read_document


def landing_root(settings: Settings) -> Path:
    return settings.home / "sandbox" / "landing"


def audit_dir(settings: Settings) -> Path:
    return settings.home / "sandbox" / "audit"


def landing_zone(settings: Settings) -> LandingZone:
    return LandingZone(landing_root(settings))


@dataclass(frozen=True)
class SandboxPass:
    """The first sandbox submission of an institution that passed."""

    institution_code: str
    submission_id: str
    report_date: str
    received_at: str
    channel: str


def passes(document: dict) -> bool:
    """True when no row of the landed submission breaks a quarantine rule."""
    return not any(rule.severity == "quarantine" for row in document["payload"]["data"] for rule in broken_rules(row))


def _documents(zone: LandingZone, institution_code: str) -> list[dict]:
    directory = zone.root / institution_code
    if not directory.is_dir():
        return []
    return [read_document(path) for day in sorted(p for p in directory.iterdir() if p.is_dir())
            for path in zone.versions(institution_code, day.name)]


def first_pass(institution_code: str, settings: Settings | None = None) -> SandboxPass | None:
    """The institution's first passing sandbox submission, by receipt time; None when none passed yet."""
    documents = [d for d in _documents(landing_zone(settings or get_settings()), institution_code) if passes(d)]
    if not documents:
        return None
    first = min(documents, key=lambda d: d["received_at"])
    return SandboxPass(institution_code, first["submission_id"], first["report_date"], first["received_at"],
                       first["channel"])


def refused_requests(settings: Settings) -> Counter:
    """Refused sandbox requests per institution, from the sandbox's request log."""
    counts: Counter = Counter()
    for path in sorted(audit_dir(settings).glob("*.jsonl")):
        for line in path.read_bytes().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("outcome") == "refused" and entry.get("institution_code"):
                counts[entry["institution_code"]] += 1
    return counts


def status(conn: psycopg.Connection, settings: Settings | None = None) -> list[dict]:
    """Every institution given test credentials: whether it passed, its sandbox submissions and refusals, and
    whether it holds production credentials."""
    settings = settings or get_settings()
    zone = landing_zone(settings)
    refused = refused_requests(settings)
    rows = conn.execute(
        """
        select t.institution_code,
               max(coalesce(i.institution_name, t.institution_name)) as institution_name,
               max(t.access_key) filter (where t.status = 'active') as test_access_key,
               bool_or(a.status = 'active') is true as has_production_account
        from registry.test_accounts as t
        left join registry.institutions as i on i.institution_code = t.institution_code
        left join registry.accounts as a on a.institution_code = t.institution_code
        group by t.institution_code
        order by t.institution_code
        """
    ).fetchall()
    found = []
    for code, name, test_key, has_production in rows:
        documents = _documents(zone, code)
        passed = first_pass(code, settings) if documents else None
        found.append({"institution_code": code, "institution_name": name, "test_access_key": test_key,
                      "has_production_account": has_production, "passed": passed is not None,
                      "passed_at": passed.received_at if passed else None,
                      "passed_submission_id": passed.submission_id if passed else None,
                      "sandbox_submissions": len(documents), "refused_requests": refused.get(code, 0)})
    return found


def issue_production(conn: psycopg.Connection, *, institution: dict, override_reason: str | None = None,
                     settings: Settings | None = None) -> registry.Credentials:
    """Register the institution (``registry.register``'s arguments) and open its production account, only if a
    sandbox submission of it passed or ``override_reason`` says why not; either is kept in ``ops.admin_audit``.

    ``registry.register`` itself does not ask: the generator, the demo and the tests register directly.
    """
    settings = settings or get_settings()
    code = institution["code"]
    with conn.transaction():
        passed = first_pass(code, settings)
        if passed is not None:
            registry.audit(conn, "account.sandbox_passed", code, submission_id=passed.submission_id,
                           report_date=passed.report_date, received_at=passed.received_at, channel=passed.channel)
        elif (override_reason or "").strip():
            registry.audit(conn, "account.sandbox_override", code, reason=override_reason.strip())
        else:
            raise registry.RegistryError(
                f"institution {code} has no passed sandbox submission: give it test credentials (vte accounts"
                " create-test), let it submit, check with vte accounts sandbox-status; or override with"
                " --override-sandbox --reason … (沙箱测试未通过，不能发放正式账户)")
        return registry.register(conn, settings=settings, **institution)
