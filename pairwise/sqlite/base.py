"""Django's SQLite backend, with transactions queued on locks that wake the next writer at once.

SQLite lets one writer in at a time (settings: BEGIN IMMEDIATE). Waiters on its file lock poll:
the busy handler sleeps 1, 2, 5 ... up to 100 ms between tries, and whoever tries at the right
moment wins. With 16 labelers on gunicorn's threads that made the slowest calls wait seconds
(p99 2.8 s where p50 was 0.25 s; two gunicorn processes, 2.2 s). So before BEGIN a transaction
takes, in this order:

1. this process's lock (threading): the threads of one process queue here;
2. an exclusive flock() on `<database file>.txlock`: one thread per process waits here, in the
   kernel, which wakes it as soon as the holder lets go. This is what lets the embedded default
   run two gunicorn processes (both cores; scripts/demo.sh) and a Celery worker beside them.

Both are let go when the transaction commits, rolls back or its connection closes. Waiting for
the first gives up after the connection's busy timeout with SQLite's own "database is locked"
error; the flock wait has no limit of its own, as a holder keeps it for one transaction only
(and the kernel drops it when a process dies). SQLite's own lock still guards against any other
writer (the sqlite3 shell, a process on another backend), with the busy timeout.

A forked child (gunicorn and Celery workers) opens its own descriptor: flock() locks belong to
the open file, which a child would otherwise share with its parent, and then not exclude it.
"""

from __future__ import annotations

import fcntl
import os
import threading

from django.db import OperationalError
from django.db.backends.sqlite3 import base

_TRANSACTION = threading.Lock()
_LOCK_FILES: dict[tuple[int, str], int] = {}  # (pid, database) -> descriptor of its .txlock
_LOCK_FILES_GUARD = threading.Lock()


def _lock_file(database: str) -> int | None:
    """This process's descriptor of the database's lock file; None for an in-memory database."""
    if not database or database == ":memory:" or "mode=memory" in database:
        return None
    key = (os.getpid(), database)
    with _LOCK_FILES_GUARD:
        if key not in _LOCK_FILES:
            _LOCK_FILES[key] = os.open(f"{database}.txlock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        return _LOCK_FILES[key]


class DatabaseWrapper(base.DatabaseWrapper):
    _holds_transaction_lock = False
    _locked_file: int | None = None

    def _start_transaction_under_autocommit(self) -> None:
        timeout = float(self.settings_dict.get("OPTIONS", {}).get("timeout", 5))
        if not _TRANSACTION.acquire(timeout=timeout):
            raise OperationalError("database is locked")
        self._holds_transaction_lock = True
        try:
            fd = _lock_file(str(self.settings_dict["NAME"]))
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)  # blocks in the kernel; other threads run meanwhile
                self._locked_file = fd
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._release_transaction_lock()
            raise

    def _release_transaction_lock(self) -> None:
        if self._holds_transaction_lock:
            self._holds_transaction_lock = False
            fd, self._locked_file = self._locked_file, None
            try:
                if fd is not None:
                    fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                _TRANSACTION.release()

    def _commit(self) -> None:
        try:
            super()._commit()
        finally:
            self._release_transaction_lock()

    def _rollback(self) -> None:
        try:
            super()._rollback()
        finally:
            self._release_transaction_lock()

    def _close(self) -> None:
        try:
            super()._close()
        finally:
            self._release_transaction_lock()
