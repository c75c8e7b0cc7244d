"""Celery tasks of the model side. They take ids, call a service, and keep no logic of their own.

Every job (training run, generation job, data job, demo loop) is sent as the one task `run_job`
(kind, id) by rewardmodel.jobs.lifecycle.job_send, with the task id stored on the job's row and
the queue its kind names (rewardmodel.jobs.kinds: `training` for GPU hosts, `default` for the
rest). The task runs rewardmodel.jobs.execute.job_execute, which claims the row first, so a
duplicate or stale message does nothing. Nothing is retried: acks_late is on and
reject_on_worker_lost off (settings), no autoretry here. A worker killed mid-job leaves the job
to `reap_lost_jobs`, which celery beat sends every PAIRWISE_REAP_INTERVAL seconds.
"""

from __future__ import annotations

from celery import shared_task
from django.db import close_old_connections, connection

import rewardmodel.jobs.workers  # noqa: F401  (a worker's beats: its signal handlers connect here)
from rewardmodel.models import ModelArtifact


def _fresh_connections() -> None:
    """A long-lived worker's connection may have been closed by the server since the last task.
    Not inside a caller's transaction (a task run eagerly in a test or a request): that connection
    is the caller's."""
    if not connection.in_atomic_block:
        close_old_connections()


@shared_task(bind=True, name="rewardmodel.tasks.run_job", max_retries=0, ignore_result=True)
def run_job(self, kind: str, job_id: int) -> None:
    """Run job `job_id` of kind `kind` (rewardmodel.jobs.kinds: run, generation, data, demo-loop)
    and record how it ended on its row."""
    from rewardmodel.jobs.execute import job_execute
    from rewardmodel.jobs.kinds import BY_SLUG

    _fresh_connections()
    try:
        job_execute(BY_SLUG[kind], pk=job_id, task_id=self.request.id or "")
    finally:
        _fresh_connections()


@shared_task(name="rewardmodel.tasks.reap_lost_jobs", ignore_result=True)
def reap_lost_jobs() -> dict[str, dict[str, list[int]]]:
    """Fail the jobs whose worker died and re-send the queued ones whose message was lost
    (rewardmodel.jobs.lifecycle.jobs_reap). Sent by celery beat; safe to run anywhere, any number of times."""
    from rewardmodel.jobs.lifecycle import jobs_reap

    _fresh_connections()
    try:
        return jobs_reap()
    finally:
        _fresh_connections()


@shared_task(name="rewardmodel.tasks.score_text", max_retries=0)
def score_text(model_id: int, prompt: str | list, response: str) -> dict:
    """The reward of one (prompt, response) under a registered reward model (runs on `default`)."""
    from rewardmodel.training.scoring import score_texts

    model = ModelArtifact.objects.get(pk=model_id)
    [score] = score_texts(model.path, [(prompt, response)])
    return {"score": score, "model": model.pk}
