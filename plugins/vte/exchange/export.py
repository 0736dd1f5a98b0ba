"""What ``vte export`` does: read one publication's values of a period in a region, write them as a FHIR R4 Bundle
or an ADX message, validated, and record the export in ``ops.admin_audit``.

The file is named after the period, the region and the publication
(``vte-2026-03-330000-p42.fhir.json``, ``….adx.xml``) and written whole or not at all; everything in it comes
from the publication (its time stands where a clock would), so exporting the same publication again writes the
same bytes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from psycopg.types.json import Jsonb

from vte import warehouse
from vte.access import roles
from vte.config import Settings, get_settings
from vte.exchange import read
from vte.exchange.read import ExchangeError, PublicationRef
from vte.extracts.periods import Period
from vte.extracts.query import Region

FORMATS = {"fhir": ".fhir.json", "adx": ".adx.xml"}
AUDIT_ACTION = "exchange.export"


class FormatError(ExchangeError):
    pass


@dataclass(frozen=True)
class Export:
    path: Path
    format: str
    publication: PublicationRef
    region: Region
    period: Period
    entities: int
    written: int  # MeasureReports (fhir) or groups (adx)
    sha256: str


def check_format(text: str | None) -> str:
    fmt = (text or "").strip().lower()
    if fmt not in FORMATS:
        raise FormatError(f"format {text!r} is neither fhir (FHIR R4 MeasureReport Bundle, JSON) nor adx "
                          "(IHE ADX, XML)")
    return fmt


def export_directory(settings: Settings, period: Period, region_code: str) -> Path:
    return settings.exports_dir / "exchange" / period.label / region_code


def file_name(fmt: str, period: Period, region_code: str, publication_id: int) -> str:
    return f"vte-{period.label}-{region_code}-p{publication_id}{FORMATS[fmt]}"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as data:
        for chunk in iter(lambda: data.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def export(period: Period, region_code: str | None = None, fmt: str = "fhir", publication_id: int | None = None, *,
           actor: str, out: Path | None = None, base_url: str | None = None,
           settings: Settings | None = None) -> Export:
    """Export ``period`` in the region (default: the province) from a publication (default: the current one)."""
    from vte.exchange import adx, fhir

    fmt = check_format(fmt)
    base = fhir.check_base_url(base_url or fhir.DEFAULT_BASE_URL) if fmt == "fhir" else None
    settings = settings or get_settings()
    with warehouse.connect(settings, role=roles.EXTRACTS, autocommit=True) as conn:
        with read.open_source(conn, period, region_code, publication_id) as source:
            directory = out or export_directory(settings, period, source.region.code)
            directory.mkdir(parents=True, exist_ok=True)
            path = directory / file_name(fmt, period, source.region.code, source.publication.publication_id)
            if fmt == "fhir":
                written = fhir.write_bundle(source, path, base)
            else:
                written = adx.write_message(source, path)
            result = Export(path, fmt, source.publication, source.region, period, len(source.entities), written,
                            _sha256(path))
        details = {"format": fmt, "period": period.label, "region": result.region.code,
                   "publication": result.publication.publication_id, "entities": result.entities,
                   "written": written, "sha256": result.sha256}
        if base:
            details["base_url"] = base
        conn.execute("insert into ops.admin_audit (actor, action, subject, details) values (%s, %s, %s, %s)",
                     (actor, AUDIT_ACTION, str(path), Jsonb(details)))
    return result
