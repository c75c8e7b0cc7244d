"""A comparison report made from the web: the form queues a report job, a worker builds, stores and
writes the report as `manage.py compare` does, and the job's page links it with the command that
makes it again."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.urls import reverse

from rewardmodel.models import ComparisonReport, JobStatus, ReportJob

pytestmark = pytest.mark.django_db

FORM = {"heldout": "2", "seed": "0", "max_new_tokens": "6", "bootstrap": "20"}


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def ids(roads, *names):
    return [str(getattr(roads, name).pk) for name in names]


def test_the_form_makes_the_report_compare_makes(manager_client, roads_models, run_jobs, data_dir, tmp_path):
    roads = roads_models
    form = {"project": roads.project.pk, "baseline": roads.base.pk, "policies": ids(roads, "ppo", "grpo")}
    with run_jobs():
        response = manager_client.post(reverse("report-new"), form | FORM)
    job = ReportJob.objects.get()
    assert response["Location"] == reverse("report-job", args=[job.pk])
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    report = job.report
    assert report.policies == ["base", "ppo-1", "grpo-1"] and report.created_by is not None
    assert (data_dir / "reports" / str(report.pk) / "report.json").exists()
    page = manager_client.get(response["Location"]).content.decode()
    assert reverse("report-detail", args=[report.pk]) in page
    command = report.command
    assert command in page.replace("&#x27;", "'")
    assert command.startswith("python manage.py compare --project Roads --policies base,ppo-1,grpo-1")

    # The printed command makes the same numbers.
    out = tmp_path / "again.html"
    call_command("compare", project="Roads", policies="base,ppo-1,grpo-1", heldout=2, seed=0,
                 max_new_tokens=6, bootstrap=20, out=str(out))  # fmt: skip
    again = json.loads(out.with_suffix(".json").read_text())
    strip = lambda d: {k: v for k, v in d.items() if k not in ("generated_at", "commands")}  # noqa: E731
    assert strip(again) == strip(report.data)


def test_the_form_refuses_what_it_cannot_compare(manager_client, roads_rows):
    roads = roads_rows
    same = manager_client.post(
        reverse("report-new"),
        {"project": roads.project.pk, "baseline": roads.base.pk, "policies": [roads.base.pk]} | FORM,
    )
    assert same.status_code == 200 and "at least two different policies" in same.content.decode()
    reward = manager_client.post(
        reverse("report-new"),
        {"project": roads.project.pk, "baseline": roads.base.pk, "policies": [roads.rm.pk]} | FORM,
    )
    assert "Select a valid choice" in reward.content.decode()  # a reward model is no policy
    assert not ReportJob.objects.exists() and not ComparisonReport.objects.exists()


def test_the_projects_report_step_opens_the_form(manager_client, roads_rows):
    roads = roads_rows
    page = manager_client.get(reverse("console-project", args=[roads.project.pk])).content.decode()
    assert reverse("report-new") + f"?project={roads.project.pk}" in page
    form = manager_client.get(reverse("report-new") + f"?project={roads.project.pk}").content.decode()
    assert f'<option value="{roads.project.pk}" selected>' in form
