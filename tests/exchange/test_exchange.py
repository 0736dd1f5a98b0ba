"""`vte export` against a small published world: FHIR R4 MeasureReports and IHE ADX, validated, round-tripped
against marts.fct_indicator_values (the partial mark included), byte-identical on a rerun, and as of an earlier
publication.

One world for the module: three institutions (one in a county medical community, two with a second campus)
report ten days of March, the pipeline publishes (the earlier publication), ten more days arrive, and it
publishes again (the current one).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import psycopg
import pytest

from vte import generator, pipeline, warehouse
from vte.config import Settings
from vte.exchange import adx, fhir
from vte.exchange.read import ExchangeError, REGION_LEVELS
from vte.landing import LandingZone

START, FIRST_END, END = date(2026, 3, 1), date(2026, 3, 10), date(2026, 3, 20)
SEED = 4242
BASE = "https://fhir.vte.test/r4"
MONTH = ("month", date(2026, 3, 1))

pytestmark = pytest.mark.slow


@dataclasses.dataclass
class World:
    settings: Settings
    institutions: list[generator.SyntheticInstitution]
    first_publication: int
    first_month: dict  # the month's values as the first publication held them in marts
    current_publication: int
    published_at: object

    def query(self, sql: str, params=()) -> list[tuple]:
        with psycopg.connect(warehouse.url(self.settings), autocommit=True) as conn:
            return conn.execute(sql, params).fetchall()

    def export(self, *args: str, base: str | None = BASE) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("VTE_FHIR")} | {
            "VTE_HOME": str(self.settings.home)}
        if base:
            env["VTE_FHIR_BASE_URL"] = base
        return subprocess.run([sys.executable, "-c", "from vte.cli.export import main; main()", *args],
                              capture_output=True, text=True, env=env, timeout=300)

    def exported(self, *args: str) -> Path:
        proc = self.export(*args)
        assert proc.returncode == 0, proc.stderr
        [line] = proc.stdout.splitlines()
        return Path(line)


def _month_values(settings: Settings) -> dict:
    with psycopg.connect(warehouse.url(settings), autocommit=True) as conn:
        return {(r[0], r[1], r[2], r[3], r[4]): r[5:] for r in conn.execute(
            "select level, entity_code, campus, department, indicator_id, numerator, denominator, rate,"
            " is_partial_period from marts.fct_indicator_values where period_type = 'month' and period_start = %s",
            (MONTH[1],))}


@pytest.fixture(scope="module")
def world(vte_home) -> World:
    # Not under pytest's own temporary directory: a pytest session started meanwhile on the same machine makes
    # that 0700 again, and the embedded server's own user could then no longer be stopped.
    home = Path(tempfile.mkdtemp(prefix="vte-exchange-"))
    settings = Settings(home=home, warehouse_url=None)
    institutions = [dataclasses.replace(inst, joined_on=START)
                    for inst in generator.synthetic_institutions(3, SEED, START)]
    assert any(inst.community for inst in institutions) and any(len(inst.campuses) > 1 for inst in institutions)
    with psycopg.connect(warehouse.start(settings), autocommit=True) as conn:
        keys = {code: c.access_key for code, c in generator.register_institutions(conn, institutions, settings).items()}
    zone = LandingZone(settings=settings)

    def land(first: date, last: date) -> None:
        for sub in generator.iter_submissions(institutions, first, last, SEED):
            zone.land(institution_code=sub.institution_code, access_key=keys[sub.institution_code], channel="api",
                      payload={"date": sub.date, "data": sub.data})

    try:
        land(START, FIRST_END)
        assert pipeline.run_once(settings), "vte pipeline run failed: see the output above"
        first_month = _month_values(settings)
        land(FIRST_END + timedelta(days=1), END)
        assert pipeline.run_once(settings), "vte pipeline run failed: see the output above"
        with psycopg.connect(warehouse.url(settings), autocommit=True) as conn:
            (first, _), (current, published_at) = conn.execute(
                "select publication_id, published_at from ops.publications where success"
                " order by publication_id desc limit 2").fetchall()[::-1]
        yield World(settings, institutions, first, first_month, current, published_at)
    finally:
        warehouse.stop(settings)
        shutil.rmtree(home, ignore_errors=True)


def expected_values(world: World, period_type: str, start: date, region: str) -> dict:
    """The values of marts.fct_indicator_values an export of the period and region must hold: the region and
    every level below it, the registry placing institutions."""
    institutions = world.query("select institution_code, county_code, city_code, province_code, community_name"
                               " from marts.dim_institutions where %s in (county_code, city_code, province_code)",
                               (region,))
    [(region_level,)] = world.query("select region_level from marts.dim_regions where region_code = %s", (region,))
    inside = {"institution": {i[0] for i in institutions}, "county": {i[1] for i in institutions},
              "community": {i[4] for i in institutions if i[4]},
              "city": {i[2] for i in institutions} if region_level in ("province", "city") else set(),
              "province": {region} if region_level == "province" else set()}
    rows = world.query("select level, entity_code, campus, department, indicator_id, numerator, denominator, rate,"
                       " is_partial_period from marts.fct_indicator_values"
                       " where period_type = %s and period_start = %s", (period_type, start))
    scope = {"campus": "institution", "department": "institution"}
    return {r[:5]: r[5:] for r in rows if r[1] in inside[scope.get(r[0], r[0])]}


def _rate(numerator: int, denominator: int) -> Decimal | None:
    """What a receiver of ADX computes, as the warehouse does: Σ numerator / Σ denominator × 100, 4 decimals."""
    if denominator == 0:
        return None
    return (Decimal(100) * numerator / denominator).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def _province(world: World) -> str:
    return world.query("select distinct province_code from marts.dim_institutions")[0][0]


def _fhir_values(path: Path) -> tuple[fhir.ReadBundle, dict]:
    bundle = fhir.read_bundle(path)
    values = {v.key: (v.numerator, v.denominator, v.score, v.partial) for v in bundle.values}
    assert len(values) == len(bundle.values), "one MeasureReport per entity and indicator"
    return bundle, values


def _adx_values(path: Path) -> tuple[adx.ReadMessage, dict]:
    message = adx.read_message(path)
    values = {v.key: (v.numerator, v.denominator, _rate(v.numerator, v.denominator), v.partial)
              for v in message.values}
    assert len(values) == len(message.values), "one group per entity, each indicator once"
    return message, values


PERIODS = [("2026-03", "month", date(2026, 3, 1), "2026-03-31", "2026-03-01/P1M"),
           ("2026Q1", "quarter", date(2026, 1, 1), "2026-03-31", "2026-01-01/P3M"),
           ("2026", "year", date(2026, 1, 1), "2026-12-31", "2026-01-01/P1Y")]


@pytest.mark.parametrize("label, period_type, start, end, adx_period", PERIODS)
def test_fhir_bundle_validates_and_round_trips_the_province(world, label, period_type, start, end, adx_period):
    province = _province(world)
    path = world.exported("--period", label, "--format", "fhir")
    assert path == world.settings.exports_dir / "exchange" / label / province / \
        f"vte-{label}-{province}-p{world.current_publication}.fhir.json"
    bundle, values = _fhir_values(path)
    expected = expected_values(world, period_type, start, province)
    assert {level for level, *_ in expected} == {"province", "city", "county", "community", "institution", "campus",
                                                  "department"}
    assert values == expected  # numerator, denominator, score and partial mark of every value, nothing more
    assert bundle.publication_id == world.current_publication
    assert bundle.published_at == fhir.timestamp(world.published_at)
    assert (bundle.period_start, bundle.period_end) == (start.isoformat(), end)
    assert bundle.base_url == BASE

    document = json.loads(path.read_text(encoding="utf-8"))
    reports = [e["resource"] for e in document["entry"] if e["resource"]["resourceType"] == "MeasureReport"]
    assert {(r["type"], r["date"]) for r in reports} == {("summary", bundle.published_at)}
    # March has reports up to the 20th only: every value is partial, so every report is an interim one.
    assert {r["status"] for r in reports} == {"pending"} and all(v[3] for v in expected.values())
    assert {r["measure"] for r in reports} == {f"{BASE}/Measure/vte-{key[4]}" for key in expected}
    assert document["meta"]["lastUpdated"] == document["timestamp"] == bundle.published_at
    population_codes = {(c["system"], c["code"]) for r in reports for p in r["group"][0]["population"]
                        for c in p["code"]["coding"]}
    assert population_codes == {(fhir.MEASURE_POPULATION, "numerator"), (fhir.MEASURE_POPULATION, "denominator")}
    scores = [r["group"][0]["measureScore"] for r in reports if "measureScore" in r["group"][0]]
    assert scores and {(s["unit"], s["system"], s["code"]) for s in scores} == {("%", fhir.UCUM, "%")}
    regions = [e["resource"] for e in document["entry"] if e["resource"]["resourceType"] == "Location"
               and e["resource"]["identifier"][0]["system"] == f"{BASE}/sid/gbt2260"]
    assert {r["identifier"][0]["value"] for r in regions} == {k[1] for k in expected if k[0] in REGION_LEVELS}


@pytest.mark.parametrize("label, period_type, start, end, adx_period", PERIODS)
def test_adx_message_is_schema_valid_and_round_trips_the_province(world, label, period_type, start, end, adx_period):
    province = _province(world)
    path = world.exported("--period", label, "--format", "adx")
    assert path.name == f"vte-{label}-{province}-p{world.current_publication}.adx.xml"
    message, values = _adx_values(path)
    assert values == expected_values(world, period_type, start, province)  # the rate as the receiver computes it
    assert message.publication_id == world.current_publication
    assert message.exported == fhir.timestamp(world.published_at)
    assert message.periods == {adx_period}
    text = path.read_text(encoding="utf-8")
    assert f"publication {world.current_publication} of {message.exported}" in text.splitlines()[1]


def test_a_city_and_a_county_export_their_entities_and_nothing_above(world, tmp_path):
    community_member = next(inst for inst in world.institutions if inst.community)
    [(city,)] = world.query("select city_code from marts.dim_institutions where institution_code = %s",
                            (community_member.code,))
    for region, absent in ((city, {"province"}), (community_member.county_code, {"province", "city"})):
        expected = expected_values(world, *MONTH, region)
        assert "community" in {k[0] for k in expected} and not absent & {k[0] for k in expected}
        bundle, values = _fhir_values(world.exported("--period", "2026-03", "--region", region, "--format", "fhir",
                                                     "--out", str(tmp_path / region)))
        assert values == expected
        _, values = _adx_values(world.exported("--period", "2026-03", "--region", region, "--format", "adx",
                                               "--out", str(tmp_path / region)))
        assert values == expected


def test_a_rerun_writes_identical_bytes(world, tmp_path):
    for fmt in ("fhir", "adx"):
        first = world.exported("--period", "2026Q1", "--format", fmt, "--out", str(tmp_path / "a"))
        again = world.exported("--period", "2026Q1", "--format", fmt, "--out", str(tmp_path / "b"))
        assert first.name == again.name and first.read_bytes() == again.read_bytes(), fmt
        # The current publication read from marts and read from the history as of its number are the same bytes.
        named = world.exported("--period", "2026Q1", "--format", fmt, "--publication", str(world.current_publication),
                               "--out", str(tmp_path / "c"))
        assert named.read_bytes() == first.read_bytes(), fmt
    audited = world.query("select details ->> 'format', (details ->> 'publication')::int from ops.admin_audit"
                          " where action = 'exchange.export' and subject = %s", (str(first),))
    assert audited and set(audited) == {("adx", world.current_publication)}


def test_an_earlier_publication_exports_what_it_held(world, tmp_path):
    assert world.first_publication < world.current_publication
    earlier = world.first_month  # every entity lies in the province
    assert earlier != expected_values(world, *MONTH, _province(world)), "the second publication changed the month"
    fhir_path = world.exported("--period", "2026-03", "--format", "fhir", "--publication",
                               str(world.first_publication), "--out", str(tmp_path))
    assert fhir_path.name.endswith(f"-p{world.first_publication}.fhir.json")
    bundle, values = _fhir_values(fhir_path)
    assert bundle.publication_id == world.first_publication and values == earlier
    [(published_at,)] = world.query("select published_at from ops.publications where publication_id = %s",
                                    (world.first_publication,))
    assert bundle.published_at == fhir.timestamp(published_at)
    message, values = _adx_values(world.exported("--period", "2026-03", "--format", "adx", "--publication",
                                                 str(world.first_publication), "--out", str(tmp_path)))
    assert message.publication_id == world.first_publication and values == earlier


def test_what_the_validators_refuse(world, tmp_path):
    """The checks are real: a bundle or a message changed after writing no longer reads back."""
    path = world.exported("--period", "2026-03", "--format", "fhir", "--out", str(tmp_path))
    text = path.read_text(encoding="utf-8")
    for changed, message in [(text.replace('"status":"pending"', '"status":"done"', 1), "is not one of the codes"),
                             (text.replace('"count":', '"count":"many","x":', 1), "not a valid FHIR R4 Bundle"),
                             (text.replace('"type":"summary",', "", 1), "not a valid FHIR R4 Bundle")]:
        broken = tmp_path / "broken.fhir.json"
        broken.write_text(changed, encoding="utf-8")
        with pytest.raises(ExchangeError, match=message):
            fhir.read_bundle(broken)
    path = world.exported("--period", "2026-03", "--format", "adx", "--out", str(tmp_path))
    text = path.read_text(encoding="utf-8")
    for changed in (text.replace('value="', 'value="x', 1), text.replace("VTE_B_1_1_NUM", "VTE_B_9_9_NUM", 1),
                    text.replace("/P1M", "/1M", 1), text.replace(' dataSet="VTE_QC"', "", 1),
                    text.replace("VTE_B_1_2_NUM", "VTE_B_1_1_NUM", 1)):
        broken = tmp_path / "broken.adx.xml"
        broken.write_text(changed, encoding="utf-8")
        with pytest.raises(ExchangeError, match="is not valid against the ADX schema adx.xsd"):
            adx.read_message(broken)


@pytest.mark.parametrize("args, message", [
    (["--period", "2026-13", "--format", "fhir"], "--period: period '2026-13': month 13 is not 01-12"),
    (["--period", "March", "--format", "adx"], "--period: period 'March' is not a month (2026-03)"),
    (["--period", "2026-03", "--format", "xml"], "--format: format 'xml' is neither fhir"),
    (["--period", "2026-03", "--format", "fhir", "--region", "33"],
     "--region: region '33' is not a six-digit GB/T 2260 code"),
    (["--period", "2026-03", "--format", "adx", "--region", "339999"],
     "--region: region 339999 is not a division in the published marts (dim_regions)"),
    (["--period", "2026-03", "--format", "fhir", "--publication", "999999"],
     "--publication: publication 999999 is not a successful publication (see ops.publications)"),
    (["--period", "2026-03", "--format", "adx", "--publication", "abc"],
     "--publication: 'abc' is not a publication id"),
    (["--period", "2025-03", "--format", "fhir"], "holds no indicator values for 2025-03 in "),
    (["--period", "2026-03", "--format", "adx", "--region", "330100"],
     "holds no indicator values for 2026-03 in 330100"),
    (["--period", "2026-03", "--format", "fhir", "--base-url", "ftp://x"], "--base-url: FHIR base URL 'ftp://x'"),
    (["--period", "2026-03", "--format", "adx", "--base-url", BASE], "--base-url: only with --format fhir"),
])
def test_what_is_wrong_is_one_line(world, args, message):
    proc = world.export(*args)
    assert proc.returncode != 0, proc.stdout
    assert proc.stderr.startswith("error: ") and message in proc.stderr, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stdout == "", proc.stderr
