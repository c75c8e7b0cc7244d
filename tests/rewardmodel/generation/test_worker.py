"""A real Celery worker (a `celery worker --pool solo -Q default` subprocess on the configured
broker: Redis when CELERY_BROKER_URL says so, the embedded SQLite broker otherwise) runs a
generation job; a cancel from the manager stops it between batches; resuming finishes it with
each response stored once. The worker opens this test's database (PostgreSQL's test_* database
or the SQLite test file)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from annotate.models import Response
from rewardmodel.generation.responses import (
    GenerationOptions,
    generation_job_create,
    generation_job_resume,
)
from rewardmodel.jobs.lifecycle import job_cancel
from rewardmodel.models import GenerationJob, JobStatus, ModelArtifact
from rewardmodel.registry.artifacts import artifact_register
from tests.celery_worker import purge, start_worker, stop_worker
from tests.factories import make_project, make_prompt

pytestmark = [pytest.mark.celery, pytest.mark.ml, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(tmp_path):
    purge("default")
    log = tmp_path / "worker.log"
    process = start_worker(log, queues="default", name="gen")
    yield log
    stop_worker(process)


def wait_for(job: GenerationJob, condition, log: Path, timeout: float = 240) -> GenerationJob:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if condition(job):
            return job
        time.sleep(0.1)
    raise AssertionError(
        f"job #{job.pk} stuck: {job.status} {job.progress:.2f} {job.status_message} {job.error}\n"
        + log.read_text()[-4000:]
    )


def test_it_runs_cancels_and_resumes_a_job_on_a_worker(tiny_policy_dir, worker):
    policy = artifact_register(kind=ModelArtifact.Kind.POLICY, name="tiny-policy", path=tiny_policy_dir)
    project = make_project("Worker")
    for i in range(8):
        make_prompt(project, f"Tell me fact number {i}.")
    options = GenerationOptions(per_prompt=2, max_new_tokens=32, batch_size=1)  # 16 small batches

    job = generation_job_create(project=project, model=policy, options=options)
    job = wait_for(job, lambda j: j.responses_created >= 1, worker)
    assert job.status == JobStatus.RUNNING and job.task_id and job.heartbeat_at and job.device == "cpu"
    job_cancel(job)
    job = wait_for(job, lambda j: j.is_finished, worker)
    assert job.status == JobStatus.CANCELLED, job.error
    stored = Response.objects.filter(prompt__project=project).count()
    assert 1 <= stored < 16 and stored == job.responses_created

    resumed = generation_job_resume(job=job)
    resumed = wait_for(resumed, lambda j: j.is_finished, worker)
    assert resumed.status == JobStatus.SUCCEEDED, resumed.error
    assert resumed.responses_created == 16 - stored
    assert f"({stored} existed)" in resumed.status_message

    responses = Response.objects.filter(prompt__project=project)
    assert responses.count() == 16
    assert len(set(responses.values_list("prompt_id", "seed"))) == 16  # each sample exactly once
