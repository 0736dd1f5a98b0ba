"""The published indicator values as an IHE ADX (Aggregate Data Exchange) message, and its structural schema.

ADX (IHE QRPH, namespace ``urn:ihe:qrph:adx:2015``) carries aggregate data as ``group`` elements, one per
reporting unit and period, each holding ``dataValue`` elements. What may appear is defined by the data set's
SDMX data structure definition (DSD); the profile derives a W3C XML Schema from it with a normative stylesheet,
and a message is valid when that schema accepts it. ``adx.xsd`` beside this module is that schema for this
data set, in the stylesheet's shape, written by ``render_schema`` from the indicator definitions
(``dbt_project/seeds/indicators.csv``; tests/exchange fails when the committed file drifts):

- ``adx``: ``exported`` (the publication's time, never the clock) and ``publication`` (its id);
- ``group``: ``orgUnit`` (GB/T 2260 code, institution code, or the community's name), ``period`` (ISO 8601
  start date / duration: ``2026-03-01/P1M``, ``2026-01-01/P3M``, ``2026-01-01/P1Y``), ``dataSet``
  (``VTE_QC``), and the data set's further group dimensions ``level`` and, below an institution, ``campus``
  and ``department``; and ``partial`` (``true`` while the reporting unit's period is partial: not over, or its
  expected report days not all in; ``false`` when complete; absent for values the history recorded before it
  kept the mark), an attribute of the group, not a dimension;
- ``dataValue``: ``dataElement`` (``VTE_<indicator>_NUM`` or ``_DEN``, e.g. ``VTE_B_1_1_NUM``; SDMX codes
  allow no dots) and ``value`` (a count).

The rate is not sent: aggregate exchange carries counts and the receiver divides (Σ numerator / Σ denominator
× 100, rounded to 4 decimals, none when the denominator is 0), exactly as the warehouse does.

``python -m vte.exchange.adx`` rewrites ``adx.xsd`` after the indicators change.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date
from functools import cache
from itertools import groupby
from pathlib import Path

from vte import domain
from vte.exchange import ExchangedValue
from vte.exchange.read import LEVELS, ExchangeError, ExportSource, Value
from vte.exchange.fhir import timestamp
from vte.extracts.periods import Period

NAMESPACE = "urn:ihe:qrph:adx:2015"
XS = "http://www.w3.org/2001/XMLSchema"
SCHEMA_PATH = Path(__file__).with_name("adx.xsd")
DATA_SET = "VTE_QC"
AGENCY, CODELIST_VERSION = "VTE_QC", "1.0"
DURATIONS = {"month": "P1M", "quarter": "P3M", "year": "P1Y"}
PARTS = {"NUM": "numerator", "DEN": "denominator"}
TEXT_MAX_LENGTH = 100  # campus (hospital) and department (dept) as the intake accepts them
_XML_CHARACTERS = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def data_element(indicator_id: str, part: str) -> str:
    """``B.1.1``, ``NUM`` -> ``VTE_B_1_1_NUM``."""
    return f"VTE_{indicator_id.replace('.', '_')}_{part}"


def data_elements() -> dict[str, tuple[str, str]]:
    """Every data element code -> (indicator id, numerator | denominator), in the data set's order."""
    return {data_element(i.indicator_id, part): (i.indicator_id, PARTS[part])
            for i in sorted(domain.indicators(), key=lambda i: (i.is_supplementary, i.indicator_id))
            for part in PARTS}


def adx_period(period: Period) -> str:
    """A period in ADX notation: its first day and its length (``2026-03-01/P1M``)."""
    return f"{period.start.isoformat()}/{DURATIONS[period.period_type]}"


def parse_adx_period(text: str) -> Period:
    start, _, duration = text.partition("/")
    kinds = {v: k for k, v in DURATIONS.items()}
    if duration not in kinds:
        raise ExchangeError(f"ADX period {text!r} is not a month (P1M), quarter (P3M) or year (P1Y)")
    return Period(date.fromisoformat(start), kinds[duration])


# --- The structural schema ----------------------------------------------------------------------------------

def _type_name(codelist: str) -> str:
    # As the ADX stylesheet names the type of a code list: <id>_<agency>_<version>_Type.
    return f"{codelist}_{AGENCY}_{CODELIST_VERSION}_Type"


def render_schema() -> bytes:
    """The W3C XML Schema of this data set's ADX messages, in the shape the ADX profile's DSD-to-XSD stylesheet
    gives: typed ``adx``, ``group`` and ``dataValue`` elements, the dimensions' code lists as enumerations
    (orgUnit's is the registry, open: a token), any further attribute allowed and skipped."""
    from lxml import etree

    def xs(tag: str, parent=None, **attributes):
        element = etree.Element(f"{{{XS}}}{tag}", nsmap={"xs": XS}) if parent is None else \
            etree.SubElement(parent, f"{{{XS}}}{tag}")
        for name, value in attributes.items():
            element.set(name.rstrip("_"), value)
        return element

    def documented(parent, text: str):
        xs("documentation", xs("annotation", parent)).text = text

    def token_list(name: str, codes: dict[str, str], documentation: str):
        simple = xs("simpleType", schema, name=_type_name(name))
        documented(simple, documentation)
        restriction = xs("restriction", simple, base="xs:token")
        for code, text in codes.items():
            documented(xs("enumeration", restriction, value=code), text)

    def text_type(name: str, documentation: str, base: str = "xs:string"):
        simple = xs("simpleType", schema, name=name)
        documented(simple, documentation)
        restriction = xs("restriction", simple, base=base)
        xs("minLength", restriction, value="1")
        xs("maxLength", restriction, value=str(TEXT_MAX_LENGTH))

    schema = etree.Element(f"{{{XS}}}schema", nsmap={"xs": XS, None: NAMESPACE, "adx": NAMESPACE})
    schema.set("targetNamespace", NAMESPACE)
    schema.set("elementFormDefault", "qualified")
    indicators = {i.indicator_id: i for i in domain.indicators()}
    supplementary = sum(i.is_supplementary for i in indicators.values())
    documented(schema, "ADX structural schema of the VTE quality-control indicator data set (VTE_QC): the "
                       f"numerators and denominators of the {len(indicators) - supplementary} indicators of the "
                       f"regional interchange standard's Appendix B and the {supplementary} supplementary ones, "
                       "per region, county medical community, "
                       "institution, campus and department, and month, quarter or year. Derived from the data "
                       "set's definition as the IHE ADX profile's DSD-to-XSD stylesheet derives it. "
                       "Generated by vte.exchange.adx.render_schema; see docs/exchange.md.")
    token_list("CL_DATA_SET", {DATA_SET: "VTE 质控指标 VTE quality-control indicators"}, "The data set.")
    def element_text(indicator_id: str, part: str) -> str:
        indicator = indicators[indicator_id]
        return (f"{indicator_id} {indicator.name_zh} ({indicator.name_en}): {part} = {getattr(indicator, part)}"
                + (" [supplementary]" if indicator.is_supplementary else ""))

    token_list("CL_DATA_ELEMENT", {code: element_text(*meaning) for code, meaning in data_elements().items()},
               "The data elements: each indicator's numerator and denominator, a count.")
    token_list("CL_LEVEL", {level: level for level in LEVELS},
               "The level of the reporting unit: a GB/T 2260 division (province, city, county), a county medical "
               "community, an institution, or one of its campuses or departments.")
    text_type(_type_name("CL_ORG_UNIT"), "The reporting unit (orgUnit): the GB/T 2260 code of a division, the "
                                         "registry's institution code (also for its campuses and departments), or "
                                         "a county medical community's name. The code list is the registry.",
              base="xs:token")
    text_type("campusType", "The campus (院区, the submissions' hospital field) within the institution.")
    text_type("departmentType", "The department (科室, the submissions' dept field) within the campus.")

    date_range = xs("simpleType", schema, name="dateRangeType")
    documented(date_range, "An ISO 8601 time interval of a start date and a duration, as SDMX's date range.")
    xs("pattern", xs("restriction", date_range, base="xs:string"),
       value=r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])/P([0-9]+Y)?([0-9]+M)?([0-9]+W)?([0-9]+D)?")
    period = xs("simpleType", schema, name="periodType")
    documented(period, "The period of a group: its first day and its length (2026-03-01/P1M, 2026-01-01/P3M, "
                       "2026-01-01/P1Y).")
    xs("pattern", xs("restriction", period, base="dateRangeType"), value=r".+/P.*[0-9][YMWD]")

    adx_type = xs("complexType", schema, name="adxType")
    group = xs("element", xs("sequence", adx_type, maxOccurs="unbounded"), name="group", type="groupType")
    unique = xs("unique", group, name="dataElementOncePerGroup")
    xs("selector", unique, xpath="adx:dataValue")
    xs("field", unique, xpath="@dataElement")
    xs("attribute", adx_type, name="exported", use="required", type="xs:dateTime")
    documented(xs("attribute", adx_type, name="publication", use="required", type="xs:positiveInteger"),
               "The publication of the warehouse (ops.publications) the values are from.")
    xs("anyAttribute", adx_type, processContents="skip")

    group_type = xs("complexType", schema, name="groupType")
    xs("element", xs("sequence", group_type, maxOccurs="unbounded"), name="dataValue", type="DataValueType")
    xs("attribute", group_type, name="orgUnit", use="required", type=_type_name("CL_ORG_UNIT"))
    xs("attribute", group_type, name="period", use="required", type="periodType")
    xs("attribute", group_type, name="dataSet", use="required", type=_type_name("CL_DATA_SET"))
    xs("attribute", group_type, name="level", use="required", type=_type_name("CL_LEVEL"))
    xs("attribute", group_type, name="campus", use="optional", type="campusType")
    xs("attribute", group_type, name="department", use="optional", type="departmentType")
    documented(xs("attribute", group_type, name="partial", use="optional", type="xs:boolean"),
               "Whether the group's values are partial (部分期间): the period is not over, or the reporting "
               "unit's expected report days in it are not all in; the values may still change. Absent when not "
               "recorded (values kept before the warehouse's history recorded the mark).")
    xs("anyAttribute", group_type, processContents="skip")

    value_type = xs("complexType", schema, name="DataValueType")
    xs("element", xs("sequence", value_type, minOccurs="0", maxOccurs="1"), name="annotation")
    xs("attribute", value_type, name="dataElement", use="required", type=_type_name("CL_DATA_ELEMENT"))
    xs("attribute", value_type, name="value", use="required", type="xs:decimal")
    xs("anyAttribute", value_type, processContents="skip")

    xs("element", schema, name="adx", type="adxType")
    schema.addprevious(etree.Comment(" Generated by `python -m vte.exchange.adx` from the indicator definitions: "
                                     "do not edit. "))
    return etree.tostring(schema.getroottree(), xml_declaration=True, encoding="UTF-8", pretty_print=True)


@cache
def schema():
    from lxml import etree

    return etree.XMLSchema(etree.parse(str(SCHEMA_PATH), etree.XMLParser(resolve_entities=False, no_network=True)))


# --- Writing ------------------------------------------------------------------------------------------------

def _attribute(name: str, value: str, where: str) -> str:
    if _XML_CHARACTERS.search(value):
        raise ExchangeError(f"{where}: {name} {value!r} holds a character XML cannot carry")
    escaped = (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
               .replace("\t", "&#9;").replace("\n", "&#10;").replace("\r", "&#13;"))
    return f' {name}="{escaped}"'


def _comment(text: str) -> str:
    return "<!-- " + _XML_CHARACTERS.sub("?", text).replace("--", "- -") + " -->"


def _partial(values: list[Value]) -> bool | None:
    """A group's partial mark: the period is an entity's, so its values share it; any partial value makes the
    group partial, and a group with an unrecorded mark and no partial value has none."""
    marks = {v.is_partial_period for v in values}
    if True in marks:
        return True
    return None if None in marks else False


def write_message(source: ExportSource, path: Path) -> int:
    """Write the ADX message of ``source`` to ``path`` (atomically) and validate it against ``adx.xsd``; returns
    the number of groups."""
    publication, region, period = source.publication, source.region, source.period
    moment = timestamp(publication.published_at)
    groups = 0
    partial = path.with_name(f".{path.name}.partial")
    try:
        with open(partial, "w", encoding="utf-8", newline="\n") as out:
            out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
            out.write(_comment(f"VTE 质控指标 {period.label} {region.code} {region.name}: publication "
                               f"{publication.publication_id} of {moment} (ops.publications)") + "\n")
            out.write(f'<adx xmlns="{NAMESPACE}"{_attribute("exported", moment, "adx")}'
                      f' publication="{publication.publication_id}">\n')
            for entity, grouped in groupby(source.values, key=lambda v: v.entity):
                values = list(grouped)
                where = f"{entity.level} {entity.entity_key}"
                attributes = [("orgUnit", entity.entity_code), ("period", adx_period(period)), ("dataSet", DATA_SET),
                              ("level", entity.level)]
                attributes += [(name, value) for name, value in (("campus", entity.campus),
                                                                  ("department", entity.department)) if value]
                mark = _partial(values)
                if mark is not None:
                    attributes.append(("partial", "true" if mark else "false"))
                out.write("  <group" + "".join(_attribute(n, v, where) for n, v in attributes) + ">\n")
                for value in values:
                    for part, count in (("NUM", value.numerator), ("DEN", value.denominator)):
                        out.write(f'    <dataValue dataElement="{data_element(value.indicator.indicator_id, part)}"'
                                  f' value="{int(count)}"/>\n')
                out.write("  </group>\n")
                groups += 1
            out.write("</adx>\n")
            out.flush()
            os.fsync(out.fileno())
        validate(partial, shown_as=path)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return groups


# --- Validation and reading back ----------------------------------------------------------------------------

@dataclass(frozen=True)
class ReadMessage:
    publication_id: int
    exported: str
    periods: set[str]
    values: list[ExchangedValue]
    groups: int


def _parse(path: Path, shown_as: Path | None = None, validating: bool = True):
    """The (event, element) of a parse, element by element (a province's message is large); validating against
    ``adx.xsd`` as it goes (libxml2 may report an error some elements after the element that broke the schema)."""
    from lxml import etree

    try:
        yield from etree.iterparse(str(path), events=("end",), schema=schema() if validating else None,
                                   resolve_entities=False, no_network=True, huge_tree=True)
    except (etree.XMLSyntaxError, etree.XMLSchemaError) as exc:
        error = exc.error_log.last_error if getattr(exc, "error_log", None) else None
        line = f" line {error.line}" if error is not None and error.line else ""
        message = error.message if error is not None else str(exc)
        raise ExchangeError(f"{shown_as or path}{line} is not valid against the ADX schema {SCHEMA_PATH.name}: "
                            f"{message}") from None


def validate(path: Path, shown_as: Path | None = None) -> None:
    """Raise ExchangeError naming the first place where the message breaks ``adx.xsd``."""
    for _, element in _parse(path, shown_as):
        if element.tag == f"{{{NAMESPACE}}}group":
            element.clear()


def read_message(path: Path) -> ReadMessage:
    """Validate a written message against ``adx.xsd``, then read every value back."""
    validate(path)
    elements = data_elements()
    values, periods, groups, root = [], set(), 0, None
    for _, element in _parse(path, validating=False):
        if element.tag == f"{{{NAMESPACE}}}group":
            groups += 1
            periods.add(element.get("period"))
            mark = element.get("partial")  # xs:boolean: true, false, 1 or 0, whitespace collapsed
            partial = None if mark is None else mark.strip() in ("true", "1")
            counts: dict[str, dict[str, int]] = {}
            for data_value in element:
                indicator_id, part = elements[data_value.get("dataElement")]
                counts.setdefault(indicator_id, {})[part] = int(data_value.get("value"))
            for indicator_id, parts in counts.items():
                values.append(ExchangedValue(element.get("level"), element.get("orgUnit"), element.get("campus"),
                                             element.get("department"), indicator_id, parts["numerator"],
                                             parts["denominator"], None, partial))
            element.clear()
        elif element.tag == f"{{{NAMESPACE}}}adx":
            root = element
    return ReadMessage(int(root.get("publication")), root.get("exported"), periods, values, groups)


if __name__ == "__main__":
    SCHEMA_PATH.write_bytes(render_schema())
    print(SCHEMA_PATH)
