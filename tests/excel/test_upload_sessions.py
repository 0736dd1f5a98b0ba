"""The upload page's sign-in sessions and CSRF tokens, over plain HTTP against the real service."""

from __future__ import annotations

import io
import re
import time
from datetime import timedelta

import httpx
import openpyxl
import pytest
from excel_workbooks import filled_template, generated_payloads, interleaved_rows

from vte import registry
from vte.excel.session import SESSION_COOKIE
from vte.excel.template import DATA_SHEET
from vte.landing import LandingZone
from vte.submission import report_today

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


@pytest.fixture
def browser(server_url):
    with httpx.Client(base_url=server_url, timeout=30) as http:
        yield http


def sign_in(browser: httpx.Client, creds) -> httpx.Response:
    token = csrf_of(browser.get("/upload").text)
    return browser.post("/upload/sign-in", data={"accessKey": creds.access_key,
                                                 "accessSecret": creds.access_secret, "csrf": token})


@pytest.fixture(scope="module")
def workbook() -> bytes:
    return filled_template(interleaved_rows(generated_payloads(days=1, seed=3)))[0]


def test_sign_in_opens_a_session_that_uploads(browser, account, workbook):
    answer = sign_in(browser, account)
    assert answer.status_code == 303 and SESSION_COOKIE in answer.cookies
    page = browser.get("/upload")
    assert account.institution_code in page.text
    result = browser.post("/upload", data={"csrf": csrf_of(page.text)}, files={"file": ("a.xlsx", workbook, XLSX)})
    assert result.status_code == 200 and 'id="accepted-dates"' in result.text


def test_forms_without_their_csrf_token_are_refused(browser, account, workbook, settings):
    refused = browser.post("/upload/sign-in", data={"accessKey": account.access_key,
                                                    "accessSecret": account.access_secret, "csrf": "guess"})
    assert refused.status_code == 403 and SESSION_COOKIE not in refused.cookies
    sign_in(browser, account)
    upload = browser.post("/upload", data={"csrf": "guess"}, files={"file": ("a.xlsx", workbook, XLSX)})
    assert upload.status_code == 403
    assert not (settings.landing_dir / account.institution_code).exists()


def test_a_forged_cookie_is_not_a_session(browser, account):
    sign_in(browser, account)
    cookie = browser.cookies[SESSION_COOKIE]
    browser.cookies.clear()
    browser.cookies.set(SESSION_COOKIE, cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB"), path="/upload")
    assert 'id="sign-in"' in browser.get("/upload").text


def test_rotating_the_secret_ends_the_session(browser, account, db):
    sign_in(browser, account)
    assert account.institution_code in browser.get("/upload").text
    registry.rotate(db, account.access_key)
    deadline = time.monotonic() + 10  # the service re-reads the accounts every second in these tests
    while 'id="sign-in"' not in browser.get("/upload").text:
        assert time.monotonic() < deadline, "the session outlived the secret"
        time.sleep(0.3)


def test_the_template_downloaded_after_signing_in_lists_last_months_departments(browser, account, settings):
    signed_out = browser.get("/upload/template")
    assert signed_out.status_code == 303 and signed_out.headers["location"] == "/upload"
    last = report_today().replace(day=1) - timedelta(days=1)
    rows = [{**row, "hospital": "北院", "dept": dept} for row, dept in zip(generated_rows(2), ("0201", "0202"))]
    LandingZone(settings=settings).land(institution_code=account.institution_code, access_key=account.access_key,
                                        channel="api", payload={"date": last.isoformat(), "data": rows})
    sign_in(browser, account)
    page = browser.get("/upload")
    assert 'href="/upload/template"' in page.text
    answer = browser.get("/upload/template")
    assert answer.status_code == 200 and answer.headers["content-type"] == XLSX
    assert account.institution_code in answer.headers["content-disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(answer.content))[DATA_SHEET]
    assert [(r[1].value, r[2].value) for r in sheet.iter_rows(min_row=4, max_row=5)] == [("北院", "0201"),
                                                                                       ("北院", "0202")]
    assert sheet["B6"].value is None


def generated_rows(count: int) -> list[dict]:
    return generated_payloads(days=1, seed=3)[0]["data"][:count]
