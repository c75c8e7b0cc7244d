"""A real Celery worker (a `celery worker --pool solo -Q default` subprocess on the configured
broker: Redis when CELERY_BROKER_URL says so, the embedded SQLite broker otherwise) runs a
generation job; a cancel from the manager stops it between batches; resuming finishes it with
each response stored once. The worker opens this test's database (PostgreSQL's test_* database
or the SQLite test file)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

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

ROOT = Path(__file__).resolve().parents[2]


def _database_url() -> str:
    db = connection.settings_dict  # during tests NAME is the test database
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def worker(tmp_path):
    # Messages left by an earlier, interrupted test run would name job ids this database reuses.
    with celery_app.connection_for_write() as conn:
        conn.default_channel.queue_purge("default")
    log = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_RESULT_BACKEND": settings.CELERY_RESULT_BACKEND,
        "PAIRWISE_DATA_DIR": str(settings.DATA_DIR),
        "PYTHONPATH": str(ROOT),
        "OMP_NUM_THREADS": "1",  # a tiny model; see tests/rewardmodel/conftest.py
    }
    cmd = [sys.executable, "-m", "celery", "-A", "pairwise", "worker", "--pool", "solo", "-Q", "default"]
    cmd += [
        "-n",
        f"gen-{uuid.uuid4().hex[:8]}@%h",
        "--without-gossip",
        "--without-mingle",
        "--loglevel",
        "INFO",
    ]
    process = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    yield log
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


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
    generation_job_cancel(job=job)
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
