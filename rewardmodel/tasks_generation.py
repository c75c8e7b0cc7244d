"""Celery task for response generation (queue `default`). Thin: the service does the work."""

from __future__ import annotations

from celery import shared_task


@shared_task(bind=True, name="rewardmodel.tasks_generation.generate_responses_job", ignore_result=True)
def generate_responses_job(self, job_id: int) -> str:
    """Run GenerationJob `job_id`; its row carries status, progress and any error."""
    from rewardmodel.generation import generation_job_execute

    job = generation_job_execute(job_id=job_id, task_id=self.request.id or "")
    return job.status
