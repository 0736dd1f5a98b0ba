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
administrator overrides it with a reason, which ``ops.admin_audit`` keeps. ``status`` says who passed, for
``vte accounts sandbox-status`` and the console's onboarding page (接入测试).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
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


def refused_requests(settings: Settings) -> dict[str, list[dict]]:
    """Refused sandbox requests per institution, oldest first, from the sandbox's request log."""
    found: dict[str, list[dict]] = defaultdict(list)
    for path in sorted(audit_dir(settings).glob("*.jsonl")):
        for line in path.read_bytes().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("outcome") == "refused" and entry.get("institution_code"):
                found[entry["institution_code"]].append(entry)
    return found


# The institutions with test credentials or an override (registry.sandbox_institutions), scoped to a region: a
# registered one by its county, one only in the sandbox (no county yet) only for the province's users.
STATUS = """
select institution_code, institution_name, county_code, test_access_key, test_access_keys, has_production_account,
       production_issued_at, override_at, override_by, override_reason
from registry.sandbox_institutions
where %(region)s::text is null
   or county_code in (select access.regions_inside(%(region)s))
   or (county_code is null and exists (
       select from registry.regions where region_code = %(region)s and region_level = 'province'))
order by institution_code
"""


def status(conn: psycopg.Connection, settings: Settings | None = None, region: str | None = None) -> list[dict]:
    """Every institution given test credentials (or production ones by an override), in ``region`` if given:
    whether it passed, its sandbox submissions (held out: a row broke a quarantine rule) and refused requests, its
    newest submission, whether it holds production credentials and the override. `vte accounts sandbox-status` and
    the console's 接入测试 page show this."""
    settings = settings or get_settings()
    zone = landing_zone(settings)
    refused = refused_requests(settings)
    found = []
    for row in conn.execute(STATUS, {"region": region}).fetchall():
        code = row[0]
        documents = sorted(_documents(zone, code), key=lambda d: d["received_at"])
        passing = [d for d in documents if passes(d)]
        last = documents[-1] if documents else None
        refusals = refused.get(code, [])
        found.append({
            **dict(zip(("institution_code", "institution_name", "county_code", "test_access_key", "test_access_keys",
                        "has_production_account", "production_issued_at", "override_at", "override_by",
                        "override_reason"), row)),
            "passed": bool(passing),
            "passed_at": _moment(passing[0]["received_at"]) if passing else None,
            "passed_submission_id": passing[0]["submission_id"] if passing else None,
            "sandbox_submissions": len(documents),
            "held_out_submissions": len(documents) - len(passing),
            "last_received_at": _moment(last["received_at"]) if last else None,
            "last_report_date": last["report_date"] if last else None,
            "last_channel": last["channel"] if last else None,
            "last_passed": passes(last) if last else None,
            "refused_requests": len(refusals),
            "last_refused_at": _moment(refusals[-1]["requested_at"]) if refusals else None,
            "last_refused_code": refusals[-1].get("code") if refusals else None,
        })
    return found


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


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
