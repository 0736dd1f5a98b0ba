"""The day-grain tables dbt builds are partitioned by month like raw (migration 022, macros/month_partitions.sql):
one partition per month raw holds, kept in the partitions schema, read through the parent only."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

pytestmark = pytest.mark.slow

DAY_GRAIN_TABLES = ("int.int_department_days_classified", "int.int_institution_days_aggregated",
                    "marts.fct_department_days", "marts.fct_daily_indicator_values")


def month_bounds(db, parent: str) -> dict[str, tuple[str, str, str]]:
    """Partition name → (schema, lower bound, upper bound) of each partition of ``parent``."""
    return {name: (schema, lower, upper) for name, schema, lower, upper in db.execute(
        "select child.relname, child.relnamespace::regnamespace::text,"
        " substring(pg_get_expr(child.relpartbound, child.oid) from 'FROM \\(''([0-9-]+)''\\)'),"
        " substring(pg_get_expr(child.relpartbound, child.oid) from 'TO \\(''([0-9-]+)''\\)')"
        " from pg_inherits inner join pg_class as child on child.oid = pg_inherits.inhrelid"
        " where pg_inherits.inhparent = %s::regclass", (parent,))}


def raw_months(db) -> set[str]:
    return {lower for _, lower, _ in month_bounds(db, "raw.submission_rows").values()}


@pytest.mark.parametrize("table", DAY_GRAIN_TABLES)
def test_day_grain_tables_have_a_partition_per_month_of_raw(province, db, table):
    assert db.execute("select relkind from pg_class where oid = %s::regclass", (table,)).fetchone()[0] == "p"
    partitions = month_bounds(db, table)
    assert {schema for schema, _, _ in partitions.values()} == {"partitions"}
    lowers = {lower for _, lower, _ in partitions.values()}
    # Each partition is one calendar month, and each is a month raw holds.
    for _, lower, upper in partitions.values():
        assert lower.endswith("-01") and db.execute(
            "select %s::date + interval '1 month' = %s::date", (lower, upper)).fetchone()[0]
    assert lowers <= raw_months(db)
    # Every month the table has rows in is a month raw holds (the rows came from there), and has its partition.
    row_months = {m.isoformat() for m, in db.execute(
        sql.SQL("select distinct date_trunc('month', report_date)::date from {}").format(
            sql.Identifier(*table.split("."))))}
    assert row_months and row_months <= lowers


def test_add_report_months_follows_raw_once(db):
    """A partitioned table gets exactly raw's months, a second call adds none, a plain table is left alone."""
    db.execute("create schema partitions_scratch")
    try:
        db.execute("create table partitions_scratch.day_rows (report_date date not null, n integer)"
                   " partition by range (report_date)")
        db.execute("create table partitions_scratch.plain_rows (report_date date not null)")
        added = db.execute("select partitions.add_report_months('partitions_scratch.day_rows')").fetchone()[0]
        months = raw_months(db)
        assert added == len(months) > 0
        assert {lower for _, lower, _ in month_bounds(db, "partitions_scratch.day_rows").values()} == months
        assert db.execute("select partitions.add_report_months('partitions_scratch.day_rows')").fetchone()[0] == 0
        assert db.execute("select partitions.add_report_months('partitions_scratch.plain_rows')").fetchone()[0] == 0
    finally:
        db.execute("drop schema partitions_scratch cascade")
    # Dropping the parent drops its partitions, wherever they live.
    assert db.execute("select count(*) from pg_class where relname like 'day\\_rows\\_%'").fetchone()[0] == 0


def test_analysts_read_partitioned_rows_through_the_parent_only(province, db, warehouse_url):
    """The parent's grants and row-level security are the only way in: a partition itself is out of reach."""
    partition = next(iter(month_bounds(db, "marts.fct_department_days")))
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute("set role vte_analyst")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(sql.SQL("select count(*) from partitions.{}").format(sql.Identifier(partition)))
