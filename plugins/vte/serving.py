"""What every HTTP service of the product (the intake, the console) checks before uvicorn starts."""

from __future__ import annotations

from pathlib import Path


def check_options(tls_cert: Path | None, tls_key: Path | None, workers: int) -> None:
    """A ValueError naming what is wrong with the command's TLS files or worker count."""
    if (tls_cert is None) != (tls_key is None):
        raise ValueError("give both --tls-cert and --tls-key, or neither")
    for path in (tls_cert, tls_key):
        if path is not None and not Path(path).is_file():
            raise ValueError(f"{path} does not exist: give the PEM file's path")
    if workers < 1:
        raise ValueError("--workers must be at least 1")
