"""Hold one thread at a named checkpoint of annotate.services while another runs.

`annotate.services._checkpoint(name)` does nothing in production. A test module's `race` fixture
(built on `interleaving`) replaces it:
`race.start("A", fn, hold_at="judgment.checked")` runs `fn` in thread A (its own connection and
transaction) and returns once A is held there, its locks taken; `race.settle(b)` waits until B has
finished or waits on a lock; `race.release("A")` lets A go. Whatever happens, every held thread is
let go and joined before the test database is flushed.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection

from annotate import services

# A ceiling, not a measure: only a hang or a deadlock reaches it.
WAIT_S = 10.0
# SQLite shows no lock waits: a racer still running after this long is taken to be waiting.
SQLITE_WAIT_S = 0.5


class Racer(threading.Thread):
    """Runs `fn` in its own thread, database connection and transaction."""

    def __init__(self, name: str, fn: Callable[[], Any]) -> None:
        super().__init__(name=name, daemon=True)
        self.fn = fn
        self.value: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.value = self.fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test by result()
            self.error = exc
        finally:
            connection.close()

    def result(self) -> Any:
        """What `fn` returned; re-raises what it raised."""
        self.join(WAIT_S)
        assert not self.is_alive(), f"{self.name} hung"
        if self.error is not None:
            raise self.error
        return self.value


class Interleaving:
    """Holds named threads at named checkpoints of annotate.services until the test lets them go."""

    def __init__(self) -> None:
        self.holds: dict[tuple[str, str], tuple[threading.Event, threading.Event]] = {}
        self.racers: list[Racer] = []

    def checkpoint(self, name: str) -> None:
        hold = self.holds.get((name, threading.current_thread().name))
        if hold is None:
            return
        reached, release = hold
        reached.set()
        assert release.wait(WAIT_S), f"{threading.current_thread().name} held at {name} too long"

    def start(self, name: str, fn: Callable[[], Any], *, hold_at: str | None = None) -> Racer:
        """Start `fn` as thread `name`; with `hold_at`, return once it is held there."""
        if hold_at is not None:
            self.holds[(hold_at, name)] = (threading.Event(), threading.Event())
        racer = Racer(name, fn)
        self.racers.append(racer)
        racer.start()
        if hold_at is not None:
            reached, _ = self.holds[(hold_at, name)]
            deadline = time.monotonic() + WAIT_S
            while not reached.wait(0.02) and racer.is_alive() and time.monotonic() < deadline:
                pass
            if not reached.is_set():
                racer.result()  # raises what the thread raised
                raise AssertionError(f"{name} never reached {hold_at}")
        return racer

    def release(self, name: str) -> None:
        for (_, thread), (_, release) in self.holds.items():
            if thread == name:
                release.set()

    def settle(self, racer: Racer) -> str:
        """Wait until `racer` has finished ("done") or waits on a database lock ("blocked").

        PostgreSQL shows the wait in pg_stat_activity. SQLite does not: a writer waiting for the
        file lock sits in its busy handler, so a racer still running after SQLITE_WAIT_S counts
        as blocked there.
        """
        if connection.vendor != "postgresql":
            racer.join(SQLITE_WAIT_S)
            return "blocked" if racer.is_alive() else "done"
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            if not racer.is_alive():
                return "done"
            if _lock_waiters():
                return "blocked"
            racer.join(0.02)
        raise AssertionError(f"{racer.name} neither finished nor waited on a lock")

    def close(self) -> None:
        for _, release in self.holds.values():
            release.set()
        for racer in self.racers:
            racer.join(WAIT_S)


def _lock_waiters() -> int:
    """Connections to the test database now waiting for a lock (A is held in Python, not here)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


@contextlib.contextmanager
def interleaving(monkeypatch: pytest.MonkeyPatch) -> Iterator[Interleaving]:
    """For a test module's `race` fixture: `with interleaving(monkeypatch) as race: yield race`."""
    race = Interleaving()
    monkeypatch.setattr(services, "_checkpoint", race.checkpoint)
    try:
        yield race
    finally:
        race.close()  # nothing may hold a lock when the test database is flushed
