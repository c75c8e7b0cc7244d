"""The generation job page in real Chromium: it polls status.json, shows progress live, cancels,
and stops polling once the job has finished."""

from __future__ import annotations

import pytest
from django.utils import timezone

from rewardmodel.models import GenerationJob, JobStatus, ModelArtifact
from tests.browser_support import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(context, server, manager):
    # The session's one Chromium (tests/browser_support.py): Playwright's sync API allows only one
    # running instance per thread.
    context.set_default_timeout(15_000)
    log_in(context, server, manager)
    return context.new_page()


def test_the_job_page_follows_a_job_live_and_cancels_it(page, live_server, project):
    model = ModelArtifact.objects.create(kind="base", name="base-135m", path="/models/base")
    job = GenerationJob.objects.create(
        project=project,
        model=model,
        config={
            "per_prompt": 2,
            "temperature": 0.8,
            "top_p": 0.95,
            "max_new_tokens": 64,
            "seed": 0,
            "batch_size": 8,
        },
        status=JobStatus.RUNNING,
        progress=0.1,
        device="cpu",
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
    )
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server.url}/generation/{job.pk}/")
    assert page.text_content("#gen-status") == "Running" and page.text_content("#gen-percent") == "10%"
    assert "base-135m" in page.text_content("main")

    # The worker stores a batch and reports; the page picks it up by polling.
    GenerationJob.objects.filter(pk=job.pk).update(
        progress=0.5,
        responses_created=8,
        status_message="8 new responses, 41 tokens/s",
        heartbeat_at=timezone.now(),
    )
    page.wait_for_function("document.getElementById('gen-progress').value > 0.49")
    assert page.text_content("#gen-percent") == "50%"
    assert page.text_content("#gen-created") == "8"
    assert page.text_content("#gen-message") == "8 new responses, 41 tokens/s"

    page.click("#gen-cancel-button")
    page.wait_for_selector("#gen-cancel-note:not([hidden])")
    assert GenerationJob.objects.get(pk=job.pk).cancel_requested
    assert page.is_hidden("#gen-cancel")

    # The worker sees the flag after its batch and stops.
    GenerationJob.objects.filter(pk=job.pk).update(status=JobStatus.CANCELLED, finished_at=timezone.now())
    page.wait_for_function("document.getElementById('gen-status').textContent === 'Cancelled'")
    assert page.is_hidden("#gen-cancel-note")
    polls = page.get_attribute("#gen-job", "data-polls")
    page.wait_for_timeout(4500)
    assert page.get_attribute("#gen-job", "data-polls") == polls  # a finished job is not polled any more
    assert errors == []


def test_the_job_page_shows_why_a_job_failed(page, live_server, project):
    model = ModelArtifact.objects.create(kind="base", name="base-135m", path="/models/base")
    job = GenerationJob.objects.create(
        project=project,
        model=model,
        status=JobStatus.FAILED,
        finished_at=timezone.now(),
        error="Generation with base-135m failed: out of memory generating 64 rows at once on cuda; "
        "try a smaller batch size, e.g. --batch-size 32",
    )
    page.goto(f"{live_server.url}/generation/{job.pk}/")
    assert page.is_visible("#gen-error") and "--batch-size 32" in page.text_content("#gen-error")
    assert page.locator("#gen-cancel").count() == 0
