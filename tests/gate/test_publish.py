"""Write-audit-publish: a candidate that passes the marts gate replaces the published marts atomically; one
that fails leaves them untouched, stays for inspection and raises an alert naming what failed."""

from __future__ import annotations

import random
import threading
import time

import psycopg
import pytest
from psycopg import sql

from vte.publication import gate, publish, scope, suites

from gate_standins import MONTHS, create_candidate

CANDIDATE = "gate_test_candidate"
PUBLISHED = "gate_test_marts"


def _fingerprint(conn, schema: str) -> dict[str, str]:
    """md5 of every table's rows in a fixed order: equal fingerprints mean byte-for-byte equal contents."""
    tables = [r[0] for r in conn.execute(
        "select relname from pg_class where relnamespace = %s::regnamespace and relkind = 'r'", (schema,))]
    return {t: conn.execute(sql.SQL("select md5(coalesce(string_agg(t::text, '|' order by t::text), ''))"
                                    " from {}.{} as t").format(sql.Identifier(schema), sql.Identifier(t))).fetchone()[0]
            for t in tables}


def _drop(conn, *schemas):
    for schema in schemas:
        conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema)))


@pytest.fixture(scope="module")
def first_publication(warehouse_url, rng):
    """A good candidate, gated and published into the scratch published schema."""
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        _drop(conn, CANDIDATE, PUBLISHED, f"{PUBLISHED}_previous")
        rows = create_candidate(conn, CANDIDATE, rng)
        candidate_fingerprint = _fingerprint(conn, CANDIDATE)
        result = gate.run_gate("marts", CANDIDATE, "publish-good", published_schema=PUBLISHED)
        publication = publish.publish(conn, CANDIDATE, PUBLISHED, run_id="publish-good", gate_result=result)
        yield result, publication, rows, candidate_fingerprint
        _drop(conn, CANDIDATE, PUBLISHED, f"{PUBLISHED}_previous")


def test_a_good_candidate_passes_and_is_published(db, first_publication):
    result, publication, rows, candidate_fingerprint = first_publication
    assert result.success, result.message()
    assert result.statistics["parameters"] == {"indicator_values_min_rows": 1, "indicator_values_max_rows": None}
    assert publication.success
    assert publication.row_counts["fct_indicator_values"] == rows
    assert _fingerprint(db, PUBLISHED) == candidate_fingerprint
    assert db.execute("select 1 from pg_namespace where nspname = %s", (CANDIDATE,)).fetchone() is None
    assert publish.current_publication(db, PUBLISHED) == publication
    logged = db.execute("select run_id, success, row_counts, gate_statistics -> 'evaluated_expectations'"
                        " from ops.publications where publication_id = %s", (publication.publication_id,)).fetchone()
    assert logged == ("publish-good", True, publication.row_counts, result.statistics["evaluated_expectations"])


def test_the_analyst_role_can_read_the_publication(db, first_publication):
    with db.transaction():
        db.execute("set local role vte_analyst")
        count = db.execute(sql.SQL("select count(*) from {}.fct_indicator_values").format(
            sql.Identifier(PUBLISHED))).fetchone()[0]
    assert count == first_publication[2]


def _rate_above_100(conn):
    conn.execute(f"update {CANDIDATE}.fct_indicator_values set rate = 140"
                 f" where ctid = (select min(ctid) from {CANDIDATE}.fct_indicator_values where rate is not null)")


def _duplicate_key(conn):
    conn.execute(f"insert into {CANDIDATE}.fct_indicator_values"
                 f" select * from {CANDIDATE}.fct_indicator_values where level = 'department' limit 1")


def _missing_level(conn):
    conn.execute(f"delete from {CANDIDATE}.fct_indicator_values where level = 'city'")


def _vanished_institutions(conn, codes=("GATE01", "GATE02", "GATE03")):
    conn.execute(f"delete from {CANDIDATE}.fct_indicator_values where level = 'institution'"
                 " and entity_code = any(%s) and period_type = 'month' and period_start = '2025-02-01'",
                 (list(codes),))


def _shrunk(conn):
    conn.execute(f"delete from {CANDIDATE}.fct_indicator_values"
                 " where period_type = 'month' and period_start = '2025-03-01'")


@pytest.mark.parametrize("corrupt, failed_type, named", [
    (_rate_above_100, "expect_column_values_to_be_between", "rate"),
    (_duplicate_key, "expect_compound_columns_to_be_unique", "level"),
    (_missing_level, "unexpected_rows_expectation", "city"),
    (_vanished_institutions, "unexpected_rows_expectation", "mass vanishing"),
    (_shrunk, "expect_table_row_count_to_be_between", "previous publication"),
], ids=["rate-140", "duplicate-key", "missing-level", "mass-vanishing", "row-count-shrunk"])
def test_a_bad_candidate_fails_and_the_publication_stays(db, first_publication, corrupt, failed_type, named):
    before = _fingerprint(db, PUBLISHED)
    live = publish.current_publication(db, PUBLISHED)
    create_candidate(db, CANDIDATE, random.Random(7))
    corrupt(db)
    run_id = f"publish-bad-{corrupt.__name__}"
    result = gate.run_gate("marts", CANDIDATE, run_id, published_schema=PUBLISHED)

    assert not result.success
    assert [f.expectation_type for f in result.failed] == [failed_type]
    with pytest.raises(gate.GateFailed) as failure:
        result.raise_for_failure()
    assert failed_type in str(failure.value) and named in str(failure.value)

    refused = publish.publish(db, CANDIDATE, PUBLISHED, run_id=run_id, gate_result=result)
    assert not refused.success
    assert _fingerprint(db, PUBLISHED) == before
    assert publish.current_publication(db, PUBLISHED) == live
    assert db.execute("select 1 from pg_namespace where nspname = %s", (CANDIDATE,)).fetchone()
    alert = db.execute("select stage, message, failures -> 0 ->> 'expectation_type' from ops.alerts"
                       " where run_id = %s", (run_id,)).fetchone()
    assert alert == ("marts", str(failure.value), failed_type)


def test_a_gate_result_for_another_schema_cannot_publish(db, first_publication):
    result = first_publication[0]
    with pytest.raises(publish.PublishError, match="not for the candidate 'gate_test_other'"):
        publish.publish(db, "gate_test_other", PUBLISHED, run_id="wrong", gate_result=result)


def test_a_concurrent_reader_sees_the_old_or_the_new_publication(warehouse_url, db, first_publication):
    """Publish candidates of alternating sizes while another connection reads without pause.

    The swap is what is under test here, so the gate's verdict is given rather than computed."""
    sizes = {create_candidate(db, CANDIDATE, random.Random(1), months=months) for months in (MONTHS[:2], MONTHS)}
    before = db.execute(f"select count(*) from {PUBLISHED}.fct_indicator_values").fetchone()[0]
    seen, errors, stop = set(), [], threading.Event()

    def read():
        with psycopg.connect(warehouse_url, autocommit=True) as reader:
            while not stop.is_set():
                try:
                    seen.add(reader.execute(f"select count(*) from {PUBLISHED}.fct_indicator_values").fetchone()[0])
                except psycopg.Error as exc:
                    errors.append(exc)

    thread = threading.Thread(target=read)
    thread.start()
    try:
        for i, months in enumerate([MONTHS[:2], MONTHS] * 3):
            create_candidate(db, CANDIDATE, random.Random(1), months=months)
            gated = gate.GateResult("marts", CANDIDATE, f"swap-{i}", True, {"evaluated_expectations": 0})
            assert publish.publish(db, CANDIDATE, PUBLISHED, run_id=f"swap-{i}", gate_result=gated).success
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join()
    assert errors == []
    assert seen <= sizes | {before}
    assert sizes <= seen, "the reader should have seen both publications"


def test_one_vanished_institution_is_listed_but_does_not_stop_the_publication(db, first_publication):
    create_candidate(db, CANDIDATE, random.Random(7))
    _vanished_institutions(db, ["GATE02"])
    result = gate.run_gate("marts", CANDIDATE, "publish-one-vanished", published_schema=PUBLISHED)
    assert result.success, result.message()
    vanished = db.execute(suites.vanished_institutions_query(CANDIDATE)).fetchall()
    assert [(code, month.isoformat()) for code, month in vanished] == [("GATE02", "2025-02-01")]


def test_an_institution_suspended_for_a_whole_month_has_not_vanished(db, first_publication):
    create_candidate(db, CANDIDATE, random.Random(7))
    _vanished_institutions(db, ["GATE02"])
    # suspended all February and active again since March (its status today): no day of February was
    # expected, so fct_reporting_completeness has no row for it
    db.execute(f"delete from {CANDIDATE}.fct_reporting_completeness where entity_code = 'GATE02'"
               " and period_type = 'month' and period_start = '2025-02-01'")
    result = gate.run_gate("marts", CANDIDATE, "publish-suspended-month", published_schema=PUBLISHED)
    assert result.success, result.message()
    assert db.execute(suites.vanished_institutions_query(CANDIDATE)).fetchall() == []


def test_many_institutions_suspended_for_a_month_are_not_a_mass_vanishing(db, first_publication):
    create_candidate(db, CANDIDATE, random.Random(7))
    _vanished_institutions(db)
    db.execute(f"delete from {CANDIDATE}.fct_reporting_completeness where level = 'institution'"
               " and period_type = 'month' and period_start = '2025-02-01'")
    result = gate.run_gate("marts", CANDIDATE, "publish-all-suspended", published_schema=PUBLISHED)
    assert result.success, result.message()


def test_a_province_without_county_medical_communities_publishes(db, first_publication):
    create_candidate(db, CANDIDATE, random.Random(7))
    db.execute(f"update {CANDIDATE}.dim_institutions set community_name = null")
    db.execute(f"delete from {CANDIDATE}.fct_indicator_values where level = 'community'")
    result = gate.run_gate("marts", CANDIDATE, "publish-no-community", published_schema=PUBLISHED)
    assert result.success, result.message()
    db.execute(f"update {CANDIDATE}.dim_institutions set community_name = '某医共体' where institution_code = 'GATE03'")
    result = gate.run_gate("marts", CANDIDATE, "publish-unreported-community", published_schema=PUBLISHED)
    assert [f.details for f in result.failed] == [
        "every level of the region hierarchy is present (community where one is registered); e.g. [['community']]"]


def test_a_candidate_of_another_shape_cannot_replace_slices(db, first_publication):
    """After a release adds a column or a model, slices cannot go into the old tables: publish everything once."""
    create_candidate(db, CANDIDATE, random.Random(7))
    scope.check_same_shape(db, CANDIDATE, PUBLISHED)
    db.execute(f"alter table {CANDIDATE}.fct_indicator_values add column is_new boolean")
    with pytest.raises(scope.ScopeError, match="fct_indicator_values .*publish_all"):
        scope.check_same_shape(db, CANDIDATE, PUBLISHED)
    db.execute(f"alter table {CANDIDATE}.fct_indicator_values drop column is_new")
    db.execute(f"alter table {PUBLISHED}.fct_institution_funnel rename to fct_institution_funnel_renamed")
    try:
        with pytest.raises(scope.ScopeError, match="fct_institution_funnel .*missing"):
            scope.check_same_shape(db, CANDIDATE, PUBLISHED)
    finally:
        db.execute(f"alter table {PUBLISHED}.fct_institution_funnel_renamed rename to fct_institution_funnel")
