"""What every response and every form of the console carries: security headers, CSRF tokens, cookie flags.

- Content-Security-Policy ``default-src 'self'``: nothing is loaded from anywhere but the console, no
  inline script or style runs, the pages cannot be framed and forms post only to the console.
- CSRF: every POST form holds a token. After sign-in it is the session's (vte.console.sessions); the
  sign-in form's is a double submit, a random cookie and its HMAC under the console's key.
- Cookies are HttpOnly and SameSite=Strict, and Secure when the console is served over TLS.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vte.config import Settings
from vte.crypto import local_key

SIGN_IN_COOKIE = "vte_console_sign_in"
SIGN_IN_MAX_AGE = 3600

CSP = "default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
HSTS = "max-age=31536000"


def console_key(settings: Settings) -> bytes:
    """``VTE_CONSOLE_KEY``, or a random key made once in ``$VTE_HOME/keys/console.key`` (shared by workers)."""
    return local_key(settings, "VTE_CONSOLE_KEY", "console.key", lambda: secrets.token_hex(32).encode())


def sign_in_token(key: bytes) -> tuple[str, str]:
    """The sign-in form's token and the cookie value that vouches for it."""
    nonce = secrets.token_urlsafe(32)
    return hmac.new(key, nonce.encode(), hashlib.sha256).hexdigest(), nonce


def sign_in_token_matches(key: bytes, cookie: str | None, token: str | None) -> bool:
    if not cookie or not token:
        return False
    expected = hmac.new(key, cookie.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), token.encode())


def csrf_matches(expected: str, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(expected.encode(), token.encode())


def is_tls(request: Request) -> bool:
    return request.url.scheme == "https"


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


class SecurityHeaders:
    """Adds the headers to every response, pages, static files and errors alike; pages are never cached."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_static = scope["path"].startswith("/static/")
        tls = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.decode().lower() not in HEADERS]
                headers += [(k.encode(), v.encode()) for k, v in HEADERS.items()]
                if tls:
                    headers.append((b"strict-transport-security", HSTS.encode()))
                if not is_static:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
