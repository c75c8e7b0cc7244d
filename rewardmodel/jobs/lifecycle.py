"""One lifecycle for every long job: training runs (reward, SFT, PPO, GRPO), generation jobs, demo
loops and data jobs (imports, exports, quality recomputes started from a page). A stuck job is
explained by this file.

    queued ──claim──► running ──finish──► succeeded | failed | cancelled
      │                  │
      │ cancel           └─ no heartbeat for PAIRWISE_RUN_HEARTBEAT_TIMEOUT s ("lost")
      ▼                       ──reap──► failed "worker lost: no heartbeat for N s (...)"
    cancelled

Every move is one conditional UPDATE, `filter(pk=..., status=..., task_id=...).update(...)`: two
processes racing for a row cannot both win, and a late writer finds the row moved on and writes
nothing. The rows are JobBase subclasses (rewardmodel.models); rewardmodel.jobs.kinds says, per
model, which queue its task goes to, what its work is and what to clean up when it ends; the work
itself is run by rewardmodel.jobs.execute, the same way for every kind.

- enqueue (job_enqueue): choose the task id, store it with `sent_at`, send the kind's task when
  the caller's transaction commits (the worker must find the row). The caller decides when;
  a run waiting for another run (`starts_after`) gets its task id only and is sent later.
- claim (job_claim): queued → running, only if the row is queued and its task id is the message's
  (or the row has none: a job run with --sync). A redelivered or duplicated message, or one left
  from an old database whose ids are reused, claims nothing and does nothing: a job never runs twice.
- heartbeat (Heartbeat): while the job runs, a daemon thread of the worker process writes
  `heartbeat_at` every timeout/5 s (at least 1 s), whatever the job is doing: loading a model, a
  final evaluation, a held-out check. It dies with the process, so a stale heartbeat means the
  process is gone, not that a phase is slow. (Inside a caller's transaction, as in most tests,
  the claim is not committed and no other connection could see the row: no thread; the job
  reporter's progress calls beat instead.)
- progress and cancel (JobReporter): the trainer's progress() writes progress and message (at most
  every BEAT_SECONDS), should_stop() re-reads `cancel_requested` (at most every
  CANCEL_CHECK_SECONDS); the trainer raises training.progress.Cancelled when it turns true.
- finish (job_finish): running → succeeded | failed | cancelled, only if the row is still this
  claim's. A row reaped as lost while its worker was in fact alive (stalled longer than the
  timeout) still counts as this claim's: the real result replaces the guess.
- cancel (job_cancel): queued → cancelled at once; running → `cancel_requested`, the worker stops
  at its next check; running but lost → cancelled at once (nobody is left to read the flag).
- reap (jobs_reap, the `reap_lost_jobs` task that celery beat sends every PAIRWISE_REAP_INTERVAL s):
  lost jobs of every kind → failed ("worker lost"), then the kind's cleanup (a run's half-written
  folder removed, the runs waiting for it cancelled); queued jobs whose message was sent more than
  PAIRWISE_QUEUED_RESEND_AFTER s ago and never claimed are sent once more, same task id (the claim
  makes a duplicate harmless).

What a killed worker (OOM, SIGKILL, machine gone) leaves: a running row whose heartbeat stops.
Nothing re-runs it: tasks never retry, acks_late is on with reject_on_worker_lost off (settings),
and the claim refuses a second start. The reaper marks it failed within timeout + interval. A
generation job is then resumed (rewardmodel.generation.responses.generation_job_resume: a new job that
generates only the samples that are missing); a training run is started again as a new run.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connections, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from pairwise.errors import Conflict
from rewardmodel.jobs.kinds import JOB_TASK, KINDS
from rewardmodel.models import JobBase, JobStatus

log = logging.getLogger(__name__)

LOST_ERROR = "worker lost: no heartbeat for"
# JobReporter writes progress (and a heartbeat) at most this often, and re-reads the cancel flag.
BEAT_SECONDS = 5.0
CANCEL_CHECK_SECONDS = 3.0


def _ended(job: JobBase, how: str) -> None:
    hook = KINDS[type(job)].hook("ended")
    if hook is not None:
        hook(job, how)


# --------------------------------------------------------------------------------------------
# enqueue, claim
# --------------------------------------------------------------------------------------------


def job_enqueue(job: JobBase, *, send: bool = True) -> JobBase:
    """Give a queued job its task id; unless `send` is False, send its task when the transaction
    commits (job_send). The id is stored first, so the job's page can name it at once."""
    if job.status != JobStatus.QUEUED:
        raise Conflict(
            f"{KINDS[type(job)].label} #{job.pk} is {job.status}; only a queued job can be sent to a worker."
        )
    job.task_id = uuid.uuid4().hex
    job.save(update_fields=["task_id"])
    if send:
        job_send(job)
    return job


def job_send(job: JobBase) -> None:
    """Send the job's task with its stored task id once the surrounding transaction commits."""
    model, pk, task_id = type(job), job.pk, job.task_id
    job.sent_at = timezone.now()
    model.objects.filter(pk=pk).update(sent_at=job.sent_at)

    kind = KINDS[model]

    def send() -> None:
        from pairwise.celery import app

        # By name: the tasks module runs jobs (jobs.execute), so this one does not import it.
        app.tasks[JOB_TASK].apply_async(args=[kind.slug, pk], task_id=task_id, queue=kind.queue)

    transaction.on_commit(send)


@dataclass(frozen=True)
class Claim:
    """A worker's hold on a running job: every later write is conditional on its task id."""

    model: type[JobBase]
    pk: int
    task_id: str

    def rows(self) -> QuerySet:
        return self.model.objects.filter(pk=self.pk, task_id=self.task_id)


def job_claim(model: type[JobBase], *, pk: int, task_id: str = "", **fields: Any) -> Claim | None:
    """queued → running (with `fields`, e.g. a status message). None if the row is not queued, or
    is queued for another task id: that message is a duplicate or a stale one."""
    now = timezone.now()
    rows = model.objects.filter(pk=pk, status=JobStatus.QUEUED)
    if task_id:
        rows = rows.filter(Q(task_id="") | Q(task_id=task_id))
        fields["task_id"] = task_id
    if not rows.update(status=JobStatus.RUNNING, started_at=now, heartbeat_at=now, **fields):
        return None
    if not task_id:
        task_id = model.objects.filter(pk=pk).values_list("task_id", flat=True)[0]
    return Claim(model, pk, task_id)


# --------------------------------------------------------------------------------------------
# while it runs: heartbeat, progress, cancel flag
# --------------------------------------------------------------------------------------------


def job_heartbeat(claim: Claim, **fields: Any) -> bool:
    """Write the heartbeat (and `fields`) if the job is still running under this claim."""
    return bool(claim.rows().filter(status=JobStatus.RUNNING).update(heartbeat_at=timezone.now(), **fields))


def job_cancel_requested(claim: Claim) -> bool:
    return claim.rows().filter(cancel_requested=True).exists()


def beat_interval() -> float:
    return max(1.0, settings.PAIRWISE_RUN_HEARTBEAT_TIMEOUT / 5)


class Heartbeat:
    """`with Heartbeat(claim):` a daemon thread beats for the job until the block ends.

    The thread has its own database connection and closes it when it stops. Not started inside
    an atomic block: the claim is not committed there, so the thread could not see the row (and
    on PostgreSQL would wait for its lock until the transaction ends)."""

    def __init__(self, claim: Claim, *, every: float | None = None) -> None:
        self.claim = claim
        self.every = beat_interval() if every is None else every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Heartbeat:
        if not transaction.get_connection().in_atomic_block:
            self._thread = threading.Thread(
                target=self._beat, name=f"heartbeat-{self.claim.model.__name__}-{self.claim.pk}", daemon=True
            )
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _beat(self) -> None:
        try:
            while not self._stop.wait(self.every):
                try:
                    job_heartbeat(self.claim)
                except Exception:  # a database hiccup must not kill the beat; the next one may pass
                    log.warning(
                        "heartbeat of %s #%s failed", self.claim.model.__name__, self.claim.pk, exc_info=True
                    )
        finally:
            connections.close_all()  # this thread's connections only


class JobReporter:
    """The database side of a training.progress.Reporter: progress and message on the job's row,
    the cancel flag read back. log() keeps nothing (a run's reporter adds its metrics timeline).

    Progress is written at most every `beat_seconds` (always when the message changes or the end
    is reached) and the cancel flag re-read at most every `cancel_check_seconds`, so a fast GPU
    loop does not wait on the database."""

    def __init__(
        self,
        claim: Claim,
        *,
        beat_seconds: float | None = None,
        cancel_check_seconds: float | None = None,
    ) -> None:
        self.claim = claim
        self.beat_seconds = BEAT_SECONDS if beat_seconds is None else beat_seconds
        self.cancel_check_seconds = (
            CANCEL_CHECK_SECONDS if cancel_check_seconds is None else cancel_check_seconds
        )
        self._last_beat = self._last_check = -math.inf
        self._message = ""
        self._cancel = False

    def log(self, step: int, metrics: dict[str, Any]) -> None:
        pass

    def progress(self, done: int, total: int, message: str = "") -> None:
        now = time.monotonic()
        changed = bool(message) and message != self._message
        if not changed and now - self._last_beat < self.beat_seconds and not (total and done >= total):
            return
        self._last_beat = now
        fields: dict[str, Any] = {}
        if total:
            fields["progress"] = max(0.0, min(1.0, done / total))
        if changed:
            self._message = message
            fields["status_message"] = message[:500]
        job_heartbeat(self.claim, **fields)

    def should_stop(self) -> bool:
        now = time.monotonic()
        if not self._cancel and now - self._last_check >= self.cancel_check_seconds:
            self._last_check = now
            self._cancel = job_cancel_requested(self.claim)
        return self._cancel


# --------------------------------------------------------------------------------------------
# finish, cancel
# --------------------------------------------------------------------------------------------


def still_ours(claim: Claim) -> Q:
    """The claim's row while it runs, or after a reaper took it for lost while it was alive."""
    return Q(pk=claim.pk, task_id=claim.task_id) & (
        Q(status=JobStatus.RUNNING) | Q(status=JobStatus.FAILED, error__startswith=LOST_ERROR)
    )


def job_finish(claim: Claim, status: str, **fields: Any) -> bool:
    """running → succeeded | failed | cancelled, with `fields`. False if the row is no longer ours."""
    return bool(
        claim.model.objects.filter(still_ours(claim)).update(
            status=status, finished_at=timezone.now(), **fields
        )
    )


def job_cancel(job: JobBase) -> JobBase:
    """Queued: cancelled at once. Running: asked to stop at its next check. Running but lost:
    cancelled at once, and the kind's cleanup done here (its worker will not). Raises Conflict
    when it has finished."""
    model, now = type(job), timezone.now()
    cancelled = {"status": JobStatus.CANCELLED, "cancel_requested": True, "finished_at": now}
    if model.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(**cancelled):
        job.refresh_from_db()
        _ended(job, "cancelled")
    elif model.objects.filter(Q(pk=job.pk) & lost_q()).update(
        **cancelled, status_message=f"cancelled after its worker was lost ({LOST_ERROR} {_timeout()} s)"
    ):
        job.refresh_from_db()
        _ended(job, "cancelled")
    elif not model.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(cancel_requested=True):
        job.refresh_from_db()
        raise Conflict(f"{KINDS[model].label} #{job.pk} already {job.status}; nothing to cancel.")
    job.refresh_from_db()
    return job


# --------------------------------------------------------------------------------------------
# reap: lost workers, lost messages
# --------------------------------------------------------------------------------------------


def _timeout() -> int:
    return settings.PAIRWISE_RUN_HEARTBEAT_TIMEOUT


def lost_q() -> Q:
    """Running with a heartbeat older than the timeout (or none since a start that old)."""
    cutoff = timezone.now() - timedelta(seconds=_timeout())
    return Q(status=JobStatus.RUNNING) & (
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    )


def jobs_reap_lost(model: type[JobBase], *, pks: list[int] | None = None) -> list[int]:
    """Mark `model`'s lost jobs failed ("worker lost") and clean up after each; returns their ids."""
    timeout = _timeout()
    stale = lost_q() if pks is None else lost_q() & Q(pk__in=pks)
    reaped = []
    for job in model.objects.filter(stale).order_by("pk"):
        if model.objects.filter(Q(pk=job.pk) & stale).update(
            status=JobStatus.FAILED,
            finished_at=timezone.now(),
            error=f"{LOST_ERROR} {timeout} s (killed, out of memory, or its machine went away).",
        ):
            job.refresh_from_db()
            _ended(job, "lost")
            reaped.append(job.pk)
    return reaped


def jobs_resend_queued(model: type[JobBase]) -> list[int]:
    """Send once more, with the same task id, the queued jobs whose message was sent longer than
    PAIRWISE_QUEUED_RESEND_AFTER s ago and never claimed (a broker lost it, or it was purged).
    Once only: a job that waits behind long ones gets one duplicate, which its claim ignores."""
    cutoff = timezone.now() - timedelta(seconds=settings.PAIRWISE_QUEUED_RESEND_AFTER)
    waiting = Q(status=JobStatus.QUEUED, resent_at__isnull=True, sent_at__lt=cutoff) & ~Q(task_id="")
    resent = []
    for job in model.objects.filter(waiting).order_by("pk"):
        if model.objects.filter(Q(pk=job.pk, task_id=job.task_id) & waiting).update(resent_at=timezone.now()):
            log.warning(
                "%s #%s queued since %s and never started; sending it again",
                model.__name__,
                job.pk,
                job.sent_at,
            )
            job_send(job)
            resent.append(job.pk)
    return resent


def jobs_reap() -> dict[str, dict[str, list[int]]]:
    """What the `reap_lost_jobs` task does for every kind: {"lost": {model: ids}, "resent": {...}}."""
    report: dict[str, dict[str, list[int]]] = {"lost": {}, "resent": {}}
    for model in KINDS:
        for what, step in (("lost", jobs_reap_lost), ("resent", jobs_resend_queued)):
            ids = step(model)
            if ids:
                report[what][model.__name__] = ids
    return report
