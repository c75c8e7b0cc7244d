"""POST /api/projects/<id>/export/ and the export file download (managers only)."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from annotate.models import SideOrder
from annotate.services import JudgmentInput, comparison_assign_next, judgment_record
from tests.annotate.api_client import client_for
from tests.factories import make_comparison


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
