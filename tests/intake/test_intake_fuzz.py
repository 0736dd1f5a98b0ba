"""Property: whatever arrives, the service answers in the result format, never with a 5xx, and stores
nothing from a refused request."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import psycopg
import pytest
from hypothesis import HealthCheck, event, given, settings as hypothesis_settings, strategies as st
from intake_support import JOINED_ON, VALID_COUNTS, row

from vte import client, domain, registry
from vte.landing import LandingZone, read_document
from vte.submission import INT4_MAX, report_today

FUZZ = hypothesis_settings(max_examples=150, deadline=None,
                           suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

any_text = st.text(alphabet=st.characters(exclude_categories=()), max_size=12)  # lone surrogates and NUL too
scalars = (st.none() | st.booleans() | st.integers() | st.sampled_from([-1, INT4_MAX, INT4_MAX + 1, 10**40])
           | st.floats(allow_nan=False, allow_infinity=False) | any_text)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(any_text, inner, max_size=3), max_leaves=6)
field_names = st.sampled_from(["hospital", "dept", *domain.count_field_names()])
recent_dates = st.integers(0, 30).map(lambda d: (report_today() - timedelta(days=d)).isoformat())


def department(data: dict) -> str:
    return repr((data.get("hospital"), data.get("dept")))


@st.composite
def rows(draw):
    data = row(hospital=draw(st.sampled_from(["本院", "东院区"])), dept=draw(st.sampled_from(["骨科", "ICU", "产科"])))
    data.update({name: draw(st.integers(0, 50)) for name in draw(st.sets(st.sampled_from(list(VALID_COUNTS))))})
    if draw(st.integers(0, 4)) == 0:
        for name in draw(st.sets(field_names, max_size=3)):
            data[name] = draw(json_values)
        for name in draw(st.sets(field_names, max_size=2)):
            data.pop(name, None)
        data.update(draw(st.dictionaries(any_text, json_values, max_size=2)))
    return data


@st.composite
def envelopes(draw, creds):
    body = client.envelope(creds.access_key, creds.access_secret, {
        "date": draw(st.one_of(recent_dates, recent_dates, json_values)),
        "data": draw(st.one_of(st.lists(rows(), min_size=1, max_size=4, unique_by=department),
                               st.lists(rows(), max_size=4), json_values)),
    })
    if draw(st.booleans()):
        for name in draw(st.sets(st.sampled_from(list(body)), max_size=2)):
            if draw(st.booleans()):
                del body[name]
            else:
                body[name] = draw(json_values)
        body.update(draw(st.dictionaries(any_text, json_values, max_size=2)))
    return body


@pytest.fixture(scope="module")
def fuzz_account(warehouse_url):
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        return registry.register(conn, code="HFUZZ" + uuid.uuid4().hex[:8], name="模糊测试医院",
                                 level="二级", county_code="330328", joined_on=JOINED_ON)


def assert_answered_properly(response, zone, before, sent=None):
    assert response.status_code < 500, response.text
    result = response.json()
    event(f"code {result['code']}")
    assert isinstance(result["code"], int) and isinstance(result["message"], str)
    after = set(zone.iter_documents())
    if result["code"] != 0:
        assert after == before, f"refused ({result['code']}) but stored {after - before}"
    elif sent is not None and not result["data"].get("duplicate"):
        [new] = after - before
        assert read_document(new)["payload"] == {"date": sent["date"], "data": sent["data"]}


@FUZZ
@given(data=st.data())
def test_random_envelopes_never_break_the_service(intake, fuzz_account, settings, data):
    zone = LandingZone(settings=settings)
    body = data.draw(envelopes(fuzz_account))
    before = set(zone.iter_documents())
    response = intake.post(json.dumps(body).encode())  # ASCII escapes carry lone surrogates
    assert_answered_properly(response, zone, before, body)


@hypothesis_settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()))
def test_random_bodies_never_break_the_service(intake, settings, raw):
    zone = LandingZone(settings=settings)
    before = set(zone.iter_documents())
    assert_answered_properly(intake.post(raw), zone, before)
