"""``vte generate``: a synthetic dataset of institutions and their daily submissions (see vte.generator)."""

import time
from datetime import date
from pathlib import Path

import typer

from vte import generator, registry
from vte import warehouse as wh
from vte.config import get_settings


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _parse_date(option: str, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        _fail(f"{option} {value!r} is not a date (yyyy-mm-dd)")


def generate(
    institutions: int = typer.Option(..., "--institutions", help="How many institutions to invent (700 ≈ Zhejiang)."),
    start: str = typer.Option(..., help="First report date, yyyy-mm-dd."),
    end: str = typer.Option(..., help="Last report date, yyyy-mm-dd (inclusive)."),
    seed: int = typer.Option(42, help="Random seed: the same arguments give byte-identical files."),
    out: Path = typer.Option(None, help="Output directory; default $VTE_HOME/generated. A previous dataset there "
                                        "is replaced."),
    refusable: float = typer.Option(0.0, help="Share of submissions made malformed (refused at the door), 0-1."),
    quarantine: float = typer.Option(0.0, help="Share of department rows given a numerator > denominator break, "
                                               "0-1."),
    warning: float = typer.Option(0.0, help="Share of department rows given a warning-rule break, 0-1."),
    register: bool = typer.Option(False, "--register", help="Also register the institutions and open their "
                                                            "accounts in the running warehouse; writes "
                                                            "credentials.json (mode 0600) beside the data."),
    workers: int = typer.Option(None, help="Processes generating in parallel; default: one per CPU."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar on stderr."),
) -> None:
    """Generate synthetic institutions and their daily submissions.

    Writes OUT/institutions.csv and OUT/submissions/<institution code>.jsonl, one line per report date:
    {"date", "data": [Appendix A rows], "defect": null or what was injected}.
    """
    start_date, end_date = _parse_date("--start", start), _parse_date("--end", end)
    if end_date < start_date:
        _fail(f"--end {end} is before --start {start}")
    if not 1 <= institutions <= generator.MAX_INSTITUTIONS:
        _fail(f"--institutions must be between 1 and {generator.MAX_INSTITUTIONS}, got {institutions}")
    if workers is not None and workers < 1:
        _fail(f"--workers must be at least 1, got {workers}")
    for option, rate in (("--refusable", refusable), ("--quarantine", quarantine), ("--warning", warning)):
        if not 0.0 <= rate <= 1.0:
            _fail(f"{option} must be a rate between 0 and 1, got {rate}")
    try:
        defects = generator.Defects(refusable=refusable, quarantine=quarantine, warning=warning)
    except ValueError as exc:
        _fail(str(exc))
    out_dir = out or get_settings().generated_dir
    synthetic = generator.synthetic_institutions(institutions, seed, start_date)

    conn = None
    if register:  # fail before generating rather than after
        try:
            conn = wh.connect(autocommit=True)
        except wh.WarehouseNotRunning as exc:
            _fail(str(exc))
        clashes = generator.already_registered(conn, synthetic)
        if clashes:
            conn.close()
            _fail(f"{len(clashes)} of these institutions are already registered (e.g. {clashes[0]}): "
                  "use another --seed or a fresh warehouse")

    began = time.monotonic()
    summary = generator.generate_dataset(out_dir, synthetic, start_date, end_date, seed, defects,
                                         workers=workers, progress=progress)
    typer.echo(f"wrote {summary.institutions} institutions, {summary.submissions} submissions, "
               f"{summary.rows} department rows to {out_dir} in {time.monotonic() - began:.1f} s")
    for kind, count in summary.defects.items():
        typer.echo(f"  {kind}: {count}")

    if conn is not None:
        with conn:
            try:
                credentials = generator.register_institutions(conn, synthetic)
            except registry.RegistryError as exc:
                _fail(str(exc))
        path = generator.write_credentials(out_dir, credentials)
        typer.echo(f"registered {len(credentials)} institutions; credentials in {path}")
