"""``vte dbt <args>``: dbt with this product's warehouse connection and project (e.g. ``vte dbt build``)."""

import typer

from vte import dbt as product_dbt


def dbt(ctx: typer.Context) -> None:
    """Run dbt on the warehouse: every argument is passed to dbt (`vte dbt build`, `vte dbt docs generate`)."""
    result = product_dbt.run_dbt(list(ctx.args), check=False)
    raise typer.Exit(0 if result.success else 1)
