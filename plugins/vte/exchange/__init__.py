"""Standard exchange exports of the published indicator values: HL7 FHIR R4 ``MeasureReport`` bundles and IHE ADX
(Aggregate Data Exchange) messages, for a national platform to import (docs/exchange.md).

- ``read``: the values of one period in one region, from exactly one publication
- ``fhir``: the FHIR R4 Bundle of MeasureReports, validated with the ``fhir.resources`` models, and read back
- ``adx``: the ADX message, validated against ``adx.xsd`` (the structural schema derived from the data set's
  definition as the ADX profile prescribes), and read back
- ``export``: what ``vte export`` does: read, write, validate, record
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class ExchangedValue:
    """One indicator value as an exchanged file carries it, read back (the round trip of the tests)."""

    level: str
    entity_code: str
    campus: str | None
    department: str | None
    indicator_id: str
    numerator: int
    denominator: int
    score: Decimal | None  # percent; ADX carries none (the receiver divides)
    partial: bool | None = None  # the period is partial (FHIR: status pending; ADX: the group's partial="true")

    @property
    def key(self) -> tuple:
        return (self.level, self.entity_code, self.campus, self.department, self.indicator_id)
