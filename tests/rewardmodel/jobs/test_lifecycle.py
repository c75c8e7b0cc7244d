"""The one job lifecycle (rewardmodel.jobs.lifecycle) for every kind: claim by task id, a heartbeat that
goes on through phases that report nothing, the reaper (lost workers, lost messages) on a
schedule, and lost generation jobs that can be cancelled and resumed."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from pairwise.celery import app as celery_app
from pairwise.progress import Cancelled
from rewardmodel import tasks
from rewardmodel.generation.responses import GenerationOptions, generation_job_resume
from rewardmodel.jobs.execute import job_execute
from rewardmodel.jobs.kinds import KINDS as KINDS_OF_JOB
from rewardmodel.jobs.lifecycle import LOST_ERROR, job_cancel, job_claim, jobs_reap
from rewardmodel.models import DataJob, DemoLoop, GenerationJob, JobStatus, ModelArtifact, TrainingRun
from rewardmodel.runs.kinds import KINDS
from rewardmodel.runs.services import run_enqueue, run_output_dir
from tests.factories import make_project, make_prompt

pytestmark = pytest.mark.django_db


@pytest.fixture
def model(tmp_path) -> ModelArtifact:
    """A registry row whose folder passes generation's checks (no weights are ever loaded here)."""
    folder = tmp_path / "policy"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    return ModelArtifact.objects.create(kind=ModelArtifact.Kind.POLICY, name="p", path=str(folder))


@pytest.fixture
def project():
    project = make_project("Jobs")
    make_prompt(project, "Anything?")
    return project


def _run(project, model) -> TrainingRun:
    return TrainingRun.objects.create(
        kind=TrainingRun.Kind.REWARD, project=project, base_model=model, config={}
    )


def _job(project, model, **fields) -> GenerationJob:
    config = GenerationOptions(per_prompt=1).as_config()
    return GenerationJob.objects.create(project=project, model=model, config=config, **fields)


def _running(since: timedelta, **fields):
    then = timezone.now() - since
    return {"status": JobStatus.RUNNING, "started_at": then, "heartbeat_at": then, **fields}


@pytest.fixture
def sent(monkeypatch):
    """The task messages sent (their apply_async arguments), instead of a broker (once the
    transaction commits: tests wrap the call in django_capture_on_commit_callbacks(execute=True))."""
    messages = []
    monkeypatch.setattr(tasks.run_job, "apply_async", lambda **kw: messages.append(kw))
    return messages


# --- claim --------------------------------------------------------------------------------------


def test_it_claims_a_job_once_and_only_for_its_own_task_id(project, model, sent):
    run = run_enqueue(_run(project, model))
    assert job_claim(TrainingRun, pk=run.pk, task_id="a-stale-message") is None
    assert job_execute(TrainingRun, pk=run.pk, task_id="a-stale-message").status == JobStatus.QUEUED
    claim = job_claim(TrainingRun, pk=run.pk, task_id=run.task_id)
    assert claim is not None and claim.task_id == run.task_id
    assert job_claim(TrainingRun, pk=run.pk, task_id=run.task_id) is None  # redelivered: nothing
    assert TrainingRun.objects.get(pk=run.pk).status == JobStatus.RUNNING


# --- heartbeats through every phase ---------------------------------------------------------------

SLEPT: list[list[int]] = []


def sleepy_trainer(*, run, reporter, output_dir):
    """Loads a model for a long time, say: no progress call for 2.5 heartbeat timeouts."""
    time.sleep(2.5 * django_settings.PAIRWISE_RUN_HEARTBEAT_TIMEOUT)
    SLEPT.append(jobs_reap()["lost"].get("TrainingRun", []))
    raise Cancelled("woke up")


@pytest.mark.django_db(transaction=True)
def test_a_job_that_reports_nothing_for_longer_than_the_timeout_is_not_reaped_but_a_dead_one_is(
    project, model, settings, monkeypatch
):
    settings.PAIRWISE_RUN_HEARTBEAT_TIMEOUT = 2  # a beat every second
    monkeypatch.setitem(KINDS, TrainingRun.Kind.REWARD, replace(KINDS["reward"], trainer=sleepy_trainer))
    SLEPT.clear()
    dead = _run(project, model)
    TrainingRun.objects.filter(pk=dead.pk).update(**_running(timedelta(seconds=10)))
    alive = job_execute(TrainingRun, pk=_run(project, model).pk)
    assert SLEPT == [[dead.pk]]  # the reaper, called mid-sleep, took the dead one only
    assert alive.status == JobStatus.CANCELLED and alive.status_message == "woke up" and not alive.error
    assert TrainingRun.objects.get(pk=dead.pk).error.startswith(LOST_ERROR)


@pytest.mark.django_db(transaction=True)
def test_a_generation_job_beats_while_it_loads_its_model(project, model, settings, monkeypatch):
    from rewardmodel.generation import responses as generation

    settings.PAIRWISE_RUN_HEARTBEAT_TIMEOUT = 2
    reaped = []

    def slow_load(**kwargs):
        time.sleep(5)
        reaped.append(jobs_reap()["lost"])
        raise generation.PairwiseError("no model today")

    monkeypatch.setattr(generation, "responses_generate", slow_load)
    job = job_execute(GenerationJob, pk=_job(project, model).pk)
    assert reaped == [{}]
    assert job.status == JobStatus.FAILED and job.error == "no model today"


# --- the reaper -------------------------------------------------------------------------------------


def test_the_reaper_fails_lost_jobs_of_every_kind_and_cleans_up(project, model, settings):
    settings.PAIRWISE_RUN_HEARTBEAT_TIMEOUT = 60
    lost_run, live_run = _run(project, model), _run(project, model)
    follower = TrainingRun.objects.create(
        kind=TrainingRun.Kind.REWARD, project=project, base_model=model, config={}, starts_after=lost_run
    )
    TrainingRun.objects.filter(pk=lost_run.pk).update(**_running(timedelta(minutes=5)))
    TrainingRun.objects.filter(pk=live_run.pk).update(**_running(timedelta(seconds=30)))
    partial = run_output_dir(lost_run).with_name(f".{run_output_dir(lost_run).name}.partial")
    partial.mkdir(parents=True)
    job = _job(project, model, **_running(timedelta(minutes=5)))
    loop = DemoLoop.objects.create(project=project, **_running(timedelta(minutes=5)))

    report = jobs_reap()
    assert report["lost"] == {"TrainingRun": [lost_run.pk], "GenerationJob": [job.pk], "DemoLoop": [loop.pk]}
    for row in (lost_run, job, loop):
        row.refresh_from_db()
        assert row.status == JobStatus.FAILED and row.error.startswith(LOST_ERROR) and row.finished_at
    assert not partial.exists()
    follower.refresh_from_db()
    assert follower.status == JobStatus.CANCELLED and "was lost" in follower.status_message
    assert TrainingRun.objects.get(pk=live_run.pk).status == JobStatus.RUNNING
    assert jobs_reap()["lost"] == {}


def test_the_reaper_resends_a_queued_job_whose_message_was_lost_once(
    project, model, settings, sent, django_capture_on_commit_callbacks
):
    settings.PAIRWISE_QUEUED_RESEND_AFTER = 600
    old = run_enqueue(_run(project, model))
    recent = run_enqueue(_run(project, model))
    parent = _run(project, model)
    waiting = run_enqueue(
        TrainingRun.objects.create(
            kind=TrainingRun.Kind.REWARD, project=project, base_model=model, config={}, starts_after=parent
        )
    )
    job = _job(project, model, task_id="gen-1", sent_at=timezone.now() - timedelta(hours=1))
    TrainingRun.objects.filter(pk=old.pk).update(sent_at=timezone.now() - timedelta(minutes=11))
    TrainingRun.objects.filter(pk=waiting.pk).update(created_at=timezone.now() - timedelta(hours=1))
    sent.clear()

    with django_capture_on_commit_callbacks(execute=True):
        assert jobs_reap()["resent"] == {"TrainingRun": [old.pk], "GenerationJob": [job.pk]}
    assert sent == [
        {"args": ["run", old.pk], "task_id": old.task_id, "queue": "training"},
        {"args": ["generation", job.pk], "task_id": "gen-1", "queue": "default"},
    ]
    assert TrainingRun.objects.get(pk=old.pk).resent_at
    TrainingRun.objects.filter(pk=old.pk).update(sent_at=timezone.now() - timedelta(hours=1))
    assert jobs_reap()["resent"] == {}  # once only
    assert TrainingRun.objects.get(pk=recent.pk).resent_at is None


def test_celery_beat_sends_the_reaper_every_interval(settings):
    [entry] = settings.CELERY_BEAT_SCHEDULE.values()
    assert entry["task"] == "rewardmodel.tasks.reap_lost_jobs" == tasks.reap_lost_jobs.name
    assert entry["schedule"] == settings.PAIRWISE_REAP_INTERVAL
    # One tasks module, found by autodiscovery (no CELERY_IMPORTS): the job task and the reaper.
    assert not hasattr(settings, "CELERY_IMPORTS")
    for name in ("run_job", "reap_lost_jobs"):
        assert f"rewardmodel.tasks.{name}" in celery_app.tasks
    # Every kind of job goes to a queue its kind names: training runs and demo loops to GPU hosts.
    assert {KINDS_OF_JOB[m].queue for m in (TrainingRun, DemoLoop)} == {"training"}
    assert {KINDS_OF_JOB[m].queue for m in (GenerationJob, DataJob)} == {"default"}
    json.dumps(jobs_reap())  # what the task answers is plain JSON


# --- lost generation jobs: cancel, resume ---------------------------------------------------------


def test_a_lost_generation_job_can_be_cancelled_or_resumed(
    project, model, settings, sent, django_capture_on_commit_callbacks
):
    settings.PAIRWISE_RUN_HEARTBEAT_TIMEOUT = 60
    lost = _job(project, model, **_running(timedelta(minutes=5)))
    cancelled = job_cancel(lost)
    assert cancelled.status == JobStatus.CANCELLED and "worker was lost" in cancelled.status_message

    lost = _job(project, model, **_running(timedelta(minutes=5)))
    with django_capture_on_commit_callbacks(execute=True):
        resumed = generation_job_resume(job=lost)
    lost.refresh_from_db()
    assert lost.status == JobStatus.FAILED and lost.error.startswith(LOST_ERROR)
    assert resumed.status == JobStatus.QUEUED and resumed.config["resumed_from"] == lost.pk
    assert sent == [{"args": ["generation", resumed.pk], "task_id": resumed.task_id, "queue": "default"}]

    alive = _job(project, model, **_running(timedelta(seconds=5)))
    with pytest.raises(Exception, match="still running; cancel it first"):
        generation_job_resume(job=alive)
    assert job_cancel(alive).cancel_requested  # asked; its worker stops it
