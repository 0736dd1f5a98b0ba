"""An indicator below its target in the published marts raises one alert per region × indicator × month,
for the latest complete month only, and resolves when a corrected build meets the target.

The marts are built by the real dbt project; vte_monitor reads them through row-level security as a
member of vte_all_regions."""

from __future__ import annotations

from datetime import date

from vte.alerts import detect
from vte.dbt import run_dbt

from alert_world import World, department_row, shanghai

WENCHENG, WENZHOU, SHANGCHENG, ZHEJIANG = "330328", "330300", "330102", "330000"
FEBRUARY = [date(2026, 2, 10), date(2026, 2, 11)]
MARCH = [date(2026, 3, 10), date(2026, 3, 11)]
NOW = shanghai(date(2026, 4, 5), 9, 0)  # March is complete (its last reports were due on 04-02)


def build_marts(world: World) -> None:
    run_dbt(["build", "--select", "+fct_indicator_values", "--resource-type", "seed", "--resource-type", "model"],
            vars={"as_of_date": "2026-04-04"}, settings=world.settings)


def below_target(world: World) -> list[tuple]:
    return world.query("select region_code, details ->> 'indicator_id', details ->> 'month', level, state"
                       " from alerts.alerts where kind = 'below_target' order by 1, 2, 3")


def test_one_alert_per_region_indicator_and_month_for_the_latest_complete_month(world):
    assert detect.latest_complete_month(NOW) == date(2026, 3, 1)
    world.register("H330328903", WENCHENG, date(2026, 2, 1))
    world.register("H330102903", SHANGCHENG, date(2026, 2, 1))
    # Wencheng assesses 35 of 50 patients (B.1.1 70%, target 90%), in February and March; Shangcheng all.
    poor = [department_row("NK", 50, 35), department_row("WK", 50, 35)]
    world.report("H330328903", FEBRUARY + MARCH, rows=poor)
    world.report("H330102903", FEBRUARY + MARCH, rows=[department_row("NK"), department_row("WK")])
    build_marts(world)

    detected, _ = world.run(NOW)

    # The county and its city at 70% (20 points short: critical); the province at 85% (warning).
    # Shangcheng and Hangzhou meet it; February is not the latest complete month.
    assert below_target(world) == [
        (ZHEJIANG, "B.1.1", "2026-03-01", "warning", "open"),
        (WENZHOU, "B.1.1", "2026-03-01", "critical", "open"),
        (WENCHENG, "B.1.1", "2026-03-01", "critical", "open"),
    ]
    assert detected.opened["below_target"] == 3
    [(subject, message)] = world.query("select subject, message from alerts.alerts where kind = 'below_target'"
                                       " and region_code = %s", (WENCHENG,))
    assert subject == f"below_target:{WENCHENG}:B.1.1:2026-03"
    assert message == ("文成县 2026年03月 B.1.1 VTE风险评估率 70%，低于目标 90% / 文成县 2026-03:"
                       " B.1.1 VTE risk assessment rate 70% is below its target of 90%")

    detected, _ = world.run(NOW.replace(hour=10))
    assert detected.opened.get("below_target", 0) == 0 and detected.bumped["below_target"] == 3

    # Wencheng corrects March (new versions of the same days); the next build meets the target everywhere.
    world.report("H330328903", MARCH, rows=[department_row("NK"), department_row("WK", 50, 49)])
    build_marts(world)
    detected, _ = world.run(NOW.replace(hour=11))
    assert detected.resolved["below_target"] == 3
    assert {state for *_, state in below_target(world)} == {"resolved"}
