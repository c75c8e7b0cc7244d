"""A real Celery worker for tests: a `celery -A pairwise worker --pool solo` subprocess on the
configured broker (Redis when CELERY_BROKER_URL says so, the embedded SQLite broker otherwise) that
opens this test's database (PostgreSQL's test_* database, or the SQLite test file)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def database_url() -> str:
    db = connection.settings_dict  # during tests NAME is the test database
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def purge(*queues: str) -> None:
    """Messages left by an earlier, interrupted test run would name ids this database reuses."""
    from pairwise.celery import app

    with app.connection_for_write() as conn:
        for queue in queues:
            try:
                conn.default_channel.queue_purge(queue)
            except Exception:  # never declared on this broker yet: nothing to purge
                pass


def start_worker(
    log: Path, *, queues: str, name: str = "pytest", beat: bool = False, env: dict[str, str] | None = None
) -> subprocess.Popen:
    """Start a solo worker on `queues` (with embedded beat if `beat`); its output goes to `log`."""
    environ = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_RESULT_BACKEND": settings.CELERY_RESULT_BACKEND,
        "PAIRWISE_DATA_DIR": str(settings.DATA_DIR),
        "PYTHONPATH": str(ROOT),
        "OMP_NUM_THREADS": "1",  # tiny models; see tests/rewardmodel/conftest.py
        **(env or {}),
    }
    cmd = [sys.executable, "-m", "celery", "-A", "pairwise", "worker", "--pool", "solo", "-Q", queues]
    cmd += ["-n", f"{name}-{uuid.uuid4().hex[:8]}@%h", "--without-gossip", "--without-mingle"]
    cmd += ["--loglevel", "INFO"]
    if beat:
        cmd += ["-B", "--schedule", str(Path(settings.DATA_DIR) / f"beat-{uuid.uuid4().hex[:8]}")]
    return subprocess.Popen(cmd, cwd=ROOT, env=environ, stdout=log.open("w"), stderr=subprocess.STDOUT)


def stop_worker(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until(
    predicate: Callable[[], Any], *, timeout: float, what: str, logs: tuple[Path, ...], interval: float = 0.3
) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    tails = "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in logs if log.exists())
    raise AssertionError(f"timed out waiting for {what}; worker logs:\n{tails}")
