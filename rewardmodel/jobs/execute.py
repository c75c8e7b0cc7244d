"""One way to run a job of any kind: claim → heartbeat → work → finish, fail or cancel.

    job_execute(TrainingRun, pk=run_id, task_id=task_id)     # what the one Celery task calls
    job_execute(GenerationJob, pk=job.pk, reporter=bar)      # or a command, here, with a bar

The kind's work (jobs.kinds.KINDS[model].work) does the job and returns a `Done`: the fields to
write on the row when it succeeds, the line its page shows, and optionally what must commit in
the same transaction as the success (a training run registers its checkpoint there). Everything
else is decided here, once, for every kind:

- The claim refuses a job that is not queued for this task (a duplicate or stale message): the
  job is left alone and returned as it is.
- A heartbeat thread beats while the work runs (jobs.lifecycle.Heartbeat).
- A job whose cancel flag is set before it starts is cancelled without working.
- `Cancelled` (the work saw the flag) → cancelled, with its message.
- A PairwiseError (a rule or bad input) → failed, its message as the error (an import adds its
  bad lines); no traceback, nothing went wrong in the code.
- Any other exception → failed, "Type: message" and the traceback, logged.
- KeyboardInterrupt or SystemExit (Ctrl-C under --sync, a worker's cold shutdown) → failed,
  "interrupted (KeyboardInterrupt)", the traceback kept, and the exception goes on: the process
  is stopping, and the row says so at once rather than waiting for the reaper.
- Then, however it ended, the kind's `ended` hook runs (a run removes a half-written folder and
  cancels the runs that waited for it; a data job removes its upload).
"""

from __future__ import annotations

import logging
import traceback as tb
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from pairwise.errors import PairwiseError
from pairwise.progress import Cancelled, Reporter
from rewardmodel.jobs.kinds import KINDS
from rewardmodel.jobs.lifecycle import (
    Claim,
    Heartbeat,
    job_cancel_requested,
    job_claim,
    job_finish,
    still_ours,
)
from rewardmodel.models import JobBase, JobStatus

log = logging.getLogger(__name__)


@dataclass
class Done:
    """What a job's work hands back when it succeeded."""

    message: str  # the line its page shows
    fields: dict[str, Any] = field(default_factory=dict)  # more row fields to write (result=...)
    # Writes that must commit with the success, or not at all (a run registers its checkpoint):
    # called with the locked row inside the transaction that marks the job succeeded; returns more
    # fields. Not called when the row is no longer this claim's.
    commit: Callable[[JobBase], dict[str, Any]] | None = None


def error_text(exc: BaseException) -> str:
    """A failure as the job's row says it: a PairwiseError's own words (an import adds its bad
    lines), anything else "Type: message"."""
    if isinstance(exc, PairwiseError):
        lines = getattr(exc, "errors", [])
        return "\n".join([exc.message, *lines]) if len(lines) > 1 else exc.message
    return f"{type(exc).__name__}: {exc}"


def _traceback(exc: BaseException) -> str:
    """Kept where code went wrong; not for a rule that refused (a PairwiseError of its own)."""
    refused = isinstance(exc, PairwiseError) and (
        exc.__cause__ is None or isinstance(exc.__cause__, PairwiseError)
    )
    return "" if refused else tb.format_exc()


def job_execute(
    model: type[JobBase], *, pk: int, task_id: str = "", reporter: Reporter | None = None
) -> JobBase | None:
    """Run a queued job of any kind in this process and record how it ended (see the module
    docstring). Never raises for the job's own failure (its row holds it), except an interrupt,
    which is recorded first. Returns the job as it ended, or None if there is no such job.
    `reporter` (a progress bar, a demo loop's) hears what the job's own reporter hears."""
    kind = KINDS[model]
    claim = job_claim(model, pk=pk, task_id=task_id, status_message="starting")
    job = model.objects.select_related(*kind.select).filter(pk=pk).first()
    if job is None:
        log.warning("%s %s does not exist; task %r ignored", kind.label, pk, task_id)
        return None
    if claim is None:
        log.warning(
            "%s #%s is %s (task %r), not queued for task %r; ignored",
            kind.label,
            pk,
            job.status,
            job.task_id,
            task_id,
        )
        return job
    with Heartbeat(claim):
        how = _work(job, claim, reporter)
    job.refresh_from_db()
    ended = kind.hook("ended")
    if ended is not None:
        ended(job, how)
    return job


def _work(job: JobBase, claim: Claim, reporter: Reporter | None) -> str:
    """The kind's work, and the row written as it ended; returns how it ended."""
    work = KINDS[type(job)].hook("work")
    try:
        if job_cancel_requested(claim):
            raise Cancelled("cancelled before it started")
        done = work(job, claim, reporter)
    except Cancelled as exc:
        job_finish(claim, JobStatus.CANCELLED, status_message=(str(exc) or "cancelled")[:500])
        return JobStatus.CANCELLED
    except Exception as exc:
        if not isinstance(exc, PairwiseError):
            log.exception("%s #%s failed", KINDS[type(job)].label, job.pk)
        job_finish(claim, JobStatus.FAILED, error=error_text(exc), traceback=_traceback(exc))
        return JobStatus.FAILED
    except BaseException as exc:  # KeyboardInterrupt (--sync), SystemExit: record, then let it go
        job_finish(
            claim, JobStatus.FAILED, error=f"interrupted ({type(exc).__name__})", traceback=tb.format_exc()
        )
        raise
    return JobStatus.SUCCEEDED if _succeed(claim, done) else "discarded"


def _succeed(claim: Claim, done: Done) -> bool:
    """Mark the job succeeded with what its work made, and commit what must go with it, both or
    neither. False when the row is no longer this claim's (cancelled and reaped meanwhile)."""
    with transaction.atomic():
        locked = claim.model.objects.select_for_update().filter(still_ours(claim)).first()
        if locked is None:
            log.warning(
                "%s #%s finished but is no longer running; its result is discarded",
                claim.model.__name__,
                claim.pk,
            )
            return False
        extra = done.commit(locked) if done.commit is not None else {}
        claim.model.objects.filter(pk=claim.pk).update(
            status=JobStatus.SUCCEEDED,
            finished_at=timezone.now(),
            progress=1.0,
            status_message=done.message[:500],
            error="",
            traceback="",
            **done.fields,
            **extra,
        )
    return True
