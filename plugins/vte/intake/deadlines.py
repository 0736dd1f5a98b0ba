"""HTTP/1.1 connections that must send each request within a deadline.

uvicorn closes a keep-alive connection that stays idle between requests, but waits forever for a client
that connects and says nothing, or sends its headers or body a byte at a time: a few such clients would hold
the service's connections. Here a request's headers must arrive within ``VTE_INTAKE_HEADER_TIMEOUT``
seconds of the connection or of the request's first byte, and its body within ``VTE_INTAKE_BODY_TIMEOUT``
seconds of the headers. A request too slow in its headers gets 408 (code 40801) and the connection closes;
one too slow in its body is cut off, and the application answers it 40801 in the audit log.
"""

from __future__ import annotations

import json
from asyncio import TimerHandle

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from vte.intake.config import IntakeConfig
from vte.intake.responses import ResultCode, body


def _timeouts() -> tuple[float, float]:
    config = IntakeConfig.from_env()
    return config.header_timeout_seconds, config.body_timeout_seconds


def _timeout_response() -> bytes:
    content = json.dumps(body(ResultCode.REQUEST_TIMEOUT), ensure_ascii=False).encode()
    return (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
            b"content-length: " + str(len(content)).encode() + b"\r\nconnection: close\r\n\r\n" + content)


class DeadlineHttpProtocol(HttpToolsProtocol):
    header_seconds, body_seconds = _timeouts()  # read once per process, when uvicorn loads the protocol

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._deadline: TimerHandle | None = None

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm(self.header_seconds)

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._deadline is None:
            self._arm(self.header_seconds)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._arm(self.body_seconds)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete:  # still in the headers: nobody has answered
            self.transport.write(_timeout_response())
        self.transport.close()
