"""Registering a model from the web, as a job: the models page (and the "no model yet" hint of
every form that needs one) records a queued RegisterJob, a `default` worker registers the model
(rewardmodel.registry.artifacts: the default is converted from the wheel's GGUF once, which takes
a minute or two and imports torch, so never in a request), and the job's page follows it.

    job = registration_create(source="default", user=request.user)
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction

from pairwise.errors import PairwiseError
from pairwise.humanize import human_bytes, human_count
from pairwise.progress import Reporter
from rewardmodel.jobs.execute import Done
from rewardmodel.jobs.lifecycle import Claim, JobReporter, job_enqueue
from rewardmodel.models import JobStatus, ModelArtifact, RegisterJob
from rewardmodel.registry.artifacts import artifact_name_free, artifact_register_source, default_base_model

DEFAULT = "default"
PENDING = (JobStatus.QUEUED, JobStatus.RUNNING)


def registration_create(
    *, source: str, name: str = "", kind: str = "", user: AbstractBaseUser | None = None
) -> RegisterJob:
    """Record a queued registration and send it to a worker once the row is committed. Refuses at
    once what can be known here: no source, a name already taken. One source has one pending
    registration at most (a constraint, so two clicks at once make one): the default's second click
    gets the pending job back; another source's is refused with its number."""
    source = source.strip()
    name = name.strip()
    if not source:
        raise PairwiseError("Say what to register: 'default', a folder, a .gguf file or a hub id.")
    if kind and kind not in ModelArtifact.Kind.values:
        raise PairwiseError(f"kind must be one of {', '.join(ModelArtifact.Kind.values)}; got {kind!r}.")
    if source == DEFAULT:
        name = settings.PAIRWISE_DEFAULT_BASE_MODEL
    else:
        artifact_name_free(name or None)
    try:
        with transaction.atomic():
            job = RegisterJob.objects.create(
                source=source, name=name, kind=kind, created_by=user if user and user.pk else None
            )
    except IntegrityError:
        pending = RegisterJob.objects.filter(source=source, status__in=PENDING).first()
        if pending is None:  # it ended meanwhile: this try may go ahead
            return registration_create(source=source, name=name, kind=kind, user=user)
        if source == DEFAULT:
            return pending  # one click twice: the same job, not a second conversion
        raise PairwiseError(f"{source} is being registered already: registration #{pending.pk}.") from None
    job_enqueue(job)
    return job


def registration_work(job: RegisterJob, claim: Claim, outer: Reporter | None) -> Done:
    """Register the job's model (rewardmodel.jobs.execute runs it)."""
    reporter = JobReporter(claim)
    if job.source == DEFAULT:
        reporter.progress(0, 1, "Converting the default base model from its GGUF (a minute or two)…")
        artifact = default_base_model()
    else:
        reporter.progress(0, 1, f"Registering {job.source}…")
        artifact = artifact_register_source(source=job.source, name=job.name, kind=job.kind)
    message = (
        f"Registered {artifact.name} ({artifact.get_kind_display()}): "
        f"{human_count(artifact.parameter_count)} parameters, {human_bytes(artifact.size_bytes)}."
    )
    return Done(message=message, fields={"artifact": artifact})


def registration_status_fields(job: RegisterJob, query: Any) -> dict[str, Any]:
    """What a registration's page polls beyond every job's fields (rewardmodel.jobs.views)."""
    artifact = job.artifact
    return {
        "source": job.source,
        "artifact": {"id": artifact.pk, "name": artifact.name, "kind": artifact.kind} if artifact else None,
    }
