"""The landing zone: accepted submissions as immutable documents on disk, the hand-over to the ingest.

``zone`` numbers and stores the versions; ``documents`` is the document's layout and how it is read;
``durability`` gets files onto the disk, sharing flushes between concurrent writers; ``arrivals`` is the journal of
what was stored, which the ingest reads instead of walking the zone.
"""

from vte.landing.documents import canonical_json, payload_checksum, read_document, read_header, split_document
from vte.landing.durability import fsync_path, write_durably
from vte.landing.zone import CHANNELS, DOCUMENT_PATTERN, Landed, LandingZone

__all__ = ["CHANNELS", "DOCUMENT_PATTERN", "Landed", "LandingZone", "canonical_json", "fsync_path",
           "payload_checksum", "read_document", "read_header", "split_document", "write_durably"]
