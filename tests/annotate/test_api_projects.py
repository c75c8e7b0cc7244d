"""GET /api/projects/ and GET /api/projects/<id>/me/: a labeler's projects and progress."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.annotate.api_client import client_for
from tests.factories import make_comparisons, make_project


def judge_one(user, project, choice="A"):
    client = client_for(user)
    assignment = client.get(f"/api/projects/{project.pk}/next/").json()["assignment"]
    response = client.post(
        f"/api/assignments/{assignment['id']}/judgment/",
        {"choice": choice, "client_id": f"{user.username}-{assignment['id']}"},
        format="json",
    )
    assert response.status_code == 201


def test_it_lists_only_my_projects_with_my_progress(alice, bob, mallory, project, comparisons):
    make_project("Secret", labelers=(mallory,))
    make_comparisons(project, 1, is_gold=True)
    judge_one(alice, project)
    judge_one(alice, project)
    judge_one(bob, project)
    body = client_for(alice).get("/api/projects/").json()
    assert [p["name"] for p in body] == ["Helpfulness"]
    assert body[0] | {"id": None, "guidelines": None} == {
        "id": None,
        "name": "Helpfulness",
        "guidelines": None,
        "overlap_k": 2,
        "lease_seconds": 600,
        "require_rationale_for_tie": False,
        "comparisons_total": 5,  # the gold item is not counted
        "comparisons_open": 4,  # the first comparison got alice's and bob's judgments (k = 2)
        "my_judgments": 2,
        "my_judgments_today": 2,
    }
    assert client_for(mallory).get("/api/projects/").json()[0]["name"] == "Secret"


def test_it_lists_every_project_to_staff(manager, mallory, project):
    make_project("Secret", labelers=(mallory,))
    assert [p["name"] for p in client_for(manager).get("/api/projects/").json()] == ["Helpfulness", "Secret"]


def test_it_lists_projects_in_a_fixed_number_of_queries(alice, project, comparisons):
    client = client_for(alice)
    with CaptureQueriesContext(connection) as one:
        client.get("/api/projects/")
    for i in range(4):
        make_comparisons(make_project(f"More {i}", labelers=(alice,)), 3)
    with CaptureQueriesContext(connection) as five:
        assert len(client.get("/api/projects/").json()) == 5
    assert len(five) == len(one)


def test_it_reports_my_stats(alice, bob, project, comparisons):
    judge_one(alice, project)
    judge_one(bob, project)
    client = client_for(alice)
    assignment = client.get(f"/api/projects/{project.pk}/next/").json()["assignment"]
    client.post(f"/api/assignments/{assignment['id']}/skip/", {}, format="json")
    body = client.get(f"/api/projects/{project.pk}/me/").json()
    assert body == {
        "project": project.pk,
        "judged_today": 1,
        "judged_total": 1,
        "skipped_total": 1,
        "remaining_for_me": 3,  # 5 - judged - skipped
        "project_remaining": 4,  # alice and bob completed the first one (k = 2)
    }


def test_it_hides_stats_of_projects_i_am_not_in(alice, mallory):
    secret = make_project("Secret", labelers=(mallory,))
    response = client_for(alice).get(f"/api/projects/{secret.pk}/me/")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
