"""A comparison report started from the web, as a job: the form (/reports/new/) records a queued
ReportJob; a `default` worker does what `manage.py compare` does (report.build: sample each
policy's answers on the held-out prompts, score them, gather the ledgers), stores the report and
writes its files; the job's page follows it and links the report when it is there.

    job = report_job_create(project=p, policies=[base, ppo], reward_model=None, user=request.user)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.urls import reverse

from annotate.models import Project
from pairwise.errors import PairwiseError
from pairwise.progress import Cancelled, Reporter
from rewardmodel.jobs.execute import Done
from rewardmodel.jobs.lifecycle import Claim, JobReporter, job_enqueue
from rewardmodel.models import GENERATIVE_KINDS, ModelArtifact, ReportJob
from rewardmodel.registry.artifacts import artifact_kind_check, artifact_resolve
from rewardmodel.report.build import compare_command, report_build, report_files_write, report_save


def report_job_create(
    *,
    project: Project,
    policies: Sequence[ModelArtifact],
    reward_model: ModelArtifact | None = None,
    heldout: int | None = None,
    seed: int = 0,
    max_new_tokens: int = 96,
    n_bootstrap: int = 200,
    user: AbstractBaseUser | None = None,
) -> ReportJob:
    """Check what can be checked here (two different generative policies, a reward model that is
    one), record the job and send it once the row commits."""
    names = list(dict.fromkeys(p.name for p in policies))
    if len(names) < 2:
        raise PairwiseError("A comparison needs at least two different policies (the first is the baseline).")
    for policy in policies:
        artifact_kind_check(policy, GENERATIVE_KINDS, doing="a comparison measures")
    if reward_model is not None:
        artifact_kind_check(reward_model, (ModelArtifact.Kind.REWARD,), doing="the report scores with")
    config = {
        "policies": names,
        "reward_model": reward_model.name if reward_model else None,
        "heldout": heldout,
        "seed": seed,
        "max_new_tokens": max_new_tokens,
        "n_bootstrap": n_bootstrap,
    }
    job = ReportJob.objects.create(
        project=project, config=config, created_by=user if user and user.pk else None
    )
    job_enqueue(job)
    return job


def report_job_command(job: ReportJob) -> str:
    """The `manage.py compare` line that makes the same report."""
    c = job.config
    return compare_command(
        project=job.project,
        policies=c["policies"],
        reward_model=c["reward_model"],
        heldout=c["heldout"],
        seed=c["seed"],
        max_new_tokens=c["max_new_tokens"],
        n_bootstrap=c["n_bootstrap"],
    )


def report_job_work(job: ReportJob, claim: Claim, outer: Reporter | None) -> Done:
    """Build, store and write the report (rewardmodel.jobs.execute runs it)."""
    reporter = JobReporter(claim)

    def progress(message: str) -> None:
        reporter.progress(0, 0, message)
        if reporter.should_stop():
            raise Cancelled("cancelled before the report was stored")

    c = job.config
    policies = [artifact_resolve(name) for name in c["policies"]]
    reward_model = artifact_resolve(c["reward_model"]) if c["reward_model"] else None
    command = report_job_command(job)
    data = report_build(
        project=job.project,
        policies=policies,
        reward_model=reward_model,
        heldout=c["heldout"],
        seed=c["seed"],
        max_new_tokens=c["max_new_tokens"],
        n_bootstrap=c["n_bootstrap"],
        compare_command=command,
        progress=progress,
    )
    report = report_save(project=job.project, data=data, command=command, created_by=job.created_by)
    report_files_write(report)
    return Done(message=f"Report #{report.pk}: {', '.join(c['policies'])}.", fields={"report": report})


def report_job_status_fields(job: ReportJob, query: Any) -> dict[str, Any]:
    """What a report job's page polls beyond every job's fields (rewardmodel.jobs.views)."""
    return {
        "report_url": reverse("report-detail", args=[job.report_id]) if job.report_id else None,
        "command": report_job_command(job),
    }
