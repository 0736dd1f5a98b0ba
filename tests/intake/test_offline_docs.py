"""The interface documents itself on an intranet: Swagger UI and the result codes load with no way out."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from vte.intake.responses import ADVICE, MESSAGES, ResultCode

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture
def offline_page(intake):
    """A Chromium page whose every request to another host than the intake is refused, and remembered."""
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    intake_host = urlsplit(intake.url).netloc
    outside: list[str] = []

    def only_the_intake(route):
        if urlsplit(route.request.url).netloc == intake_host:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort("internetdisconnected")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.route("**/*", only_the_intake)
            yield page, outside
        finally:
            browser.close()


def test_swagger_ui_loads_from_the_intake_alone(intake, offline_page):
    page, outside = offline_page
    page.goto(f"{intake.url}/docs")
    page.wait_for_selector('[data-path="/xt/api/submit"]', timeout=30_000)
    assert page.locator(".opblock-post").count() >= 1
    # the code table travels in the OpenAPI document's description
    assert page.locator("text=42301").count() >= 1
    assert outside == []


def test_the_codes_page_explains_every_code_with_an_example(intake, offline_page):
    page, outside = offline_page
    page.goto(f"{intake.url}/codes")
    for code in ResultCode:
        row = page.locator(f"#code-{int(code)}")
        text = row.inner_text()
        assert MESSAGES[code][0] in text and ADVICE[code][1] in text
        assert f'"code": {int(code)}' in text
    assert outside == []


def test_the_openapi_document_carries_the_code_table(intake):
    description = intake.http.get("/openapi.json").json()["info"]["description"]
    for code in ResultCode:
        assert f"| {int(code)} | {code.http_status} |" in description
    for path in ("/docs", "/codes", "/static/swagger-ui/swagger-ui.css"):
        assert intake.http.get(path).status_code == 200
    assert "/codes" not in intake.http.get("/openapi.json").json()["paths"]
