"""Training runs as records: one lifecycle for every trainer (reward model, SFT, PPO, GRPO).

    run = run_create(kind="reward", project=p, base_model=m, config={...}, created_by=u, snapshot=s)
    run_enqueue(run)            # a Celery task on the `training` queue, sent when the transaction commits
    run_execute(run_id=run.pk)  # what that task (or `--sync`) calls: runs the kind's trainer, records it

A kind plugs in with one line in TRAINERS: the dotted path of a function

    def trainer(*, run: TrainingRun, reporter: Reporter, output_dir: Path) -> RunOutput

that trains into `output_dir` (complete or absent: write beside it in a dot-named folder and
rename at the end), reports through `reporter` and raises `Cancelled` when `reporter.should_stop()`
says so. The lifecycle (claim, heartbeat, cancel, finish, reap) is the same for every job and lives in
rewardmodel.jobs.lifecycle; what is particular to runs lives here:

- While it trains, RunReporter writes the metrics timeline (RunMetric rows) on top of the job
  reporter's progress and cancel flag; a heartbeat thread beats whatever the trainer is doing.
- Success registers the checkpoint as a ModelArtifact (parents: the base model and any extra
  parents; dataset_snapshot: the run's snapshot; training_run: the run) in the same transaction
  that marks the run succeeded. Cancelled: no artifact, output removed. Any exception: failed
  with the message and traceback, output removed.
- Linked runs (a cold-start SFT run, then GRPO from its result): the second is created with
  `starts_after=first`. Enqueued while the first has not finished, it only gets its task id; when
  the first succeeds, the same transaction makes its checkpoint the second's base model, and the
  second is sent to a worker on commit. If the first fails, is cancelled or is lost, the second
  is cancelled with a message naming it. `--sync` runs both in one process and enqueues neither.
- A run whose worker was lost, or that was cancelled before a worker took it, is cleaned up by
  run_abandoned (called by rewardmodel.jobs.lifecycle): its half-written folder removed, its followers
  cancelled. Nothing re-runs it.
"""

from __future__ import annotations

import logging
import math
import shutil
import traceback as tb
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from pairwise.errors import PairwiseError
from rewardmodel.jobs.lifecycle import (
    Claim,
    Heartbeat,
    JobReporter,
    job_cancel,
    job_claim,
    job_enqueue,
    job_finish,
    job_heartbeat,
    job_send,
    jobs_reap_lost,
    still_ours,
)
from rewardmodel.models import DatasetSnapshot, JobStatus, ModelArtifact, RunMetric, TrainingRun
from rewardmodel.registry.artifacts import artifact_register, models_dir
from rewardmodel.training.progress import Cancelled, FanoutReporter, Reporter

log = logging.getLogger(__name__)

# kind -> "module.function" of its trainer (imported when a run of that kind executes).
TRAINERS: dict[str, str] = {
    TrainingRun.Kind.REWARD: "rewardmodel.runs.kinds.reward.reward_trainer",
    TrainingRun.Kind.SFT: "rewardmodel.runs.kinds.sft.sft_trainer",
    TrainingRun.Kind.PPO: "rewardmodel.runs.kinds.ppo.ppo_trainer",
    TrainingRun.Kind.GRPO: "rewardmodel.runs.kinds.grpo.grpo_trainer",
}

# Metric values that are lists of text (sample completions): the run page shows them as a table.
TEXT_LIST_KEYS = ("samples", "heldout/samples")


@dataclass
class RunOutput:
    """What a trainer hands back: a finished checkpoint folder and what to record about it."""

    model_dir: Path
    artifact_kind: str  # ModelArtifact.Kind
    summary: dict[str, Any] = field(default_factory=dict)  # final metrics shown on the run page
    device: str = ""
    examples_seen: int = 0
    tokens_seen: int = 0
    extra_parents: Sequence[ModelArtifact] = ()  # e.g. PPO: the reward model it optimised against
    metadata: dict[str, Any] = field(default_factory=dict)


class Trainer(Protocol):
    def __call__(self, *, run: TrainingRun, reporter: Reporter, output_dir: Path) -> RunOutput: ...


# --------------------------------------------------------------------------------------------
# create, enqueue, cancel
# --------------------------------------------------------------------------------------------


def run_create(
    *,
    kind: str,
    project,
    base_model: ModelArtifact,
    config: dict[str, Any],
    created_by=None,
    snapshot: DatasetSnapshot | None = None,
    starts_after: TrainingRun | None = None,
) -> TrainingRun:
    if kind not in TRAINERS:
        raise PairwiseError(f"No trainer for runs of kind {kind!r}; known: {', '.join(TRAINERS)}.")
    if not isinstance(config, dict):
        raise PairwiseError("A run's config must be a JSON object.")
    return TrainingRun.objects.create(
        kind=kind,
        project=project,
        base_model=base_model,
        snapshot=snapshot,
        config=config,
        created_by=created_by,
        starts_after=starts_after,
    )


def _waits_for_parent(run: TrainingRun) -> bool:
    parent = run.starts_after
    return parent is not None and parent.status != JobStatus.SUCCEEDED


def run_enqueue(run: TrainingRun) -> TrainingRun:
    """Queue the run's Celery task once the surrounding transaction commits (a worker must find the
    row). A run that starts after another only gets its task id: it is sent when that one succeeds."""
    return job_enqueue(run, send=not _waits_for_parent(run))


def run_cancel(run: TrainingRun) -> TrainingRun:
    """Queued: cancelled at once (the worker will skip it). Running: asks it to stop at its next step."""
    return job_cancel(run)


def run_abandoned(run: TrainingRun, what: str) -> None:
    """Its worker will not clean up (cancelled while queued, or lost): do it here."""
    _remove_output(run)
    _cancel_followers(run.pk, f"the run it starts from (#{run.pk}) was {what}")


# --------------------------------------------------------------------------------------------
# the run's reporter
# --------------------------------------------------------------------------------------------


def _json_number(value: Any) -> Any:
    # NaN and infinity are not JSON (PostgreSQL's jsonb refuses them); a diverged loss is stored as null.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class RunReporter(JobReporter):
    """The job reporter (progress, cancel flag) plus the run's metrics timeline, written as it comes
    (trainers log every few steps)."""

    def log(self, step: int, metrics: dict[str, Any]) -> None:
        run_id = self.claim.pk
        values = {k: _json_number(v) for k, v in metrics.items() if isinstance(v, int | float | str | None)}
        if values:
            RunMetric.objects.create(run_id=run_id, step=max(int(step), 0), values=values)
        # Sample completions (lists of text) get a row of their own at the same step: the run page
        # shows them as a table, and the charts never see them.
        texts = {k: [str(s) for s in metrics[k]] for k in TEXT_LIST_KEYS if isinstance(metrics.get(k), list)}
        if texts:
            RunMetric.objects.create(run_id=run_id, step=max(int(step), 0), values=texts)
        if isinstance(metrics.get("num_tokens"), int | float):
            TrainingRun.objects.filter(pk=run_id).update(tokens_seen=int(metrics["num_tokens"]))


# --------------------------------------------------------------------------------------------
# execute
# --------------------------------------------------------------------------------------------


def run_output_dir(run: TrainingRun) -> Path:
    # The creation time keeps names unique even if a database is reset and ids start again.
    return models_dir() / f"run-{run.pk}-{run.kind}-{run.created_at:%Y%m%d-%H%M%S}"


def _remove_output(run: TrainingRun) -> None:
    """The run's checkpoint folder and any dot-named partial folder a trainer left beside it."""
    out = run_output_dir(run)
    shutil.rmtree(out, ignore_errors=True)
    for partial in out.parent.glob(f".{out.name}*"):
        shutil.rmtree(partial, ignore_errors=True)


def _finish(claim: Claim, status: str, **fields: Any) -> bool:
    finished = job_finish(claim, status, **fields)
    if finished:
        _cancel_followers(claim.pk, f"the run it starts from (#{claim.pk}) {status}")
    return finished


def _cancel_followers(run_id: int, why: str) -> None:
    """Queued runs linked to start after this one can no longer start; say why on each."""
    for follower in TrainingRun.objects.filter(starts_after_id=run_id, status=JobStatus.QUEUED):
        if TrainingRun.objects.filter(pk=follower.pk, status=JobStatus.QUEUED).update(
            status=JobStatus.CANCELLED, cancel_requested=True, finished_at=timezone.now(), status_message=why
        ):
            _cancel_followers(follower.pk, f"the run it starts from (#{follower.pk}) was cancelled")


def _artifact_name(run: TrainingRun) -> str:
    from django.utils.text import slugify

    return run.config.get("output_name") or f"{run.kind}-{slugify(run.project.name)[:60]}-run{run.pk}"


def _register_success(run: TrainingRun, claim: Claim, output: RunOutput) -> bool:
    """Register the checkpoint and mark the run succeeded, both or neither."""
    with transaction.atomic():
        locked = TrainingRun.objects.select_for_update().filter(still_ours(claim)).first()
        if locked is None:
            return False
        artifact = artifact_register(
            kind=output.artifact_kind,
            name=_artifact_name(run),
            path=output.model_dir,
            parents=[run.base_model, *output.extra_parents],
            snapshot=run.snapshot,
            run=run,
            source=f"training run #{run.pk} ({run.kind})",
            metadata={"summary": output.summary, **output.metadata},
        )
        TrainingRun.objects.filter(pk=run.pk).update(
            status=JobStatus.SUCCEEDED,
            finished_at=timezone.now(),
            progress=1.0,
            status_message="done",
            error="",
            traceback="",
            output_model=artifact,
            summary=output.summary,
            examples_seen=output.examples_seen,
            tokens_seen=output.tokens_seen,
            # The worker's fuller description ("cuda: 4 x NVIDIA H100") wins over the trainer's "cuda".
            device=locked.device or output.device,
        )
        # Linked runs start from this checkpoint; those already enqueued go to a worker now.
        for follower in TrainingRun.objects.filter(starts_after_id=run.pk, status=JobStatus.QUEUED):
            follower.base_model = artifact
            follower.save(update_fields=["base_model"])
            if follower.task_id:
                follower.starts_after = TrainingRun.objects.get(pk=run.pk)
                job_send(follower)
    return True


def _describe_device() -> str:
    try:
        from rewardmodel.training.devices import describe_device

        return describe_device()
    except Exception:  # the trainer will say what is wrong with torch; the run page can wait
        return ""


def run_execute(*, run_id: int, reporter: Reporter | None = None, task_id: str = "") -> TrainingRun | None:
    """Run a queued run's trainer in this process and record the outcome. Never raises for a
    training failure (the run row holds it); returns the run, or None if there is no such run."""
    claim = job_claim(TrainingRun, pk=run_id, task_id=task_id, status_message="starting")
    run = (
        TrainingRun.objects.select_related("project", "base_model", "snapshot", "starts_after")
        .filter(pk=run_id)
        .first()
    )
    if run is None:
        log.warning("training run %s does not exist; task %s ignored", run_id, task_id)
        return None
    if claim is None:
        log.warning(
            "training run %s is %s (task %r), not queued for task %r; ignored",
            run_id,
            run.status,
            run.task_id,
            task_id,
        )
        return run
    with Heartbeat(claim):
        _train(run, claim, reporter)
    run.refresh_from_db()
    return run


def _train(run: TrainingRun, claim: Claim, reporter: Reporter | None) -> None:
    job_heartbeat(claim, device=_describe_device())
    db = RunReporter(claim)
    listener: Reporter = FanoutReporter(db, reporter) if reporter is not None else db
    try:
        if db.should_stop():
            raise Cancelled("cancelled before it started")
        if _waits_for_parent(run):
            raise PairwiseError(
                f"Run #{run.pk} starts from the result of run #{run.starts_after_id}, which is "
                f"{run.starts_after.status}, not succeeded."
            )
        trainer: Trainer = import_string(TRAINERS[run.kind])
        output = trainer(run=run, reporter=listener, output_dir=run_output_dir(run))
        if not _register_success(run, claim, output):
            log.warning("training run %s finished but is no longer running; output discarded", run.pk)
            _remove_output(run)
    except Cancelled as exc:
        _remove_output(run)
        _finish(claim, JobStatus.CANCELLED, status_message=str(exc)[:500])
    except Exception as exc:
        _remove_output(run)
        _finish(claim, JobStatus.FAILED, error=f"{type(exc).__name__}: {exc}", traceback=tb.format_exc())
    except BaseException as exc:  # KeyboardInterrupt, SystemExit: record, then let the process go
        _remove_output(run)
        _finish(
            claim, JobStatus.FAILED, error=f"interrupted ({type(exc).__name__})", traceback=tb.format_exc()
        )
        raise


# --------------------------------------------------------------------------------------------
# lost runs
# --------------------------------------------------------------------------------------------


def runs_reap_lost() -> list[int]:
    """Mark running runs whose worker stopped beating as failed ("worker lost"); returns their ids.
    (The `reap_lost_jobs` task does this for every kind of job on a schedule.)"""
    return jobs_reap_lost(TrainingRun)
