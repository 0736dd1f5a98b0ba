"""The intake load generator, run in its own process: ``python -m vte.bench.loadgen <spec.json>``.

httpx's asyncio client with a connection pool on loopback. Two modes:
- closed: ``concurrency`` connections each send the next request as soon as the previous answer arrives
  (sustained throughput);
- open: requests fall due at a fixed rate whatever the answers do, and each latency is counted from the moment
  the request was due, so a slow server cannot hide its queueing (no coordinated omission).

Submissions are made here, from one 30-row template per account, each with its own (account, date) so every
one is a new landed document rather than a duplicate; the signature uses the current timestamp. Prints one
JSON object: counts by result code, latencies of successful answers, elapsed seconds.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
import time
from collections import Counter

import httpx

SUBMIT_PATH = "/xt/api/submit"
HEALTH_PATH = "/healthz"


class Requests:
    """Request k → account k mod n, date (offset + k) div n: never the same (account, date) twice."""

    def __init__(self, spec: dict):
        self.accounts = [(key, secret, rows) for key, secret, rows in spec["accounts"]]
        self.dates = spec["dates"]
        self.offset = spec["offset"]
        self.last_timestamp: dict[str, int] = {}

    def body(self, k: int) -> bytes:
        key, secret, rows = self.accounts[k % len(self.accounts)]
        day = self.dates[self.offset + k // len(self.accounts)]
        timestamp = max(time.time_ns() // 1_000_000, self.last_timestamp.get(key, 0) + 1)  # signatures are single-use
        self.last_timestamp[key] = timestamp
        sign = hashlib.md5(f"{key}{secret}{timestamp}".encode()).hexdigest()
        return (f'{{"accessKey":"{key}","date":"{day}","timestamp":{timestamp},"sign":"{sign}","data":{rows}}}'
                ).encode()

    @property
    def capacity(self) -> int:
        return (len(self.dates) - self.offset) * len(self.accounts)


async def _send(client: httpx.AsyncClient, path: str, requests: Requests | None, k: int) -> tuple[str, bool]:
    """(outcome, success): outcome is the result code, or the HTTP error's class name."""
    try:
        if path == HEALTH_PATH:
            response = await client.get(path)
        else:
            response = await client.post(path, content=requests.body(k),
                                         headers={"content-type": "application/json"})
        code = response.json().get("code")
        return str(code), code == 0
    except (httpx.HTTPError, ValueError) as exc:
        return type(exc).__name__, False


def _summary(outcomes: Counter, latencies: list[float], elapsed: float, sent: int) -> dict:
    latencies.sort()

    def percentile(p: float) -> float | None:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else None

    return {"sent": sent, "succeeded": len(latencies), "outcomes": dict(outcomes), "elapsed": elapsed,
            "p50_ms": percentile(0.50), "p90_ms": percentile(0.90), "p99_ms": percentile(0.99),
            "max_ms": latencies[-1] * 1000 if latencies else None}


async def closed_loop(client, path: str, requests: Requests | None, duration: float, concurrency: int) -> dict:
    outcomes: Counter = Counter()
    latencies: list[float] = []
    counter = iter(range(requests.capacity if requests else 10**12))
    started = time.perf_counter()
    deadline = started + duration

    async def worker() -> None:
        for k in counter:
            if time.perf_counter() >= deadline:
                return
            sent_at = time.perf_counter()
            outcome, ok = await _send(client, path, requests, k)
            outcomes[outcome] += 1
            if ok:
                latencies.append(time.perf_counter() - sent_at)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return _summary(outcomes, latencies, elapsed, sum(outcomes.values()))


async def open_loop(client, path: str, requests: Requests | None, duration: float, rate: float, grace: float,
                    connections: int) -> dict:
    """Offer ``rate`` requests/s for ``duration`` s over ``connections`` connections.

    Request k is due at k / rate; a free connection sends it then, or at once if it is already late, and its
    latency counts from when it was due. Requests not answered ``grace`` s after the last one was due count
    as 'unanswered' with the wait they had so far, so a percentile that falls on them is a lower bound.
    """
    outcomes: Counter = Counter()
    latencies: list[float] = []
    total = int(duration * rate)
    if requests and total > requests.capacity:
        raise SystemExit(f"the spec holds {requests.capacity} distinct submissions, {total} are needed")
    started = time.perf_counter()
    give_up = started + duration + grace
    schedule = iter(range(total))
    answered = 0

    async def connection() -> None:
        nonlocal answered
        for k in schedule:
            due = started + k / rate
            if due - time.perf_counter() > 0:
                await asyncio.sleep(due - time.perf_counter())
            if time.perf_counter() >= give_up:
                return
            outcome, ok = await _send(client, path, requests, k)
            outcomes[outcome] += 1
            answered += 1
            if ok:
                latencies.append(time.perf_counter() - due)

    workers = [asyncio.create_task(connection()) for _ in range(connections)]
    _, pending = await asyncio.wait(workers, timeout=max(0.0, give_up - time.perf_counter()))
    cutoff = time.perf_counter()
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    unanswered = total - answered
    if unanswered:
        outcomes["unanswered"] += unanswered
        # Each unanswered request has waited at least since it was due; the last due waited least.
        latencies.extend(max(0.0, cutoff - (started + k / rate)) for k in range(total - unanswered, total))
    summary = _summary(outcomes, latencies, cutoff - started, total)
    summary["succeeded"] -= unanswered
    summary["percentiles_are_lower_bounds"] = bool(unanswered)
    return summary


async def main(spec: dict) -> dict:
    requests = Requests(spec) if spec["path"] == SUBMIT_PATH else None
    connections = spec.get("connections", 256)
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=spec["url"], limits=limits, timeout=60) as client:
        await client.get(HEALTH_PATH)  # open a connection before the clock starts
        if spec["mode"] == "closed":
            return await closed_loop(client, spec["path"], requests, spec["duration"], spec["concurrency"])
        return await open_loop(client, spec["path"], requests, spec["duration"], spec["rate"], spec["grace"],
                               connections)


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as f:
        print(json.dumps(asyncio.run(main(json.load(f)))))
