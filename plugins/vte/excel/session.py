"""Sign-in sessions of the upload page: a signed, expiring cookie and a CSRF token per form.

The cookie (itsdangerous, HMAC-signed, not encrypted) holds the accessKey, the institution, a CSRF
token and an HMAC of the account's current secret, so rotating or revoking the secret ends every
session of that account. The signing key is ``VTE_SESSION_KEY`` or a random key generated once
into ``$VTE_HOME/keys/upload-session.key``, shared by all workers of one installation.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

from vte.config import Settings
from vte.crypto import local_key

SESSION_COOKIE = "vte_upload_session"
SIGN_IN_COOKIE = "vte_upload_sign_in"  # carries the sign-in form's CSRF token (double submit)
MAX_AGE_SECONDS = 8 * 3600  # one working day
SIGN_IN_MAX_AGE_SECONDS = 3600


def session_key(settings: Settings) -> bytes:
    return local_key(settings, "VTE_SESSION_KEY", "upload-session.key", lambda: secrets.token_hex(32).encode())


@dataclass(frozen=True)
class Session:
    access_key: str
    institution_code: str
    secret_mac: str
    csrf: str


class Sessions:
    def __init__(self, key: bytes):
        self._key = key
        self._sessions = URLSafeTimedSerializer(key, salt="vte-upload-session")
        self._sign_in = URLSafeTimedSerializer(key, salt="vte-upload-sign-in")

    def secret_mac(self, access_secret: str) -> str:
        return hmac.new(self._key, access_secret.encode(), hashlib.sha256).hexdigest()

    def open(self, access_key: str, institution_code: str, access_secret: str) -> tuple[Session, str]:
        """A new session and its cookie value."""
        session = Session(access_key, institution_code, self.secret_mac(access_secret), secrets.token_urlsafe(32))
        value = self._sessions.dumps([session.access_key, session.institution_code, session.secret_mac,
                                      session.csrf])
        return session, value

    def read(self, cookie: str | None) -> Session | None:
        """The session of a cookie, or None when absent, forged or expired."""
        if not cookie:
            return None
        try:
            fields = self._sessions.loads(cookie, max_age=MAX_AGE_SECONDS)
        except BadSignature:  # also raised for an expired cookie
            return None
        return Session(*fields)

    def still_valid(self, session: Session, current_secret: str) -> bool:
        """False once the account's secret has changed since the session was opened."""
        return hmac.compare_digest(session.secret_mac.encode(), self.secret_mac(current_secret).encode())

    def sign_in_token(self) -> tuple[str, str]:
        """A CSRF token for the sign-in form and the cookie value that vouches for it."""
        token = secrets.token_urlsafe(32)
        return token, self._sign_in.dumps(token)

    def sign_in_token_matches(self, cookie: str | None, token: str | None) -> bool:
        if not cookie or not token:
            return False
        try:
            expected = self._sign_in.loads(cookie, max_age=SIGN_IN_MAX_AGE_SECONDS)
        except BadSignature:
            return False
        return hmac.compare_digest(str(expected).encode(), token.encode())


def csrf_matches(session: Session, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(session.csrf.encode(), token.encode())
