"""A client for the submission interface: signs an envelope and posts it (what a hospital's system does).

``url`` is the service's base address (``https://intake.example.org``); the endpoint path is added
unless the URL already ends with it.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx

from vte.intake.signing import BODY_SIGN_HEADER, body_sign, sign

__all__ = ["sign", "fresh_timestamp", "submit", "upload", "fetch_feedback", "endpoint", "SubmitError"]

SUBMIT_PATH = "/xt/api/submit"
UPLOAD_PATH = "/xt/api/upload"
FEEDBACK_PATH = "/xt/api/feedback"
RATE_LIMIT_RETRIES = 5


class SubmitError(RuntimeError):
    """The service answered with something that is not an Appendix A result."""


def endpoint(url: str) -> str:
    url = url.rstrip("/")
    return url if url.endswith(SUBMIT_PATH) else url + SUBMIT_PATH


_last_timestamps: dict[str, int] = {}
_timestamp_lock = threading.Lock()


def fresh_timestamp(access_key: str) -> int:
    """Epoch milliseconds, never the same twice for one key in this process: a signature is good for one request."""
    with _timestamp_lock:
        now = max(time.time_ns() // 1_000_000, _last_timestamps.get(access_key, 0) + 1)
        _last_timestamps[access_key] = now
        return now


def envelope(access_key: str, secret: str, payload: dict, timestamp: int | None = None) -> dict:
    """The signed request body for ``payload`` = {"date": ..., "data": [...]}."""
    timestamp = fresh_timestamp(access_key) if timestamp is None else timestamp
    return {"accessKey": access_key, "date": payload.get("date"), "timestamp": timestamp,
            "sign": sign(access_key, secret, timestamp), "data": payload.get("data")}


def submit(url: str, access_key: str, secret: str, payload: dict, *, dry_run: bool = False, timeout: float = 60.0,
           verify: bool | str | Path = True, timestamp: int | None = None) -> dict:
    """Post one submission; returns the result ``{"code", "message", "data"}`` (code 0 = accepted).

    ``verify`` is True (system CAs), False, or the path of a CA bundle (e.g. a private CA's certificate).
    """
    verify_arg = str(verify) if isinstance(verify, Path) else verify
    for attempt in range(RATE_LIMIT_RETRIES + 1):
        body = json.dumps(envelope(access_key, secret, payload, timestamp), ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", BODY_SIGN_HEADER: body_sign(secret, body)}
        response = httpx.post(endpoint(url), content=body, headers=headers,
                              params={"dryRun": "true"} if dry_run else None, timeout=timeout, verify=verify_arg)
        if not _wait_when_rate_limited(response, attempt):
            return _result(response)


def upload(url: str, access_key: str, secret: str, file_name: str, content: bytes, *, timeout: float = 120.0,
           verify: bool | str | Path = True) -> dict:
    """Upload an Excel workbook (one submission per date in it); returns the ``{"code", "message", "data"}`` result."""
    timestamp = fresh_timestamp(access_key)
    response = httpx.post(
        url.rstrip("/") + UPLOAD_PATH,
        data={"accessKey": access_key, "timestamp": str(timestamp), "sign": sign(access_key, secret, timestamp)},
        files={"file": (file_name, content, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")},
        timeout=timeout, verify=str(verify) if isinstance(verify, Path) else verify,
    )
    return _result(response)


def _wait_when_rate_limited(response: httpx.Response, attempt: int) -> bool:
    """A back-fill of many days may outrun the per-key rate limit: wait as told (Retry-After), then retry."""
    if response.status_code != 429 or attempt == RATE_LIMIT_RETRIES:
        return False
    time.sleep(min(float(response.headers.get("Retry-After", "1")), 30.0))
    return True


def _result(response: httpx.Response) -> dict:
    try:
        result = response.json()
    except ValueError:
        raise SubmitError(f"HTTP {response.status_code}: the answer is not JSON: {response.text[:200]!r}") from None
    if not isinstance(result, dict) or "code" not in result:
        raise SubmitError(f"HTTP {response.status_code}: unexpected answer {str(result)[:200]!r}")
    return result


def fetch_feedback(url: str, access_key: str, secret: str, report_date: str | None = None, *, timeout: float = 60.0,
                   verify: bool | str | Path = True) -> dict:
    """The institution's latest feedback report (narrowed to one report date when given)."""
    timestamp = fresh_timestamp(access_key)
    params = {"accessKey": access_key, "timestamp": timestamp, "sign": sign(access_key, secret, timestamp)}
    if report_date:
        params["date"] = report_date
    response = httpx.get(url.rstrip("/") + FEEDBACK_PATH, params=params, timeout=timeout,
                         verify=str(verify) if isinstance(verify, Path) else verify)
    return _result(response)
