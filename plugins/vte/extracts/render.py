"""Write an extract's files from its inputs: the workbook, one CSV per table, then the manifest.

The same function makes a new revision and reproduces an old one, so a reproduction differs from the
original only if the inputs or this code do. Each file is written to a temporary name and renamed, the
manifest last.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from vte.extracts import csv_files, manifest as manifests
from vte.extracts.inputs import ExtractInputs
from vte.extracts.restatement import restatement_table
from vte.extracts.revisions import revision_name
from vte.extracts.tables import Table, extract_tables, legend
from vte.extracts.workbook import write_workbook


def tables_of(inputs: ExtractInputs) -> list[Table]:
    """Every table of the extract in workbook order; the restatement, when there is one, then the legend."""
    tables = extract_tables(inputs.snapshot)
    if inputs.restatement:
        tables.append(restatement_table(inputs))
    tables.append(legend(inputs.snapshot))
    return tables


def workbook_name(inputs: ExtractInputs) -> str:
    snapshot = inputs.snapshot
    return f"vte-{snapshot.period.label}-{snapshot.region.code}-{inputs.kind}-{revision_name(inputs.revision)}.xlsx"


def _replace(path: Path, write) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    write(temporary)
    os.replace(temporary, path)


def write_files(inputs: ExtractInputs, directory: Path, inputs_path: Path, run: dict) -> tuple[list[Path], Path, dict]:
    """Write the files into ``directory``; returns the workbook and CSV paths, the manifest's path and it."""
    tables = tables_of(inputs)
    workbook = directory / workbook_name(inputs)
    _replace(workbook, lambda p: write_workbook(p, inputs, tables))
    files = [workbook]
    for table in tables:
        path = directory / f"{table.key}.csv"
        _replace(path, lambda p, t=table: csv_files.write_csv(p, t))
        files.append(path)
    manifest = manifests.build_manifest(inputs, files, inputs_path, run)
    manifest_path = directory / manifests.MANIFEST_NAME
    _replace(manifest_path, lambda p: p.write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n",
                                                   encoding="utf-8"))
    return files, manifest_path, manifest
