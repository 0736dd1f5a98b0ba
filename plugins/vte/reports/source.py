"""Where a hospital's report comes from: the feedback report the last publication wrote for it.

The publication (vte.publication.feedback, as vte_publisher) reads the published marts, the receipts and the
intake's request log and writes one file per institution; the intake only reads that file. So the intake
needs no access to the marts, its role's grants stay as they are (docs/access.md), and the report still
answers while the warehouse is down.
"""

from __future__ import annotations

from vte.config import Settings
from vte.publication import feedback
from vte.reports.assembly import assemble


def my_report(institution_code: str, settings: Settings) -> dict | None:
    """The institution's assembled report, or None before its first publication."""
    published = feedback.latest_report(institution_code, settings)
    return assemble(published) if published is not None else None
