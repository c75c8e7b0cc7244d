"""Generate responses for a project's prompts with a registered model, as a command or a job.

    responses_generate(project=p, model=m, options=GenerationOptions(per_prompt=2))

Every stored response records its model, its sampling parameters and its own seed. A response's
identity (`Response.content_hash` for generated responses) is (model, parameters, seed), not its
text: two samples may say the same thing and both are kept, and storing the same sample twice is
impossible (the unique (prompt, content_hash) constraint), which makes generation resumable:
samples that exist are skipped, and each batch is written in one transaction, so an interruption
leaves whole batches only and a restart continues where it stopped.

The sampling itself (torch) lives in rewardmodel.training.generate and is imported inside the
functions that run in commands and workers; this module is safe to import in the web process.
"""

from __future__ import annotations

import logging
import traceback as tb
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F

from annotate.models import Project, Prompt, Response, content_hash
from pairwise.errors import Conflict, PairwiseError
from rewardmodel.jobs.lifecycle import (
    Claim,
    Heartbeat,
    JobReporter,
    job_cancel,
    job_claim,
    job_enqueue,
    job_finish,
    job_heartbeat,
    jobs_reap_lost,
)
from rewardmodel.models import GenerationJob, JobStatus, ModelArtifact
from rewardmodel.training.devices import DeviceUnavailable
from rewardmodel.training.generate import (
    BatchReport,
    GenerationError,
    SamplingParams,
    messages_validate,
    sample_seed,
)
from rewardmodel.training.progress import Cancelled

log = logging.getLogger(__name__)

GENERATIVE_KINDS = (ModelArtifact.Kind.BASE, ModelArtifact.Kind.POLICY)
ProgressCallback = Callable[[int, int, str], None]


@dataclass(frozen=True)
class GenerationOptions:
    per_prompt: int = 2
    temperature: float = 0.8
    top_p: float = 0.95
    max_new_tokens: int = 256
    seed: int = 0
    batch_size: int = 8
    split: str = ""  # "" for every prompt, else Prompt.Split
    device: str = ""  # "" picks cuda when there is one
    prompt_ids: tuple[int, ...] = ()  # only these prompts (an arena's sample); () for all of the split

    @property
    def sampling(self) -> SamplingParams:
        return SamplingParams(
            temperature=self.temperature, top_p=self.top_p, max_new_tokens=self.max_new_tokens, seed=self.seed
        )

    def as_config(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> GenerationOptions:
        known = {f.name for f in fields(cls)}
        options = {k: v for k, v in config.items() if k in known}
        if "prompt_ids" in options:  # a JSON list in the job's config
            options["prompt_ids"] = tuple(options["prompt_ids"])
        return cls(**options)


@dataclass
class GenerationOutcome:
    created: int
    already_done: int
    samples: int  # all samples the project should have for these options
    prompts: int
    new_tokens: int = 0
    seconds: float = 0.0
    device: str = ""

    @property
    def tokens_per_second(self) -> float:
        return self.new_tokens / self.seconds if self.seconds else 0.0


def response_key(*, model: ModelArtifact, sampling: SamplingParams, seed: int) -> str:
    """A generated response's identity: the same model, parameters and sample seed is the same sample."""
    return content_hash("generated", model.name, sampling.as_dict(), seed)


def response_keys(
    *, model: ModelArtifact, options: GenerationOptions, prompts: list[Prompt]
) -> list[list[str]]:
    """The identities of the samples these options ask of `model`: one row per prompt."""
    sampling = options.sampling
    return [
        [
            response_key(model=model, sampling=sampling, seed=sample_seed(options.seed, p.messages, k))
            for k in range(options.per_prompt)
        ]
        for p in prompts
    ]


def generation_check(*, project: Project, model: ModelArtifact, options: GenerationOptions) -> list[Prompt]:
    """Everything that can be checked before loading a model; returns the prompts to work on."""
    if model.kind not in GENERATIVE_KINDS:
        raise PairwiseError(
            f"{model.name} is a {model.get_kind_display().lower()}; generating responses needs a "
            "base model or a policy."
        )
    if not Path(model.path, "config.json").exists():
        raise PairwiseError(f"The weights of {model.name} are missing: {model.path} has no config.json.")
    try:
        options.sampling.validate(per_prompt=options.per_prompt)
    except GenerationError as exc:
        raise PairwiseError(str(exc)) from None
    if options.batch_size < 1:
        raise PairwiseError("batch size must be at least 1.")
    if options.split and options.split not in Prompt.Split.values:
        raise PairwiseError(f"split must be one of {', '.join(Prompt.Split.values)}.")
    prompts = project.prompts.order_by("id")
    if options.split:
        prompts = prompts.filter(split=options.split)
    if options.prompt_ids:
        prompts = prompts.filter(pk__in=options.prompt_ids)
    prompts = list(prompts)
    if not prompts:
        where = f" in the {options.split} split" if options.split else ""
        raise PairwiseError(f"Project {project.name!r} has no prompts{where}; import prompts first.")
    if options.prompt_ids and len(prompts) != len(set(options.prompt_ids)):
        gone = len(set(options.prompt_ids)) - len(prompts)
        raise PairwiseError(f"{gone} of the {len(set(options.prompt_ids))} chosen prompts are gone.")
    for prompt in prompts:
        try:
            messages_validate(prompt.messages)
        except GenerationError as exc:
            raise PairwiseError(f"Prompt #{prompt.pk} cannot be generated for: {exc}.") from None
    return prompts


def responses_generate(
    *,
    project: Project,
    model: ModelArtifact,
    options: GenerationOptions,
    on_progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    job: GenerationJob | None = None,
) -> GenerationOutcome:
    """Sample the missing responses; write them batch by batch. Raises PairwiseError, Cancelled."""
    prompts = generation_check(project=project, model=model, options=options)
    sampling = options.sampling
    keys = response_keys(model=model, options=options, prompts=prompts)
    existing = set(
        Response.objects.filter(prompt__project=project, model_name=model.name).values_list(
            "content_hash", flat=True
        )
    )
    total = len(prompts) * options.per_prompt
    done = sum(key in existing for row in keys for key in row)
    outcome = GenerationOutcome(created=0, already_done=done, samples=total, prompts=len(prompts))
    if on_progress:
        on_progress(done, total, f"{done} of {total} samples already exist")
    if done == total:
        return outcome

    params_base = sampling.as_dict()

    def store(batch: BatchReport) -> None:
        rows = [
            Response(
                prompt=prompts[s.prompt_index],
                text=s.text,
                model=model,
                model_name=model.name,
                generation_params={**params_base, "sample": s.sample_index, "new_tokens": s.new_tokens},
                seed=s.seed,
                content_hash=keys[s.prompt_index][s.sample_index],
            )
            for s in batch.samples
        ]
        with transaction.atomic():
            # Two runs with the same options may race. Locking the batch's prompts (in id order, so
            # two runs cannot deadlock) serialises them per batch: the second one then sees what
            # the first stored, skips it, and counts only its own rows. (SQLite serialises every
            # write transaction anyway.)
            list(
                Prompt.objects.select_for_update()
                .filter(pk__in=sorted({r.prompt.pk for r in rows}))
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            present = set(
                Response.objects.filter(
                    prompt__project=project, content_hash__in=[r.content_hash for r in rows]
                ).values_list("content_hash", flat=True)
            )
            fresh = [r for r in rows if r.content_hash not in present]
            Response.objects.bulk_create(fresh, ignore_conflicts=True)
            if job is not None:
                GenerationJob.objects.filter(pk=job.pk).update(
                    responses_created=F("responses_created") + len(fresh)
                )
        outcome.created += len(fresh)
        outcome.new_tokens += batch.new_tokens
        outcome.seconds += batch.seconds
        if on_progress:
            rate = outcome.new_tokens / outcome.seconds if outcome.seconds else 0.0
            on_progress(
                done + batch.rows_done, total, f"{outcome.created} new responses, {rate:.0f} tokens/s"
            )

    from rewardmodel.training.generate import generate_responses

    try:
        summary = generate_responses(
            model.path,
            [p.messages for p in prompts],
            per_prompt=options.per_prompt,
            temperature=options.temperature,
            top_p=options.top_p,
            max_new_tokens=options.max_new_tokens,
            seed=options.seed,
            batch_size=options.batch_size,
            device=options.device or None,
            tokenizer_dir=model.tokenizer_path or None,
            skip=lambda i, k: keys[i][k] in existing,
            on_batch=store,
            should_stop=should_stop,
        )
    except GenerationError as exc:
        raise PairwiseError(f"Generation with {model.name} failed: {exc}") from exc
    outcome.device = summary.device
    return outcome


# --- Jobs (the Celery task calls generation_job_execute; the lifecycle is rewardmodel.jobs.lifecycle) ---------


def generation_job_create(
    *,
    project: Project,
    model: ModelArtifact,
    options: GenerationOptions,
    user: AbstractBaseUser | None = None,
    enqueue: bool = True,
    note: dict[str, Any] | None = None,
) -> GenerationJob:
    """Check the request, record a queued job and send it to a worker once the row is committed."""
    generation_check(project=project, model=model, options=options)
    job = GenerationJob.objects.create(
        project=project,
        model=model,
        config={**options.as_config(), **(note or {})},
        created_by=user if user and user.pk else None,
    )
    if enqueue:
        job_enqueue(job)
    return job


def generation_job_execute(*, job_id: int, task_id: str = "") -> GenerationJob:
    """Run a queued job to its end, writing status, progress and heartbeat on its row.

    A job that is not queued (finished, running elsewhere, or queued for another task id) is left
    alone: a broker may deliver a message twice. Never raises for the job's own failures: they go
    on the row.
    """
    claim = job_claim(GenerationJob, pk=job_id, task_id=task_id)
    job = GenerationJob.objects.select_related("project", "model").get(pk=job_id)
    if claim is None:
        log.warning("generation job %s is %s, not queued for task %r; ignored", job_id, job.status, task_id)
        return job
    with Heartbeat(claim):
        _generate(job, claim)
    job.refresh_from_db()
    return job


def _generate(job: GenerationJob, claim: Claim) -> None:
    options = GenerationOptions.from_config(job.config)
    # A batch takes seconds: the cancel flag is read at every one.
    reporter = JobReporter(claim, cancel_check_seconds=0.0)
    try:
        if reporter.should_stop():
            raise Cancelled("cancelled before it started")
        from rewardmodel.training.devices import pick_device

        job_heartbeat(claim, device=pick_device(options.device or None))
        outcome = responses_generate(
            project=job.project,
            model=job.model,
            options=options,
            on_progress=reporter.progress,
            should_stop=reporter.should_stop,
            job=job,
        )
    except Cancelled as exc:
        job_finish(claim, JobStatus.CANCELLED, status_message=f"Cancelled: {exc}"[:500])
    except (PairwiseError, GenerationError, DeviceUnavailable) as exc:
        job_finish(claim, JobStatus.FAILED, error=str(exc))
    except Exception as exc:  # the row must say what happened; the worker log has it too
        log.exception("generation job %s failed", job.pk)
        job_finish(claim, JobStatus.FAILED, error=f"{type(exc).__name__}: {exc}", traceback=tb.format_exc())
    except BaseException as exc:  # KeyboardInterrupt (--sync), SystemExit: record, then let it go
        job_finish(claim, JobStatus.CANCELLED, status_message=f"Interrupted ({type(exc).__name__})")
        raise
    else:
        job_finish(
            claim,
            JobStatus.SUCCEEDED,
            progress=1.0,
            status_message=(
                f"{outcome.created} new responses ({outcome.already_done} existed) for {outcome.prompts} prompts"
                + (f", {outcome.tokens_per_second:.0f} tokens/s" if outcome.seconds else "")
            )[:500],
        )


def generation_job_cancel(*, job: GenerationJob) -> GenerationJob:
    """Ask a job to stop after its current batch (a queued one, or one whose worker was lost,
    stops at once)."""
    return job_cancel(job)


def generation_job_resume(
    *,
    job: GenerationJob,
    user: AbstractBaseUser | None = None,
    batch_size: int | None = None,
    enqueue: bool = True,
) -> GenerationJob:
    """A new job with the same options (optionally a smaller batch); it generates only the samples
    that are missing. A job whose worker was lost is marked so first (it cannot finish)."""
    if job.is_lost:
        jobs_reap_lost(GenerationJob, pks=[job.pk])
        job.refresh_from_db()
    if not job.is_finished:
        raise Conflict(f"Generation job #{job.pk} is still {job.status}; cancel it first.")
    options = GenerationOptions.from_config(job.config)
    if batch_size:
        options = GenerationOptions.from_config({**options.as_config(), "batch_size": batch_size})
    return generation_job_create(
        project=job.project,
        model=job.model,
        options=options,
        user=user,
        enqueue=enqueue,
        note={"resumed_from": job.pk},
    )


def generation_job_status(*, job: GenerationJob) -> dict[str, Any]:
    """What the job page polls."""
    return {
        "id": job.pk,
        "status": job.status,
        "status_display": job.get_status_display(),
        "progress": round(job.progress, 4),
        "message": job.status_message,
        "responses_created": job.responses_created,
        "error": job.error,
        "device": job.device,
        "is_finished": job.is_finished,
        "is_lost": job.is_lost,
        "cancel_requested": job.cancel_requested,
        "heartbeat_at": job.heartbeat_at.isoformat() if job.heartbeat_at else None,
        "wall_seconds": round(job.wall_seconds, 1) if job.wall_seconds is not None else None,
    }
