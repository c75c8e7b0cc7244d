"""The kinds of job, by row model: how each is named, sent, worked, shown and cleaned up.

Every hook is a dotted path, imported when it is needed: the job machinery (this package) sits
below every kind of work, and a kind's work module imports the machinery, never the other way.

    KINDS[TrainingRun].work   # "rewardmodel.runs.services.run_work": (job, claim, reporter) -> Done
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.module_loading import import_string

from rewardmodel.models import (
    DataJob,
    DemoLoop,
    GenerationJob,
    JobBase,
    RegisterJob,
    ReportJob,
    TrainingRun,
)

JOB_TASK = "rewardmodel.tasks.run_job"  # the one Celery task every kind of job is sent as


@dataclass(frozen=True)
class JobKind:
    slug: str  # in URLs and the task's arguments: /jobs/<slug>/<id>/status.json
    label: str  # "Run": "Run #3 already succeeded"
    queue: str  # the Celery queue its task goes to: training (GPU hosts) or default
    work: str  # (job, claim, reporter) -> jobs.execute.Done; raises to fail or cancel
    page: str  # the URL name of the job's own page (args: [pk])
    select: tuple[str, ...] = ()  # related rows its work and page read (select_related)
    status: str = ""  # (job) -> dict: what its page polls beyond the common fields
    # (job, how) after the work ends, however it ends (how: succeeded, failed, cancelled,
    # discarded), and when a worker cannot clean up (how: cancelled while queued, or lost).
    ended: str = ""

    def hook(self, name: str) -> Callable[..., Any] | None:
        path = getattr(self, name)
        return import_string(path) if path else None


KINDS: dict[type[JobBase], JobKind] = {
    TrainingRun: JobKind(
        slug="run",
        label="Run",
        queue="training",
        work="rewardmodel.runs.services.run_work",
        page="run-detail",
        select=("project", "base_model", "snapshot", "starts_after", "output_model"),
        status="rewardmodel.runs.views.run_status_fields",
        ended="rewardmodel.runs.services.run_ended",
    ),
    GenerationJob: JobKind(
        slug="generation",
        label="Generation job",
        queue="default",
        work="rewardmodel.generation.responses.generation_work",
        page="generation-job",
        select=("project", "model"),
        status="rewardmodel.generation.responses.generation_status_fields",
    ),
    DemoLoop: JobKind(
        slug="demo-loop",
        label="Demo loop",
        queue="training",  # its training runs execute in the loop's own process
        work="rewardmodel.demo.loop.demo_loop_work",
        page="home",
        select=("project",),
        status="rewardmodel.demo.loop.demo_loop_status_fields",
    ),
    DataJob: JobKind(
        slug="data",
        label="Data job",
        queue="default",
        work="annotate.data_jobs.data_job_work",
        page="data-job",
        select=("project", "created_by"),
        status="annotate.data_jobs.data_job_status_fields",
        ended="annotate.data_jobs.data_job_ended",
    ),
    RegisterJob: JobKind(
        slug="register",
        label="Registration",
        queue="default",
        work="rewardmodel.registry.registration.registration_work",
        page="model-register-job",
        select=("artifact",),
        status="rewardmodel.registry.registration.registration_status_fields",
    ),
    ReportJob: JobKind(
        slug="report",
        label="Report job",
        queue="default",  # it samples answers, as generation jobs do
        work="rewardmodel.report.jobs.report_job_work",
        page="report-job",
        select=("project", "report", "created_by"),
        status="rewardmodel.report.jobs.report_job_status_fields",
    ),
}
BY_SLUG: dict[str, type[JobBase]] = {kind.slug: model for model, kind in KINDS.items()}
