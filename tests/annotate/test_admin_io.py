from __future__ import annotations

import gzip
import json

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from annotate.exporting.store import export_store_list
from annotate.importing.parse import jsonl_bytes
from annotate.models import Comparison, ImportBatch, Judgment, Prompt
from rewardmodel.models import DataJob, JobStatus
from tests.annotate.test_exports import vote
from tests.factories import make_comparison, make_project, make_user


@pytest.fixture
def staff_client(client, manager, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    # Whatever the Project admin's own permission rules, these make a staff user a manager.
    manager.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="annotate", codename__endswith="_project")
    )
    client.force_login(manager)
    return client


def url(name, *args):
    return reverse(f"admin:annotate_project_{name}", args=args)


def upload(rows, name="pairs.jsonl.gz", gzipped=True):
    return SimpleUploadedFile(
        name, jsonl_bytes(rows, gzipped=gzipped), content_type="application/octet-stream"
    )


def test_it_links_import_and_export_from_the_project_page(staff_client, project):
    page = staff_client.get(url("change", project.pk)).content.decode()
    assert url("import", project.pk) in page and url("export", project.pk) in page


def test_it_imports_an_uploaded_gzipped_file(staff_client, manager, project, run_jobs, tmp_path):
    rows = [{"prompt": f"q{i}", "chosen": f"good {i}", "rejected": f"bad {i}"} for i in range(3)]
    with run_jobs():
        response = staff_client.post(
            url("import", project.pk), {"file": upload(rows), "format": "trl", "split": "train"}
        )
    job = DataJob.objects.get()
    assert response["Location"] == reverse("data-job", args=[job.pk])  # a worker imports it
    page = staff_client.get(response["Location"]).content.decode()
    assert "Imported pairs.jsonl.gz: 3 lines: created 3 prompts" in page
    assert 'id="job-no-pairs"' not in page  # its own comparisons: nothing to warn of
    assert reverse("console-project", args=[project.pk]) in page  # back to the project's steps
    assert not any((tmp_path / "uploads").iterdir())  # the upload is gone with the job
    assert Judgment.objects.filter(comparison__project=project, source="external").count() == 3
    batch = ImportBatch.objects.get()
    assert (batch.created_by, batch.filename, batch.format) == (manager, "pairs.jsonl.gz", "trl")


def test_it_shows_the_bad_line_and_writes_nothing(staff_client, project, run_jobs):
    rows = [{"prompt": "q1", "chosen": "a", "rejected": "b"}, {"prompt": "q2", "rejected": "b"}]
    with run_jobs():
        response = staff_client.post(
            url("import", project.pk),
            {"file": upload(rows, "pairs.jsonl", gzipped=False), "format": "trl", "split": "train"},
        )
    assert DataJob.objects.get().status == JobStatus.FAILED
    page = staff_client.get(response["Location"]).content.decode()
    assert "line 2: field &#x27;chosen&#x27; is missing" in page
    assert Prompt.objects.filter(project=project).count() == 0 and ImportBatch.objects.count() == 0


def test_the_list_actions_open_the_page_of_one_project(staff_client, project):
    changelist = url("changelist")
    response = staff_client.post(changelist, {"action": "import_file", "_selected_action": [project.pk]})
    assert response.status_code == 302 and response["Location"] == url("import", project.pk)
    response = staff_client.post(changelist, {"action": "export_data", "_selected_action": [project.pk]})
    assert response["Location"] == url("export", project.pk)
    other = make_project("Other")
    response = staff_client.post(
        changelist, {"action": "export_data", "_selected_action": [project.pk, other.pk]}, follow=True
    )
    assert "Select exactly one project to export." in response.content.decode()


def test_it_exports_preferences_and_offers_the_files_for_download(
    staff_client, alice, project, tmp_path, run_jobs
):
    for i in range(4):
        vote(make_comparison(project, prompt_text=f"q{i}", a=f"yes {i}", b=f"no {i}"), alice, "A")
    with run_jobs():
        response = staff_client.post(
            url("export", project.pk),
            {"kind": "preferences", "eval_fraction": "0.25", "min_agreement": "0", "seed": "0"},
        )
    page = staff_client.get(response["Location"]).content.decode()
    assert "3 train + 1 eval rows from 4 comparisons, 4 judgments, 1 labelers" in page
    (stored,) = export_store_list(project=project)  # in the export store, like the API's
    assert stored.folder.parent == tmp_path / "exports" / str(project.pk)
    assert stored.files == ("train.eval.jsonl", "train.jsonl")
    for name in stored.files:
        assert stored.url(name) == f"/api/projects/{project.pk}/exports/{stored.export_id}/{name}"
        assert stored.url(name) in page
    download = staff_client.get(stored.url("train.jsonl"))
    assert download["Content-Disposition"].startswith("attachment")
    rows = [json.loads(line) for line in b"".join(download.streaming_content).splitlines()]
    assert len(rows) == 3 and all(r["chosen"].startswith("yes") for r in rows)
    # The export page lists it, with the same links.
    page = staff_client.get(url("export", project.pk)).content.decode()
    assert stored.export_id in page and stored.url("train.eval.jsonl") in page


def test_it_exports_raw_judgments_as_csv_without_usernames(staff_client, alice, project, tmp_path, run_jobs):
    vote(make_comparison(project), alice, "B")
    with run_jobs():
        response = staff_client.post(
            url("export", project.pk),
            {"kind": "raw-csv", "eval_fraction": "0", "min_agreement": "0", "seed": "0"},
        )
    assert "1 judgments, labelers pseudonymized." in staff_client.get(response["Location"]).content.decode()
    (stored,) = export_store_list(project=project)
    path = stored.folder / "judgments.csv"
    assert stored.files == ("judgments.csv",) and "alice" not in path.read_text()
    download = staff_client.get(stored.url("judgments.csv"))
    assert download.status_code == 200 and download["Content-Type"] == "text/csv"


def test_it_keeps_labelers_and_staff_without_permission_out(client, alice, project):
    client.force_login(alice)  # a labeler: not staff
    response = client.get(url("import", project.pk))
    assert response.status_code == 302 and "/login/" in response["Location"]

    clerk = make_user("clerk", staff=True, labeler=False)
    clerk.user_permissions.add(Permission.objects.get(codename="view_project"))
    client.force_login(clerk)
    # Importing changes the project; an export carries every labeler's judgments: managers only.
    assert client.get(url("export", project.pk)).status_code == 403
    assert client.post(url("export", project.pk), {"kind": "raw-csv"}).status_code == 403
    assert client.get(url("import", project.pk)).status_code == 403
    rows = [{"prompt": "q", "chosen": "a", "rejected": "b"}]
    response = client.post(
        url("import", project.pk), {"file": upload(rows), "format": "trl", "split": "train"}
    )
    assert response.status_code == 403 and Comparison.objects.count() == 0


def test_it_reads_uploads_line_by_line_on_newlines_only(staff_client, project, run_jobs):
    # A carriage return between JSON tokens is whitespace, not a line break.
    data = gzip.compress(b'{"prompt": "q",\r "chosen": "a", "rejected": "b"}\n')
    with run_jobs():
        response = staff_client.post(
            url("import", project.pk),
            {"file": SimpleUploadedFile("cr.jsonl.gz", data), "format": "trl", "split": "train"},
        )
    assert response.status_code == 302
    assert DataJob.objects.get().status == JobStatus.SUCCEEDED
    assert Comparison.objects.filter(project=project).count() == 1


def responses_rows(n: int = 3, answers: int = 3) -> list[dict]:
    return [
        {
            "prompt": f"question {i}",
            "responses": [{"text": f"answer {i}.{j}", "model": f"m{j}"} for j in range(answers)],
        }
        for i in range(n)
    ]


def test_an_import_of_responses_makes_pairs_in_the_same_job(staff_client, project, run_jobs):
    form = {"file": upload(responses_rows(), "answers.jsonl", gzipped=False), "format": "responses"}
    with run_jobs():
        response = staff_client.post(url("import", project.pk), form | {"split": "train", "pairs": "all"})
    job = DataJob.objects.get()
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert Comparison.objects.filter(project=project).count() == 9  # 3 prompts x (3 choose 2)
    assert job.result["pairs"]["created"] == 9 and job.result["created"]["responses"] == 9
    page = staff_client.get(response["Location"]).content.decode()
    assert "then made pairs: created 9 comparisons over 3 prompts" in page
    assert 'id="job-no-pairs"' not in page


def test_an_import_can_sample_pairs_or_pit_two_models(staff_client, project, run_jobs):
    rows = responses_rows(n=4)
    with run_jobs():
        staff_client.post(
            url("import", project.pk),
            {
                "file": upload(rows, "a.jsonl", gzipped=False),
                "format": "responses",
                "split": "train",
                "pairs": "models",
                "models": "m0, m2",
            },
        )
    pairs = Comparison.objects.filter(project=project)
    assert pairs.count() == 4  # one m0-vs-m2 pair per prompt
    assert {frozenset((c.response_a.model_name, c.response_b.model_name)) for c in pairs} == {
        frozenset({"m0", "m2"})
    }


def test_the_pairs_options_are_checked_before_anything_is_queued(staff_client, project):
    response = staff_client.post(
        url("import", project.pk),
        {
            "file": upload(responses_rows(), "a.jsonl", gzipped=False),
            "format": "responses",
            "split": "train",
            "pairs": "models",
            "models": "m0",
        },
    )
    assert response.status_code == 200 and "exactly two names" in response.content.decode()
    assert not DataJob.objects.exists() and not Prompt.objects.filter(project=project).exists()


def test_an_import_of_responses_without_pairs_says_labelers_have_nothing(staff_client, project, run_jobs):
    with run_jobs():
        response = staff_client.post(
            url("import", project.pk),
            {
                "file": upload(responses_rows(), "a.jsonl", gzipped=False),
                "format": "responses",
                "split": "train",
                "pairs": "",
            },
        )
    assert not Comparison.objects.filter(project=project).exists()
    page = staff_client.get(response["Location"]).content.decode()
    assert 'id="job-no-pairs"' in page and "Nothing left" in page
    assert reverse("console-project", args=[project.pk]) + "#make-pairs" in page
