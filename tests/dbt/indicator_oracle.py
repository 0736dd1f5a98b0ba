"""Independent Python computation of what the marts must hold, from the raw and registry tables.

It shares no SQL with the dbt project: versions, quarantine, region roll-ups, periods, rates and
completeness are worked out here from first principles (rules from vte.domain, the seeds' Python reader).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from vte import domain

SHANGHAI = ZoneInfo("Asia/Shanghai")
PERIOD_TYPES = ("month", "quarter", "year")


def period_start(day: date, period_type: str) -> date:
    if period_type == "day":
        return day
    if period_type == "month":
        return day.replace(day=1)
    if period_type == "quarter":
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return date(day.year, 1, 1)


def rate(numerator: int, denominator: int) -> Decimal | None:
    if denominator == 0:
        return None
    return (Decimal(100 * numerator) / Decimal(denominator)).quantize(Decimal("0.0001"), ROUND_HALF_UP)


def institutions(conn, as_of: datetime) -> dict[str, dict]:
    """Institution code → its names and codes up the region hierarchy (registered before ``as_of``)."""
    regions = {code: (name, parent) for code, name, parent in
               conn.execute("select region_code, region_name, parent_code from registry.regions")}
    out = {}
    for code, name, county, community, joined_on in conn.execute(
        "select institution_code, institution_name, county_code, community_name, joined_on from registry.institutions"
        " where created_at < %s", (as_of,)
    ):
        city = regions[county][1]
        province = regions[city][1]
        out[code] = {
            "name": name, "community": community, "joined_on": joined_on,
            "county": (county, regions[county][0]), "city": (city, regions[city][0]),
            "province": (province, regions[province][0]),
        }
    return out


def current_rows(conn, as_of: datetime) -> list[dict]:
    """The department rows of the newest version (loaded before ``as_of``) of each (institution, date)."""
    fields = domain.count_fields()
    newest = {}
    for submission_id, institution, report_date, version, received_at in conn.execute(
        "select submission_id, institution_code, report_date, version, received_at from raw.submissions"
        " where loaded_at < %s",
        (as_of,),
    ):
        key = (institution, report_date)
        if key not in newest or version > newest[key][1]:
            newest[key] = (submission_id, version, received_at)
    by_submission = {sid: (*key, received_at) for key, (sid, _, received_at) in newest.items()}
    columns = ", ".join(f.column for f in fields)
    outliers = outlier_judgements(conn)
    rows = []
    for submission_id, hospital, dept, *counts in conn.execute(
        f"select submission_id, hospital, dept, {columns} from raw.submission_rows"
    ):
        if submission_id in by_submission:
            institution, report_date, received_at = by_submission[submission_id]
            counts_by_name = {f.name: value for f, value in zip(fields, counts)}
            warned, held_out = outliers.get((submission_id, hospital, dept), (False, False))
            rows.append({"institution": institution, "date": report_date, "hospital": hospital, "dept": dept,
                         "counts": counts_by_name, "submission_id": submission_id, "received_at": received_at,
                         "outlier_warning": warned, "outlier_held_out": held_out})
    return rows


def outlier_judgements(conn) -> dict[tuple, tuple[bool, bool]]:
    """(submission, campus, department) → (warned, held out) as outliers against the department's own history.
    Taken from the build: the statistics are tested on their own (test_outliers.py); here they only decide, as
    in the marts, which rows other worlds of the session hold out or warn about."""
    return {(submission_id, hospital, dept): (warned, held_out) for submission_id, hospital, dept, warned, held_out
            in conn.execute(
                "select submission_id, hospital, department, cardinality(outlier_warning_fields) > 0,"
                " cardinality(outlier_held_out_fields) > 0 from int.int_department_days_classified"
                " where cardinality(outlier_warning_fields) + cardinality(outlier_held_out_fields) > 0")}


def is_quarantined(counts: dict[str, int]) -> bool:
    return any(rule.severity == "quarantine" for rule in domain.broken_rules(counts))


def indicator_values(conn, built_at: datetime, period_types=PERIOD_TYPES) -> dict[tuple, dict]:
    """(level, entity_code, campus, department, period_type, period_start, indicator_id) → expected values,
    from the raw and registry rows that existed when the marts were built (``built_at``); ``("day",)`` gives
    the daily values."""
    registry = institutions(conn, built_at)
    sums: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    names: dict[tuple, str] = {}
    for row in current_rows(conn, built_at):
        inst = registry.get(row["institution"])
        if inst is None or is_quarantined(row["counts"]) or row["outlier_held_out"]:
            continue
        entities = [
            ("department", row["institution"], row["hospital"], row["dept"], inst["name"]),
            ("campus", row["institution"], row["hospital"], None, inst["name"]),
            ("institution", row["institution"], None, None, inst["name"]),
            ("county", inst["county"][0], None, None, inst["county"][1]),
            ("city", inst["city"][0], None, None, inst["city"][1]),
            ("province", inst["province"][0], None, None, inst["province"][1]),
        ]
        if inst["community"]:
            entities.append(("community", inst["community"], None, None, inst["community"]))
        for period_type in period_types:
            start = period_start(row["date"], period_type)
            for level, code, campus, dept, name in entities:
                key = (level, code, campus, dept, period_type, start)
                names[key] = name
                for field, value in row["counts"].items():
                    sums[key][field] += value
    expected = {}
    for key, counts in sums.items():
        last_year = sums.get((*key[:5], key[5].replace(year=key[5].year - 1))) if key[4] != "day" else None
        for ind in domain.indicators():
            numerator, denominator = counts[ind.numerator], counts[ind.denominator]
            value = rate(numerator, denominator)
            meets = None
            if denominator and ind.target_rate is not None and ind.higher_is_better is not None:
                exact = Decimal(100 * numerator) / Decimal(denominator)
                meets = exact >= ind.target_rate if ind.higher_is_better else exact <= ind.target_rate
            expected[(*key, ind.indicator_id)] = {
                "entity_name": names[key], "numerator": numerator, "denominator": denominator, "rate": value,
                "target": ind.target_rate, "meets_target": meets,
                "rate_same_period_last_year":
                    rate(last_year[ind.numerator], last_year[ind.denominator]) if last_year else None,
            }
    return expected


def status_changes(conn, as_of: datetime) -> dict[str, list[tuple[int, date, str]]]:
    """Institution code → its lifecycle changes made before ``as_of``: (change id, effective from, status)."""
    out: dict[str, list[tuple[int, date, str]]] = defaultdict(list)
    for code, change_id, effective_from, status in conn.execute(
        "select institution_code, change_id, effective_from, status from registry.institution_status_changes"
        " where set_at < %s", (as_of,)
    ):
        out[code].append((change_id, effective_from, status))
    return out


def is_expected(changes: list[tuple[int, date, str]], day: date) -> bool:
    """Active on ``day``: the change made last among those effective by then says so (or there is none)."""
    effective = [(change_id, status) for change_id, effective_from, status in changes if effective_from <= day]
    return not effective or max(effective)[1] == "active"


def completeness(conn, as_of: date, built_at: datetime) -> dict[tuple, dict]:
    """(level, entity_code, period_type, period_start) → days expected / received / late (+ missing dates)."""
    registry = institutions(conn, built_at)
    changes = status_changes(conn, built_at)
    first_received = {}
    for institution, report_date, received_at in conn.execute(
        "select institution_code, report_date, min(received_at) from raw.submissions where loaded_at < %s"
        " group by 1, 2", (built_at,)
    ):
        first_received[(institution, report_date)] = received_at
    out: dict[tuple, dict] = defaultdict(lambda: {"expected": 0, "received": 0, "late": 0, "missing": []})
    for code, inst in registry.items():
        day = inst["joined_on"]
        while day <= as_of:
            if not is_expected(changes[code], day):
                day += timedelta(days=1)
                continue
            received_at = first_received.get((code, day))
            deadline = datetime.combine(day + timedelta(days=2), time(), SHANGHAI)
            for period_type in PERIOD_TYPES:
                start = period_start(day, period_type)
                for level, entity in (("institution", code), ("county", inst["county"][0]),
                                      ("city", inst["city"][0]), ("province", inst["province"][0])):
                    cell = out[(level, entity, period_type, start)]
                    cell["expected"] += 1
                    if received_at is not None:
                        cell["received"] += 1
                        cell["late"] += received_at >= deadline
                    elif level == "institution":
                        cell["missing"].append(day)
            day += timedelta(days=1)
    return dict(out)


def period_end(start: date, period_type: str) -> date:
    months = {"month": 1, "quarter": 3, "year": 12}[period_type]
    following = date(start.year + (start.month - 1 + months) // 12, (start.month - 1 + months) % 12 + 1, 1)
    return following - timedelta(days=1)


def row_status(counts: dict[str, int], plausible_max: int, outlier_warning: bool = False,
               outlier_held_out: bool = False) -> tuple[str, list[str], list[str]]:
    """quarantined | warning | valid, with the quarantine and warning rules the row breaks."""
    broken = domain.broken_rules(counts)
    quarantine = sorted(r.rule_id for r in broken if r.severity == "quarantine")
    warning = sorted(r.rule_id for r in broken if r.severity == "warning")
    if quarantine or outlier_held_out or any(value > plausible_max for value in counts.values()):
        return "quarantined", quarantine, warning
    return ("warning" if warning or outlier_warning else "valid"), quarantine, warning


def submission_counts(conn, built_at: datetime, plausible_max: int) -> dict[tuple, dict]:
    """(level, entity_code, period_type, period_start) → the current submissions, institution-days and rows of
    the period, counted, held out or warned, with the rules named; every period with a published row, every
    institution that had joined by its end, and the regions summing them."""
    registry = institutions(conn, built_at)
    rows = [dict(row, status=row_status(row["counts"], plausible_max, row["outlier_warning"],
                                        row["outlier_held_out"]))
            for row in current_rows(conn, built_at) if row["institution"] in registry]
    periods = {(t, period_start(row["date"], t)) for row in rows if row["status"][0] != "quarantined"
               for t in PERIOD_TYPES}
    out = {}
    for period_type, start in periods:
        end = period_end(start, period_type)
        members = {code: inst for code, inst in registry.items() if (inst["joined_on"] or end) <= end}
        entities = defaultdict(set)
        for code, inst in members.items():
            for level, entity in (("institution", code), ("county", inst["county"][0]),
                                  ("city", inst["city"][0]), ("province", inst["province"][0])):
                entities[(level, entity)].add(code)
        in_period = [row for row in rows if start <= row["date"] <= end]
        for (level, entity), codes in entities.items():
            mine = [row for row in in_period if row["institution"] in codes]
            counted = [row for row in mine if row["status"][0] != "quarantined"]
            held = [row for row in mine if row["status"][0] == "quarantined"]
            warned = [row for row in mine if row["status"][0] == "warning"]
            out[(level, entity, period_type, start)] = {
                "current_submissions": len({row["submission_id"] for row in mine}),
                "counted_submissions": len({row["submission_id"] for row in counted}),
                "institution_days": len({(row["institution"], row["date"]) for row in mine}),
                "counted_department_rows": len(counted),
                "quarantined_department_rows": len(held),
                "quarantined_days": len({(row["institution"], row["date"]) for row in held}),
                "quarantine_rule_ids": sorted({rule for row in held for rule in row["status"][1]}),
                "warning_department_rows": len(warned),
                "warning_days": len({(row["institution"], row["date"]) for row in warned}),
                "warning_rule_ids": sorted({rule for row in warned for rule in row["status"][2]}),
                "newest_received_at": max((row["received_at"] for row in mine), default=None),
            }
    return out


CHANGE_LEVELS = ("institution", "community", "county", "city", "province")
CHANGE_COLUMNS = ("previous_period_start", "rate", "rate_previous_period", "rate_same_period_last_year",
                  "change_previous_pp", "change_last_year_pp")


def period_before(start: date, period_type: str) -> date:
    """First day of the month, quarter or year before."""
    months = {"month": 1, "quarter": 3, "year": 12}[period_type]
    index = start.year * 12 + start.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def indicator_changes(conn, built_at: datetime) -> dict[tuple, dict]:
    """(level, entity_code, period_type, period_start, indicator_id) → each value of an institution or region
    beside the previous period's (a year's is the year before) and last year's, and the differences."""
    values = indicator_values(conn, built_at)

    def difference(a, b):
        return None if a is None or b is None else a - b

    out = {}
    for (level, code, _, _, period_type, start, indicator), value in values.items():
        if level not in CHANGE_LEVELS:
            continue
        previous_start = period_before(start, period_type)
        previous = values.get((level, code, None, None, period_type, previous_start, indicator))
        last_year = values.get((level, code, None, None, period_type, start.replace(year=start.year - 1), indicator))
        previous_rate, last_year_rate = previous and previous["rate"], last_year and last_year["rate"]
        out[(level, code, period_type, start, indicator)] = {
            "previous_period_start": previous_start, "rate": value["rate"], "rate_previous_period": previous_rate,
            "rate_same_period_last_year": last_year_rate,
            "change_previous_pp": difference(value["rate"], previous_rate),
            "change_last_year_pp": difference(value["rate"], last_year_rate),
        }
    return out
