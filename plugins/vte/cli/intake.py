"""``vte serve`` runs the intake service; ``vte submit`` posts submissions to one."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    tls_cert: Path = typer.Option(None, help="PEM certificate (chain): serve HTTPS directly."),
    tls_key: Path = typer.Option(None, help="PEM private key of --tls-cert."),
    workers: int = typer.Option(1, help="Worker processes (each keeps its own account cache and rate limits)."),
) -> None:
    """Run the submission interface (POST /xt/api/submit, /healthz, /readyz, /docs)."""
    from vte.intake import server

    try:
        server.serve(host=host, port=port, tls_cert=tls_cert, tls_key=tls_key, workers=workers)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def read_submissions(path: Path) -> list[dict]:
    """A JSON file with one {"date", "data"} object, or a JSONL file with one per line."""
    text = path.read_text(encoding="utf-8")
    try:
        whole = json.loads(text)
    except ValueError:
        whole = None
    if isinstance(whole, dict):
        return [whole]
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise ValueError(f"{path}:{number}: not JSON ({exc})") from None
        if not isinstance(item, dict):
            raise ValueError(f"{path}:{number}: expected an object {{\"date\": ..., \"data\": [...]}}")
        out.append(item)
    if not out:
        raise ValueError(f"{path}: holds no submission")
    return out


def _describe(result: dict) -> str:
    data = result.get("data") or {}
    if result.get("code") != 0:
        lines = [f"refused {result.get('code')}: {result.get('message')}"]
        lines += [f"    {p.get('message')}" for p in data.get("problems") or []]
        return "\n".join(lines)
    warnings = len(data.get("warnings") or [])
    if data.get("dryRun"):
        return f"valid (dry run, nothing stored), {data.get('rowCount')} rows, {warnings} warnings"
    return (f"accepted submission {data.get('submissionId')} version {data.get('version')}"
            f"{' (duplicate: already stored)' if data.get('duplicate') else ''}, {warnings} warnings")


def submit(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="JSON {date, data} or JSONL, one per line."),
    key: str = typer.Option(..., "--key", help="accessKey."),
    secret: str = typer.Option(..., "--secret", envvar="VTE_ACCESS_SECRET",
                               help="accessSecret (or set VTE_ACCESS_SECRET, which keeps it out of the process list)."),
    url: str = typer.Option(..., "--url", help="The service's address, e.g. https://intake.example.org:8443"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate only; nothing is stored."),
    ca_file: Path = typer.Option(None, "--ca-file", exists=True, dir_okay=False,
                                 help="CA certificate to trust for HTTPS (e.g. a private CA)."),
) -> None:
    """Sign and submit each submission of FILE; prints one result per submission, exits 1 if any is refused."""
    import httpx

    from vte import client

    try:
        submissions = read_submissions(file)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    refused = 0
    for number, payload in enumerate(submissions, 1):
        try:
            result = client.submit(url, key, secret, payload, dry_run=dry_run, verify=ca_file or True)
            text = _describe(result)
            refused += result.get("code") != 0
        except (httpx.HTTPError, client.SubmitError) as exc:
            text = f"failed: {exc}"
            refused += 1
        typer.echo(f"{number} {payload.get('date')}: {text}")
    raise typer.Exit(1 if refused else 0)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("submit")(submit)
