"""``vte generate``: synthetic submissions (implemented in vte.generator)."""

import typer


def generate() -> None:
    """Generate synthetic submissions."""
    raise typer.Exit(1)
