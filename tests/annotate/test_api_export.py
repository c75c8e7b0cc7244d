"""POST /api/projects/<id>/export/ and the export file download (managers only)."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from annotate.exporting.store import export_store_judgments, export_store_list
from annotate.models import SideOrder
from annotate.services import JudgmentInput, comparison_assign_next, judgment_record
from tests.annotate.api_client import client_for
from tests.factories import make_comparison, make_project, make_user


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    return tmp_path


def prefer(user, project, stored: str, client_id: str):
    """Judge the comparison leased to `user`, preferring stored response "a" or "b"."""
    assignment = comparison_assign_next(labeler=user, project=project)
    a_shown_left = assignment.side_order == SideOrder.AB
    choice = "A" if (stored == "a") == a_shown_left else "B"
    judgment_record(
        labeler=user, assignment_id=assignment.pk, data=JudgmentInput(choice=choice, client_id=client_id)
    )


def test_it_exports_majority_pairs_and_serves_the_files(alice, bob, manager, project):
    make_comparison(project, prompt_text="Capital of France?", a="Paris.", b="Lyon.")
    make_comparison(project, prompt_text="Two plus two?", a="Five.", b="Four.")
    prefer(alice, project, "a", "a1")
    prefer(bob, project, "a", "b1")  # comparison 1: both prefer "Paris."
    prefer(alice, project, "b", "a2")
    prefer(bob, project, "b", "b2")  # comparison 2: both prefer "Four."
    client = client_for(manager)

    response = client.post(f"/api/projects/{project.pk}/export/", {"eval_fraction": 0.5}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["n_train"], body["n_eval"], body["n_comparisons"], body["n_judgments"]) == (1, 1, 2, 4)
    assert body["n_labelers"] == 2 and body["conversational"] is False
    assert set(body["files"]) == {"train", "eval"}

    rows = []
    for url in body["files"].values():
        download = client.get(url)
        assert download.status_code == 200
        assert download["Content-Type"] == "application/jsonl"
        rows += [json.loads(line) for line in b"".join(download.streaming_content).decode().splitlines()]
    pairs = {(r["prompt"], r["chosen"], r["rejected"]) for r in rows}
    assert pairs == {("Capital of France?", "Paris.", "Lyon."), ("Two plus two?", "Four.", "Five.")}


def test_it_refuses_export_to_labelers_and_anonymous_callers(alice, project):
    assert client_for(alice).post(f"/api/projects/{project.pk}/export/", {}, format="json").status_code == 403
    assert APIClient().post(f"/api/projects/{project.pk}/export/", {}, format="json").status_code == 401
    url = f"/api/projects/{project.pk}/exports/20260101T000000Z-0123456789/train.jsonl"
    assert client_for(alice).get(url).status_code == 403


def test_it_rejects_bad_export_options_naming_the_field(manager, project):
    response = client_for(manager).post(
        f"/api/projects/{project.pk}/export/", {"eval_fraction": 1.5}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"].startswith("eval_fraction: ")


def test_it_serves_only_files_of_real_exports(manager, project, data_dir):
    secret = data_dir / "secret.jsonl"
    secret.write_text("{}\n")
    client = client_for(manager)
    for name, filename in [
        ("..", "secret.jsonl"),
        ("20260101T000000Z-0123456789", "train.jsonl"),  # well formed, never written
        ("20260101T000000Z-0123456789", "..%2Fsecret.jsonl"),
    ]:
        response = client.get(f"/api/projects/{project.pk}/exports/{name}/{filename}")
        assert response.status_code == 404, (name, filename)
    assert client.post("/api/projects/987654/export/", {}, format="json").status_code == 404


def test_it_keeps_every_download_inside_the_export_store(manager, project, data_dir):
    (data_dir / "secret.txt").write_text("not an export")
    other = make_project("Other")
    stored, _ = export_store_judgments(project=other, fmt="jsonl")
    (data_dir / "exports" / str(project.pk)).mkdir(parents=True)
    (data_dir / "exports" / str(project.pk) / "20260101T000000Z-0123456789").symlink_to(stored.folder)
    client = client_for(manager)
    base = f"/api/projects/{project.pk}/exports"
    for path in [
        "..%2F..%2Fsecret.txt/x",
        "20260101T000000Z-0123456789/..%2F..%2F..%2Fsecret.txt",
        "20260101T000000Z-0123456789/.hidden",
        "20260101T000000Z-0123456789/judgments.jsonl",  # another project's export, through a link
        f"{stored.export_id}/judgments.jsonl",  # another project's export id under this project
        "%2E%2E/%2E%2E",
    ]:
        response = client.get(f"{base}/{path}")
        assert response.status_code == 404, path
        assert not getattr(response, "streaming", False)
    assert client.get(stored.url("judgments.jsonl")).status_code == 200  # under its own project


def test_it_lists_a_projects_exports_newest_first(manager, project, data_dir):
    assert export_store_list(project=project) == []
    make_comparison(project)
    older = data_dir / "exports" / str(project.pk) / "20250101T120000Z-0123456789"
    older.mkdir(parents=True)
    (older / "judgments.csv").write_text("judgment_id\n")
    (older.parent / ".export-abc").mkdir()  # one being written: not listed
    name = client_for(manager).post(f"/api/projects/{project.pk}/export/", {}, format="json").json()["name"]
    listed = export_store_list(project=project)
    assert [(s.export_id, s.files) for s in listed] == [
        (name, ("train.jsonl",)),
        ("20250101T120000Z-0123456789", ("judgments.csv",)),
    ]
    assert listed[1].created_at == datetime(2025, 1, 1, 12, tzinfo=UTC)
    assert export_store_list(project=make_project("Other")) == []


def test_it_throttles_exports_per_manager(manager, project, data_dir, monkeypatch):
    """Each export writes a folder: past the "export" rate a manager gets 429 and nothing is written."""
    rate = int(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["export"].split("/")[0])
    # A second apart, as calls a person makes are: the same files in the same second share a folder.
    seconds = itertools.count()
    clock = SimpleNamespace(now=lambda: datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=next(seconds)))
    monkeypatch.setattr("annotate.exporting.store.timezone", clock)
    make_comparison(project)
    client, url = client_for(manager), f"/api/projects/{project.pk}/export/"
    assert [client.post(url, {}, format="json").status_code for _ in range(rate)] == [201] * rate
    assert len(export_store_list(project=project)) == rate

    refused = client.post(url, {}, format="json")
    assert refused.status_code == 429
    assert refused.json()["code"] == "throttled"
    assert 0 < int(refused["Retry-After"]) <= 3600
    assert len(export_store_list(project=project)) == rate
    assert len(list((data_dir / "exports" / str(project.pk)).iterdir())) == rate  # no scratch folder either

    other = make_user("other-manager", manager=True, labeler=False)
    assert client_for(other).post(url, {}, format="json").status_code == 201  # counted per manager
