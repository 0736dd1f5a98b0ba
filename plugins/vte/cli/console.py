"""``vte console``: the data centre console (monitoring, indicators, review and lock, alerts) for people."""

from __future__ import annotations

from pathlib import Path

import typer

from vte.console.server import DEFAULT_PORT


def console(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(DEFAULT_PORT, help="Port to listen on."),
    tls_cert: Path = typer.Option(None, help="PEM certificate (chain): serve HTTPS directly (cookies become Secure)."),
    tls_key: Path = typer.Option(None, help="PEM private key of --tls-cert."),
    workers: int = typer.Option(1, help="Worker processes (sessions live in the warehouse, so any number works)."),
) -> None:
    """Run the console; users sign in with the accounts `vte users create` gives them."""
    from vte.console import server

    try:
        server.serve(host=host, port=port, tls_cert=tls_cert, tls_key=tls_key, workers=workers)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


if __name__ == "__main__":  # `python -m vte.cli.console`: the console alone, as its tests start it
    typer.run(console)
