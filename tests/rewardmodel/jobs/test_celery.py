"""A real Celery worker (subprocess, --pool solo) against the configured broker: Redis when
CELERY_BROKER_URL says so (CI), the embedded SQLite broker otherwise. The worker opens the same
test database as this process (PostgreSQL's test_* database, or the SQLite test file)."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from rewardmodel.jobs.lifecycle import jobs_reap_lost
from rewardmodel.models import JobStatus, ModelArtifact, RunMetric, TrainingRun
from rewardmodel.registry.artifacts import artifact_register
from rewardmodel.runs.services import run_output_dir
from tests.celery_worker import purge, start_worker, wait_until
from tests.rewardmodel.support.synthetic import judge_marker_pairs

pytestmark = [pytest.mark.celery, pytest.mark.ml, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _empty_queues():
    # Before the test sends anything (its tests queue work before the worker starts): a message left
    # by an interrupted earlier run names ids this database reuses (its task id differs, so the
    # claim would ignore it, but it delays this one).
    purge("training", "default")


def _start_worker(log: Path) -> subprocess.Popen:
    return start_worker(log, queues="training,default")


def _wait(predicate, *, timeout: float, what: str, log: Path):
    return wait_until(predicate, timeout=timeout, what=what, logs=(log,))


def test_it_runs_queued_training_and_scoring_on_a_real_worker(
    project, alice, bob, manager, tiny_base, tiny_reward_dir, client, tmp_path
):
    settings.PAIRWISE_SCORE_WAIT_SECONDS = 0.5  # restored by pytest-django's settings fixture (data_dir)
    judge_marker_pairs(project, 40, labelers=(alice, bob))
    scorer = artifact_register(kind=ModelArtifact.Kind.REWARD, name="tiny-rm", path=tiny_reward_dir)
    client.force_login(manager)
    body = {"prompt": "Say hi", "response": "hi thanks"}

    # No worker yet: the endpoint answers 202 with where to look later.
    pending = client.post(f"/api/models/{scorer.pk}/score/", body, content_type="application/json")
    assert pending.status_code == 202, pending.content
    result_url = pending.json()["result_url"]

    call_command("train_reward_model", "--project", project.name, "--base", "tiny-base", "--lr", "2e-3")
    run = TrainingRun.objects.get()
    assert run.status == JobStatus.QUEUED

    log = tmp_path / "worker.log"
    worker = _start_worker(log)
    try:
        run = _wait(
            lambda: (r := TrainingRun.objects.get(pk=run.pk)).is_finished and r,
            timeout=180,
            what="the training run",
            log=log,
        )
        assert run.status == JobStatus.SUCCEEDED, run.traceback or log.read_text()[-3000:]
        assert run.output_model.kind == ModelArtifact.Kind.REWARD and run.device.startswith("cpu")
        assert run.heartbeat_at and run.progress == 1.0 and run.tokens_seen > 0
        assert RunMetric.objects.filter(run=run, values__has_key="loss").exists()
        assert run.task_id in log.read_text()  # the worker ran the task id the run recorded

        # The score queued before the worker started is answered now, by the worker.
        late = _wait(
            lambda: (r := client.get(result_url)).status_code == 200 and r, timeout=60, what="score", log=log
        )
        from rewardmodel.training.scoring import score_texts

        expected = score_texts(tiny_reward_dir, [("Say hi", "hi thanks")], cached=False)[0]
        assert late.json()["score"] == pytest.approx(expected, abs=1e-5)
        settings.PAIRWISE_SCORE_WAIT_SECONDS = 60
        direct = client.post(f"/api/models/{scorer.pk}/score/", body, content_type="application/json")
        assert direct.status_code == 200 and direct.json()["score"] == pytest.approx(expected, abs=1e-5)

        # A worker killed in the middle of a run: the run is lost, then reaped as failed, no model.
        call_command(
            "train_reward_model", "--project", project.name, "--base", "tiny-base", "--epochs", "200"
        )
        long_run = TrainingRun.objects.latest("pk")
        _wait(
            lambda: TrainingRun.objects.get(pk=long_run.pk).progress > 0.01,
            timeout=120,
            what="the long run to train",
            log=log,
        )
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            worker.terminate()
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()

    long_run.refresh_from_db()
    assert long_run.status == JobStatus.RUNNING  # nobody is left to say otherwise...
    settings.PAIRWISE_RUN_HEARTBEAT_TIMEOUT = 0
    time.sleep(0.1)
    assert jobs_reap_lost(TrainingRun) == [long_run.pk]  # ...until the reaper sees the heartbeat stopped
    long_run.refresh_from_db()
    assert long_run.status == JobStatus.FAILED and long_run.error.startswith("worker lost")
    assert long_run.output_model is None and ModelArtifact.objects.filter(training_run=long_run).count() == 0
    out = run_output_dir(long_run)
    assert not out.exists() and not list(out.parent.glob(f".{out.name}*"))
