"""The landing-zone loader: documents become raw rows once; corrupt documents are recorded, not fatal."""

from __future__ import annotations

import hashlib
import json
import random
from datetime import date

import psycopg
import pytest
from conftest import valid_row

from vte import registry
from vte.ingest import CorruptDocument, load_landing_zone, parse_document
from vte.landing import LandingZone, arrivals, canonical_json, payload_checksum, read_document


@pytest.fixture(scope="module")
def account(warehouse_url) -> str:
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        return registry.register(conn, code="INGEST01", name="装载测试医院", level="二级",
                                 county_code="330328").access_key


def land(zone, access_key, day, rows):
    return zone.land(institution_code="INGEST01", access_key=access_key, channel="excel",
                     payload={"date": day.isoformat(), "data": rows})


def raw_counts(db, institution="INGEST01"):
    return db.execute(
        "select count(distinct s.submission_id), count(r.*) from raw.submissions as s"
        " left join raw.submission_rows as r using (submission_id) where s.institution_code = %s", (institution,)
    ).fetchone()


def test_loading_is_idempotent_and_keeps_every_version(db, account, tmp_path):
    rng = random.Random(7)
    zone = LandingZone(root=tmp_path / "landing")
    first = land(zone, account, date(2025, 1, 1), [valid_row(rng, "本院", d) for d in ("A", "B", "C")])
    land(zone, account, date(2025, 1, 1), [valid_row(rng, "本院", "A")])
    land(zone, account, date(2025, 1, 2), [valid_row(rng, "本院", d) for d in ("A", "B")])

    assert load_landing_zone(db, zone).__dict__ == {"loaded": 3, "skipped": 0, "corrupt": 0}
    assert raw_counts(db) == (3, 6)
    # The journal lists nothing new; a full scan finds all three, already loaded.
    assert load_landing_zone(db, zone).__dict__ == {"loaded": 0, "skipped": 0, "corrupt": 0}
    assert load_landing_zone(db, zone, full_scan=True).__dict__ == {"loaded": 0, "skipped": 3, "corrupt": 0}
    assert raw_counts(db) == (3, 6)

    row = db.execute(
        "select institution_code, report_date, version, channel, row_count, payload_sha256, document_path"
        " from raw.submissions where submission_id = %s", (first.submission_id,)).fetchone()
    assert row == ("INGEST01", date(2025, 1, 1), 1, "excel", 3, first.payload_sha256,
                   first.path.relative_to(zone.root).as_posix())
    stored = db.execute("select dept, discharge_hospital, surgery_dvt_and_pe from raw.submission_rows"
                        " where submission_id = %s order by row_index", (first.submission_id,)).fetchall()
    document = read_document(first.path)["payload"]["data"]
    assert stored == [(r["dept"], r["dischargeHospital"], r["surgeryDvtAndPe"]) for r in document]


def _write(zone_root, relative, content: bytes):
    path = zone_root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return relative


def test_corrupt_documents_are_recorded_with_the_reason_and_do_not_stop_the_load(db, account, tmp_path):
    rng = random.Random(8)
    zone = LandingZone(root=tmp_path / "landing")
    good = land(zone, account, date(2025, 2, 1), [valid_row(rng, "本院", "A")])
    document = read_document(good.path)
    uid = "00000000-0000-4000-8000-0000000000{:02d}"
    bad = {
        _write(zone.root, f"INGEST01/2025-02-02/v0001-{uid.format(1)}.json", b"{not json"): "not valid JSON",
        _write(zone.root, f"INGEST01/2025-02-03/v0001-{uid.format(2)}.json",
               canonical_json({k: v for k, v in document.items() if k != "received_at"})): "missing key 'received_at'",
        _write(zone.root, f"INGEST01/2025-02-04/v0001-{uid.format(3)}.json",
               canonical_json({**document, "submission_id": uid.format(3), "version": "1"})): "'version' is str",
        # the document of 2025-02-01 copied under another date's directory
        _write(zone.root, f"INGEST01/2025-02-05/v0001-{document['submission_id']}.json",
               good.path.read_bytes()): "differs from its directory",
    }
    report = load_landing_zone(db, zone)
    assert (report.loaded, report.corrupt) == (1, len(bad))
    recorded = dict(db.execute("select document_path, reason from raw.landing_loads where status = 'corrupt'"
                               " and document_path like 'INGEST01/2025-02-%'").fetchall())
    assert recorded.keys() == bad.keys()
    for path, expected_reason in bad.items():
        assert expected_reason in recorded[path], (path, recorded[path])
    assert load_landing_zone(db, zone, full_scan=True).__dict__ == {"loaded": 0, "skipped": 1 + len(bad),
                                                                    "corrupt": 0}


def _one_object(landed, tmp_path):
    """The landed document in the earlier one-object layout, and its path relative to the zone."""
    return read_document(landed.path), landed.path.relative_to(tmp_path).as_posix()


@pytest.mark.parametrize(("mutate", "reason"), [
    (lambda d: d["payload"]["data"][0].pop("surgery"), "misses surgery"),
    (lambda d: d["payload"]["data"][0].update(extra=1), "unknown fields extra"),
    (lambda d: d["payload"]["data"].append(dict(d["payload"]["data"][0])), "repeats hospital"),
    (lambda d: d["payload"].update(data=[]), "not a non-empty list"),
    (lambda d: d["payload"].update(data=[1]), "is not an object"),
    (lambda d: d.update(channel="fax"), "channel 'fax'"),
    (lambda d: d.update(received_at="2025-03-02T01:00:00"), "has no time zone"),
])
def test_each_kind_of_corruption_is_named(tmp_path, mutate, reason):
    zone = LandingZone(root=tmp_path)
    landed = zone.land(institution_code="X1", access_key="ak", channel="api",
                       payload={"date": "2025-03-01", "data": [valid_row(random.Random(1), "h", "d")]})
    parse_document(landed.path.read_bytes(), landed.path.relative_to(tmp_path).as_posix())  # as landed: passes
    document, relative = _one_object(landed, tmp_path)
    parse_document(canonical_json(document), relative)  # the earlier one-object layout passes too
    mutate(document)
    document["payload_sha256"] = payload_checksum(document["payload"])  # so the check reaches the content
    with pytest.raises(CorruptDocument, match=reason):
        parse_document(canonical_json(document), relative)


@pytest.mark.parametrize(("month", "field", "value", "reason"), [
    (4, "surgery", -1, "surgery is -1"),
    (5, "surgery", True, "surgery is True"),
    (6, "surgery", 1.5, "surgery is 1.5"),
    (7, "surgery", 2**31, "surgery is 2147483648"),
    (8, "dept", " ", "dept is not a non-empty string"),
])
def test_values_raw_refuses_make_the_document_corrupt_with_the_field_named(db, account, tmp_path, month, field,
                                                                             value, reason):
    """Values only a damaged or forged document holds pass the loader's fast path and are refused by raw's
    constraints; the document is then recorded as corrupt with the field named, and its batch still loads."""
    rng = random.Random(9)
    zone = LandingZone(root=tmp_path / "landing")
    good = land(zone, account, date(2025, month, 1), [valid_row(rng, "本院", "A")])
    bad_day, bad_id = f"2025-{month:02d}-02", f"00000000-0000-4000-8000-0000000000{month:02d}"
    payload = {"date": bad_day, "data": [{**valid_row(rng, "本院", "B"), field: value}]}
    document = {**read_document(good.path), "report_date": bad_day, "payload": payload,
                "payload_sha256": payload_checksum(payload), "submission_id": bad_id}
    relative = _write(zone.root, f"INGEST01/{bad_day}/v0001-{bad_id}.json", canonical_json(document))
    assert load_landing_zone(db, zone).__dict__ == {"loaded": 1, "skipped": 0, "corrupt": 1}
    recorded = db.execute("select reason from raw.landing_loads where document_path = %s", (relative,)).fetchone()
    assert reason in recorded[0]
    assert db.execute("select count(*) from raw.submissions where report_date = %s"
                      " and institution_code = 'INGEST01'", (bad_day,)).fetchone()[0] == 0


def test_a_payload_that_does_not_match_its_checksum_is_corrupt(tmp_path):
    zone = LandingZone(root=tmp_path)
    landed = zone.land(institution_code="X1", access_key="ak", channel="api",
                       payload={"date": "2025-03-01", "data": [valid_row(random.Random(1), "h", "d")]})
    relative = landed.path.relative_to(tmp_path).as_posix()
    header, _, payload_line = landed.path.read_bytes().partition(b"\n")
    altered = payload_line.replace(b'"surgery":', b'"surgery":1', 1)  # one digit more
    with pytest.raises(CorruptDocument, match="payload_sha256 does not match"):
        parse_document(header + b"\n" + altered, relative)
    document, relative = _one_object(landed, tmp_path)  # the earlier layout is checked the same way
    document["payload"]["data"][0]["surgery"] += 1
    with pytest.raises(CorruptDocument, match="payload_sha256 does not match"):
        parse_document(canonical_json(document), relative)


def test_the_landed_payload_is_the_exact_bytes_its_checksum_covers(tmp_path):
    """The second line of a document is the payload's canonical JSON: hashing it gives the recorded checksum,
    and it equals the standard library's canonical form, so retries from either era deduplicate."""
    payload = {"date": "2025-03-01", "data": [valid_row(random.Random(2), "本院 \"总院\"\t", "普外科\u2028")]}
    landed = LandingZone(root=tmp_path).land(institution_code="X1", access_key="ak", channel="api", payload=payload)
    header, _, payload_line = landed.path.read_bytes().partition(b"\n")
    assert hashlib.sha256(payload_line).hexdigest() == json.loads(header)["payload_sha256"] == landed.payload_sha256
    assert payload_line == json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


@pytest.mark.parametrize(("payload_line", "reason"), [
    (b'[1, 2]', "breaks the interchange rules"),
    (b'{"date": "2025-03-01", "data": "rows"}', "not a non-empty list"),
    (b'{"date": "2025-03-01", "data": [{"hospital": "h"}]}', "misses"),
    (b'{"date": "2025-03-01", "data": [', "not valid JSON"),
    (b'\xff\xfe', "not valid JSON"),
])
def test_a_payload_line_with_a_matching_checksum_but_no_payload_in_it_is_corrupt(tmp_path, payload_line, reason):
    """A forged or damaged document whose recorded checksum matches its payload line still gets a reason."""
    payload = {"date": "2025-03-01", "data": [valid_row(random.Random(3), "h", "d")]}
    landed = LandingZone(root=tmp_path).land(institution_code="X1", access_key="ak", channel="api", payload=payload)
    header = json.loads(landed.path.read_bytes().partition(b"\n")[0])
    header["payload_sha256"] = hashlib.sha256(payload_line).hexdigest()
    content = canonical_json(header) + b"\n" + payload_line
    with pytest.raises(CorruptDocument, match=reason):
        parse_document(content, landed.path.relative_to(tmp_path).as_posix())


def test_loads_after_the_first_read_the_arrivals_journal(db, account, tmp_path):
    """The first load of a zone walks it; later loads read what the journal lists since (a retry the intake
    acknowledged again is listed again and skipped); a document copied in by hand waits for a full scan."""
    rng = random.Random(10)
    zone = LandingZone(root=tmp_path / "landing")
    land(zone, account, date(2025, 9, 1), [valid_row(rng, "本院", "A")])
    assert load_landing_zone(db, zone).__dict__ == {"loaded": 1, "skipped": 0, "corrupt": 0}

    rows = [valid_row(rng, "本院", "A")]
    second = land(zone, account, date(2025, 9, 2), rows)
    assert land(zone, account, date(2025, 9, 2), rows).duplicate  # a retry: listed again, stored once
    journal = zone.root / arrivals.ARRIVALS_DIR
    listed = [line for f in sorted(journal.glob("*.log")) for line in f.read_text().splitlines()]
    assert listed[-2:] == [second.path.relative_to(zone.root).as_posix()] * 2
    copied_id, payload = "00000000-0000-4000-8000-000000000903", {"date": "2025-09-03", "data": rows}
    copied = _write(zone.root, f"INGEST01/2025-09-03/v0001-{copied_id}.json", canonical_json(
        {**read_document(second.path), "report_date": "2025-09-03", "submission_id": copied_id,
         "payload": payload, "payload_sha256": payload_checksum(payload)}))
    # A line still being written is left for the next load.
    with open(sorted(journal.glob("*.log"))[-1], "a") as f:
        f.write("INGEST01/2025-09-04/v0001-")
    assert load_landing_zone(db, zone).__dict__ == {"loaded": 1, "skipped": 0, "corrupt": 0}
    assert db.execute("select count(*) from raw.landing_loads where document_path = %s",
                      (copied,)).fetchone()[0] == 0
    report = load_landing_zone(db, zone, full_scan=True)
    assert (report.loaded, report.skipped) == (1, 2)  # the copy; the two journalled documents
    assert db.execute("select status from raw.landing_loads where document_path = %s",
                      (copied,)).fetchone()[0] == "loaded"
    # The offsets belong to this zone: another zone with a journal of the same day starts with a full scan.
    other = LandingZone(root=tmp_path / "other")
    land(other, account, date(2025, 9, 5), [valid_row(rng, "本院", "A")])
    assert arrivals.zone_id(other.root) != arrivals.zone_id(zone.root)
    assert load_landing_zone(db, other).loaded == 1
