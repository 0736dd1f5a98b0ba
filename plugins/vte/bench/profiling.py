"""``vte bench --profile``: a sampling profiler (py-spy) over a stage, its children included.

py-spy reads the interpreter's stacks from outside, 100 times a second, so the profile shows where time goes
in the real server workers, load generators and the loader, which cProfile's per-call hooks would
distort. It records ``<stem>.txt``: collapsed stacks (one line per distinct stack and
its sample count), the input of flame-graph tools; and ``<stem>-top.txt``: per process, the functions that
hold the most samples, on their own and with what they call. Only samples of threads holding the GIL count
(``--gil``): time spent waiting (for the disk, the network or PostgreSQL) is not Python's and does not show.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

RATE = 100  # samples per second
TOP = 30


def py_spy() -> str | None:
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


@contextmanager
def sampled(stem: Path) -> Iterator[dict]:
    """Sample this process and its children while the block runs; the dict yielded receives the outcome."""
    outcome: dict = {}
    binary = py_spy()
    if binary is None:
        outcome["profile"] = "not available: py-spy is not installed"
        yield outcome
        return
    raw = stem.with_suffix(".txt")
    spy = subprocess.Popen([binary, "record", "--pid", str(os.getpid()), "--subprocesses", "--gil",
                            "--rate", str(RATE), "--format", "raw", "--output", str(raw)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        yield outcome
    finally:
        if spy.poll() is None:
            spy.send_signal(signal.SIGINT)  # py-spy writes what it has and exits
        try:
            err, _ = spy.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            spy.kill()
            err, _ = spy.communicate()
        if raw.exists():
            top = stem.with_name(stem.name + "-top.txt")
            top.write_text(summary(raw.read_text(encoding="utf-8", errors="replace")), encoding="utf-8")
            outcome["profile"] = {"stacks": str(raw), "top": str(top)}
        else:
            outcome["profile"] = f"not available: py-spy wrote nothing ({err.strip()[-300:] or 'no message'})"


def _function(frame: str) -> str:
    """'name (path/file.py:123)' -> 'name (path/file.py)': lines of one function count together."""
    name, _, where = frame.partition(" (")
    return f"{name} ({where.rsplit(':', 1)[0]})" if where else name


def summary(collapsed: str) -> str:
    """The functions holding the most samples, per process, on their own ('self') and with their callees."""
    own: dict[str, Counter] = defaultdict(Counter)
    total: dict[str, Counter] = defaultdict(Counter)
    samples: Counter = Counter()
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        # A child's stacks come under its parents' process frames: the innermost names the process.
        process = next((f for f in reversed(frames) if f.startswith("process ")), "process")
        calls = [_function(f) for f in frames if not f.startswith("process ")]
        if not calls:
            continue
        n = int(count)
        samples[process] += n
        own[process][calls[-1]] += n
        for function in set(calls):
            total[process][function] += n
    lines = [f"py-spy, {RATE} samples/s of threads holding the GIL; share of each process's samples", ""]
    for process, n in samples.most_common():
        lines.append(f"{process[:160]}: {n} samples")
        lines.append("  self:")
        lines += [f"    {c / n:6.1%}  {f[:150]}" for f, c in own[process].most_common(TOP)]
        lines.append("  with callees:")
        lines += [f"    {c / n:6.1%}  {f[:150]}" for f, c in total[process].most_common(TOP)]
        lines.append("")
    return "\n".join(lines) + "\n"
