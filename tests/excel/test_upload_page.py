"""The upload page driven by a real headless Chromium: sign in, upload a good file, upload a bad one."""

from __future__ import annotations

from pathlib import Path

import pytest
from excel_workbooks import cell_of, edited, filled_template, generated_payloads, interleaved_rows

from vte.config import PROJECT_ROOT
from vte.domain import fields_by_name

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = PROJECT_ROOT / "test-artifacts"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason="/usr/bin/chromium is missing: apt-get install -y chromium")


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": 1280, "height": 900})
        finally:
            browser.close()


def test_sign_in_upload_and_read_the_result(page, server_url, account, tmp_path):
    payloads = generated_payloads(days=2, seed=5)
    content, header = filled_template(interleaved_rows(payloads))
    good = tmp_path / "good.xlsx"
    good.write_bytes(content)
    bad_cells = [cell_of(header, "medicine", 4), cell_of(header, "newPe", 6)]
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(edited(content, lambda s: [s.__setitem__(bad_cells[0], -1), s.__setitem__(bad_cells[1], "七")]))

    page.goto(f"{server_url}/upload")
    page.fill("#accessKey", account.access_key)
    page.fill("#accessSecret", "wrong")
    page.click("#sign-in")
    assert "accessSecret 不正确" in page.inner_text("#sign-in-error")

    page.fill("#accessSecret", account.access_secret)
    page.click("#sign-in")
    assert account.institution_code in page.inner_text("header")

    page.set_input_files("#file", str(good))
    page.click("#upload")
    rows = page.locator("#accepted-dates tbody tr")
    assert rows.count() == len(payloads)
    for index, payload in enumerate(payloads):
        cells = rows.nth(index).locator("td").all_inner_texts()
        assert cells[0] == payload["date"] and cells[1].startswith("v1") and cells[2] == str(len(payload["data"]))
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "upload-page-accepted.png"), full_page=True)

    page.set_input_files("#file", str(bad))
    page.click("#upload")
    assert "未保存任何数据" in page.inner_text("#refused")
    errors = page.locator("#cell-errors tbody tr")
    assert [errors.nth(i).locator("td").nth(1).inner_text() for i in range(errors.count())] == bad_cells
    field = errors.nth(0).locator("td").nth(2).inner_text()  # the Chinese label beside the field name
    assert field.splitlines() == ["medicine", fields_by_name()["medicine"].label_zh]
    page.screenshot(path=str(ARTIFACTS / "upload-page.png"), full_page=True)

    page.click("#sign-out")
    assert page.locator("#sign-in").is_visible()
