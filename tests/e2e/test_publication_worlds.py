"""Publication in provinces unlike the generator's defaults, through the real pipeline (Airflow, dbt, GX).

A province with no county medical community, one whose hospitals have a single campus, and one with a hospital
that reports a single department each publish; so does one with all three at once. Then in that one a hospital sends a count far above the plausibility bound with every
rule still holding: the next run publishes everybody else's new data, holds that row out with its reason in a
mart, in the hospital's feedback and in an alert, and the hospital's corrected version publishes.
"""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import psycopg
import pytest

from vte import domain, generator, pipeline, warehouse
from vte.access import analysts, roles
from vte.publication import feedback, history, suites
from vte.config import Settings
from vte.landing import LandingZone

START, END = date(2026, 8, 1), date(2026, 10, 5)
SEED = 4242

pytestmark = pytest.mark.slow


@dataclasses.dataclass
class World:
    settings: Settings
    institutions: list[generator.SyntheticInstitution]
    keys: dict[str, str]
    zone: LandingZone

    def land(self, code: str, day: str, rows: list[dict]):
        return self.zone.land(institution_code=code, access_key=self.keys[code], channel="api",
                              payload={"date": day, "data": rows})

    def query(self, sql: str, params=()) -> list[tuple]:
        with psycopg.connect(warehouse.url(self.settings), autocommit=True) as conn:
            return conn.execute(sql, params).fetchall()


@pytest.fixture(scope="module")
def world(warehouse_url, tmp_path_factory) -> World:
    settings = Settings(home=tmp_path_factory.mktemp("world"), warehouse_url=None)
    base = generator.synthetic_institutions(4, SEED, START)
    institutions = [dataclasses.replace(inst, community=None, joined_on=START, campuses=(inst.campuses[0],))
                    for inst in base]
    institutions[-1] = dataclasses.replace(institutions[-1], departments=(institutions[-1].departments[0],))
    with psycopg.connect(warehouse.start(settings), autocommit=True) as conn:
        credentials = generator.register_institutions(conn, institutions, settings)
    result = World(settings, institutions, {code: c.access_key for code, c in credentials.items()},
                   LandingZone(settings=settings))
    for sub in generator.iter_submissions(institutions, START, END - timedelta(days=1), SEED):
        result.land(sub.institution_code, sub.date, sub.data)
    yield result
    warehouse.stop(settings)


def _unusual(kind: str, institutions: list) -> list:
    """Registries unlike the generator's defaults, one peculiarity each."""
    if kind == "no community":
        return [dataclasses.replace(inst, community=None) for inst in institutions]
    if kind == "single campuses":
        return [dataclasses.replace(inst, campuses=(inst.campuses[0],)) for inst in institutions]
    return [*institutions[:-1], dataclasses.replace(institutions[-1], departments=(institutions[-1].departments[0],))]


@pytest.mark.parametrize("kind", ["no community", "single campuses", "single department"])
def test_a_province_unlike_the_generators_publishes(kind, warehouse_url, tmp_path):
    settings = Settings(home=tmp_path, warehouse_url=None)
    institutions = _unusual(kind, [dataclasses.replace(inst, joined_on=START)
                                   for inst in generator.synthetic_institutions(3, SEED + 1, START)])
    with psycopg.connect(warehouse.start(settings), autocommit=True) as conn:
        keys = {code: c.access_key for code, c in generator.register_institutions(conn, institutions, settings).items()}
    try:
        zone = LandingZone(settings=settings)
        for sub in generator.iter_submissions(institutions, START, START + timedelta(days=9), SEED):
            zone.land(institution_code=sub.institution_code, access_key=keys[sub.institution_code], channel="api",
                      payload={"date": sub.date, "data": sub.data})
        assert pipeline.run_once(settings), f"a province with {kind} did not publish"
        with psycopg.connect(warehouse.url(settings), autocommit=True) as conn:
            levels = {r[0] for r in conn.execute("select distinct level from marts.fct_indicator_values")}
            departments = conn.execute("select count(distinct department) from marts.fct_department_days"
                                       " where institution_code = %s", (institutions[-1].code,)).fetchone()[0]
        has_community = any(inst.community for inst in institutions)
        assert levels == {"department", "campus", "institution", "county", "city", "province",
                          *(["community"] if has_community else [])}
        assert departments == len(institutions[-1].departments)
    finally:
        warehouse.stop(settings)


def test_a_province_without_communities_single_campuses_and_a_single_department_publishes(world):
    assert pipeline.run_once(world.settings), "vte pipeline run failed: see the output above"
    levels = {r[0] for r in world.query("select distinct level from marts.fct_indicator_values")}
    assert levels == {"department", "campus", "institution", "county", "city", "province"}
    single = world.institutions[-1].code
    departments = world.query("select distinct department from marts.fct_indicator_values"
                              " where level = 'department' and entity_code = %s", (single,))
    assert departments == [(world.institutions[-1].departments[0],)]


def test_an_implausible_count_is_held_out_and_the_rest_of_the_province_publishes(world):
    day = END.isoformat()
    new_day = {sub.institution_code: sub.data for sub in generator.iter_submissions(world.institutions, END, END, SEED)}
    loud = world.institutions[0].code
    implausible = sorted((dict(row) for row in new_day[loud]), key=lambda r: -r["dischargeHospitalNodaily"])
    assert implausible[0]["dischargeHospitalNodaily"] > 0  # holding it out moves the institution's values
    implausible[0]["dischargeHospital"] = suites.PLAUSIBLE_MAX_COUNT * 5  # every rule still holds
    assert not domain.broken_rules(implausible[0])
    for code, rows in new_day.items():
        world.land(code, day, implausible if code == loud else rows)

    assert pipeline.run_once(world.settings), "one hospital's implausible count must not stop the province"

    # The run built and published only what it touched: October, the fourth quarter and the year (and their
    # successors a year on), while August and September stay as published before.
    [(built, total)] = world.query("select (row_counts ->> 'fct_indicator_values')::int,"
                                   " (select count(*) from marts.fct_indicator_values) from ops.publications"
                                   " where success order by publication_id desc limit 1")
    assert 0 < built < total
    months = {r[0].isoformat()[:7] for r in world.query(
        "select distinct period_start from marts.fct_indicator_values where period_type = 'month'")}
    assert months == {"2026-08", "2026-09", "2026-10"}

    published = dict(world.query("select institution_code, count(*) from marts.fct_department_days"
                                 " where report_date = %s group by institution_code", (END,)))
    assert published == {code: len(rows) - (code == loud) for code, rows in new_day.items()}
    [(fields, department)] = world.query("select implausible_fields, department from marts.fct_quarantined_rows"
                                         " where institution_code = %s and report_date = %s", (loud, END))
    assert fields == ["dischargeHospital"] and department == implausible[0]["dept"]
    report = feedback.latest_report(loud, world.settings)
    [held_out] = [r for r in report["quarantinedRows"] if r["reportDate"] == day]
    assert [rule["ruleId"] for rule in held_out["rules"]] == ["P.dischargeHospital"]
    [(stage, message)] = world.query("select stage, message from ops.alerts where stage = 'held_out'"
                                     " order by alert_id desc limit 1")
    assert loud in message and "P.dischargeHospital" in message

    world.land(loud, day, new_day[loud])  # the hospital corrects it
    assert pipeline.run_once(world.settings)
    assert world.query("select count(*) from marts.fct_department_days where institution_code = %s"
                       " and report_date = %s", (loud, END)) == [(len(new_day[loud]),)]
    assert world.query("select count(*) from marts.fct_quarantined_rows where institution_code = %s"
                       " and report_date = %s", (loud, END)) == [(0,)]


def test_every_publication_is_kept_and_the_correction_is_named(world):
    """After the three runs above: the history holds each publication as of its time, and the values the
    correction moved name the correcting submission."""
    first, held_out, corrected = [r[0] for r in world.query(
        "select publication_id from ops.publications where success order by publication_id")][-3:]
    assert world.query("select count(*) from marts.fct_indicator_values_history where valid_to_publication is null") \
        == world.query("select count(*) from marts.fct_indicator_values")
    loud = world.institutions[0].code
    as_of = """select numerator, denominator from marts.fct_indicator_values_history
               where level = 'institution' and entity_code = %s and period_type = 'month' and period_start = %s
                 and indicator_id = 'B.1.1' and valid_from_publication <= %s
                 and coalesce(valid_to_publication > %s, true)"""
    october = date(END.year, END.month, 1)
    [(_, denominator_held_out)] = world.query(as_of, (loud, october, held_out, held_out))
    [(_, denominator_corrected)] = world.query(as_of, (loud, october, corrected, corrected))
    assert denominator_corrected > denominator_held_out  # the held-out department is counted again

    [(province,)] = world.query("select distinct province_code from marts.dim_institutions")
    with psycopg.connect(warehouse.url(world.settings), autocommit=True) as conn:
        found = history.changes(conn, period_type="month", start=october, end=date(2026, 10, 31), region=province,
                                from_publication=held_out, to_publication=corrected)
        assert history.changes(conn, period_type="month", start=date(2026, 8, 1), end=date(2026, 8, 31),
                               region=province, from_publication=held_out, to_publication=corrected) == []
    assert {c.level for c in found} >= {"department", "institution", "county", "city", "province"}
    assert {c.entity_code for c in found if c.level == "institution"} == {loud}
    for change in found:
        assert [(s.institution_code, s.report_date, s.version) for s in change.submissions] == [(loud, END, 2)]


def test_a_city_analyst_reads_the_city_and_nothing_of_another_after_every_publication(world):
    """After the runs above (one whole publication, then sliced ones): row-level security survived each."""
    assert world.query("select count(*) from ops.publications where success")[0][0] >= 3
    city = world.query("select city_code from marts.dim_institutions where institution_code = %s",
                       (world.institutions[0].code,))[0][0]
    with warehouse.connect(world.settings, role=roles.ADMIN, autocommit=True) as conn:
        login = analysts.create(conn, login="city_analyst", region_code=city)
    inside = {code for code, in world.query("select institution_code from marts.dim_institutions where city_code = %s",
                                            (city,))}
    assert inside and inside != {inst.code for inst in world.institutions}
    regions = {code for code, in world.query("select region_code from marts.dim_regions"
                                             " where region_code = %s or parent_region_code = %s", (city, city))}
    with psycopg.connect(warehouse.as_role(warehouse.url(world.settings, role=roles.ADMIN), login.login, None)) as conn:
        for table in ("dim_institutions", "dim_departments", "fct_department_days", "fct_quarantined_rows",
                      "fct_warning_rows"):
            seen = {code for code, in conn.execute(f"select distinct institution_code from marts.{table}")}
            everyone = {code for code, in world.query(f"select distinct institution_code from marts.{table}")}
            assert seen == everyone & inside, table
        for table in ("fct_indicator_values", "fct_indicator_values_history", "fct_reporting_completeness"):
            seen = set(conn.execute(f"select distinct level, entity_code from marts.{table}").fetchall())
            assert seen, table
            assert {code for level, code in seen if level in ("institution", "campus", "department")} <= inside
            assert {code for level, code in seen if level in ("county", "city")} <= regions
            assert "province" not in {level for level, _ in seen}
            everyone = set(world.query(f"select distinct level, entity_code from marts.{table}"))
            expected = {(level, code) for level, code in everyone if code in inside | regions}
            assert seen == expected, table
