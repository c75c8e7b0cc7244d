"""The data job page in real Chromium: it polls status.json, shows progress live, and when the job
has finished shows how it ended and its links."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from annotate.exporting.store import export_file_url
from rewardmodel.models import DataJob, JobStatus
from tests.browser_support import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(context, server, manager):
    context.set_default_timeout(15_000)
    log_in(context, server, manager)
    return context.new_page()


def test_the_job_page_follows_an_export_to_its_files(page, live_server, project):
    job = DataJob.objects.create(
        project=project,
        kind=DataJob.Kind.EXPORT,
        config={"kind": "raw-csv"},
        status=JobStatus.RUNNING,
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
    )
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server.url}{reverse('data-job', args=[job.pk])}")
    assert page.text_content("#job-status") == "Running" and page.is_visible("#job-cancel")

    DataJob.objects.filter(pk=job.pk).update(progress=0.5, status_message="writing the export")
    page.wait_for_function("document.getElementById('job-progress').value > 0.49")
    assert page.text_content("#job-message") == "writing the export"

    DataJob.objects.filter(pk=job.pk).update(
        status=JobStatus.SUCCEEDED,
        progress=1.0,
        finished_at=timezone.now(),
        status_message="1 judgments, labelers pseudonymized.",
        result={"export": "20260101T120000Z-0123456789", "files": ["judgments.csv"]},
    )
    page.wait_for_selector("#job-status.job-status-succeeded")  # the page reloads when it has finished
    assert page.locator("#job-cancel").count() == 0
    link = export_file_url(
        project_id=project.pk, export_id="20260101T120000Z-0123456789", filename="judgments.csv"
    )
    assert page.locator(f'#job-links a[href="{link}"]').count() == 1
    assert errors == []
