"""The Appendix A.5 signature and the replay window (§8.3).

``sign = md5(accessKey + accessSecret + timestamp)`` as hex. The timestamp is epoch seconds or
milliseconds (10^12 and above is read as milliseconds).
"""

from __future__ import annotations

import hashlib
import hmac

MILLISECONDS_FROM = 10**12


def sign(access_key: str, access_secret: str, timestamp: int) -> str:
    return hashlib.md5(f"{access_key}{access_secret}{timestamp}".encode()).hexdigest()


def signature_matches(access_key: str, access_secret: str, timestamp: int, given: str) -> bool:
    """Constant-time comparison; uppercase hex is accepted."""
    expected = sign(access_key, access_secret, timestamp)
    return hmac.compare_digest(expected.encode(), given.lower().encode("utf-8", "replace"))


def timestamp_seconds(timestamp: int) -> float:
    return timestamp / 1000 if timestamp >= MILLISECONDS_FROM else float(timestamp)


def within_window(timestamp: int, now: float, window_seconds: float) -> bool:
    return abs(timestamp_seconds(timestamp) - now) <= window_seconds
