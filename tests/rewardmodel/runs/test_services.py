"""The generic run lifecycle (rewardmodel.runs.services) with the real reward trainer on a tiny model."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from pairwise.errors import PairwiseError
from pairwise.progress import ListReporter
from rewardmodel.jobs.execute import job_execute
from rewardmodel.jobs.lifecycle import LOST_ERROR, job_cancel, jobs_reap_lost
from rewardmodel.models import JobStatus, ModelArtifact, RunMetric, TrainingRun
from rewardmodel.runs.services import run_enqueue, run_output_dir, run_start

FAST = {"lr": 2e-3, "epochs": 1, "batch_size": 8, "logging_steps": 2}


def _run(project, base, snapshot, *, starts_after=None, **config) -> TrainingRun:
    return TrainingRun.objects.create(
        kind=TrainingRun.Kind.REWARD,
        project=project,
        base_model=base,
        snapshot=snapshot,
        config=FAST | config,
        starts_after=starts_after,
    )


class _AtStep(ListReporter):
    """Calls `action` once when training reaches `step` (what a manager or a fault would do then)."""

    def __init__(self, step, action):
        super().__init__()
        self.step, self.action, self.fired = step, action, False

    def progress(self, done, total, message=""):
        super().progress(done, total, message)
        if done == self.step and not self.fired:
            self.fired = True
            self.action()


@pytest.mark.ml
def test_it_records_a_successful_run_with_metrics_and_lineage(project, tiny_base, marker_snapshot, manager):
    run = _run(project, tiny_base, marker_snapshot)
    run.created_by = manager
    run.save()
    run = job_execute(TrainingRun, pk=run.pk)

    assert run.status == JobStatus.SUCCEEDED, run.traceback
    assert run.progress == 1.0 and run.started_at <= run.finished_at and run.heartbeat_at
    assert run.device.startswith("cpu")
    assert run.examples_seen == 48 and run.tokens_seen > 48 * 2 * 10
    assert 0.0 <= run.summary["eval_accuracy"] <= 1.0 and run.summary["eval_pairs"] == 16
    assert run.summary["config"]["batch_size"] == 8 and run.summary["config"]["max_length"] == 256

    steps = [m.step for m in RunMetric.objects.filter(run=run) if "loss" in m.values]
    assert steps == [2, 4, 6]
    final = RunMetric.objects.filter(run=run, values__has_key="eval_accuracy").last()
    assert final.values["eval_accuracy"] == run.summary["eval_accuracy"]

    model = run.output_model
    assert model.kind == ModelArtifact.Kind.REWARD and model.training_run == run
    assert list(model.parents.all()) == [tiny_base]
    assert model.dataset_snapshot == marker_snapshot
    assert model.path == str(run_output_dir(run)) and (run_output_dir(run) / "model.safetensors").exists()


@pytest.mark.ml
@pytest.mark.parametrize(
    ("config", "error"),
    [
        ({"lr": -1.0}, "lr must be positive"),
        ({"learning_rate": 0.1}, "Unknown reward option(s) in the run's config: learning_rate"),
    ],
)
def test_it_marks_a_run_with_a_bad_config_failed_with_its_error(
    project, tiny_base, marker_snapshot, config, error
):
    run = job_execute(TrainingRun, pk=_run(project, tiny_base, marker_snapshot, **config).pk)
    assert run.status == JobStatus.FAILED
    assert error in run.error and "Traceback" in run.traceback
    assert run.output_model is None and not ModelArtifact.objects.filter(kind="reward").exists()


@pytest.mark.ml
def test_it_marks_a_run_failed_when_its_data_file_is_corrupt(project, tiny_base, marker_snapshot):
    run = _run(project, tiny_base, marker_snapshot)
    Path(marker_snapshot.path, "train.jsonl").write_text(
        '{"prompt": "Q", "chosen": "a", "rejected": "b"}\n{"prompt": "Q", "chosen"\n'
    )
    run = job_execute(TrainingRun, pk=run.pk)
    assert run.status == JobStatus.FAILED
    assert run.error.startswith("PairFormatError:") and "train.jsonl:2: not valid JSON" in run.error


@pytest.mark.ml
def test_it_marks_a_crash_mid_training_failed_with_traceback_and_registers_nothing(
    project, tiny_base, marker_snapshot
):
    run = _run(project, tiny_base, marker_snapshot)

    def crash():
        raise OSError("No space left on device (simulated at step 3)")

    run = job_execute(TrainingRun, pk=run.pk, reporter=_AtStep(3, crash))
    assert run.status == JobStatus.FAILED
    assert run.error == "OSError: No space left on device (simulated at step 3)"
    assert "train_reward" in run.traceback and "trainer.train()" in run.traceback
    assert not ModelArtifact.objects.filter(kind="reward").exists()
    out = run_output_dir(run)
    assert not out.exists() and not list(out.parent.glob(f".{out.name}*"))
    assert RunMetric.objects.filter(run=run, values__has_key="loss").count() == 1  # step 2 was logged


@pytest.mark.ml
def test_it_stops_a_running_run_at_the_next_step_when_cancelled(
    project, tiny_base, marker_snapshot, quick_cancel
):
    run = _run(project, tiny_base, marker_snapshot)
    watcher = _AtStep(2, lambda: job_cancel(TrainingRun.objects.get(pk=run.pk)))
    run = job_execute(TrainingRun, pk=run.pk, reporter=watcher)
    assert run.status == JobStatus.CANCELLED and run.cancel_requested
    assert "step 2" in run.status_message
    assert watcher.last_progress[0] == 2  # no step after the one where the cancel was seen
    assert run.output_model is None and not run_output_dir(run).exists()


@pytest.mark.ml
def test_it_keeps_the_result_of_a_run_reaped_as_lost_while_still_alive(
    project, tiny_base, marker_snapshot, quick_cancel
):
    run = _run(project, tiny_base, marker_snapshot)

    def stall_then_reap():
        TrainingRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
        assert jobs_reap_lost(TrainingRun) == [run.pk]

    run = job_execute(TrainingRun, pk=run.pk, reporter=_AtStep(3, stall_then_reap))
    assert run.status == JobStatus.SUCCEEDED and run.error == "" and run.output_model is not None


def test_it_reaps_runs_whose_worker_stopped_beating(project, tiny_base, marker_snapshot, settings):
    settings.PAIRWISE_RUN_HEARTBEAT_TIMEOUT = 60
    now = timezone.now()
    stale = _run(project, tiny_base, marker_snapshot)
    alive = _run(project, tiny_base, marker_snapshot)
    queued = _run(project, tiny_base, marker_snapshot)
    TrainingRun.objects.filter(pk=stale.pk).update(
        status=JobStatus.RUNNING,
        started_at=now - timedelta(minutes=5),
        heartbeat_at=now - timedelta(seconds=61),
    )
    TrainingRun.objects.filter(pk=alive.pk).update(
        status=JobStatus.RUNNING,
        started_at=now - timedelta(minutes=5),
        heartbeat_at=now - timedelta(seconds=30),
    )
    partial = run_output_dir(stale).with_name(f".{run_output_dir(stale).name}.partial")
    partial.mkdir(parents=True)

    stale.refresh_from_db()
    assert stale.is_lost
    assert jobs_reap_lost(TrainingRun) == [stale.pk]
    stale.refresh_from_db()
    assert stale.status == JobStatus.FAILED and stale.error.startswith(LOST_ERROR) and stale.finished_at
    assert not partial.exists()
    assert TrainingRun.objects.get(pk=alive.pk).status == JobStatus.RUNNING
    assert TrainingRun.objects.get(pk=queued.pk).status == JobStatus.QUEUED
    assert jobs_reap_lost(TrainingRun) == []


def test_it_never_starts_a_run_that_is_not_queued(project, tiny_base, marker_snapshot):
    done = _run(project, tiny_base, marker_snapshot)
    TrainingRun.objects.filter(pk=done.pk).update(status=JobStatus.FAILED, error="worker lost: earlier")
    assert (
        job_execute(TrainingRun, pk=done.pk).status == JobStatus.FAILED
    )  # a redelivered message: no second attempt

    cancelled = job_cancel(_run(project, tiny_base, marker_snapshot))
    assert cancelled.status == JobStatus.CANCELLED and cancelled.finished_at
    assert job_execute(TrainingRun, pk=cancelled.pk).status == JobStatus.CANCELLED
    assert job_execute(TrainingRun, pk=999_999) is None

    with pytest.raises(Exception, match="already cancelled"):
        job_cancel(cancelled)


def test_it_refuses_kinds_without_a_trainer(project, tiny_base):
    with pytest.raises(PairwiseError, match="No kind of run named 'rlhf'; known: reward, sft, ppo, grpo"):
        run_start(kind="rlhf", project=project, start=tiny_base)


def test_it_sends_the_task_only_when_the_transaction_commits(
    project, tiny_base, marker_snapshot, django_capture_on_commit_callbacks
):
    run = _run(project, tiny_base, marker_snapshot)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run_enqueue(run)
    assert len(callbacks) == 1
    assert len(TrainingRun.objects.get(pk=run.pk).task_id) == 32


@pytest.mark.ml
def test_a_linked_run_waits_for_its_parent_and_starts_from_its_checkpoint(
    project, tiny_base, marker_snapshot, django_capture_on_commit_callbacks
):
    """Enqueued early, a follower only gets its task id; the parent's success makes the parent's
    checkpoint its base model and sends it, in the same transaction."""
    parent = _run(project, tiny_base, marker_snapshot)
    follower = _run(project, tiny_base, marker_snapshot, starts_after=parent)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run_enqueue(follower)
    assert callbacks == [] and TrainingRun.objects.get(pk=follower.pk).task_id  # waits, not sent

    # Started by hand before its parent finished: refused, with the reason.
    early = _run(project, tiny_base, marker_snapshot, starts_after=parent)
    early = job_execute(TrainingRun, pk=early.pk)
    assert early.status == JobStatus.FAILED and f"result of run #{parent.pk}" in early.error

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        parent = job_execute(TrainingRun, pk=parent.pk)
    assert parent.status == JobStatus.SUCCEEDED, parent.traceback
    follower.refresh_from_db()
    assert follower.base_model == parent.output_model and follower.status == JobStatus.QUEUED
    assert len(callbacks) == 1  # the follower, sent to a worker when the parent's success commits


def test_a_cancelled_or_lost_parent_cancels_its_followers(project, tiny_base, marker_snapshot, settings):
    parent = _run(project, tiny_base, marker_snapshot)
    child = _run(project, tiny_base, marker_snapshot, starts_after=parent)
    grandchild = _run(project, tiny_base, marker_snapshot, starts_after=child)
    job_cancel(parent)
    child.refresh_from_db()
    grandchild.refresh_from_db()
    assert child.status == grandchild.status == JobStatus.CANCELLED
    assert child.status_message == f"the run it starts from (#{parent.pk}) was cancelled"
    assert grandchild.status_message == f"the run it starts from (#{child.pk}) was cancelled"

    lost = _run(project, tiny_base, marker_snapshot)
    waiting = _run(project, tiny_base, marker_snapshot, starts_after=lost)
    long_ago = timezone.now() - timedelta(seconds=settings.PAIRWISE_RUN_HEARTBEAT_TIMEOUT + 60)
    TrainingRun.objects.filter(pk=lost.pk).update(
        status=JobStatus.RUNNING, started_at=long_ago, heartbeat_at=long_ago
    )
    assert jobs_reap_lost(TrainingRun) == [lost.pk]
    waiting.refresh_from_db()
    assert waiting.status == JobStatus.CANCELLED and "was lost" in waiting.status_message
