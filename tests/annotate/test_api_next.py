"""GET /api/projects/<id>/next/ and GET /api/assignments/<id>/: what a labeler is shown."""

from __future__ import annotations

import json

from annotate.models import Assignment, LabelerExclusion, SideOrder
from tests.annotate.api_client import client_for, walk_keys
from tests.factories import make_comparison, make_project

SHOWN_KEYS = {
    "assignment",
    "message",
    "id",
    "project",
    "state",
    "leased_at",
    "expires_at",
    "prompt",
    "messages",
    "role",
    "content",
    "response_a",
    "response_b",
    "text",
}


def next_for(user, project):
    response = client_for(user).get(f"/api/projects/{project.pk}/next/")
    assert response.status_code == 200, response.content
    return response.json()


def test_it_shows_the_prompt_and_both_responses_in_the_order_shown(alice, project):
    comparison = make_comparison(project, prompt_text="Capital of France?", a="Paris.", b="Lyon.")
    body = next_for(alice, project)["assignment"]
    stored = Assignment.objects.get(pk=body["id"])
    left, right = ("Paris.", "Lyon.") if stored.side_order == SideOrder.AB else ("Lyon.", "Paris.")
    assert body["prompt"] == {"messages": [{"role": "user", "content": "Capital of France?"}]}
    assert (body["response_a"]["text"], body["response_b"]["text"]) == (left, right)
    assert body["project"] == project.pk and stored.comparison_id == comparison.pk
    assert body["expires_at"] == stored.expires_at.isoformat().replace("+00:00", "Z")


def test_it_shows_both_orders_over_many_leases(alice, project):
    make_comparison(project, a="first", b="second")
    lefts = set()
    for _ in range(30):
        Assignment.objects.all().delete()
        lefts.add(next_for(alice, project)["assignment"]["response_a"]["text"])
    assert lefts == {"first", "second"}


def test_it_never_reveals_gold_ids_models_or_side_order(alice, project):
    project.gold_rate = 1.0
    project.save()
    make_comparison(project, is_gold=True, gold_choice="B", a="one text", b="another text")
    body = next_for(alice, project)
    assert Assignment.objects.get(pk=body["assignment"]["id"]).comparison.is_gold  # a gold item was served
    assert walk_keys(body) <= SHOWN_KEYS
    raw = json.dumps(body)
    for secret in ("gold", "model-a", "model-b", "side_order", "AB", "BA"):
        assert secret not in raw


def test_it_gives_back_the_current_lease_when_asked_again(alice, project, comparisons):
    first = next_for(alice, project)["assignment"]["id"]
    assert next_for(alice, project)["assignment"]["id"] == first
    assert Assignment.objects.filter(labeler=alice).count() == 1


def test_it_answers_null_with_a_message_when_nothing_is_left(alice, bob, carol, project):
    make_comparison(project)  # k = 2
    next_for(alice, project)
    next_for(bob, project)
    body = next_for(carol, project)
    assert body == {"assignment": None, "message": "Nothing left for you in this project right now."}


def test_it_hides_projects_the_labeler_is_not_in(alice, mallory, project, comparisons):
    secret = make_project("Secret", labelers=(mallory,))
    make_comparison(secret)
    response = client_for(alice).get(f"/api/projects/{secret.pk}/next/")
    assert response.status_code == 404
    assert response.json() == {"error": f"No project {secret.pk} for you.", "code": "not_found"}
    assert client_for(alice).get("/api/projects/999999/next/").status_code == 404


def test_it_refuses_work_to_an_excluded_labeler(alice, manager, project, comparisons):
    LabelerExclusion.objects.create(project=project, labeler=alice, reason="spam", excluded_by=manager)
    response = client_for(alice).get(f"/api/projects/{project.pk}/next/")
    assert response.status_code == 403
    assert response.json()["code"] == "excluded"


def test_it_shows_a_labeler_their_own_assignment_and_judgment_only(alice, bob, project):
    make_comparison(project)  # k = 2: alice and bob both get it
    mine = next_for(alice, project)["assignment"]["id"]
    theirs = next_for(bob, project)["assignment"]["id"]
    client_for(bob).post(
        f"/api/assignments/{theirs}/judgment/",
        {"choice": "B", "client_id": "bob-secret-id", "rationale": "bob's reasons"},
        format="json",
    )
    before = client_for(alice).get(f"/api/assignments/{mine}/").json()
    assert before["judgment"] is None and before["state"] == "active"
    client_for(alice).post(
        f"/api/assignments/{mine}/judgment/", {"choice": "A", "client_id": "alice-1"}, format="json"
    )
    after = client_for(alice).get(f"/api/assignments/{mine}/").json()
    assert after["state"] == "submitted"
    assert after["judgment"]["client_id"] == "alice-1" and after["judgment"]["choice"] == "A"
    assert "bob" not in json.dumps(after)  # nothing of bob's judgment on the same comparison
    assert walk_keys(after) - {"judgment"} <= SHOWN_KEYS | set(after["judgment"])
    # bob's assignment does not exist for alice
    hidden = client_for(alice).get(f"/api/assignments/{theirs}/")
    assert hidden.status_code == 404 and hidden.json()["code"] == "not_found"


def test_it_answers_404_for_ids_no_row_can_have(alice, project):
    client = client_for(alice)
    huge = 2**64  # past a 64-bit column: a miss, not a database error
    assert client.get(f"/api/projects/{huge}/next/").status_code == 404
    response = client.post(
        f"/api/assignments/{huge}/judgment/", {"choice": "A", "client_id": "c-huge"}, format="json"
    )
    assert response.status_code == 404
    assert client.get(f"/api/assignments/{huge}/").status_code == 404
