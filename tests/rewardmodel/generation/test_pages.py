"""Starting generation from the manager pages and the admin; the job page and its status.json."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotate.models import Response
from pairwise.celery import app as celery_app
from rewardmodel.generation.responses import GenerationOptions, generation_job_create
from rewardmodel.models import GenerationJob, JobStatus, ModelArtifact
from rewardmodel.registry.artifacts import artifact_register
from tests.factories import make_project, make_prompt

pytestmark = pytest.mark.django_db

FORM = {
    "per_prompt": 1,
    "temperature": 0.8,
    "top_p": 0.95,
    "max_new_tokens": 4,
    "seed": 0,
    "batch_size": 4,
    "split": "",
}


@pytest.fixture
def policy(tiny_policy_dir):
    return artifact_register(kind=ModelArtifact.Kind.POLICY, name="tiny-policy", path=tiny_policy_dir)


@pytest.fixture
def staff_client(client, manager):
    client.force_login(manager)
    return client


@pytest.fixture
def eager_celery():
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


def _job(project, model, **options):
    return generation_job_create(
        project=project, model=model, options=GenerationOptions(**options), enqueue=False
    )


def test_it_keeps_labelers_out(client, alice, project):
    client.force_login(alice)
    response = client.get(reverse("generation-new"))
    assert response.status_code == 403  # managers only (annotate.permissions), like every manager page


@pytest.mark.ml
def test_it_starts_a_job_from_the_form_and_runs_it_on_the_queue(
    staff_client, policy, manager, eager_celery, django_capture_on_commit_callbacks
):
    project = make_project("Web")
    for q in ("One?", "Two?", "Three?"):
        make_prompt(project, q)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = staff_client.post(
            reverse("generation-new"), {**FORM, "project": project.pk, "model": policy.pk}
        )
    job = GenerationJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("generation-job", args=[job.pk])
    assert len(callbacks) == 1  # enqueued once the job row was committed
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert (job.responses_created, job.created_by) == (3, manager)
    assert Response.objects.filter(prompt__project=project, model=policy).count() == 3
    status = staff_client.get(reverse("job-status", args=["generation", job.pk])).json()
    assert status["status"] == "succeeded" and status["progress"] == 1.0 and status["responses_created"] == 3
    page = staff_client.get(reverse("generation-job", args=[job.pk])).content.decode()
    assert "Succeeded" in page and "tiny-policy" in page and 'id="gen-cancel"' not in page


def test_it_shows_why_a_job_cannot_start(staff_client, policy):
    project = make_project("No prompts yet")
    response = staff_client.post(
        reverse("generation-new"), {**FORM, "project": project.pk, "model": policy.pk}
    )
    assert response.status_code == 200
    assert "has no prompts" in response.content.decode()
    assert not GenerationJob.objects.exists()


def test_it_preselects_the_model_chosen_in_the_admin(admin_client, policy):
    response = admin_client.post(
        reverse("admin:rewardmodel_modelartifact_changelist"),
        {"action": "generate_responses", "_selected_action": [policy.pk]},
    )
    assert (
        response.status_code == 302
        and response["Location"] == f"{reverse('generation-new')}?model={policy.pk}"
    )
    form = admin_client.get(response["Location"]).content.decode()
    assert f'<option value="{policy.pk}" selected>' in form


def test_it_shows_lineage_in_the_admin(admin_client, policy, tiny_reward_dir):
    reward = artifact_register(kind="reward", name="tiny-rm", path=tiny_reward_dir, parents=[policy])
    page = admin_client.get(
        reverse("admin:rewardmodel_modelartifact_change", args=[policy.pk])
    ).content.decode()
    assert reverse("admin:rewardmodel_modelartifact_change", args=[reward.pk]) in page  # child link
    listing = admin_client.get(reverse("admin:rewardmodel_modelartifact_changelist")).content.decode()
    assert policy.weights_hash[:12] in listing and "tiny-rm" in listing


def test_it_cancels_from_the_page_and_resumes_from_the_admin(staff_client, admin_client, policy, project):
    make_prompt(project, "Anything?")
    job = _job(project, policy, per_prompt=1, batch_size=8)
    staff_client.post(reverse("job-cancel", args=["generation", job.pk]))
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and job.cancel_requested
    response = admin_client.post(
        reverse("admin:rewardmodel_generationjob_changelist"),
        {"action": "resume_jobs", "_selected_action": [job.pk]},
        follow=True,
    )
    resumed = GenerationJob.objects.exclude(pk=job.pk).get()
    assert resumed.status == JobStatus.QUEUED and resumed.config["resumed_from"] == job.pk
    assert resumed.config["batch_size"] == 8
    assert f"Job #{resumed.pk} queued (resumes #{job.pk})" in response.content.decode()
    # Resuming a job that has not finished is refused with a reason.
    response = admin_client.post(
        reverse("admin:rewardmodel_generationjob_changelist"),
        {"action": "resume_jobs", "_selected_action": [resumed.pk]},
        follow=True,
    )
    assert "still queued; cancel it first" in response.content.decode()
