"""Worker health: live workers write beat rows, and a job queued with no live worker on its queue
says so on its page, its status JSON and the console, with the command that starts one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from rewardmodel.jobs.views import job_status
from rewardmodel.jobs.workers import (
    job_waiting,
    jobs_waiting,
    live_workers,
    queues_served,
    worker_beat,
    worker_gone,
)
from rewardmodel.models import DataJob, JobStatus, RegisterJob, WorkerBeat
from tests.celery_worker import start_worker, stop_worker, wait_until

pytestmark = pytest.mark.django_db


@pytest.fixture
def warn_now(settings):
    settings.PAIRWISE_QUEUED_WARN_SECONDS = 10


def queued(project, *, age: float) -> DataJob:
    created = timezone.now() - timedelta(seconds=age)
    return DataJob.objects.create(
        project=project, kind=DataJob.Kind.QUALITY, created_at=created, sent_at=created
    )


def test_a_worker_is_live_while_its_beats_are_fresh(settings):
    settings.PAIRWISE_WORKER_LIVE_SECONDS = 45
    worker_beat(hostname="gpu-1", queues=["training"], pid=7)
    worker_beat(hostname="web-1", queues=["default"])
    WorkerBeat.objects.filter(hostname="web-1").update(seen_at=timezone.now() - timedelta(seconds=46))
    assert [w.hostname for w in live_workers()] == ["gpu-1"]
    assert queues_served() == {"training"}
    worker_beat(hostname="web-1", queues=["default"])  # it beats again: live again, one row
    assert queues_served() == {"default", "training"} and WorkerBeat.objects.count() == 2
    worker_gone("gpu-1")
    assert queues_served() == {"default"}


def test_a_job_queued_long_with_no_worker_on_its_queue_says_why(project, warn_now):
    job = queued(project, age=90)
    why = job_waiting(job, "default")
    assert "Queued for 1 min and no worker serves the 'default' queue" in why
    assert "`celery -A pairwise worker -Q default --pool solo --loglevel INFO`" in why
    assert job_status(job)["waiting"] == why  # what the job's page polls

    assert job_waiting(queued(project, age=3), "default") == ""  # not waiting long yet
    worker_beat(hostname="gpu-1", queues=["training"])
    assert job_waiting(job, "default") != ""  # a worker, but not on this queue
    worker_beat(hostname="cpu-1", queues=["default", "training"])
    assert job_waiting(job, "default") == ""  # served: it starts when the jobs before it end
    worker_gone("cpu-1")
    DataJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING)
    job.refresh_from_db()
    assert job_waiting(job, "default") == ""  # running: not waiting


def test_the_console_lists_what_waits_with_links(project, warn_now):
    job = queued(project, age=60)
    registration = RegisterJob.objects.create(
        source="default", created_at=timezone.now() - timedelta(seconds=30)
    )
    listed = jobs_waiting()
    assert [(j.pk, type(j)) for j, _, _ in listed] == [(job.pk, DataJob), (registration.pk, RegisterJob)]
    assert listed[0][1] == reverse("data-job", args=[job.pk])
    assert listed[1][1] == reverse("model-register-job", args=[registration.pk])
    worker_beat(hostname="cpu-1", queues=["default"])
    assert jobs_waiting() == []


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_writes_its_beat_and_removes_it_when_it_stops(tmp_path):
    log = tmp_path / "worker.log"
    process = start_worker(log, queues="default", name="beats", env={"PAIRWISE_WORKER_BEAT_SECONDS": "1"})
    try:
        beat = wait_until(
            lambda: WorkerBeat.objects.filter(hostname__startswith="beats-").first(),
            timeout=60,
            what="the worker's first beat",
            logs=(log,),
        )
        assert beat.queues == ["default"] and beat.pid == process.pid
        first = beat.seen_at
        wait_until(
            lambda: WorkerBeat.objects.get(pk=beat.pk).seen_at > first,
            timeout=20,
            what="a second beat",
            logs=(log,),
        )
        assert queues_served() == {"default"}
    finally:
        stop_worker(process)  # SIGTERM: a warm shutdown, which removes the row
    assert not WorkerBeat.objects.filter(pk=beat.pk).exists(), log.read_text()[-2000:]
