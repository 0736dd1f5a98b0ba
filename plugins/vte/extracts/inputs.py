"""The exact inputs an extract revision was written from, stored beside its files as ``inputs.json.gz``.

Everything the writers use is here: the ``Snapshot`` read from the publication, the kind, where the revision
stands among the earlier ones, and the restatement (the values that changed since an earlier revision's
publication). Writing the files again from these inputs gives the same bytes, whatever was published since.

The encoding is lossless and deterministic: dates, times and decimals are tagged (``{"$date": "2026-03-01"}``,
``{"$datetime": "2026-04-01T02:00:00.123456+00:00"}``, ``{"$decimal": "85.7100"}``, keeping the scale), keys
are sorted, and the gzip header carries no time or file name. Any other type is refused rather than
approximated.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from vte.extracts.periods import Period
from vte.extracts.query import PublicationRef, Region, Snapshot
from vte.publication.history import Change, Submission

INPUTS_NAME = "inputs.json.gz"
# Raised when the stored form changes, so an older revision's inputs are read the way they were written.
# 2: the snapshot holds the funnel, and its values whether they are partial and their denominators small;
# format 1 inputs read with no funnel and without those marks.
# 3: the snapshot holds the cities, the comparison with the previous period and the rules named; format 1 and 2
# inputs read without them (their workbooks have no city and comparison sheets and no rule legend).
# 4: the snapshot holds the department completeness; older inputs read with None there (no department sheet).
INPUTS_FORMAT = 4
READABLE_FORMATS = (1, 2, 3, 4)
_TAGS = ("$date", "$datetime", "$decimal")


class InputsError(ValueError):
    pass


@dataclass(frozen=True)
class RevisionRef:
    """An earlier revision of the same period, region and kind, and the publication it was made from."""

    revision: int
    publication_id: int


@dataclass(frozen=True)
class Restatement:
    """The indicator values of the period and region that differ between ``against``'s publication and this
    extract's, with the submissions that caused each."""

    against: RevisionRef
    to_publication: int
    changes: tuple[Change, ...]


@dataclass(frozen=True)
class ExtractInputs:
    snapshot: Snapshot
    kind: str  # preliminary | final
    revision: int  # 1, 2, … within the period, region and kind
    previous: RevisionRef | None  # the revision before this one, if any
    restatement: Restatement | None  # None for a first revision, or when every earlier one is of this publication


def _encode(value):
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InputsError(f"a time without a time zone cannot be stored losslessly: {value!r}")
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise InputsError(f"keys must be text: {list(value)!r}")
        return {k: _encode(v) for k, v in value.items()}
    raise InputsError(f"{type(value).__name__} values are not stored in extract inputs: {value!r}")


def _decode(value):
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)) in _TAGS:
            (tag, text), = value.items()
            return {"$date": date.fromisoformat, "$datetime": datetime.fromisoformat, "$decimal": Decimal}[tag](text)
        return {k: _decode(v) for k, v in value.items()}
    return value


def _fields(instance) -> dict:
    return {f.name: getattr(instance, f.name) for f in fields(instance)}


def _snapshot_document(snapshot: Snapshot) -> dict:
    document = _fields(snapshot)
    document["publication"] = _fields(snapshot.publication)
    document["region"] = _fields(snapshot.region)
    document["period"] = {"start": snapshot.period.start, "period_type": snapshot.period.period_type}
    return document


def _snapshot(document: dict) -> Snapshot:
    values = dict(document)
    values["publication"] = PublicationRef(**values["publication"])
    values["region"] = Region(**values["region"])
    values["period"] = Period(**values["period"])
    return Snapshot(**values)


def _change_document(change: Change) -> dict:
    document = _fields(change)
    document["submissions"] = [_fields(s) for s in change.submissions]
    return document


def _change(document: dict) -> Change:
    values = dict(document)
    values["old"] = None if values["old"] is None else tuple(values["old"])
    values["new"] = None if values["new"] is None else tuple(values["new"])
    values["submissions"] = tuple(Submission(**s) for s in values["submissions"])
    return Change(**values)


def _reference(document: dict | None) -> RevisionRef | None:
    return None if document is None else RevisionRef(**document)


def dumps(inputs: ExtractInputs) -> bytes:
    """The inputs as canonical JSON, gzipped with no time or name in the header."""
    restatement = inputs.restatement
    document = {
        "format": INPUTS_FORMAT,
        "kind": inputs.kind,
        "revision": inputs.revision,
        "previous": None if inputs.previous is None else _fields(inputs.previous),
        "restatement": None if restatement is None else {
            "against": _fields(restatement.against),
            "to_publication": restatement.to_publication,
            "changes": [_change_document(c) for c in restatement.changes],
        },
        "snapshot": _snapshot_document(inputs.snapshot),
    }
    text = json.dumps(_encode(document), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)


def loads(data: bytes) -> ExtractInputs:
    try:
        document = _decode(json.loads(gzip.decompress(data).decode("utf-8")))
    except (OSError, EOFError, ValueError) as exc:
        raise InputsError(f"the stored inputs cannot be read: {exc}") from exc
    if document.get("format") not in READABLE_FORMATS:
        raise InputsError(f"stored inputs of format {document.get('format')!r}; this version reads "
                          f"{', '.join(map(str, READABLE_FORMATS))}")
    restatement = document["restatement"]
    return ExtractInputs(
        snapshot=_snapshot(document["snapshot"]),
        kind=document["kind"],
        revision=document["revision"],
        previous=_reference(document["previous"]),
        restatement=None if restatement is None else Restatement(
            against=RevisionRef(**restatement["against"]),
            to_publication=restatement["to_publication"],
            changes=tuple(_change(c) for c in restatement["changes"])),
    )


def write(path: Path, inputs: ExtractInputs) -> None:
    path.write_bytes(dumps(inputs))


def read(path: Path) -> ExtractInputs:
    return loads(path.read_bytes())
