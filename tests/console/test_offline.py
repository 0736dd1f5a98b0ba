"""On a provincial intranet nothing outside the console can be reached: every page must load from the console
alone. The browser's network is cut off for every other host, and the pages are checked for references."""

from __future__ import annotations

import httpx
from console_support import cut_off_the_network, external_references, sign_in
from console_world import WENCHENG, WENZHOU


def test_every_page_loads_with_the_network_cut_off(world, page):
    console = world.console.url
    offline = cut_off_the_network(page, console)
    loaded: list[str] = []
    page.on("requestfinished", lambda request: loaded.append(request.url))
    month = f"{world.month:%Y-%m}"
    pages = ["/monitoring", f"/monitoring?month={month}", f"/monitoring?day={world.missing_day}&region={WENZHOU}",
             f"/monitoring?month={month}&region={WENCHENG}&status=late", f"/monitoring/institutions/CS02?month={month}",
             "/indicators", f"/indicators?region={WENZHOU}&period={world.month.year}&indicator=B.2.2",
             f"/review?month={month}", "/alerts", "/alerts?state=resolved", "/onboarding", "/no-such-page"]

    page.goto(f"{console}/sign-in")
    htmls = [page.content()]
    sign_in(page, console, "province_admin", world.passwords["province_admin"])
    for path in pages:
        page.goto(f"{console}{path}")
        page.wait_for_load_state("load")
        assert page.locator("link[rel=stylesheet]").count() == 1, path
        # the stylesheet applied (a CSP refusal or a failed download would leave the header unstyled)
        assert page.eval_on_selector("header.top", "e => getComputedStyle(e).backgroundColor") == "rgb(30, 58, 95)"
        if path == "/monitoring":  # the charts are inline SVG: nothing to download
            assert page.locator("svg.chart").count() == 2
        htmls.append(page.content())

    assert offline.attempted == [], offline.attempted
    assert offline.errors == [], offline.errors  # e.g. "Refused to load … Content Security Policy"
    assert any(url.endswith("/static/console.css") for url in loaded)
    for html in htmls:
        assert external_references(html) == []
    stylesheet = httpx.get(f"{console}/static/console.css").text
    assert external_references(stylesheet) == [] and "@font-face" not in stylesheet
    assert "<script" not in "".join(htmls)
