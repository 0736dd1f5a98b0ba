"""What a publication replaces: the whole marts, or only the slices the run touched.

dbt builds the marts into the candidate schema. When the build is complete (the first publication, a
change of the registry or of the indicator definitions, ``publish_all``), the candidate replaces the
published schema whole. Otherwise the big facts hold only the slices the run touched — the report dates
processed since the last publication (``int.int_department_days_touched``) for the day-grain facts (whole
dates for the daily indicator values), and
the indicator periods those dates fall in (``int.int_publication_periods``) for the indicator values — and
publishing replaces exactly those slices, in one transaction with the small tables: readers see the old or
the new publication, and a day's cost does not grow with the years of history.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

# Sliced fact -> the columns that name its slices, and the relation that lists the touched ones.
DATE_SLICES = ("institution_code", "report_date")
PERIOD_SLICES = ("period_type", "period_start")
# A touched date moves every institution's regions and the province's proportion of that day: the whole date.
DAY_SLICES = ("report_date",)
SLICED_TABLES: dict[str, tuple[str, ...]] = {
    "fct_department_days": DATE_SLICES,
    "fct_quarantined_rows": DATE_SLICES,
    "fct_warning_rows": DATE_SLICES,
    "fct_indicator_values": PERIOD_SLICES,
    "fct_institution_funnel": PERIOD_SLICES,  # built from fct_indicator_values: the same periods
    "fct_institution_ranking": PERIOD_SLICES,  # built from fct_indicator_values: the same periods
    "fct_submission_counts": PERIOD_SLICES,  # the periods of fct_indicator_values
    "fct_daily_indicator_values": DAY_SLICES,
    "fct_department_completeness": PERIOD_SLICES,  # the periods of fct_indicator_values
    "fct_indicator_changes": PERIOD_SLICES,  # the periods of fct_indicator_values
}
TOUCHED = {
    DATE_SLICES: "select distinct institution_code, report_date from int.int_department_days_touched",
    PERIOD_SLICES: "select period_type, period_start from int.int_publication_periods",
    DAY_SLICES: "select distinct report_date from int.int_department_days_touched",
}
# The analysts' publication: the only one the int views' touched rows describe (other targets, e.g. tests'
# scratch schemas, are always published whole).
PUBLISHED_SCHEMA = "marts"
# Where the marts gate reads the indicator values as they will be after publishing (published slices the run
# did not touch, plus the candidate's): checks across months (an institution vanished) need all of them.
MERGED_VIEW = "indicator_values_after_publication"


def _exists(conn: psycopg.Connection, relation: str) -> bool:
    return conn.execute("select to_regclass(%s)", (relation,)).fetchone()[0] is not None


def is_complete(conn: psycopg.Connection, candidate: str, published: str) -> bool:
    """Whether the candidate is to be published whole: always for other targets than the analysts' marts and
    before anything was published; else when dbt built it complete (see the publication_is_complete macro)."""
    if published != PUBLISHED_SCHEMA or not _exists(conn, f"{published}.fct_indicator_values") \
            or not _exists(conn, "int.int_publication_periods"):
        return True
    # A sliced build holds only touched periods; any other period means dbt built everything.
    return conn.execute(sql.SQL(
        "select exists (select 1 from {}.fct_indicator_values as facts where not exists ("
        " select 1 from int.int_publication_periods as touched"
        " where touched.period_type = facts.period_type and touched.period_start = facts.period_start))"
    ).format(sql.Identifier(candidate))).fetchone()[0]


def check_same_shape(conn: psycopg.Connection, candidate: str, published: str) -> None:
    """A sliced candidate's facts go into the published tables: ScopeError unless each has the same columns as
    its published table (after a release that adds a model or a column, the first build is published whole)."""
    for table in SLICED_TABLES:
        if _columns(conn, candidate, table) != _columns(conn, published, table):
            raise ScopeError(f"{published}.{table} and the candidate's differ in their columns (or one is missing):"
                             " the models changed, so publish everything once (trigger vte_transform with"
                             " {\"publish_all\": true})")


def create_merged_view(conn: psycopg.Connection, candidate: str, published: str) -> str:
    """(Re)create ``<candidate>.indicator_values_after_publication``; returns its qualified name. ScopeError when
    the candidate is sliced and its shape is not the publication's."""
    c, p, v = sql.Identifier(candidate), sql.Identifier(published), sql.Identifier(MERGED_VIEW)
    if is_complete(conn, candidate, published):
        query = sql.SQL("select * from {}.fct_indicator_values").format(c)
    else:
        check_same_shape(conn, candidate, published)
        query = sql.SQL(
            "select * from {p}.fct_indicator_values as published_values where not exists ("
            " select 1 from int.int_publication_periods as touched"
            " where touched.period_type = published_values.period_type"
            " and touched.period_start = published_values.period_start)"
            " union all select * from {c}.fct_indicator_values").format(p=p, c=c)
    conn.execute(sql.SQL("create or replace view {}.{} as ").format(c, v) + query)
    return f"{candidate}.{MERGED_VIEW}"


def drop_merged_view(conn: psycopg.Connection, candidate: str) -> None:
    conn.execute(sql.SQL("drop view if exists {}.{}").format(sql.Identifier(candidate), sql.Identifier(MERGED_VIEW)))


def capture_touched_periods(conn: psycopg.Connection) -> None:
    """``publication_periods`` (temporary, this transaction): the periods this publication replaces. Taken
    before the publication is recorded, which moves what int.int_publication_periods lists."""
    conn.execute("create temporary table publication_periods on commit drop as " + TOUCHED[PERIOD_SLICES])


def replace_slices(conn: psycopg.Connection, candidate: str, published: str) -> dict[str, int]:
    """Replace each sliced fact's touched slices of ``published`` with the candidate's rows, and every other
    candidate table or view whole. Returns the rows written per sliced table. Call inside a transaction."""
    check_same_shape(conn, candidate, published)
    written = {}
    for table, keys in SLICED_TABLES.items():
        source, target = sql.Identifier(candidate, table), sql.Identifier(published, table)
        columns = _columns(conn, candidate, table)
        match = sql.SQL(" and ").join(sql.SQL("target.{0} = touched.{0}").format(sql.Identifier(k)) for k in keys)
        conn.execute(sql.SQL("delete from {} as target using ({}) as touched where {}").format(
            target, sql.SQL(TOUCHED[keys]), match))
        column_list = sql.SQL(", ").join(map(sql.Identifier, columns))
        # A day-grain table partitioned by month gets the months loaded since it was built (migration 022).
        conn.execute("select partitions.add_report_months(%s::regclass)", (target.as_string(conn),))
        written[table] = conn.execute(sql.SQL("insert into {} ({}) select {} from {}").format(
            target, column_list, column_list, source)).rowcount
    for name, kind in conn.execute(
            "select relname, relkind from pg_class where relnamespace = %s::regnamespace and relkind in ('r', 'p', 'v')"
            " and relname <> all(%s) order by relname", (candidate, [*SLICED_TABLES, MERGED_VIEW])).fetchall():
        noun = sql.SQL("view" if kind == "v" else "table")
        conn.execute(sql.SQL("drop {} if exists {} cascade").format(noun, sql.Identifier(published, name)))
        conn.execute(sql.SQL("alter {} {} set schema {}").format(noun, sql.Identifier(candidate, name),
                                                                  sql.Identifier(published)))
    conn.execute(sql.SQL("drop schema {} cascade").format(sql.Identifier(candidate)))
    return written


class ScopeError(RuntimeError):
    pass


def _columns(conn: psycopg.Connection, schema: str, table: str) -> list[str]:
    """The table's columns in order; none when there is no such table."""
    return [r[0] for r in conn.execute(
        "select attname from pg_attribute where attrelid = to_regclass(%s) and attnum > 0 and not attisdropped"
        " order by attnum", (f"{schema}.{table}",))]
