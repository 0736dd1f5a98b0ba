"""The extract's tables as CSV: UTF-8 with a byte-order mark (so Excel reads the Chinese), one file each."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from vte.extracts.tables import Table


def csv_bytes(table: Table) -> bytes:
    """The table with its bilingual header row; empty cells for missing values."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(column.header for column in table.columns)
    writer.writerows(["" if value is None else value for value in row] for row in table.rows)
    return buffer.getvalue().encode("utf-8-sig")


def write_csv(path: Path, table: Table) -> None:
    path.write_bytes(csv_bytes(table))
