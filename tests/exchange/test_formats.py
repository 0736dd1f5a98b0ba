"""The exchange formats without a warehouse: the committed ADX schema is the one the indicator definitions give,
it accepts what the profile allows and refuses what breaks it; periods in ADX notation; FHIR base URLs."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from lxml import etree

from vte import domain
from vte.exchange import adx, fhir
from vte.exchange.read import ExchangeError
from vte.extracts.periods import parse_period

MESSAGE = """<?xml version="1.0" encoding="UTF-8"?>
<adx xmlns="urn:ihe:qrph:adx:2015" exported="2026-04-01T08:00:00+08:00" publication="7">
  <group orgUnit="H330483786" period="2026-03-01/P1M" dataSet="VTE_QC" level="department" campus="总院"
         department="0301" partial="true">
    <dataValue dataElement="VTE_B_1_1_NUM" value="9"/>
    <dataValue dataElement="VTE_B_1_1_DEN" value="10"/>
  </group>
  <group orgUnit="桐乡市医共体" period="2026-01-01/P1Y" dataSet="VTE_QC" level="community" completeDate="x">
    <dataValue dataElement="VTE_S_5_NUM" value="0"/>
    <dataValue dataElement="VTE_S_5_DEN" value="0"><annotation>note</annotation></dataValue>
  </group>
</adx>
"""


def test_the_committed_schema_is_the_one_the_indicator_definitions_give():
    assert adx.SCHEMA_PATH.read_bytes() == adx.render_schema(), \
        "plugins/vte/exchange/adx.xsd drifted from the indicators: run `python -m vte.exchange.adx`"
    codes = adx.data_elements()
    assert len(codes) == 2 * len(domain.indicators())
    assert codes["VTE_B_1_1_NUM"] == ("B.1.1", "numerator") and codes["VTE_S_5_DEN"] == ("S.5", "denominator")


def test_the_schema_accepts_a_message_the_profile_allows(tmp_path):
    path = tmp_path / "ok.adx.xml"
    path.write_text(MESSAGE, encoding="utf-8")
    message = adx.read_message(path)
    assert message.publication_id == 7 and message.groups == 2
    assert {v.key: (v.numerator, v.denominator, v.score, v.partial) for v in message.values} == {
        ("department", "H330483786", "总院", "0301", "B.1.1"): (9, 10, None, True),
        ("community", "桐乡市医共体", None, None, "S.5"): (0, 0, None, None)}  # no mark recorded


@pytest.mark.parametrize("old, new", [
    ('exported="2026-04-01T08:00:00+08:00"', 'exported="yesterday"'),
    (' publication="7"', ""),
    ('period="2026-03-01/P1M"', 'period="2026-03"'),
    ('period="2026-03-01/P1M"', 'period="2026-03-01/P"'),
    ('dataSet="VTE_QC" level="department"', 'dataSet="OTHER" level="department"'),
    ('level="department"', 'level="ward"'),
    ('partial="true"', 'partial="maybe"'),
    ('campus="总院"', 'campus=""'),
    ('dataElement="VTE_B_1_1_DEN"', 'dataElement="VTE_B_1_1_NUM"'),  # twice in one group
    ('value="9"', 'value="nine"'),
    ('<dataValue dataElement="VTE_S_5_NUM" value="0"/>\n    <dataValue dataElement="VTE_S_5_DEN" value="0">'
     '<annotation>note</annotation></dataValue>', ""),  # a group without values
    ('xmlns="urn:ihe:qrph:adx:2015"', 'xmlns="urn:example"'),
])
def test_the_schema_refuses_what_breaks_the_data_set(tmp_path, old, new):
    assert old in MESSAGE
    path = tmp_path / "broken.adx.xml"
    path.write_text(MESSAGE.replace(old, new), encoding="utf-8")
    with pytest.raises(ExchangeError, match="is not valid against the ADX schema"):
        adx.validate(path)


def test_the_schema_is_a_valid_xml_schema_in_the_adx_namespace():
    document = etree.fromstring(adx.render_schema())
    assert document.get("targetNamespace") == "urn:ihe:qrph:adx:2015"
    assert adx.schema() is not None


@pytest.mark.parametrize("text, notation", [("2026-03", "2026-03-01/P1M"), ("2026Q2", "2026-04-01/P3M"),
                                            ("2026", "2026-01-01/P1Y")])
def test_periods_in_adx_notation(text, notation):
    period = parse_period(text)
    assert adx.adx_period(period) == notation and adx.parse_adx_period(notation) == period


def test_fhir_base_urls():
    assert fhir.check_base_url("https://fhir.example.org/r4/") == "https://fhir.example.org/r4"
    assert fhir.Urls("https://x.org/fhir").measure("B.1.1") == "https://x.org/fhir/Measure/vte-B.1.1"
    for bad in ("", "fhir.example.org", "ftp://x.org", "https://x.org/a b"):
        with pytest.raises(ExchangeError, match="is not an absolute http"):
            fhir.check_base_url(bad)


def test_timestamps_are_china_standard_time():
    from datetime import datetime, timezone

    assert fhir.timestamp(datetime(2026, 4, 1, 0, 30, tzinfo=timezone.utc)) == "2026-04-01T08:30:00+08:00"


def _marked_source():
    """Three institutions' B.1.1 in March 2026: one partial, one complete, one whose mark the history did not
    record (an earlier publication's value kept before migration 017)."""
    from datetime import datetime, timezone

    from vte.exchange.read import Entity, ExportSource, Indicator, Place, PublicationRef, Value
    from vte.extracts.query import Region

    indicator = Indicator("B.1.1", "VTE风险评估率", "VTE risk assessment rate", "riskAssessment",
                          "dischargeHospitalNodaily", True, False)
    entities = tuple(Entity("institution", code, None, None, f"医院{code}", f"institution|{code}")
                     for code in ("H1", "H2", "H3"))
    marks = {"H1": True, "H2": False, "H3": None}
    values = [Value(e, indicator, 9, 10, Decimal("90.0000"), marks[e.entity_code]) for e in entities]
    return ExportSource(PublicationRef(7, datetime(2026, 4, 1, tzinfo=timezone.utc), False),
                        Region("330000", "浙江省", "province"), parse_period("2026-03"), (indicator,), entities,
                        {}, {e.entity_code: Place(e.entity_name, "330102", None) for e in entities}, iter(values))


def test_the_partial_mark_round_trips_in_both_formats(tmp_path):
    path = tmp_path / "marked.fhir.json"
    fhir.write_bundle(_marked_source(), path, "https://fhir.vte.test/r4")
    statuses = {e["resource"]["identifier"][0]["value"]: e["resource"]["status"]
                for e in json.loads(path.read_text(encoding="utf-8"))["entry"]
                if e["resource"]["resourceType"] == "MeasureReport"}
    assert statuses == {"institution|H1|2026-03|B.1.1": "pending", "institution|H2|2026-03|B.1.1": "complete",
                        "institution|H3|2026-03|B.1.1": "complete"}  # unrecorded: as every report was before
    assert {v.entity_code: v.partial for v in fhir.read_bundle(path).values} == {"H1": True, "H2": False,
                                                                                 "H3": False}
    path = tmp_path / "marked.adx.xml"
    adx.write_message(_marked_source(), path)
    text = path.read_text(encoding="utf-8")
    assert 'orgUnit="H1" period="2026-03-01/P1M" dataSet="VTE_QC" level="institution" partial="true"' in text
    assert 'orgUnit="H2" period="2026-03-01/P1M" dataSet="VTE_QC" level="institution" partial="false"' in text
    assert 'orgUnit="H3" period="2026-03-01/P1M" dataSet="VTE_QC" level="institution">' in text
    assert {v.entity_code: v.partial for v in adx.read_message(path).values} == {"H1": True, "H2": False,
                                                                                "H3": None}
