"""The landed document: what the intake stores for each accepted submission, and how it is read back.

A document is two lines: a header (a JSON object: who sent what, when, as which version, and the SHA-256 of
the payload) and the payload itself (``{"date": ..., "data": [...]}``) as canonical JSON, the exact bytes the
checksum covers. The intake serialises the payload once and hashes those bytes; the loader verifies a
document by hashing its second line, with no re-serialisation. Documents landed before this layout are one
JSON object with the payload inside; every reader here accepts both.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import msgspec

FORMAT = 2


def canonical_json(value) -> bytes:
    """Sorted keys, no spaces, UTF-8 text unescaped: byte-identical to ``json.dumps(..., ensure_ascii=False,
    sort_keys=True, separators=(",", ":"))`` and several times faster (msgspec)."""
    return msgspec.json.encode(value, order="sorted")


def payload_checksum(payload: dict) -> str:
    return hashlib.sha256(canonical_json(payload)).hexdigest()


def encode_document(header: dict, payload_bytes: bytes) -> bytes:
    """The document's bytes: the header line, then the payload's canonical bytes."""
    return canonical_json({**header, "format": FORMAT}) + b"\n" + payload_bytes


def split_document(content: bytes) -> tuple[dict, bytes | None]:
    """(header, payload bytes) of a document; the payload bytes are None for a one-object document, whose
    header then still holds the payload. Raises ValueError (json's) for text that is not a document."""
    head, newline, payload_bytes = content.partition(b"\n")
    if not newline:
        return json.loads(content), None
    return json.loads(head), payload_bytes


def read_header(path: Path) -> dict:
    """The header of a landed document (its first line), without reading the payload. A one-object document
    has no line break, so its first line is all of it."""
    with open(path, "rb") as f:
        return json.loads(f.readline())


def read_document(path: Path) -> dict:
    """The whole document as one object: its header with the payload under ``payload``."""
    header, payload_bytes = split_document(path.read_bytes())
    if payload_bytes is not None:
        header["payload"] = json.loads(payload_bytes)
    return header
