"""The landing zone's durable writes: concurrent writers share flushes, and every one returns only when a flush
that began after its write has finished."""

from __future__ import annotations

import random
import threading

import pytest

from vte.landing import LandingZone, read_document
from vte.landing import durability

WRITERS = 16
EACH = 10


def _row(rng):
    return {"hospital": "本院", "dept": "骨科", "surgery": rng.randrange(100)}


@pytest.mark.parametrize("syncfs", [True, False], ids=["syncfs", "one-by-one"])
def test_concurrent_writers_share_flushes_and_each_lands_its_own_versions(tmp_path, monkeypatch, syncfs):
    if not syncfs:  # a C library without syncfs: files and folders are flushed one by one, still grouped
        monkeypatch.setattr(durability, "_SYNCFS", None)
    elif durability._SYNCFS is None:
        pytest.skip("this C library has no syncfs")
    zone = LandingZone(root=tmp_path)
    start = threading.Barrier(WRITERS)
    landed, errors = [], []

    def writer(n: int) -> None:
        rng = random.Random(n)
        start.wait()
        try:
            for k in range(EACH):
                payload = {"date": f"2026-01-{k + 1:02d}", "data": [_row(rng)]}
                landed.append((n, payload, zone.land(institution_code=f"W{n % 4}", access_key=f"k{n}",
                                                     channel="api", payload=payload)))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors and len(landed) == WRITERS * EACH
    # Two flushes per document at most (content, then rename); fewer when writers shared them.
    assert 1 <= zone.sync.flushes <= 2 * WRITERS * EACH
    for _, payload, result in landed:
        assert read_document(result.path)["payload"] == payload
    # Four writers share each institution: every (institution, date) numbered its versions 1..n without a gap.
    for code in ("W0", "W1", "W2", "W3"):
        for k in range(EACH):
            versions = zone.versions(code, f"2026-01-{k + 1:02d}")
            assert [int(p.name[1:5]) for p in versions] == list(range(1, len(versions) + 1))
    assert not list(tmp_path.rglob("*.tmp"))


def test_a_retry_of_the_newest_version_is_a_duplicate_and_stores_nothing(tmp_path):
    zone = LandingZone(root=tmp_path)
    payload = {"date": "2026-01-01", "data": [_row(random.Random(1))]}
    first = zone.land(institution_code="W0", access_key="k", channel="api", payload=payload)
    again = zone.land(institution_code="W0", access_key="k", channel="api", payload=payload)
    assert again.duplicate and again.submission_id == first.submission_id
    assert len(zone.versions("W0", "2026-01-01")) == 1


def test_an_unreadable_newest_version_left_by_a_crash_does_not_stop_the_next(tmp_path):
    """A power loss can leave a document that never got its content (it was never acknowledged): the next
    submission of that date follows it as the next version rather than failing."""
    zone = LandingZone(root=tmp_path)
    payload = {"date": "2026-01-01", "data": [_row(random.Random(2))]}
    first = zone.land(institution_code="W0", access_key="k", channel="api", payload=payload)
    first.path.write_bytes(b"")
    second = zone.land(institution_code="W0", access_key="k", channel="api", payload=payload)
    assert not second.duplicate and second.version == 2
