"""The gates' Data Docs keep every run of both stages, and load with the network cut off: from the disk, and
from the console for an administrator.

Both gates run twice for real on stand-ins in the session's warehouse. The browser parts reuse the console
tests' helpers (tests/console/console_support.py: the real console server, a Chromium that reaches only it).
"""

from __future__ import annotations

import random
import shutil
import sys
import uuid
from pathlib import Path

import pytest
from psycopg import sql

from vte.access import roles
from vte.config import get_settings
from vte.console import users
from vte.publication import data_docs, gate, suites
from vte import warehouse

from gate_standins import create_candidate, create_staged_rows, valid_department_row

CONSOLE_TESTS = Path(__file__).parents[1] / "console"
if str(CONSOLE_TESTS) not in sys.path:
    sys.path.append(str(CONSOLE_TESTS))
from console_support import (chromium_page, cut_off_the_network, external_references,  # noqa: E402
                             sign_in, signed_in_client, start_console, stop)

STAGED, CANDIDATE, PUBLISHED = "docs_test_stg", "docs_test_candidate", "docs_test_marts"
RUNS = 2
SUITES = [f"{stage}_{asset}" for stage, tables in suites.GATED_TABLES.items() for asset in tables]


def _drop(conn, *schemas):
    for schema in schemas:
        conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema)))


@pytest.fixture(scope="module")
def two_runs(warehouse_url, vte_home):
    """Run names of two pipeline runs, each gating the staged rows and then the marts; other tests of the
    session add their results to the same store, so the names carry a token of their own."""
    import psycopg

    rng = random.Random(20250318)
    token = uuid.uuid4().hex[:8]
    names = [f"docs-{token}-run{n}" for n in range(1, RUNS + 1)]
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        for name in names:
            create_staged_rows(conn, STAGED, [valid_department_row(rng) for _ in range(40)])
            staged = gate.run_gate("staged", STAGED, name)
            create_candidate(conn, CANDIDATE, rng)
            marts = gate.run_gate("marts", CANDIDATE, name, published_schema=PUBLISHED)
            assert staged.docs_path == marts.docs_path == vte_home / "gx-docs" / "index.html"
        _drop(conn, STAGED, CANDIDATE, PUBLISHED)
    return token, names


def test_every_run_of_both_gates_is_kept_and_listed(two_runs, vte_home):
    token, names = two_runs
    stored = {(p.relative_to(data_docs.validations_dir(vte_home)).parts[:2])
              for p in data_docs.validations_dir(vte_home).rglob("*.json") if token in str(p)}
    assert stored == {(suite, name) for suite in SUITES for name in names}
    site = vte_home / "gx-docs"
    for suite, name in stored:
        assert len(list((site / "validations" / suite / name).rglob("*.html"))) == 1, (suite, name)
    index = (site / "index.html").read_text()
    for name in names:
        assert index.count(name) >= len(SUITES)
    assert not list((vte_home / "gx" / "runs").glob("*")), "a run's copy of the project is left behind"


def test_no_page_references_the_network(two_runs, vte_home):
    site = vte_home / "gx-docs"
    pages = list(site.rglob("*.html"))
    assert len(pages) > RUNS * len(SUITES)
    for page in pages:
        html = page.read_text()
        assert external_references(html) == [], page
    for stylesheet in (site / data_docs.VENDOR).rglob("*.css"):
        assert external_references(stylesheet.read_text()) == [], stylesheet


def test_unknown_references_are_removed_and_known_ones_localised():
    html = ('<link rel="stylesheet" href="https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css"/>'
            '<script src="https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js" integrity="sha384-x"'
            ' crossorigin="anonymous"></script><script src="https://cdn.example.org/new.js"></script>'
            '<style>a { background: url(\'https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/'
            'full_logo_dark.png\') } b { background: url(//fonts.example.org/x.woff2) }</style>'
            '<a href="https://greatexpectations.io">Great Expectations</a>'
            '<script>var x = 1;</script><img src="../static/images/favicon.ico">')
    assert data_docs.offline_html(html, "../../") == (
        '<link rel="stylesheet" href="../../static/vendor/bootstrap/bootstrap.min.css"/>'
        '<script src="../../static/vendor/bootstrap/bootstrap.min.js"></script>'
        '<style>a { background: url("../../static/images/logo-long.png") } b { background: url("data:,") }</style>'
        'Great Expectations<script>var x = 1;</script><img src="../static/images/favicon.ico">')
    for url, copy in data_docs.CDN_COPIES.items():
        assert (data_docs.ASSETS_DIR / copy).is_file(), url


def test_the_oldest_results_go_with_their_pages(two_runs, vte_home, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(data_docs.validations_dir(vte_home), data_docs.validations_dir(home))
    shutil.copytree(data_docs.docs_dir(vte_home), data_docs.docs_dir(home))
    results = sorted(data_docs.validations_dir(home).rglob("*.json"), key=lambda p: p.stat().st_mtime)
    removed = data_docs.prune_validation_results(home, keep=2)
    assert sorted(removed) == sorted(results[:-2])
    assert sorted(data_docs.validations_dir(home).rglob("*.json")) == sorted(results[-2:])
    pages = list((data_docs.docs_dir(home) / "validations").rglob("*.html"))
    assert len(pages) == 2 and {p.stem for p in pages} == {r.stem for r in results[-2:]}
    assert all(any(d.iterdir()) for d in data_docs.validations_dir(home).rglob("*") if d.is_dir())


@pytest.fixture
def browser_page():
    with chromium_page(viewport={"width": 1400, "height": 900}) as opened:
        yield opened


def _check_index(page, names: list[str]) -> None:
    """The index in ``page`` is styled, its scripts ran, and it lists every suite of both runs."""
    page.wait_for_selector("#Validation-Results .fixed-table-toolbar", state="attached")  # the scripts built the lists
    # a stylesheet that failed to load has no sheet (one read from the disk cannot be looked into)
    sheets = page.eval_on_selector_all("link[rel=stylesheet]", """links => links.map(l => {
        try { return [l.getAttribute('href'), l.sheet ? l.sheet.cssRules.length : 0] }
        catch (e) { return [l.getAttribute('href'), 'loaded'] } })""")
    assert len(sheets) >= 6 and all(rules for _, rules in sheets), sheets
    # bootstrap's stylesheet applied: its .container-fluid has padding, the browser's default none
    assert page.eval_on_selector(".container-fluid", "e => getComputedStyle(e).paddingLeft") != "0px"
    assert page.evaluate("typeof vegaEmbed === 'function' && typeof $.fn.bootstrapTable === 'function'")
    page.click("a[href='#Validation-Results']")
    table = page.locator("#Validation-Results table[id$='-body-table']")
    # one run at a time: the index shows ten rows a page, fewer than the suites of both runs
    rows = []
    for name in names:
        run_filter = page.locator("#Validation-Results input.bootstrap-table-filter-control-run_name")
        run_filter.fill("")
        run_filter.press_sequentially(name)  # typed: the filter reacts to keys, not to a replaced value
        page.wait_for_function(
            """([selector, n, name]) => { const rows = [...document.querySelectorAll(selector)];
                return rows.length === n && rows.every(row => row.textContent.includes(name)) }""",
            arg=["#Validation-Results table[id$='-body-table'] tbody tr", len(SUITES), name])
        rows += table.locator("tbody tr").all_inner_texts()
    # the rows' success icons are Font Awesome's: its font came from the site too
    assert page.evaluate("""async () => { await document.fonts.ready;
        return [...document.fonts].some(f => f.family.includes('Font Awesome') && f.status === 'loaded') }""")
    assert {(suite, name) for suite in SUITES for name in names} == {
        (suite, name) for row in rows for suite in SUITES for name in names if suite in row and name in row}


def test_the_index_loads_from_the_disk_with_the_network_cut_off(two_runs, vte_home, browser_page):
    _, names = two_runs
    page, attempted, failed = browser_page, [], []

    def route(request_route):
        if request_route.request.url.startswith("file://"):
            request_route.continue_()
        else:
            attempted.append(request_route.request.url)
            request_route.abort("internetdisconnected")

    page.route("**/*", route)
    page.on("requestfailed", lambda request: failed.append(request.url))
    page.goto((vte_home / "gx-docs" / "index.html").as_uri())
    page.wait_for_load_state("load")
    _check_index(page, names)
    assert attempted == [] and failed == [], (attempted, failed)


@pytest.fixture(scope="module")
def console(two_runs, warehouse_url):
    settings = get_settings()
    passwords = {}
    with warehouse.connect(settings, role=roles.ADMIN, autocommit=True) as conn:
        for username, role in (("docs_admin", "admin"), ("docs_viewer", "viewer")):
            _, passwords[username] = users.create(conn, username=username, role=role, region_code="330000",
                                                  display_name=f"测试 {username}", actor="test")
    running = start_console(settings)
    try:
        yield running, passwords
    finally:
        stop(running.process)


def test_the_console_serves_the_docs_to_administrators_with_the_network_cut_off(two_runs, console, browser_page):
    _, names = two_runs
    (running, passwords), page = console, browser_page
    offline = cut_off_the_network(page, running.url)
    sign_in(page, running.url, "docs_admin", passwords["docs_admin"])
    page.wait_for_selector("#nav-data-docs")
    page.click("#nav-data-docs")
    page.wait_for_load_state("load")
    assert page.url == f"{running.url}/quality/gx/"
    _check_index(page, names)

    # a validation page of each stage, through the index's own links
    for suite in ("staged_department_days", "marts_indicator_values"):
        page.goto(f"{running.url}/quality/gx/")
        page.click("a[href='#Validation-Results']")
        page.locator("#Validation-Results input.bootstrap-table-filter-control-run_name").fill(names[0])
        page.wait_for_function("n => document.querySelectorAll('#Validation-Results tbody tr').length === n",
                               arg=len(SUITES))
        page.locator("#Validation-Results tbody tr", has_text=suite).click()
        page.wait_for_load_state("load")
        assert f"/quality/gx/validations/{suite}/{names[0]}/" in page.url
        assert page.eval_on_selector_all("link[rel=stylesheet]",
                                         "ls => ls.every(l => l.sheet && l.sheet.cssRules.length)")
        assert suite in page.content()
    assert offline.attempted == [], offline.attempted
    assert offline.errors == [], offline.errors  # e.g. "Refused to … Content Security Policy"


def test_the_docs_are_for_administrators_and_nothing_outside_them(console):
    running, passwords = console
    import httpx

    assert httpx.get(f"{running.url}/quality/gx/index.html").headers["location"] == "/sign-in"
    viewer = signed_in_client(running.url, "docs_viewer", passwords["docs_viewer"])
    assert viewer.get("/quality/gx/index.html").status_code == 403
    assert 'id="nav-data-docs"' not in viewer.get("/monitoring").text
    admin = signed_in_client(running.url, "docs_admin", passwords["docs_admin"])
    assert admin.get("/quality/gx").headers["location"] == "/quality/gx/"
    answer = admin.get("/quality/gx/static/vendor/jquery/jquery.min.js")
    assert answer.status_code == 200 and "javascript" in answer.headers["content-type"]
    assert "script-src 'self' 'unsafe-inline'" in admin.get("/quality/gx/").headers["content-security-policy"]
    assert "unsafe-inline" not in admin.get("/monitoring").headers["content-security-policy"]
    key_file = get_settings().keys_dir / "console.key"
    key = key_file.read_text() if key_file.exists() else "no key file"
    for path in ("/quality/gx/%2e%2e/%2e%2e/keys/console.key", "/quality/gx/..%2F..%2Fkeys%2Fconsole.key",
                 "/quality/gx/%2Fetc%2Fpasswd", "/quality/gx/static/vendor/.offline", "/quality/gx/validations",
                 "/quality/gx/static/vendor/../../../gx/validations/.ge_store_backend_id"):
        answer = admin.get(path)
        assert answer.status_code == 404, path
        assert key not in answer.text and "root:" not in answer.text
    assert admin.get("/quality/gx/no-such-page.html").status_code == 404
