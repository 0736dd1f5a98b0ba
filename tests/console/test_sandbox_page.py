"""The onboarding page (接入测试): institutions with test credentials sent through the console world's real intake;
the page shows who passed the sandbox, why the others have not (held out, refused, nothing sent), who holds
production credentials and the audited override, scoped to the user's region, as `vte accounts sandbox-status`
reports it."""

from __future__ import annotations

import os
import subprocess
import time

from console_support import cut_off_the_network, sign_in, signed_in_client
from console_world import INSTITUTIONS, SEED, institutions, previous_month

from vte import client, generator, registry, sandbox
from vte.intake.responses import ResultCode

NINGBO_BEILUN = "330206"  # none of the world's users' regions but the province's
OVERRIDE_REASON = "省平台迁移，已在旧平台对接"


def _submit_until_known(world, creds, payload: dict) -> dict:
    """Submit; a new account is known to the intake within its refresh interval."""
    for _ in range(40):
        answer = client.submit(world.intake_url, creds.access_key, creds.access_secret, payload)
        if answer["code"] != 40103:  # unknown key: not refreshed yet
            return answer
        time.sleep(0.25)
    raise AssertionError(f"the intake never knew {creds.access_key}")


def _rows(page) -> dict[str, dict]:
    rows = page.locator("#sandbox tbody tr")
    return {rows.nth(i).get_attribute("data-institution"): {
        "passed": rows.nth(i).get_attribute("data-passed"), "production": rows.nth(i).get_attribute("data-production"),
        "text": rows.nth(i).inner_text()} for i in range(rows.count())}


def test_the_onboarding_page_shows_who_passed_the_sandbox_and_why_not(world, page):
    day = previous_month(world.earlier).replace(day=5)  # month locks apply to test accounts: one no test locks
    (valid,) = generator.iter_submissions(institutions(day)[:1], day, day, SEED)
    held_out = [dict(r) for r in valid.data]
    held_out[0]["riskAssessment"] = held_out[0]["dischargeHospitalNodaily"] + 1  # Q.B.1.1: quarantined
    lucheng = next(code for code, _, county in INSTITUTIONS if county == "330302")
    with world.admin() as conn:
        passing = registry.create_test_account(conn, "SB01", "沙箱一院", world.settings)
        trying = registry.create_test_account(conn, "SB02", "沙箱二院", world.settings)
        registered = registry.create_test_account(conn, lucheng, None, world.settings)
        sandbox.issue_production(conn, institution={"code": "SB03", "name": "越过医院", "level": "二级",
                                                    "county_code": NINGBO_BEILUN}, override_reason=OVERRIDE_REASON,
                                 settings=world.settings)
    sent = [(passing, valid.data), (trying, held_out), (trying, []), (registered, [])]
    answers = [_submit_until_known(world, creds, {"date": day.isoformat(), "data": rows}) for creds, rows in sent]
    assert [a["code"] == 0 for a in answers] == [True, True, False, False]

    console = world.console.url
    offline = cut_off_the_network(page, console)
    sign_in(page, console, "province_admin", world.passwords["province_admin"])
    page.click("#nav-onboarding")
    page.wait_for_selector("#sandbox")
    shown = _rows(page)
    assert {code: (r["passed"], r["production"]) for code, r in shown.items()} == {
        "SB01": ("yes", "no"), "SB02": ("no", "no"), lucheng: ("no", "yes"), "SB03": ("no", "yes")}
    assert passing.access_key in shown["SB01"]["text"] and "已通过" in shown["SB01"]["text"]
    assert "1 次上报有被隔离的行" in shown["SB02"]["text"] and "有被隔离的行" in page.inner_text(
        "tr[data-institution='SB02'] td.last")
    assert page.inner_text("tr[data-institution='SB02'] td.refused").startswith("1")
    assert "上报均被拒收" in shown[lucheng]["text"]
    assert ResultCode(answers[3]["code"]).message in shown[lucheng]["text"]
    assert OVERRIDE_REASON in page.inner_text("tr[data-institution='SB03'] td.override")
    assert page.locator(f"tr[data-institution='{lucheng}'] a[href='/monitoring/institutions/{lucheng}']").count() == 1
    assert page.inner_text("#count-passed") == "1" and page.inner_text("#count-overridden") == "1"
    assert page.get_attribute("#nav-onboarding", "aria-current") == "page"
    assert offline.attempted == [] and offline.errors == []

    # A city's users see their city's registered institutions; one only in the sandbox has no region yet.
    wenzhou = signed_in_client(console, "wz_reviewer", world.passwords["wz_reviewer"]).get("/onboarding").text
    assert f'data-institution="{lucheng}"' in wenzhou and 'data-institution="SB0' not in wenzhou
    hangzhou = signed_in_client(console, "hz_viewer", world.passwords["hz_viewer"]).get("/onboarding").text
    assert 'id="no-institutions"' in hangzhou and "data-institution=" not in hangzhou

    # The CLI prints the same status.
    printed = subprocess.run(["vte", "accounts", "sandbox-status"], capture_output=True, text=True, check=True,
                             env=os.environ | {"VTE_HOME": str(world.settings.home)}).stdout
    lines = {line.split("\t")[0]: line for line in printed.splitlines()}
    assert set(lines) == set(shown) and "passed " in lines["SB01"] and "not passed" in lines["SB02"]
    assert "1 held out" in lines["SB02"] and OVERRIDE_REASON in lines["SB03"]
