"""The console's connections to the warehouse: a small pool, as vte_console, in autocommit mode.

Each action that must be all-or-nothing (an acceptance and its audit row) opens its own transaction. The
pool opens without waiting, so the console starts, and says so, while the warehouse is down.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from vte import warehouse
from vte.access import roles
from vte.config import Settings

POOL_SIZE = 4
WAIT_SECONDS = 10


class WarehouseUnavailable(RuntimeError):
    """The warehouse did not answer; the page says so and to try again."""


def open_pool(settings: Settings) -> ConnectionPool:
    pool = ConnectionPool(warehouse.url(settings, role=roles.CONSOLE), min_size=1, max_size=POOL_SIZE,
                          kwargs={"autocommit": True, "application_name": "vte_console"}, timeout=WAIT_SECONDS,
                          open=False, name="vte_console")
    pool.open(wait=False)
    return pool


@contextmanager
def connection(pool: ConnectionPool) -> Iterator[psycopg.Connection]:
    try:
        with pool.connection() as conn:
            yield conn
    except (PoolTimeout, psycopg.OperationalError) as exc:
        raise WarehouseUnavailable(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from exc
