"""Analysts (role vte_analyst) read the published marts and nothing else; the documented queries run as them."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import psycopg
import pytest
from indicator_oracle import indicator_values

from vte.config import PROJECT_ROOT

pytestmark = pytest.mark.slow
QUERIES = re.findall(r"```sql\n(.*?)```", (PROJECT_ROOT / "docs" / "analyst-queries.md").read_text(), re.S)


def as_analyst(conn: psycopg.Connection, sql: str) -> list[tuple]:
    with conn.transaction(force_rollback=True):
        conn.execute("set local role vte_analyst")
        return conn.execute(sql).fetchall()


def test_the_analyst_reads_the_marts(province, db):
    assert as_analyst(db, "select count(*) from marts.fct_indicator_values")[0][0] > 0
    assert as_analyst(db, "select count(*) from marts.fct_reporting_completeness")[0][0] > 0


@pytest.mark.parametrize("relation", ["raw.submissions", "raw.submission_rows", "registry.accounts",
                                      "registry.institutions", "int.int_department_days_classified",
                                      "stg.stg_vte__submissions", "ref.indicators"])
def test_the_analyst_cannot_read_anything_else(province, db, relation):
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        as_analyst(db, f"select * from {relation} limit 1")


def test_the_login_role_for_analysts_is_a_member_of_vte_analyst(warehouse_url):
    with psycopg.connect(warehouse_url) as conn:
        assert conn.execute("select pg_has_role('vte_reader', 'vte_analyst', 'member')").fetchone() == (True,)


def test_five_documented_queries_run_as_the_analyst(province, db):
    assert len(QUERIES) == 5
    for sql in QUERIES:
        assert as_analyst(db, sql), sql


def test_the_county_query_gives_the_independently_computed_b22(province, db):
    expected = {
        key[1]: (value["numerator"], value["denominator"], value["rate"], Decimal(70), value["meets_target"])
        for key, value in indicator_values(db, province.built_at).items()
        if key[0] == "county" and key[4] == "month" and key[5] == date(2025, 3, 1) and key[6] == "B.2.2"
    }
    rows = as_analyst(db, QUERIES[0])
    assert {row[0]: row[2:] for row in rows} == expected
