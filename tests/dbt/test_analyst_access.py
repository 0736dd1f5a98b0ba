"""Analysts log in as themselves, read the published marts of their region only, and nothing else.

The province (330000) has two cities: 330100 (county 330102) and 330300 (counties 330302, 330328). Each
analyst is created with `vte analysts create` and connects with its own login, as an analyst would.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import date
from decimal import Decimal

import psycopg
import pytest
from indicator_oracle import indicator_values

from vte import warehouse
from vte.config import PROJECT_ROOT

pytestmark = pytest.mark.slow
QUERIES = re.findall(r"```sql\n(.*?)```", (PROJECT_ROOT / "docs" / "analyst-queries.md").read_text(), re.S)
WENZHOU, HANGZHOU_COUNTY = "330300", "330102"
SCOPED_TABLES = {  # every marts relation an analyst is scoped in, and the column(s) that place its rows
    "dim_institutions": "institution_code", "dim_departments": "institution_code",
    "fct_department_days": "institution_code", "fct_quarantined_rows": "institution_code",
    "fct_warning_rows": "institution_code", "fct_indicator_values": "entity", "fct_reporting_completeness": "entity",
    "fct_institution_funnel": "institution_code", "fct_institution_ranking": "institution_code",
    "fct_submission_counts": "entity", "fct_indicator_changes": "entity", "fct_daily_indicator_values": "entity",
    "fct_department_completeness": "institution_code",
}  # fct_indicator_values_history fills only through publications: tests/e2e/test_publication_worlds.py


def create_analyst(name: str, region: str, *extra: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "vte.cli", "analysts", "create", "--name", name, "--region", region,
                           "--json", *extra], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def province_analyst(province) -> dict:
    return create_analyst("zj_analyst", "330000")


@pytest.fixture(scope="module")
def city_analyst(province) -> dict:
    return create_analyst("wz_analyst", WENZHOU)


def read(login: dict, sql: str) -> list[tuple]:
    with psycopg.connect(login["url"]) as conn:
        assert conn.execute("select current_user").fetchone()[0] == login["login"]
        return conn.execute(sql).fetchall()


def test_the_province_analyst_reads_the_marts(province_analyst):
    assert read(province_analyst, "select count(*) from marts.fct_indicator_values")[0][0] > 0
    assert read(province_analyst, "select count(*) from marts.fct_reporting_completeness")[0][0] > 0


@pytest.mark.parametrize("relation", ["raw.submissions", "raw.submission_rows", "registry.accounts",
                                      "registry.institutions", "int.int_department_days_classified",
                                      "stg.stg_vte__submissions", "ref.indicators", "ops.intake_requests",
                                      "ops.admin_audit", "access.analyst_regions"])
def test_an_analyst_cannot_read_anything_else(province_analyst, relation):
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        read(province_analyst, f"select * from {relation} limit 1")


def test_five_documented_queries_run_as_the_analyst(province_analyst):
    assert len(QUERIES) == 7
    for sql in QUERIES:
        assert read(province_analyst, sql), sql


def test_the_county_query_gives_the_independently_computed_b22(province, db, province_analyst):
    expected = {
        key[1]: (value["numerator"], value["denominator"], value["rate"], Decimal(70), value["meets_target"])
        for key, value in indicator_values(db, province.built_at).items()
        if key[0] == "county" and key[4] == "month" and key[5] == date(2025, 3, 1) and key[6] == "B.2.2"
    }
    rows = read(province_analyst, QUERIES[0])
    assert {row[0]: row[2:] for row in rows} == expected


def city_rows(db, table: str, column: str) -> tuple[set, set]:
    """(codes of the city's rows, codes of every row) of a marts relation, read as the superuser."""
    institutions_in = {r[0] for r in db.execute(
        "select institution_code from registry.institutions where county_code in"
        " (select region_code from registry.regions where region_code = %s or parent_code = %s)", (WENZHOU, WENZHOU))}
    if column == "institution_code":
        every = {r[0] for r in db.execute(f"select distinct institution_code from marts.{table}")}
        return every & institutions_in, every
    every = {tuple(r) for r in db.execute(f"select distinct level, entity_code from marts.{table}")}
    inside = {(level, code) for level, code in every
              if code in institutions_in or code in (WENZHOU, "330302", "330328")
              or (level == "community" and code in {r[0] for r in db.execute(
                  "select community_name from registry.institutions where county_code in ('330302', '330328')")})}
    return inside, every


@pytest.mark.parametrize("table", sorted(SCOPED_TABLES))
def test_a_city_analyst_reads_every_row_of_the_city_and_none_of_another(db, city_analyst, table):
    column = SCOPED_TABLES[table]
    inside, every = city_rows(db, table, column)
    assert inside, "the city must have rows in every scoped table"
    if table not in ("fct_quarantined_rows", "fct_warning_rows"):  # these have a few institutions only
        assert every - inside, "the world must have rows on both sides of the city's border"
    key = "institution_code" if column == "institution_code" else "level, entity_code"
    seen = {r[0] if column == "institution_code" else tuple(r)
            for r in read(city_analyst, f"select distinct {key} from marts.{table}")}
    assert seen == inside


def test_the_province_totals_only_where_granted(db, city_analyst):
    assert not read(city_analyst, "select 1 from marts.fct_indicator_values where level = 'province'")
    with_totals = create_analyst("wz_director", WENZHOU, "--province-totals")
    assert read(with_totals, "select count(*) from marts.fct_indicator_values where level = 'province'")[0][0] > 0
    assert not read(with_totals, f"select 1 from marts.fct_indicator_values where entity_code = '{HANGZHOU_COUNTY}'")
    # The funnel shows the province's rate beside the institution's: only with the province totals too.
    assert not read(city_analyst, "select 1 from marts.fct_institution_funnel where region_level = 'province'")
    assert read(with_totals, "select count(*) from marts.fct_institution_funnel where region_level = 'province'"
                )[0][0] > 0
    assert not read(with_totals, "select 1 from marts.fct_institution_funnel where region_code = '330100'")


def test_a_revoked_analyst_can_no_longer_log_in(province):
    login = create_analyst("leaving_analyst", WENZHOU)
    assert read(login, "select count(*) from marts.dim_institutions")[0][0] > 0
    proc = subprocess.run([sys.executable, "-m", "vte.cli", "analysts", "revoke", "leaving_analyst"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    with pytest.raises(psycopg.OperationalError, match="leaving_analyst"):
        read(login, "select 1")
    listed = subprocess.run([sys.executable, "-m", "vte.cli", "analysts", "list"], capture_output=True, text=True)
    assert "leaving_analyst" not in listed.stdout and "wz_analyst" in listed.stdout


def test_an_unknown_region_or_a_taken_name_is_refused_in_one_line(province_analyst):
    for args, message in ((["--name", "nobody", "--region", "999999"], "not a known GB/T 2260 code"),
                          (["--name", "zj_analyst", "--region", "330000"], "already exists"),
                          (["--name", "vte_owner", "--region", "330000"], "must be")):
        proc = subprocess.run([sys.executable, "-m", "vte.cli", "analysts", "create", *args],
                              capture_output=True, text=True)
        assert proc.returncode == 2 and message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_the_password_is_kept_only_as_a_scram_verifier(db, province_analyst):
    stored = db.execute("select rolpassword from pg_authid where rolname = 'zj_analyst'").fetchone()[0]
    assert stored.startswith("SCRAM-SHA-256$") and province_analyst["password"] not in stored
    assert warehouse.without_password(province_analyst["url"]) == province_analyst["url"]  # no password in it
