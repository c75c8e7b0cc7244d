"""Celery tasks of the model side. They take ids, call a service, and keep no logic of their own.

Routing (settings.CELERY_TASK_ROUTES): names starting with `train_` go to the `training` queue
(GPU hosts), everything else to `default`. Every job task is sent by rewardmodel.jobs.lifecycle with the task
id stored on the job's row, and claims its row before doing anything (a duplicate or stale message
does nothing). Nothing is retried: acks_late is on and reject_on_worker_lost off (settings), no
autoretry here. A worker killed mid-job leaves the job to `reap_lost_jobs`, which celery beat
sends every PAIRWISE_REAP_INTERVAL seconds (settings.CELERY_BEAT_SCHEDULE).
"""

from __future__ import annotations

from celery import shared_task
from django.db import close_old_connections

from rewardmodel.models import ModelArtifact


@shared_task(bind=True, name="rewardmodel.tasks.train_run", max_retries=0, ignore_result=True)
def train_run(self, run_id: int) -> None:
    """Execute one training run of any kind (reward, SFT, PPO, GRPO) and record it on its row."""
    from rewardmodel.runs.services import run_execute

    # A long-lived worker's connection may have been closed by the server since the last task.
    close_old_connections()
    try:
        run_execute(run_id=run_id, task_id=self.request.id or "")
    finally:
        close_old_connections()


@shared_task(bind=True, name="rewardmodel.tasks.train_demo_loop", max_retries=0, ignore_result=True)
def train_demo_loop(self, loop_id: int) -> None:
    """Run the whole demo loop (rewardmodel.demo.loop) in this worker; its training runs execute
    here in turn. On the `training` queue (the `train_` prefix), never retried."""
    from rewardmodel.demo.loop import demo_loop_execute

    close_old_connections()
    try:
        demo_loop_execute(loop_id=loop_id, task_id=self.request.id or "")
    finally:
        close_old_connections()


@shared_task(bind=True, name="rewardmodel.tasks.generate_responses_job", max_retries=0, ignore_result=True)
def generate_responses_job(self, job_id: int) -> str:
    """Run GenerationJob `job_id` (queue `default`); its row carries status, progress and any error."""
    from rewardmodel.generation.responses import generation_job_execute

    return generation_job_execute(job_id=job_id, task_id=self.request.id or "").status


@shared_task(bind=True, name="rewardmodel.tasks.run_data_job", max_retries=0, ignore_result=True)
def run_data_job(self, job_id: int) -> str:
    """Run DataJob `job_id` (an import, export or quality recompute; queue `default`)."""
    from annotate.data_jobs import data_job_execute

    return data_job_execute(job_id=job_id, task_id=self.request.id or "").status


@shared_task(name="rewardmodel.tasks.reap_lost_jobs", ignore_result=True)
def reap_lost_jobs() -> dict[str, dict[str, list[int]]]:
    """Fail the jobs whose worker died and re-send the queued ones whose message was lost
    (rewardmodel.jobs.lifecycle.jobs_reap). Sent by celery beat; safe to run anywhere, any number of times."""
    from rewardmodel.jobs.lifecycle import jobs_reap

    close_old_connections()
    try:
        return jobs_reap()
    finally:
        close_old_connections()


@shared_task(name="rewardmodel.tasks.score_text", max_retries=0)
def score_text(model_id: int, prompt: str | list, response: str) -> dict:
    """The reward of one (prompt, response) under a registered reward model (runs on `default`)."""
    from rewardmodel.training.scoring import score_texts

    model = ModelArtifact.objects.get(pk=model_id)
    [score] = score_texts(model.path, [(prompt, response)])
    return {"score": score, "model": model.pk}
