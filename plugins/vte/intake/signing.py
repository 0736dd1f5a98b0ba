"""The Appendix A.5 signature, the replay window (§8.3), and the optional signature over the body.

``sign = md5(accessKey + accessSecret + timestamp)`` as hex. The timestamp is epoch seconds or
milliseconds (10^12 and above is read as milliseconds). The standard's signature covers neither the
date nor the data; a client may also send ``X-VTE-Body-Sign``: the hex HMAC-SHA256 of the exact body
bytes keyed with the accessSecret, which the service then verifies. It is never required.
"""

from __future__ import annotations

import hashlib
import hmac

MILLISECONDS_FROM = 10**12
BODY_SIGN_HEADER = "X-VTE-Body-Sign"


def sign(access_key: str, access_secret: str, timestamp: int) -> str:
    return hashlib.md5(f"{access_key}{access_secret}{timestamp}".encode()).hexdigest()


def signature_matches(access_key: str, access_secret: str, timestamp: int, given: str) -> bool:
    """Constant-time comparison; uppercase hex is accepted."""
    expected = sign(access_key, access_secret, timestamp)
    return hmac.compare_digest(expected.encode(), given.lower().encode("utf-8", "replace"))


def body_sign(access_secret: str, body: bytes) -> str:
    return hmac.new(access_secret.encode(), body, hashlib.sha256).hexdigest()


def body_signature_matches(access_secret: str, body: bytes, given: str) -> bool:
    return hmac.compare_digest(body_sign(access_secret, body).encode(), given.strip().lower().encode("utf-8", "replace"))


def parse_timestamp(text: str) -> int | None:
    """A timestamp sent as text (a query or form field): positive, at most 14 ASCII digits; else None."""
    text = text.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 14) or int(text) == 0:
        return None
    return int(text)


def timestamp_seconds(timestamp: int) -> float:
    return timestamp / 1000 if timestamp >= MILLISECONDS_FROM else float(timestamp)


def within_window(timestamp: int, now: float, window_seconds: float) -> bool:
    return abs(timestamp_seconds(timestamp) - now) <= window_seconds
