"""Running the intake service under uvicorn, over HTTP or directly over HTTPS."""

from __future__ import annotations

from pathlib import Path

import uvicorn

from vte.serving import check_options


def serve(*, host: str = "127.0.0.1", port: int = 8000, tls_cert: Path | None = None, tls_key: Path | None = None,
          workers: int = 1) -> None:
    check_options(tls_cert, tls_key, workers)
    uvicorn.run(
        "vte.intake.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
        server_header=False,
        http="vte.intake.deadlines:DeadlineHttpProtocol",  # slow and silent clients are cut off
        timeout_keep_alive=5,
        access_log=False,  # the audit log records every request
    )
