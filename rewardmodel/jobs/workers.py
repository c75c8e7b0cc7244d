"""Which Celery workers are alive, and which queues they serve: each worker writes a WorkerBeat
row when it is ready and every PAIRWISE_WORKER_BEAT_SECONDS after, from a thread of its own, and
deletes it when it stops cleanly. The broker is never asked (the embedded SQLite broker cannot
broadcast, so `celery inspect` does not work there).

    queues_served()        # {"default", "training"}: what live workers consume
    job_waiting(job)       # "" or why a queued job has not started, and the command that fixes it

A worker is live while its row is younger than PAIRWISE_WORKER_LIVE_SECONDS (three beats by
default): one that was killed stops counting within that time.
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import timedelta

from celery.signals import worker_ready, worker_shutdown
from django.conf import settings
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from pairwise.humanize import human_duration
from rewardmodel.jobs.kinds import KINDS
from rewardmodel.models import JobBase, JobStatus, WorkerBeat

log = logging.getLogger(__name__)


def worker_beat(*, hostname: str, queues: list[str], pid: int | None = None) -> WorkerBeat:
    """Say that `hostname` is alive and consumes `queues` (the first beat also sets started_at)."""
    beat, _ = WorkerBeat.objects.update_or_create(
        hostname=hostname, defaults={"queues": sorted(queues), "pid": pid, "seen_at": timezone.now()}
    )
    return beat


def worker_gone(hostname: str) -> None:
    WorkerBeat.objects.filter(hostname=hostname).delete()


def _live_since():
    return timezone.now() - timedelta(seconds=settings.PAIRWISE_WORKER_LIVE_SECONDS)


def live_workers() -> list[WorkerBeat]:
    return list(WorkerBeat.objects.filter(seen_at__gte=_live_since()))


def worker_is_live(worker: WorkerBeat) -> bool:
    return worker.seen_at >= _live_since()


def queues_served() -> set[str]:
    return {queue for worker in live_workers() for queue in worker.queues}


def worker_command(queue: str) -> str:
    """The command that starts a worker for `queue` (README: Deploy)."""
    return f"celery -A pairwise worker -Q {queue} --pool solo --loglevel INFO"


def job_waiting(job: JobBase, queue: str | None = None) -> str:
    """Why a queued job has not started: queued longer than PAIRWISE_QUEUED_WARN_SECONDS and no
    live worker serves its queue. "" when it is not queued, not waiting long, or a worker serves
    the queue (it is busy: the job starts when the jobs before it end). `queue`: its kind's."""
    queue = queue or KINDS[type(job)].queue
    if job.status != JobStatus.QUEUED or settings.CELERY_TASK_ALWAYS_EAGER:
        return ""
    waited = (timezone.now() - (job.sent_at or job.created_at)).total_seconds()
    if waited < settings.PAIRWISE_QUEUED_WARN_SECONDS or queue in queues_served():
        return ""
    return (
        f"Queued for {human_duration(waited)} and no worker serves the {queue!r} queue, so nothing "
        f"will pick it up. Start one on a machine that shares this database and data directory: "
        f"`{worker_command(queue)}`."
    )


# --- the worker's side: a beat thread from worker_ready to worker_shutdown ----------------------


class _Beats(threading.Thread):
    def __init__(self, hostname: str, queues: list[str]) -> None:
        super().__init__(name="pairwise-worker-beat", daemon=True)
        self.hostname, self.queues = hostname, queues
        self.stopped = threading.Event()

    def run(self) -> None:
        while True:
            try:
                worker_beat(hostname=self.hostname, queues=self.queues, pid=os.getpid())
            except Exception:  # the database is away for a moment: the next beat tries again
                log.warning("worker beat not written", exc_info=True)
            finally:
                connection.close()  # this thread's own connection; a beat is rare
            if self.stopped.wait(settings.PAIRWISE_WORKER_BEAT_SECONDS):
                return


_running: _Beats | None = None


@worker_ready.connect
def _on_worker_ready(sender, **kwargs) -> None:
    global _running
    queues = [queue.name for queue in sender.task_consumer.queues]
    _running = _Beats(sender.hostname, queues)
    _running.start()


@worker_shutdown.connect
def _on_worker_shutdown(sender, **kwargs) -> None:
    if _running is None:
        return
    _running.stopped.set()
    _running.join(timeout=5)
    try:
        worker_gone(_running.hostname)
    except Exception:
        log.warning("worker beat not removed", exc_info=True)
    finally:
        connection.close()


def jobs_waiting(*, project_id: int | None = None, limit: int = 10) -> list[tuple[JobBase, str, str]]:
    """The queued jobs that wait for a worker nobody runs: (job, its page's URL, why), oldest first."""
    served = queues_served()
    waiting = []
    for model, kind in KINDS.items():
        if kind.queue in served:
            continue
        rows = model.objects.filter(status=JobStatus.QUEUED).order_by("created_at")
        if project_id is not None and hasattr(model, "project"):
            rows = rows.filter(project_id=project_id)
        for job in rows[:limit]:
            why = job_waiting(job, kind.queue)
            if why:
                url = reverse(kind.page) if kind.page == "home" else reverse(kind.page, args=[job.pk])
                waiting.append((job, url, why))
    waiting.sort(key=lambda item: item[0].created_at)
    return waiting[:limit]
