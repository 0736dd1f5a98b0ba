"""``vte excel-template``: write the Excel template hospitals fill in when their interface is down."""

from pathlib import Path

import typer

from vte.excel.template import build_template


def excel_template(
    out: Path = typer.Option(Path("vte-excel-template.xlsx"), "--out", help="Where to write the .xlsx template."),
) -> None:
    """Write the Excel reporting template (data sheet + bilingual instructions)."""
    out.write_bytes(build_template())
    typer.echo(f"wrote {out}")
