"""What every stage shares: the scales, the result records, the scratch warehouse, a stopwatch."""

from __future__ import annotations

import os
import shutil
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from vte import warehouse
from vte.config import Settings


@dataclass(frozen=True)
class Scale:
    name: str
    intake_institutions: int
    intake_seconds: float  # each of the four intake runs
    intake_rate: float  # fixed offered load of the latency run, submissions/s
    intake_concurrency: int  # connections of every run (httpx's pool slows down past a few dozen)
    intake_workers: int  # intake server worker processes
    ingest_institutions: int
    ingest_days: int
    transform_institutions: int
    transform_history_days: int
    excel_rows: int
    extract_institutions: int
    e2e_institutions: int
    # The midnight burst: one day's report from every intake institution, sent by this many client processes
    # (0: no burst, the sustained runs instead).
    intake_burst_clients: int = 0
    transform_history_institutions: int | None = None  # the history's institutions, when fewer than the day's
    transform_full_refresh: bool = True


SCALES = {
    "small": Scale("small", intake_institutions=100, intake_seconds=5, intake_rate=500, intake_concurrency=8,
                   intake_workers=2, ingest_institutions=20, ingest_days=10, transform_institutions=20,
                   transform_history_days=60, excel_rows=10_000, extract_institutions=20, e2e_institutions=20),
    "province": Scale("province", intake_institutions=700, intake_seconds=30, intake_rate=500,
                      intake_concurrency=8, intake_workers=2, ingest_institutions=700, ingest_days=7,
                      transform_institutions=700, transform_history_days=365, excel_rows=10_000,
                      extract_institutions=700, e2e_institutions=700),
    # DIGEST §9: ~15,000 institutions, ~450,000 department rows a day, most within ten minutes after midnight.
    "national": Scale("national", intake_institutions=15_000, intake_seconds=10, intake_rate=500,
                      intake_concurrency=8, intake_workers=2, ingest_institutions=15_000, ingest_days=1,
                      transform_institutions=15_000, transform_history_days=365, excel_rows=10_000,
                      extract_institutions=700, e2e_institutions=700, intake_burst_clients=4,
                      transform_history_institutions=700, transform_full_refresh=False),
}


@dataclass(frozen=True)
class Target:
    on: str  # 'figure' or 'ratio': which number the target applies to
    op: str  # '>=', '<=' or '<'
    value: float
    text: str  # as people read it, e.g. '≥ 2,000 /s'

    def met_by(self, figure: float | None, ratio: float | None) -> bool | None:
        number = figure if self.on == "figure" else ratio
        if number is None:
            return None
        return {">=": number >= self.value, "<=": number <= self.value, "<": number < self.value}[self.op]


@dataclass
class Measure:
    """One figure, its baseline measured in the same run, and figure ÷ baseline."""

    name: str
    figure: float | None
    unit: str
    baseline_name: str
    baseline: float | None
    baseline_unit: str
    target: Target | None = None
    ratio: float | None = field(init=False)
    met: bool | None = field(init=False)

    def __post_init__(self) -> None:
        self.ratio = self.figure / self.baseline if self.figure is not None and self.baseline else None
        self.met = self.target.met_by(self.figure, self.ratio) if self.target else None

    def to_dict(self) -> dict:
        record = asdict(self)
        record["target"] = None if self.target is None else {
            "on": self.target.on, "op": self.target.op, "value": self.target.value, "text": self.target.text}
        return record


@dataclass
class StageResult:
    stage: str
    status: str  # 'done', 'not available', 'failed'
    measures: list[Measure] = field(default_factory=list)
    details: dict = field(default_factory=dict)
    reason: str | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {"stage": self.stage, "status": self.status, "reason": self.reason, "seconds": round(self.seconds, 3),
                "measures": [m.to_dict() for m in self.measures], "details": self.details}


class Stopwatch:
    def __enter__(self) -> Stopwatch:
        self.started = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.started


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_PRODUCT_ENV = ("VTE_HOME", "VTE_WAREHOUSE_URL", "VTE_AIRFLOW_DATABASE_URL")


def _discard(home: Path) -> None:
    if home.exists():
        warehouse.stop(Settings(home=home, warehouse_url=None))
        shutil.rmtree(home, ignore_errors=True)


@contextmanager
def scratch(bench_home: Path, stage: str) -> Iterator[Settings]:
    """A fresh VTE_HOME with its own embedded warehouse for one stage; stopped and removed afterwards.

    The environment points at it too while the stage runs, so code that reads ``get_settings()`` (Airflow
    tasks, the quality gate) lands in the scratch home as well, never in the user's.
    """
    home = (bench_home / "work" / stage).resolve()
    _discard(home)
    home.mkdir(parents=True)
    settings = Settings(home=home, warehouse_url=None)
    saved = {key: os.environ.get(key) for key in _PRODUCT_ENV}
    for key in _PRODUCT_ENV:
        os.environ.pop(key, None)
    os.environ["VTE_HOME"] = str(home)
    try:
        warehouse.start(settings)
        yield settings
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        _discard(home)
