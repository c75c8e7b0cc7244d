"""Imports, exports and quality recomputes as background jobs (annotate.data_jobs): started from
the admin and the quality pages, run by a worker, followed on /data-jobs/<id>/."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from annotate.data_jobs import data_job_create
from annotate.importing.parse import jsonl_bytes
from annotate.models import Comparison, ImportBatch, Judgment, Prompt, QualitySnapshot
from rewardmodel.jobs.execute import job_execute
from rewardmodel.jobs.lifecycle import jobs_reap_lost
from rewardmodel.models import DataJob, JobStatus
from tests.annotate.test_exports import vote
from tests.factories import make_comparison, make_user

pytestmark = pytest.mark.django_db

PAIRS = [{"prompt": f"q{i}", "chosen": f"good {i}", "rejected": f"bad {i}"} for i in range(3)]


@pytest.fixture
def data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    return tmp_path


@pytest.fixture
def staff_client(client, manager, data_dir):
    client.force_login(manager)
    return client


def _upload(rows, name="pairs.jsonl.gz"):
    return SimpleUploadedFile(name, jsonl_bytes(rows, gzipped=name.endswith(".gz")))


def _import(client, project, rows, name="pairs.jsonl.gz"):
    return client.post(
        reverse("admin:annotate_project_import", args=[project.pk]),
        {"file": _upload(rows, name), "format": "trl", "split": "train"},
    )


def _uploads(data_dir):
    folder = data_dir / "uploads"
    return list(folder.iterdir()) if folder.exists() else []


def test_it_imports_on_a_worker_and_removes_the_upload(staff_client, manager, project, data_dir, run_jobs):
    with run_jobs() as sent:
        response = _import(staff_client, project, PAIRS)
        job = DataJob.objects.get()
        assert job.status == JobStatus.QUEUED and len(_uploads(data_dir)) == 1  # saved, not yet read
    assert len(sent) == 1 and response["Location"] == reverse("data-job", args=[job.pk])
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert (job.kind, job.created_by, job.progress) == ("import", manager, 1.0)
    assert job.result["created"]["judgments"] == 3 and job.result["lines"] == 3
    assert job.result["batch"] == ImportBatch.objects.get().pk
    assert Judgment.objects.filter(comparison__project=project, source="external").count() == 3
    assert _uploads(data_dir) == []


def test_it_fails_a_bad_import_with_its_lines_and_writes_nothing(staff_client, project, data_dir, run_jobs):
    rows = [PAIRS[0], {"prompt": "q2", "rejected": "b"}, {"prompt": "q3", "chosen": "a"}]
    with run_jobs():
        response = _import(staff_client, project, rows, "bad.jsonl")
    job = DataJob.objects.get()
    assert job.status == JobStatus.FAILED
    assert "line 2: field 'chosen' is missing" in job.error and "line 3:" in job.error
    assert "Nothing was imported" in job.error
    assert Prompt.objects.filter(project=project).count() == 0 and not ImportBatch.objects.exists()
    assert _uploads(data_dir) == []
    page = staff_client.get(response["Location"]).content.decode()
    assert "Failed" in page and "line 2: field &#x27;chosen&#x27; is missing" in page


def test_it_refuses_an_upload_over_the_size_limit(staff_client, project, data_dir, settings):
    settings.PAIRWISE_IMPORT_MAX_FILE_BYTES = 64
    response = _import(staff_client, project, PAIRS * 10, "big.jsonl")
    assert response.status_code == 200  # the form again, with the reason
    assert (
        "big.jsonl is larger than 64 B (PAIRWISE_IMPORT_MAX_FILE_BYTES = 64 bytes)"
        in response.content.decode()
    )
    assert not DataJob.objects.exists() and _uploads(data_dir) == []


def test_it_exports_on_a_worker_and_links_the_files(staff_client, alice, project, data_dir, run_jobs):
    for i in range(4):
        vote(make_comparison(project, prompt_text=f"q{i}", a=f"yes {i}", b=f"no {i}"), alice, "A")
    form = {"kind": "preferences", "eval_fraction": "0.25", "min_agreement": "0", "seed": "0"}
    with run_jobs():
        response = staff_client.post(reverse("admin:annotate_project_export", args=[project.pk]), form)
    job = DataJob.objects.get()
    assert job.status == JobStatus.SUCCEEDED, job.error
    folder = data_dir / "exports" / str(project.pk) / job.result["export"]
    files = sorted(p.name for p in folder.iterdir())
    assert job.result["files"] == files == ["train.eval.jsonl", "train.jsonl"]
    status = staff_client.get(reverse("job-status", args=["data", job.pk])).json()
    urls = [link["url"] for link in status["links"]]
    for name in files:  # the export store's one download path
        assert reverse("api-export-file", args=[project.pk, job.result["export"], name]) in urls
    assert "3 train + 1 eval rows" in status["message"]
    page = staff_client.get(response["Location"]).content.decode()
    download = staff_client.get(urls[0])
    assert urls[0] in page and download["Content-Disposition"].startswith("attachment")


def test_it_recomputes_quality_on_a_worker(staff_client, manager, project, alice, bob, run_jobs):
    for i in range(3):
        comparison = make_comparison(project)
        vote(comparison, alice, "A")
        vote(comparison, bob, "A" if i else "B")
    with run_jobs():
        response = staff_client.post(reverse("quality:recompute", args=[project.pk]), {"n_bootstrap": "10"})
        assert not QualitySnapshot.objects.exists()  # nothing computed in the request
    job = DataJob.objects.get()
    snapshot = QualitySnapshot.objects.get(project=project, kind="quality")
    assert job.status == JobStatus.SUCCEEDED and job.result["snapshot"] == snapshot.pk
    assert (snapshot.computed_by, snapshot.params["n_bootstrap"]) == (manager, 10)
    page = staff_client.get(response["Location"]).content.decode()
    assert reverse("quality:project", args=[project.pk]) in page and "Recomputed in" in page


def test_the_status_json_follows_the_job(staff_client, manager, project):
    job = data_job_create(
        project=project, kind="quality", config={"n_bootstrap": 0}, user=manager, enqueue=False
    )
    url = reverse("job-status", args=["data", job.pk])
    status = staff_client.get(url).json()
    assert (status["status"], status["progress"], status["is_finished"], status["kind"]) == (
        "queued",
        0.0,
        False,
        "quality",
    )
    page = staff_client.get(reverse("data-job", args=[job.pk])).content.decode()
    assert 'id="job-cancel"' in page and url in page
    job_execute(DataJob, pk=job.pk)
    status = staff_client.get(url).json()
    assert (status["status"], status["progress"], status["is_finished"]) == ("succeeded", 1.0, True)
    assert status["message"].startswith("Recomputed in") and status["error"] == ""


def test_it_keeps_everyone_but_managers_out(client, alice, project, manager):
    job = data_job_create(project=project, kind="quality", config={}, user=manager, enqueue=False)
    pages = [reverse("data-job", args=[job.pk]), reverse("job-status", args=["data", job.pk])]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 302 and reverse("login") in response["Location"]
    clerk = make_user("clerk", staff=True, labeler=False)
    clerk.user_permissions.add(Permission.objects.get(codename="view_project"))
    for user in (alice, clerk):
        client.force_login(user)
        for url in pages:
            assert client.get(url).status_code == 403
        assert client.post(reverse("job-cancel", args=["data", job.pk])).status_code == 403
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED


def test_it_cancels_a_queued_import_and_removes_its_upload(staff_client, project, data_dir):
    _import(staff_client, project, PAIRS)  # no worker here: the job waits
    job = DataJob.objects.get()
    response = staff_client.post(reverse("job-cancel", args=["data", job.pk]))
    assert response["Location"] == reverse("data-job", args=[job.pk])
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and _uploads(data_dir) == []
    assert job_execute(DataJob, pk=job.pk, task_id=job.task_id).status == JobStatus.CANCELLED  # never runs
    assert not Comparison.objects.exists()


def test_a_lost_import_is_reaped_and_its_upload_removed(staff_client, project, data_dir, settings):
    _import(staff_client, project, PAIRS)
    job = DataJob.objects.get()
    long_ago = timezone.now() - timedelta(seconds=settings.PAIRWISE_RUN_HEARTBEAT_TIMEOUT + 60)
    DataJob.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING, started_at=long_ago, heartbeat_at=long_ago
    )
    assert jobs_reap_lost(DataJob) == [job.pk]
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.error.startswith("worker lost")
    assert _uploads(data_dir) == []


def test_the_admin_lists_the_jobs_with_their_pages(admin_client, project):
    job = data_job_create(project=project, kind="export", config={"kind": "raw-csv"}, enqueue=False)
    page = admin_client.get(reverse("admin:rewardmodel_datajob_changelist")).content.decode()
    assert reverse("data-job", args=[job.pk]) in page and "Export" in page
