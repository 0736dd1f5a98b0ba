"""Running the console under uvicorn, over HTTP or directly over HTTPS (`vte console`)."""

from __future__ import annotations

from pathlib import Path

import uvicorn

from vte import warehouse
from vte.access import roles
from vte.config import get_settings
from vte.serving import check_options

DEFAULT_PORT = 8090


def serve(*, host: str = "127.0.0.1", port: int = DEFAULT_PORT, tls_cert: Path | None = None,
          tls_key: Path | None = None, workers: int = 1) -> None:
    check_options(tls_cert, tls_key, workers)
    warehouse.url(get_settings(), role=roles.CONSOLE)  # the embedded warehouse must be running: say so now
    uvicorn.run(
        "vte.console.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
        server_header=False,
        timeout_keep_alive=5,
        timeout_graceful_shutdown=5,  # a browser's open connection does not hold up a stop
        access_log=False,  # console.audit_events records what people did
    )
