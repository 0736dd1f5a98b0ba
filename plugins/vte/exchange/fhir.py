"""The published indicator values as HL7 FHIR R4 ``MeasureReport`` resources in one ``Bundle`` (type collection).

One MeasureReport per entity and indicator: status ``complete``, or ``pending`` while the value is partial (its
period not over, or its entity's expected report days not all in: R4's "interim report ... not yet complete"),
type ``summary``, the measure as the canonical
URL ``<base>/Measure/vte-<indicator id>``, the period, the date (the publication's time, never the clock, so the
same publication gives the same bytes), the reporter, and one group with the numerator and denominator
populations (``http://terminology.hl7.org/CodeSystem/measure-population``) and the measure score as a UCUM
percent. Who reports (docs/exchange.md):

- a province, city or county: a ``Location`` of physical type jurisdiction (``jdn``) identified by its
  GB/T 2260 code (a division is a place, not a body; its health commission is not in the registry);
- a county medical community (医共体): an ``Organization`` identified by its name (the registry has no code);
- an institution, and its campuses and departments: the institution's ``Organization`` identified by its
  institution code; a campus or department report also has a ``subject``: the campus's ``Location`` (a site
  managed by the institution), or the department's ``Location`` (part of its campus's).

Every resource the reports refer to is in the Bundle before the reports, with a ``urn:uuid`` full URL derived
from its identifier (UUID 5), so the same entity has the same id in every export.

Each entry is validated with the ``fhir.resources`` models before it is written, and so are the codes of
required bindings and the reference targets (the models check structure, cardinality and formats, not codes).
The models are ``fhir.resources.R4B``: the maintained releases of ``fhir.resources`` (pydantic 2) model R5 and
R4B, not R4 4.0.1, and R4B's Bundle, MeasureReport, Organization, Location and the data types used here have
the same elements as R4's (4.3.0 changed none of them), so what validates here is valid R4.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import Iterator
from zoneinfo import ZoneInfo

from vte.exchange import ExchangedValue
from vte.exchange.read import REGION_LEVELS, Entity, ExchangeError, ExportSource, Indicator, Value

FHIR_VERSION = "4.0.1"
MODELS = "fhir.resources.R4B"
BASE_URL_VARIABLE = "VTE_FHIR_BASE_URL"
# A placeholder: set VTE_FHIR_BASE_URL to the commission's own base before the first exchange (docs/exchange.md).
DEFAULT_BASE_URL = "https://vte-qc.example.org/fhir"
LOCAL_TZ = ZoneInfo("Asia/Shanghai")

MEASURE_POPULATION = "http://terminology.hl7.org/CodeSystem/measure-population"
IMPROVEMENT_NOTATION = "http://terminology.hl7.org/CodeSystem/measure-improvement-notation"
LOCATION_PHYSICAL_TYPE = "http://terminology.hl7.org/CodeSystem/location-physical-type"
ORGANIZATION_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"
UCUM = "http://unitsofmeasure.org"

LEVEL_DISPLAY = {"province": "Province (省)", "city": "City (市)", "county": "County (县/区)",
                 "community": "County medical community (医共体)", "institution": "Institution (医疗机构)",
                 "campus": "Campus (院区)", "department": "Department (科室)"}
POPULATION_DISPLAY = {"numerator": "Numerator", "denominator": "Denominator"}


def check_base_url(text: str | None) -> str:
    """The base of every URL the export defines, without a trailing slash; refused unless an absolute http(s) URL."""
    base = (text or "").strip().rstrip("/")
    if not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:\d+)?(/[A-Za-z0-9._~%!$&'()*+,;=:@/-]*)?", base):
        raise ExchangeError(f"FHIR base URL {text!r} is not an absolute http(s) URL (e.g. https://vte.example.org/fhir)"
                            f": set {BASE_URL_VARIABLE} or --base-url")
    return base


def library_version() -> str:
    return f"fhir.resources {version('fhir.resources')} ({MODELS} models)"


@dataclass(frozen=True)
class Urls:
    """The canonical URLs and identifier systems the export defines, all under one configurable base."""

    base: str

    def measure(self, indicator_id: str) -> str:
        return f"{self.base}/Measure/vte-{indicator_id}"

    def system(self, kind: str) -> str:
        """An identifier system: institution, gbt2260, community, campus, department, indicator-value, export."""
        return f"{self.base}/sid/{kind}"

    def code_system(self, name: str) -> str:
        """A code system: vte-indicator, vte-level, vte-publication."""
        return f"{self.base}/CodeSystem/{name}"


def timestamp(moment: datetime) -> str:
    """A publication's time as a FHIR instant in China Standard Time."""
    return moment.astimezone(LOCAL_TZ).isoformat()


def _full_url(system: str, value: str) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{system}|{value}')}"


def _number(value: Decimal) -> float:
    """A percent with four decimals as a JSON number, exactly (at most 7 significant digits survive a float)."""
    number = float(value)
    if Decimal(repr(number)) != value:
        raise ExchangeError(f"the rate {value} cannot be written exactly as a JSON number")
    return number


# --- The resources ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Target:
    full_url: str
    resource_type: str
    name: str | None

    def reference(self) -> dict:
        reference = {"reference": self.full_url, "type": self.resource_type}
        if self.name:
            reference["display"] = self.name
        return reference


class _Resources:
    """The Organizations and Locations the reports refer to, built once per entity they stand for."""

    def __init__(self, source: ExportSource, urls: Urls):
        self.source, self.urls = source, urls
        self.resources: dict[str, dict] = {}  # full URL -> resource, in the order first needed
        self.targets: dict[tuple, _Target] = {}
        self.names = {(e.level, e.entity_code): e.entity_name for e in source.entities}

    def _level(self, level: str) -> dict:
        return {"coding": [{"system": self.urls.code_system("vte-level"), "code": level,
                            "display": LEVEL_DISPLAY[level]}]}

    def _add(self, key: tuple, system: str, value: str, resource: dict) -> _Target:
        full_url = _full_url(system, value)
        resource = {"resourceType": resource.pop("resourceType"), "id": full_url.removeprefix("urn:uuid:"),
                    "identifier": [{"system": system, "value": value}], **resource}
        self.resources[full_url] = resource
        target = _Target(full_url, resource["resourceType"], resource.get("name"))
        self.targets[key] = target
        return target

    def region(self, code: str) -> _Target:
        key = ("region", code)
        if key in self.targets:
            return self.targets[key]
        place = self.source.regions.get(code)
        level = next(e.level for e in self.source.entities if e.level in REGION_LEVELS and e.entity_code == code)
        resource = {"resourceType": "Location", "status": "active",
                    "name": self.names.get((level, code)) or (place.name if place else code), "mode": "instance",
                    "type": [self._level(level)],
                    "physicalType": {"coding": [{"system": LOCATION_PHYSICAL_TYPE, "code": "jdn",
                                                 "display": "Jurisdiction"}]}}
        parent = place.parent_code if place else None
        if parent and any(e.level in REGION_LEVELS and e.entity_code == parent for e in self.source.entities):
            resource["partOf"] = self.region(parent).reference()
        return self._add(key, self.urls.system("gbt2260"), code, resource)

    def community(self, name: str) -> _Target:
        key = ("community", name)
        if key in self.targets:
            return self.targets[key]
        resource = {"resourceType": "Organization", "active": True,
                    "type": [{"coding": [{"system": ORGANIZATION_TYPE, "code": "prov",
                                          "display": "Healthcare Provider"}], "text": "县域医共体"},
                             self._level("community")],
                    "name": name}
        return self._add(key, self.urls.system("community"), name, resource)

    def institution(self, code: str) -> _Target:
        key = ("institution", code)
        if key in self.targets:
            return self.targets[key]
        place = self.source.institutions.get(code)
        resource = {"resourceType": "Organization", "active": True,
                    "type": [{"coding": [{"system": ORGANIZATION_TYPE, "code": "prov",
                                          "display": "Healthcare Provider"}]}, self._level("institution")],
                    "name": self.names.get(("institution", code)) or (place.name if place else code)}
        if place and place.community and ("community", place.community) in self.names:
            resource["partOf"] = self.community(place.community).reference()
        return self._add(key, self.urls.system("institution"), code, resource)

    def campus(self, code: str, campus: str) -> _Target:
        key = ("campus", code, campus)
        if key in self.targets:
            return self.targets[key]
        resource = {"resourceType": "Location", "status": "active", "name": campus, "mode": "instance",
                    "type": [self._level("campus")],
                    "physicalType": {"coding": [{"system": LOCATION_PHYSICAL_TYPE, "code": "si", "display": "Site"}]},
                    "managingOrganization": self.institution(code).reference()}
        return self._add(key, self.urls.system("campus"), f"{code}|{campus}", resource)

    def department(self, code: str, campus: str, department: str) -> _Target:
        key = ("department", code, campus, department)
        if key in self.targets:
            return self.targets[key]
        resource = {"resourceType": "Location", "status": "active", "name": department, "mode": "instance",
                    "type": [self._level("department")],
                    "managingOrganization": self.institution(code).reference(),
                    "partOf": self.campus(code, campus).reference()}
        return self._add(key, self.urls.system("department"), f"{code}|{campus}|{department}", resource)

    def reporter_and_subject(self, entity: Entity) -> tuple[_Target, _Target | None]:
        if entity.level in REGION_LEVELS:
            return self.region(entity.entity_code), None
        if entity.level == "community":
            return self.community(entity.entity_code), None
        reporter = self.institution(entity.entity_code)
        if entity.level == "campus":
            return reporter, self.campus(entity.entity_code, entity.campus)
        if entity.level == "department":
            return reporter, self.department(entity.entity_code, entity.campus, entity.department)
        return reporter, None


def _population(code: str, count: int) -> dict:
    return {"code": {"coding": [{"system": MEASURE_POPULATION, "code": code, "display": POPULATION_DISPLAY[code]}]},
            "count": count}


def status(value: Value) -> str:
    """MeasureReport.status (complete | pending | error in R4): pending for a partial value. A value the history
    recorded before it kept the mark is complete, as every value was exported then."""
    return "pending" if value.is_partial_period else "complete"


def _measure_report(value: Value, reporter: _Target, subject: _Target | None, source: ExportSource,
                    urls: Urls) -> tuple[str, dict]:
    entity, indicator, period = value.entity, value.indicator, source.period
    identifier = f"{entity.entity_key}|{period.label}|{indicator.indicator_id}"
    full_url = _full_url(urls.system("indicator-value"), identifier)
    report = {"resourceType": "MeasureReport", "id": full_url.removeprefix("urn:uuid:"),
              "identifier": [{"system": urls.system("indicator-value"), "value": identifier}],
              "status": status(value), "type": "summary", "measure": urls.measure(indicator.indicator_id)}
    if subject is not None:
        report["subject"] = subject.reference()
    report |= {"date": timestamp(source.publication.published_at), "reporter": reporter.reference(),
               "period": {"start": period.start.isoformat(), "end": period.end.isoformat()}}
    if indicator.higher_is_better is not None:
        code = "increase" if indicator.higher_is_better else "decrease"
        report["improvementNotation"] = {"coding": [{"system": IMPROVEMENT_NOTATION, "code": code,
                                                     "display": code.capitalize()}]}
    group = {"code": _indicator_concept(indicator, urls),
             "population": [_population("numerator", value.numerator), _population("denominator", value.denominator)]}
    if value.rate is not None:
        group["measureScore"] = {"value": _number(value.rate), "unit": "%", "system": UCUM, "code": "%"}
    report["group"] = [group]
    return full_url, report


def _indicator_concept(indicator: Indicator, urls: Urls) -> dict:
    return {"coding": [{"system": urls.code_system("vte-indicator"), "code": indicator.indicator_id,
                        "display": indicator.name_zh}], "text": indicator.name_en}


# --- Validation ---------------------------------------------------------------------------------------------

@cache
def _models():
    from fhir.resources.R4B.bundle import Bundle, BundleEntry

    return Bundle, BundleEntry


@cache
def _field_rules(model_class) -> tuple:
    """(name, enum values, reference target types) of each field of a model class that has either, or that may
    hold nested models; from the models' own binding data."""
    rules = []
    for name, field in model_class.model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        rules.append((name, tuple(extra.get("enum_values") or ()), tuple(extra.get("enum_reference_types") or ())))
    return tuple(rules)


def check_codes(model, references: dict[str, str], where: str) -> None:
    """The codes of required bindings are among the binding's codes, and every ``urn:uuid`` reference names a
    resource of the Bundle of an allowed type (``references``: full URL -> resource type)."""
    from fhir_core.fhirabstractmodel import FHIRAbstractModel

    for name, codes, kinds in _field_rules(type(model)):
        value = getattr(model, name, None)
        if value is None:
            continue
        for item in value if isinstance(value, list) else (value,):
            if codes and item not in codes:
                raise ExchangeError(f"{where}.{name}: {item!r} is not one of the codes {', '.join(codes)}")
            if kinds and getattr(item, "reference", None):
                target = item.reference
                if target.startswith("urn:uuid:"):
                    if target not in references:
                        raise ExchangeError(f"{where}.{name}: {target} is no entry of the Bundle")
                    if "Resource" not in kinds and references[target] not in kinds:
                        raise ExchangeError(f"{where}.{name}: {target} is a {references[target]}, not a "
                                            f"{' or '.join(kinds)}")
            if isinstance(item, FHIRAbstractModel):
                check_codes(item, references, f"{where}.{name}")


def _validated(entry: dict, references: dict[str, str], where: str) -> dict:
    from pydantic import ValidationError

    _, bundle_entry = _models()
    try:
        model = bundle_entry.model_validate(entry)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ExchangeError(f"{where} is not valid FHIR R4 ({library_version()}): "
                            f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from None
    check_codes(model, references, where)
    return entry


# --- Writing ------------------------------------------------------------------------------------------------

def bundle_identifier(source: ExportSource) -> str:
    return f"vte-{source.period.label}-{source.region.code}-p{source.publication.publication_id}"


def _bundle_head(source: ExportSource, urls: Urls) -> dict:
    publication = source.publication
    moment = timestamp(publication.published_at)
    identifier = bundle_identifier(source)
    bundle_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{urls.system('export')}|{identifier}"))
    return {"resourceType": "Bundle", "id": bundle_id,
            "meta": {"lastUpdated": moment,
                     "tag": [{"system": urls.code_system("vte-publication"), "code": str(publication.publication_id),
                              "display": f"publication {publication.publication_id} of {moment}"}]},
            "identifier": {"system": urls.system("export"), "value": identifier},
            "type": "collection", "timestamp": moment}


def _dump(document: dict) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def _entries(source: ExportSource, urls: Urls) -> Iterator[tuple[str, dict]]:
    """(what, entry) of the Bundle in order: every Organization and Location, then the MeasureReports."""
    resources = _Resources(source, urls)
    targets = {(e.level, e.entity_code, e.campus, e.department): resources.reporter_and_subject(e)
               for e in source.entities}
    references = {url: r["resourceType"] for url, r in resources.resources.items()}
    for url, resource in resources.resources.items():
        yield references, {"fullUrl": url, "resource": resource}
    for value in source.values:
        entity = value.entity
        reporter, subject = targets[(entity.level, entity.entity_code, entity.campus, entity.department)]
        url, report = _measure_report(value, reporter, subject, source, urls)
        yield references, {"fullUrl": url, "resource": report}


def write_bundle(source: ExportSource, path: Path, base_url: str) -> int:
    """Write the Bundle of ``source`` to ``path`` (atomically), every entry validated first; returns the number of
    MeasureReports."""
    urls = Urls(check_base_url(base_url))
    bundle, _ = _models()
    head = _bundle_head(source, urls)
    bundle.model_validate(head)
    reports = 0
    partial = path.with_name(f".{path.name}.partial")
    try:
        with open(partial, "w", encoding="utf-8", newline="\n") as out:
            out.write(_dump(head)[:-1] + ',"entry":[')
            separator, written = "\n", set()
            for references, entry in _entries(source, urls):
                resource = entry["resource"]
                where = f"{resource['resourceType']} {resource['identifier'][0]['value']}"
                if entry["fullUrl"] in written:  # bdl-7: an entry's fullUrl is unique in the Bundle
                    raise ExchangeError(f"{where} is in the Bundle twice")
                written.add(entry["fullUrl"])
                out.write(separator + _dump(_validated(entry, references, where)))
                separator = ",\n"
                reports += resource["resourceType"] == "MeasureReport"
            out.write("\n]}\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return reports


# --- Reading back -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReadBundle:
    base_url: str
    publication_id: int
    published_at: str
    period_start: str
    period_end: str
    values: list[ExchangedValue]
    resources: int  # Organizations and Locations


def _level(resource, base: str) -> str:
    system = f"{base}/CodeSystem/vte-level"
    for concept in resource.type or ():
        for coding in concept.coding or ():
            if coding.system == system:
                return coding.code
    raise ExchangeError(f"{resource.get_resource_type()} {resource.id} has no level ({system})")


def _iso(value) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def read_bundle(path: Path) -> ReadBundle:
    """Parse and validate a written Bundle with the FHIR models, then read every value back from the standard
    elements: the entity from the reporter and subject resources, the indicator from the group's code, the counts
    from the populations, the score from the measure score and the partial mark from the status."""
    from pydantic import ValidationError

    bundle_class, _ = _models()
    try:
        bundle = bundle_class.model_validate_json(Path(path).read_bytes())
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ExchangeError(f"{path} is not a valid FHIR R4 Bundle: {'.'.join(map(str, first['loc']))}: "
                            f"{first['msg']}") from None
    entries = {entry.fullUrl: entry.resource for entry in bundle.entry or ()}
    if len(entries) != len(bundle.entry or ()):
        raise ExchangeError(f"{path}: two entries of the Bundle have the same fullUrl (bdl-7)")
    references = {url: resource.get_resource_type() for url, resource in entries.items()}
    check_codes(bundle, references, "Bundle")
    base = bundle.identifier.system.removesuffix("/sid/export")
    [tag] = [t for t in bundle.meta.tag if t.system == f"{base}/CodeSystem/vte-publication"]
    values, periods, resources = [], set(), 0
    for resource in entries.values():
        if resource.get_resource_type() != "MeasureReport":
            resources += 1
            continue
        reporter = entries[resource.reporter.reference]
        [identifier] = reporter.identifier
        level, campus, department = _level(reporter, base), None, None
        if resource.subject is not None:
            subject = entries[resource.subject.reference]
            level = _level(subject, base)
            if level == "campus":
                campus = subject.name
            else:
                campus, department = entries[subject.partOf.reference].name, subject.name
        [group] = resource.group
        [coding] = [c for c in group.code.coding if c.system == f"{base}/CodeSystem/vte-indicator"]
        if resource.measure != f"{base}/Measure/vte-{coding.code}":
            raise ExchangeError(f"MeasureReport {resource.id}: measure {resource.measure} is not indicator "
                                f"{coding.code}")
        counts = {p.code.coding[0].code: p.count for p in group.population}
        score = group.measureScore.value if group.measureScore is not None else None
        values.append(ExchangedValue(level, identifier.value, campus, department, coding.code, counts["numerator"],
                                     counts["denominator"], None if score is None else Decimal(score),
                                     resource.status == "pending"))
        periods.add((_iso(resource.period.start), _iso(resource.period.end)))
    [(start, end)] = periods or {("", "")}
    return ReadBundle(base, int(tag.code), _iso(bundle.timestamp), start, end, values, resources)

