"""A real Celery worker (in a thread, on the configured broker) runs a generation job; a cancel
from the manager stops it between batches; resuming finishes it with each response stored once."""

from __future__ import annotations

import time

import pytest
from celery.contrib.testing.worker import start_worker

from annotate.models import Response
from pairwise.celery import app as celery_app
from rewardmodel.generation import (
    GenerationOptions,
    generation_job_cancel,
    generation_job_create,
    generation_job_resume,
)
from rewardmodel.models import GenerationJob, JobStatus, ModelArtifact
from rewardmodel.registry import artifact_register
from tests.factories import make_project, make_prompt

pytestmark = [pytest.mark.celery, pytest.mark.ml, pytest.mark.django_db(transaction=True)]


def wait_for(job: GenerationJob, condition, timeout: float = 90) -> GenerationJob:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if condition(job):
            return job
        time.sleep(0.2)
    raise AssertionError(
        f"job #{job.pk} stuck: {job.status} {job.progress:.2f} {job.status_message} {job.error}"
    )


def test_it_runs_cancels_and_resumes_a_job_on_a_worker(tiny_policy_dir):
    policy = artifact_register(kind=ModelArtifact.Kind.POLICY, name="tiny-policy", path=tiny_policy_dir)
    project = make_project("Worker")
    for i in range(8):
        make_prompt(project, f"Tell me fact number {i}.")
    options = GenerationOptions(per_prompt=2, max_new_tokens=24, batch_size=1)  # 16 small batches

    with start_worker(
        celery_app, pool="solo", perform_ping_check=False, queues=["default"], shutdown_timeout=30
    ):
        job = generation_job_create(project=project, model=policy, options=options)
        job = wait_for(job, lambda j: j.responses_created >= 1)
        assert job.status == JobStatus.RUNNING and job.task_id and job.heartbeat_at
        generation_job_cancel(job=job)
        job = wait_for(job, lambda j: j.is_finished)
        assert job.status == JobStatus.CANCELLED, job.error
        stored = Response.objects.filter(prompt__project=project).count()
        assert 1 <= stored < 16 and stored == job.responses_created

        resumed = generation_job_resume(job=job)
        resumed = wait_for(resumed, lambda j: j.is_finished)
        assert resumed.status == JobStatus.SUCCEEDED, resumed.error
        assert resumed.responses_created == 16 - stored
        assert f"({stored} existed)" in resumed.status_message

    responses = Response.objects.filter(prompt__project=project)
    assert responses.count() == 16
    assert len(set(responses.values_list("prompt_id", "seed"))) == 16  # each sample exactly once
