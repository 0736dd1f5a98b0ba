"""The hospital's report in a real headless Chromium with the network cut off: sign in on the upload page, read
the calendar, open a day and a held-out row, read the refused requests, download the report."""

from __future__ import annotations

import re

from console_support import cut_off_the_network, external_references
from reports_world import OWN

from vte.config import PROJECT_ROOT
from vte.reports.routes import STYLESHEET_PATH

ARTIFACTS = PROJECT_ROOT / "test-artifacts"


def _sign_in(page, world) -> None:
    creds = world.credentials[OWN]
    page.goto(f"{world.intake_url}/upload")
    page.fill("#accessKey", creds.access_key)
    page.fill("#accessSecret", creds.access_secret)
    page.click("#sign-in")


def test_a_clerk_reads_and_downloads_the_report_offline(world, page, tmp_path):
    offline = cut_off_the_network(page, world.intake_url)
    loaded: list[str] = []
    page.on("requestfinished", lambda request: loaded.append(request.url))
    _sign_in(page, world)
    page.click("#my-reports-link")
    page.wait_for_load_state("load")
    assert OWN in page.inner_text("header")
    # the stylesheet applied, from the intake itself
    assert page.eval_on_selector("header.top", "e => getComputedStyle(e).backgroundColor") == "rgb(30, 58, 95)"
    assert any(url.endswith(STYLESHEET_PATH) for url in loaded)

    late, missing = world.late_day.isoformat(), world.missing_day.isoformat()
    assert "late" in page.get_attribute(f"#cal-{late}", "title")
    assert page.eval_on_selector(f"#cal-{late}", "e => e.parentElement.className").split()[:2] == ["day", "late"]
    assert page.eval_on_selector(f"#cal-{missing}", "e => e.parentElement.className").split()[:2] == ["day", "missing"]
    assert page.eval_on_selector(f"#cal-{world.quarantined_day}", "e => e.parentElement.className").split() == \
        ["day", "on_time", "held-out"]

    # a day opens to its versions
    assert not page.locator(f"#day-{late}").is_visible()
    page.click(f"#cal-{late}")
    detail = page.locator(f"#day-{late}")
    assert detail.is_visible()
    assert "迟报 late" in detail.inner_text() and "v1" in detail.locator("table.versions").inner_text()
    page.click(f"#cal-{missing}")
    assert "未收到任何版本" in page.inner_text(f"#day-{missing}")

    # the held-out row opens to its values and its rule, the department as it was sent
    q = world.quarantined
    problem = page.locator("#problems-quarantined details.problem").first
    assert q["dept"] in problem.locator("summary").inner_text()
    problem.locator("summary").click()
    opened = problem.inner_text()
    assert f"highRiskAssessment {q['highRiskAssessment']} > riskAssessment {q['riskAssessment']}" in opened
    assert "highRiskAssessment must not exceed riskAssessment" in opened and q["hospital"] in opened
    assert page.locator("#problems > .group").first.get_attribute("id") == "problems-quarantined"

    # rate-limited retries: one line
    rows = page.locator("#refusals tbody tr")
    codes = [rows.nth(i).locator("td").first.inner_text() for i in range(rows.count())]
    assert codes.count("42901") == 1
    line = page.locator("#refused-42901 td").all_inner_texts()
    assert line[1] == str(world.rate_limited) and "请求过于频繁" in line[4]
    assert page.get_attribute("#refused-42901 a", "href") == "/codes#code-42901"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "my-reports.png"), full_page=True)
    html = page.content()

    with page.expect_download() as info:
        page.click("#download-html")
    saved = tmp_path / "report.html"
    info.value.save_as(saved)
    assert info.value.suggested_filename.startswith(f"vte-my-report-{OWN}-")
    downloaded = saved.read_text()
    assert "<style>" in downloaded and 'rel="stylesheet"' not in downloaded and "<script" not in downloaded
    assert f"highRiskAssessment {q['highRiskAssessment']} &gt; riskAssessment {q['riskAssessment']}" in downloaded
    assert re.search(r'id="refused-42901"', downloaded) and external_references(downloaded) == []

    assert offline.attempted == [], offline.attempted
    assert offline.errors == [], offline.errors
    assert external_references(html) == [] and "<script" not in html

    # the downloaded file reads the same on its own, from disk, loading nothing
    page.unroute("**/*")
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(saved.as_uri())
    assert page.eval_on_selector("header.top", "e => getComputedStyle(e).backgroundColor") == "rgb(30, 58, 95)"
    page.click(f"#cal-{late}")
    assert page.locator(f"#day-{late}").is_visible()
    assert [url for url in requested if not url.startswith("file:")] == []


def test_the_codes_page_explains_every_refused_code(world, page):
    offline = cut_off_the_network(page, world.intake_url)
    page.goto(f"{world.intake_url}/codes#code-42901")
    assert "请求过于频繁" in page.inner_text("#code-42901")
    assert offline.attempted == []


def test_signed_out_the_report_is_not_shown(world, page):
    page.goto(f"{world.intake_url}/upload/reports")
    assert page.locator("#sign-in").is_visible()
    assert page.request.get(f"{world.intake_url}/upload/reports/download", max_redirects=0).status == 303
