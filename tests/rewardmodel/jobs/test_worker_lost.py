"""Workers killed with SIGKILL in the middle of a training run and of a generation job: a third
worker running celery beat (`-B`) reaps both on its schedule (failed, "worker lost", no half
checkpoint left), and the generation job, resumed, generates exactly the samples that were missing."""

from __future__ import annotations

import signal

import pytest
from django.core.management import call_command

from annotate.models import Response
from rewardmodel.generation.responses import GenerationOptions, generation_job_create, generation_job_resume
from rewardmodel.jobs.lifecycle import LOST_ERROR
from rewardmodel.models import GenerationJob, JobStatus, ModelArtifact, TrainingRun
from rewardmodel.registry.artifacts import artifact_register
from rewardmodel.runs.services import run_output_dir
from tests.celery_worker import purge, start_worker, stop_worker, wait_until
from tests.factories import make_project, make_prompt
from tests.rewardmodel.support.synthetic import judge_marker_pairs

pytestmark = [pytest.mark.celery, pytest.mark.ml, pytest.mark.django_db(transaction=True)]

# Workers beat every second and are lost after 3 s without one; beat sends the reaper every second.
WORKER_ENV = {"PAIRWISE_RUN_HEARTBEAT_TIMEOUT": "3", "PAIRWISE_REAP_INTERVAL": "1"}
TOTAL = 64  # samples of the generation job: 16 prompts x 4


def test_killed_workers_are_reaped_on_schedule_and_a_resumed_job_fills_the_gap_once(
    project, alice, bob, tiny_base, tiny_policy_dir, tmp_path, settings
):
    settings.PAIRWISE_RUN_HEARTBEAT_TIMEOUT = 3
    purge("training", "default")
    judge_marker_pairs(project, 40, labelers=(alice, bob))
    call_command("train_reward_model", "--project", project.name, "--base", "tiny-base", "--epochs", "200")
    run = TrainingRun.objects.get()
    policy = artifact_register(kind=ModelArtifact.Kind.POLICY, name="tiny-policy", path=tiny_policy_dir)
    prompts = make_project("Killed mid-generation")
    for i in range(16):
        make_prompt(prompts, f"Tell me fact number {i}.")
    options = GenerationOptions(per_prompt=4, max_new_tokens=32, batch_size=1)  # TOTAL small batches
    job = generation_job_create(project=prompts, model=policy, options=options)

    logs = tuple(tmp_path / f"{name}.log" for name in ("trainer", "generator", "reaper"))
    trainer = start_worker(logs[0], queues="training", name="trainer", env=WORKER_ENV)
    generator = start_worker(logs[1], queues="default", name="generator", env=WORKER_ENV)
    reaper = None
    try:
        # Each worker is killed as soon as its job is under way (the generator first: on a quiet
        # machine it would finish all its samples while the trainer still loads).
        for worker, started in (
            (generator, lambda: GenerationJob.objects.get(pk=job.pk).responses_created >= 1),
            (trainer, lambda: TrainingRun.objects.get(pk=run.pk).progress > 0.01),
        ):
            wait_until(started, timeout=240, what="the job to get under way", logs=logs, interval=0.05)
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=30)
        stored = Response.objects.filter(prompt__project=prompts).count()
        assert 1 <= stored < TOTAL
        assert TrainingRun.objects.get(pk=run.pk).status == JobStatus.RUNNING  # nobody left to say otherwise

        reaper = start_worker(logs[2], queues="default", name="reaper", beat=True, env=WORKER_ENV)
        wait_until(
            lambda: (
                TrainingRun.objects.get(pk=run.pk).is_finished
                and GenerationJob.objects.get(pk=job.pk).is_finished
            ),
            timeout=120,
            what="beat's reaper",
            logs=logs,
        )
        run.refresh_from_db()
        assert run.status == JobStatus.FAILED and run.error.startswith(LOST_ERROR), run.error
        assert run.output_model is None and not ModelArtifact.objects.filter(training_run=run).exists()
        out = run_output_dir(run)
        assert not out.exists() and not list(out.parent.glob(f".{out.name}*"))
        job.refresh_from_db()
        assert job.status == JobStatus.FAILED and job.error.startswith(LOST_ERROR), job.error
        assert Response.objects.filter(prompt__project=prompts).count() == stored

        resumed = generation_job_resume(job=job)
        resumed = wait_until(
            lambda: (j := GenerationJob.objects.get(pk=resumed.pk)).is_finished and j,
            timeout=240,
            what="the resumed job",
            logs=logs,
        )
    finally:
        for worker in (trainer, generator, reaper):
            if worker is not None:
                stop_worker(worker)

    assert resumed.status == JobStatus.SUCCEEDED, resumed.error
    assert resumed.responses_created == TOTAL - stored and f"({stored} existed)" in resumed.status_message
    responses = Response.objects.filter(prompt__project=prompts)
    assert responses.count() == TOTAL
    assert len(set(responses.values_list("prompt_id", "seed"))) == TOTAL  # each sample exactly once
