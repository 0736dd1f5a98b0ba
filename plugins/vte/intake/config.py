"""The intake service's tunables, read from the environment (each has a safe default)."""

from __future__ import annotations

import os
from dataclasses import dataclass


class ConfigError(ValueError):
    pass


def _number(name: str, default: float, *, minimum: float = 0) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if value < minimum:
        raise ConfigError(f"{name}={raw!r} must be at least {minimum}")
    return value


@dataclass(frozen=True)
class IntakeConfig:
    replay_window_seconds: float = 300
    max_body_bytes: int = 5 * 1024 * 1024
    rate_per_second: float = 10
    rate_burst: float = 50
    accounts_refresh_seconds: float = 30
    accounts_miss_refresh_seconds: float = 5  # an unknown key re-reads the accounts at most this often
    warehouse_connect_timeout: float = 3
    concurrent_requests: int = 2  # bodies over 64 KiB parsed and validated at once per worker (bounds its memory)
    header_timeout_seconds: float = 10  # a request's headers must arrive within this
    body_timeout_seconds: float = 120  # and its body within this after the headers (20 MB at ~170 kB/s)

    @classmethod
    def from_env(cls) -> IntakeConfig:
        return cls(
            header_timeout_seconds=_number("VTE_INTAKE_HEADER_TIMEOUT", cls.header_timeout_seconds, minimum=0.1),
            body_timeout_seconds=_number("VTE_INTAKE_BODY_TIMEOUT", cls.body_timeout_seconds, minimum=0.1),
            concurrent_requests=int(_number("VTE_INTAKE_CONCURRENT_REQUESTS", cls.concurrent_requests, minimum=1)),
            replay_window_seconds=_number("VTE_INTAKE_REPLAY_WINDOW", cls.replay_window_seconds),
            max_body_bytes=int(_number("VTE_INTAKE_MAX_BODY_BYTES", cls.max_body_bytes, minimum=1)),
            rate_per_second=_number("VTE_INTAKE_RATE", cls.rate_per_second, minimum=0.001),
            rate_burst=_number("VTE_INTAKE_BURST", cls.rate_burst, minimum=1),
            accounts_refresh_seconds=_number("VTE_INTAKE_ACCOUNTS_REFRESH", cls.accounts_refresh_seconds,
                                             minimum=0.1),
            accounts_miss_refresh_seconds=_number("VTE_INTAKE_ACCOUNTS_MISS_REFRESH",
                                                  cls.accounts_miss_refresh_seconds),
        )
