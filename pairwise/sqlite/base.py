"""Django's SQLite backend, with this process's transactions queued on one lock before BEGIN.

SQLite lets one writer in at a time (settings: BEGIN IMMEDIATE). Waiters on its file lock poll:
the busy handler sleeps 1, 2, 5 ... up to 100 ms between tries, and whoever tries at the right
moment wins. With 16 labelers on gunicorn's threads that made the slowest calls wait seconds
(p99 2.8 s where p50 was 0.25 s, bench/annotation_load.py --sqlite). Threads of one process now
wait on a lock that wakes the next one as soon as a transaction ends; the file lock still guards
against other processes (a Celery worker), with its busy timeout.

The lock is taken by the outermost atomic block (Django's _start_transaction_under_autocommit)
and given back when that transaction commits, rolls back or its connection closes. Waiting for it
gives up after the connection's busy timeout, with SQLite's own "database is locked" error.
"""

from __future__ import annotations

import threading

from django.db import OperationalError
from django.db.backends.sqlite3 import base

_TRANSACTION = threading.Lock()


class DatabaseWrapper(base.DatabaseWrapper):
    _holds_transaction_lock = False

    def _start_transaction_under_autocommit(self) -> None:
        timeout = float(self.settings_dict.get("OPTIONS", {}).get("timeout", 5))
        if not _TRANSACTION.acquire(timeout=timeout):
            raise OperationalError("database is locked")
        self._holds_transaction_lock = True
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._release_transaction_lock()
            raise

    def _release_transaction_lock(self) -> None:
        if self._holds_transaction_lock:
            self._holds_transaction_lock = False
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
