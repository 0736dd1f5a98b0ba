"""The alerts page: a county reviewer sees its county's alerts only, acknowledges and resolves them; a viewer
reads its region's without the buttons. vte.alerts.model keeps the record; console.audit_events the actions."""

from __future__ import annotations

from console_support import cut_off_the_network, sign_in, sign_out


def _shown(page) -> dict[str, str]:
    rows = page.locator("#alerts tbody tr")
    return {rows.nth(i).get_attribute("data-institution"): rows.nth(i).get_attribute("data-state")
            for i in range(rows.count())}


def test_a_reviewer_acknowledges_and_resolves_its_countys_alert(world, page):
    console = world.console.url
    offline = cut_off_the_network(page, console)
    mine, other = world.alerts["CS02"], world.alerts["CS04"]

    sign_in(page, console, "wc_reviewer", world.passwords["wc_reviewer"])
    page.goto(f"{console}/alerts")
    assert _shown(page) == {"CS02": "open"}
    page.click(f"#acknowledge-{mine}")
    assert "已确认" in page.inner_text("#notice") and page.locator("#no-alerts").count() == 1
    page.click("#state-acknowledged")
    assert _shown(page) == {"CS02": "acknowledged"}
    page.fill(f"tr[data-alert='{mine}'] input[name=note]", "已电话联系医院补报")
    page.click(f"#resolve-{mine}")
    page.click("#state-resolved")
    assert _shown(page) == {"CS02": "resolved"}
    assert "已电话联系医院补报" in page.inner_text(f"tr[data-alert='{mine}']")
    # Hangzhou's alert is not the county reviewer's, whatever the form says
    assert page.request.post(f"{console}/alerts/{other}/acknowledge",
                             form={"csrf": page.input_value("form[action='/sign-out'] input[name=csrf]")}).status == 404
    sign_out(page)

    sign_in(page, console, "hz_viewer", world.passwords["hz_viewer"])
    page.goto(f"{console}/alerts")
    assert _shown(page) == {"CS04": "open"}
    assert page.locator(f"#acknowledge-{other}, #resolve-{other}").count() == 0
    assert offline.attempted == [] and offline.errors == []

    assert world.query("select state, acknowledged_by, resolved_by, resolution from alerts.alerts"
                       " where alert_id = %s", (mine,)) == \
        [("resolved", "console:wc_reviewer", "console:wc_reviewer", "已电话联系医院补报")]
    assert world.query("select state from alerts.alerts where alert_id = %s", (other,)) == [("open",)]
    assert world.query("select action, subject, details ->> 'outcome' from console.audit_events"
                       " where username = 'wc_reviewer' and action like 'alert.%%' order by event_id") == \
        [("alert.acknowledge", f"alert {mine}", "done"), ("alert.resolve", f"alert {mine}", "done")]
