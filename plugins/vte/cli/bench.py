"""``vte bench``: measure each stage against a baseline from the same run; print a table, write JSON."""

from __future__ import annotations

import typer


def bench(
    scale: str = typer.Option("small", "--scale", help="small (a quick smoke run), province (700 institutions) or"
                                                       " national (15,000 institutions' day on a province-year)."),
    stages: str = typer.Option(None, "--stages",
                               help="Comma-separated: intake,ingest,transform,excel,extract,e2e (default: all)."),
    profile: bool = typer.Option(False, "--profile", help="Sample each stage with py-spy, its processes included;"
                                                          " stacks and a summary go beside the JSON."),
) -> None:
    """Benchmark the stages in scratch warehouses under $VTE_HOME/bench/work (your data is not touched)."""
    from vte.bench import runner
    from vte.bench.common import SCALES
    from vte.config import get_settings

    if scale not in SCALES:
        typer.echo(f"error: --scale must be one of {', '.join(SCALES)}, got {scale!r}", err=True)
        raise typer.Exit(2)
    try:
        names = runner.parse_stages(stages)
    except ValueError as exc:
        typer.echo(f"error: --stages: {exc}", err=True)
        raise typer.Exit(2) from None
    _, results = runner.run(scale, names, get_settings().home / "bench", profile=profile, echo=typer.echo)
    raise typer.Exit(1 if any(r.status == "failed" for r in results) else 0)
