"""Training runs as records: start, queue, cancel and execute a run of any kind.

    runs = runs_start(kind="ppo", project=p, start=m, inputs={"reward_model": rm}, options={...})
    for run in runs: run_enqueue(run)     # the one job task, on the `training` queue, on commit
    job_execute(TrainingRun, pk=run.pk)   # what that task (or `--sync`) calls; it runs run_work

What a kind is (its options, models, snapshot, trainer) is written once in rewardmodel.runs.kinds;
here is what every kind shares, each written once:

- runs_start checks before anything is made or queued, in this order, each with one message for
  every kind: the options (names, types, bounds, the rules that tie them: runs.checks), the result's
  name is free, the models are of a kind the run takes and have their files, then the kind's own
  check; then the kind's snapshot freezes the data and the run is created. With `cold_start=N`
  an SFT run on N demonstrations comes first and the run starts from its result (linked runs).
- run_work (jobs.kinds: the work of a TrainingRun) runs the kind's trainer into the run's folder
  with a reporter that writes the metrics timeline; success registers the checkpoint as a
  ModelArtifact (parents: the start and the inputs that are parents; dataset_snapshot: the run's
  snapshot; training_run: the run) in the same transaction that marks the run succeeded.
- run_ended (jobs.kinds: after the work, however it ended, or when a queued run is cancelled or a
  lost one reaped): a run that did not succeed leaves no folder, and the runs waiting for it are
  cancelled with a message naming it.

The lifecycle itself (claim, heartbeat, finish, cancel, reap) is rewardmodel.jobs'.

Linked runs (a cold-start SFT run, then GRPO from its result): the second is created with
`starts_after=first`. Enqueued while the first has not finished, it only gets its task id; when the
first succeeds, the same transaction makes its checkpoint the second's base model, and the second is
sent to a worker on commit. `--sync` runs both in one process and enqueues neither.
"""

from __future__ import annotations

import logging
import math
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from annotate.models import Project
from pairwise.errors import PairwiseError
from pairwise.progress import FanoutReporter, Reporter
from rewardmodel.jobs.execute import Done, job_execute
from rewardmodel.jobs.lifecycle import Claim, JobReporter, job_enqueue, job_heartbeat, job_send
from rewardmodel.models import JobStatus, ModelArtifact, RunMetric, TrainingRun
from rewardmodel.registry.artifacts import artifact_register, models_dir
from rewardmodel.runs.checks import models_check, name_check, options_clean
from rewardmodel.runs.kind import RunKind
from rewardmodel.runs.kinds import KINDS, run_kind

log = logging.getLogger(__name__)

# Metric values that are lists of text (sample completions): the run page shows them as a table.
TEXT_LIST_KEYS = ("samples", "heldout/samples")


# --------------------------------------------------------------------------------------------
# start: check everything, freeze the data, create the run(s)
# --------------------------------------------------------------------------------------------


def run_start(
    *,
    kind: str | RunKind,
    project: Project,
    start: ModelArtifact,
    options: Mapping[str, Any] | None = None,
    inputs: Mapping[str, ModelArtifact] | None = None,
    created_by=None,
    starts_after: TrainingRun | None = None,
) -> TrainingRun:
    """Check the options and the models, freeze the kind's data, create a queued run (not yet sent
    to a worker: run_enqueue). With `starts_after`, `start` stands in for that run's result, which
    replaces it when it exists (its files are not checked). Raises PairwiseError, nothing made."""
    kind = run_kind(kind) if isinstance(kind, str) else kind
    inputs = dict(inputs or {})
    config = options_clean(kind, options or {})
    name_check(config)
    models_check(kind, start=start, inputs=inputs, linked=starts_after is not None)
    if kind.check is not None:
        kind.check(
            project=project, start=start, inputs=inputs, config=config, linked=starts_after is not None
        )
    snapshot = kind.snapshot(project=project, config=config)
    config.update({spec.name: inputs[spec.name].pk for spec in kind.inputs})
    with transaction.atomic():
        return TrainingRun.objects.create(
            kind=kind.name,
            project=project,
            base_model=start,
            snapshot=snapshot,
            config=config,
            created_by=created_by,
            starts_after=starts_after,
        )


def runs_start(
    *,
    kind: str | RunKind,
    project: Project,
    start: ModelArtifact,
    options: Mapping[str, Any] | None = None,
    inputs: Mapping[str, ModelArtifact] | None = None,
    cold_start: int | None = None,
    cold_start_options: Mapping[str, Any] | None = None,
    created_by=None,
) -> list[TrainingRun]:
    """One run, or with `cold_start=N` two linked ones: an SFT run on up to N demonstrations (from
    the kind's default source unless `cold_start_options` names another), then the run from its
    result. The cold start sees the prompts as the run will (its tags, and the template when it
    has one). Both or neither are made."""
    kind = run_kind(kind) if isinstance(kind, str) else kind
    if cold_start is None:
        return [
            run_start(
                kind=kind, project=project, start=start, options=options, inputs=inputs, created_by=created_by
            )
        ]
    if not kind.cold_start:
        raise PairwiseError(f"{kind.label} runs take no cold start.")
    options = dict(options or {})
    sft_options = {"source": kind.cold_start[0], **(cold_start_options or {}), "limit": cold_start}
    if sft_options["source"] not in kind.cold_start:
        raise PairwiseError(
            f"A cold start before {kind.label} learns from {' or '.join(kind.cold_start)}, not {sft_options['source']}."
        )
    if options.get("tags"):
        sft_options.setdefault("tags", options["tags"])
    if sft_options["source"] == "reference" and options.get("template"):
        sft_options.setdefault("template", options["template"])
    with transaction.atomic():
        first = run_start(
            kind="sft", project=project, start=start, options=sft_options, created_by=created_by
        )
        then = run_start(
            kind=kind,
            project=project,
            start=start,
            options=options,
            inputs=inputs,
            created_by=created_by,
            starts_after=first,
        )
    return [first, then]


def _waits_for_parent(run: TrainingRun) -> bool:
    parent = run.starts_after
    return parent is not None and parent.status != JobStatus.SUCCEEDED


def run_enqueue(run: TrainingRun) -> TrainingRun:
    """Queue the run's task once the surrounding transaction commits (a worker must find the row).
    A run that starts after another only gets its task id: it is sent when that one succeeds."""
    return job_enqueue(run, send=not _waits_for_parent(run))


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
# the work (rewardmodel.jobs.execute runs it), and what is left when a run ends
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


def _artifact_name(run: TrainingRun) -> str:
    return run.config.get("output_name") or f"{run.kind}-{slugify(run.project.name)[:60]}-run{run.pk}"


def _describe_device() -> str:
    try:
        from rewardmodel.training.devices import describe_device

        return describe_device()
    except Exception:  # the trainer will say what is wrong with torch; the run page can wait
        return ""


def run_work(run: TrainingRun, claim: Claim, outer: Reporter | None) -> Done:
    """Train a claimed run with its kind's trainer; the success registers its checkpoint."""
    job_heartbeat(claim, device=_describe_device())
    db = RunReporter(claim)
    reporter: Reporter = FanoutReporter(db, outer) if outer is not None else db
    if _waits_for_parent(run):
        raise PairwiseError(
            f"Run #{run.pk} starts from the result of run #{run.starts_after_id}, which is "
            f"{run.starts_after.status}, not succeeded."
        )
    kind = KINDS[run.kind]
    output = kind.trainer(run=run, reporter=reporter, output_dir=run_output_dir(run))
    inputs = [ModelArtifact.objects.get(pk=run.config[spec.name]) for spec in kind.inputs if spec.parent]

    def commit(locked: TrainingRun) -> dict[str, Any]:
        artifact = artifact_register(
            kind=kind.produces,
            name=_artifact_name(run),
            path=output.model_dir,
            parents=[run.base_model, *inputs],
            snapshot=run.snapshot,
            run=run,
            source=f"training run #{run.pk} ({run.kind})",
            metadata={"summary": output.summary, **output.metadata},
        )
        _start_followers(run, artifact)
        return {
            "output_model": artifact,
            "summary": output.summary,
            "examples_seen": output.examples_seen,
            "tokens_seen": output.tokens_seen,
            # The worker's fuller description ("cuda: 4 x NVIDIA H100") wins over the trainer's "cuda".
            "device": locked.device or output.device,
        }

    return Done(message="done", commit=commit)


def _start_followers(run: TrainingRun, artifact: ModelArtifact) -> None:
    """Linked runs start from this checkpoint; those already enqueued go to a worker now."""
    for follower in TrainingRun.objects.filter(starts_after_id=run.pk, status=JobStatus.QUEUED):
        follower.base_model = artifact
        follower.save(update_fields=["base_model"])
        if follower.task_id:
            follower.starts_after = TrainingRun.objects.get(pk=run.pk)
            job_send(follower)


def run_ended(run: TrainingRun, how: str) -> None:
    """A run that did not succeed leaves no folder, and the runs waiting for it can never start:
    each is cancelled with a message naming it (jobs.kinds calls this however a run ends, and for a
    run cancelled while queued or reaped as lost)."""
    if how == JobStatus.SUCCEEDED:
        return
    _remove_output(run)
    _cancel_followers(
        run.pk, f"the run it starts from (#{run.pk}) {'was ' if how in ('cancelled', 'lost') else ''}{how}"
    )


def _cancel_followers(run_id: int, why: str) -> None:
    for follower in TrainingRun.objects.filter(starts_after_id=run_id, status=JobStatus.QUEUED):
        if TrainingRun.objects.filter(pk=follower.pk, status=JobStatus.QUEUED).update(
            status=JobStatus.CANCELLED, cancel_requested=True, finished_at=timezone.now(), status_message=why
        ):
            _cancel_followers(follower.pk, f"the run it starts from (#{follower.pk}) was cancelled")


def runs_execute(runs: Sequence[TrainingRun], *, reporter_factory=None) -> list[TrainingRun]:
    """Run these runs here, in order (`--sync`, the demo loop), up to the first that does not
    succeed (the runs after it waited for it and are cancelled); returns those that ran, as they
    ended."""
    done = []
    for run in runs:
        reporter = reporter_factory(run) if reporter_factory is not None else None
        try:
            ended = job_execute(TrainingRun, pk=run.pk, reporter=reporter)
        finally:
            if reporter is not None and hasattr(reporter, "close"):
                reporter.close()
        done.append(ended)
        if ended.status != JobStatus.SUCCEEDED:
            break
    return done
