"""POST judgment / skip / undo over HTTP: idempotency, conflicts, validation messages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from annotate.models import Assignment, Comparison, Judgment
from tests.annotate.api_client import client_for
from tests.factories import make_comparison


def lease(user, project) -> int:
    return client_for(user).get(f"/api/projects/{project.pk}/next/").json()["assignment"]["id"]


def submit(user, assignment_id, **payload):
    payload.setdefault("client_id", f"cid-{user.username}-{assignment_id}")
    return client_for(user).post(f"/api/assignments/{assignment_id}/judgment/", payload, format="json")


def test_it_stores_a_judgment_and_answers_a_replay_with_the_same_body(alice, project, comparisons):
    assignment_id = lease(alice, project)
    payload = {"choice": "A", "strength": 2, "rationale": " Clearer. ", "seconds_on_task": 7.5}
    first = submit(alice, assignment_id, client_id="uuid-1", **payload)
    replay = submit(alice, assignment_id, client_id="uuid-1", **payload)
    assert (first.status_code, replay.status_code) == (201, 200)
    assert first.json() == replay.json()
    assert first.json() | {"created_at": None} == {
        "client_id": "uuid-1",
        "assignment": assignment_id,
        "choice": "A",
        "strength": 2,
        "rationale": "Clearer.",
        "seconds_on_task": 7.5,
        "created_at": None,
    }
    assert Judgment.objects.count() == 1
    assert Comparison.objects.get(assignments=assignment_id).judgment_count == 1


def test_it_answers_409_when_an_expired_lease_is_no_longer_needed(alice, bob, carol, project):
    make_comparison(project)  # k = 2
    late = lease(alice, project)
    Assignment.objects.filter(pk=late).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert submit(bob, lease(bob, project), choice="A").status_code == 201
    assert submit(carol, lease(carol, project), choice="B").status_code == 201
    response = submit(alice, late, choice="A")
    assert response.status_code == 409
    assert response.json()["code"] == "lease_expired"
    assert "expired" in response.json()["error"] and "next one" in response.json()["error"]
    assert Judgment.objects.count() == 2


def test_it_answers_409_to_a_second_judgment_of_the_same_assignment(alice, project, comparisons):
    assignment_id = lease(alice, project)
    submit(alice, assignment_id, choice="A", client_id="one")
    response = submit(alice, assignment_id, choice="B", client_id="two")
    assert response.status_code == 409 and response.json()["code"] == "already_judged"


@pytest.mark.parametrize(
    "payload,field",
    [
        ({"choice": "C", "client_id": "x"}, "choice"),
        ({"client_id": "x"}, "choice"),
        ({"choice": "A", "strength": 7, "client_id": "x"}, "strength"),
        ({"choice": "A", "strength": "lots", "client_id": "x"}, "strength"),
        ({"choice": "A", "seconds_on_task": -1, "client_id": "x"}, "seconds_on_task"),
        ({"choice": "A"}, "client_id"),
        ({"choice": "A", "client_id": "x" * 65}, "client_id"),
        ({"choice": "A", "client_id": "x", "rationale": "r" * 5001}, "rationale"),
    ],
)
def test_it_rejects_a_bad_payload_naming_the_field(alice, project, comparisons, payload, field):
    assignment_id = lease(alice, project)
    response = client_for(alice).post(f"/api/assignments/{assignment_id}/judgment/", payload, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["error"].startswith(f"{field}: ")
    assert field in body["fields"]
    assert Judgment.objects.count() == 0


def test_it_rejects_a_body_that_is_not_json(alice, project, comparisons):
    assignment_id = lease(alice, project)
    response = client_for(alice).post(
        f"/api/assignments/{assignment_id}/judgment/", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert "JSON" in response.json()["error"]


def test_it_asks_for_a_rationale_when_the_project_wants_one(alice, project, comparisons):
    project.require_rationale_for_tie = True
    project.save()
    assignment_id = lease(alice, project)
    response = submit(alice, assignment_id, choice="tie")
    assert response.status_code == 400
    assert response.json()["code"] == "rationale" and "rationale" in response.json()["error"]
    assert submit(alice, assignment_id, choice="tie", rationale="Equally good.").status_code == 201


def test_it_hides_other_labelers_assignments_from_writes(alice, bob, project, comparisons):
    theirs = lease(bob, project)
    assert submit(alice, theirs, choice="A").status_code == 404
    skip = client_for(alice).post(f"/api/assignments/{theirs}/skip/", {}, format="json")
    assert skip.status_code == 404
    assert Assignment.objects.get(pk=theirs).state == Assignment.State.ACTIVE


def test_it_refuses_a_client_id_someone_else_used(alice, bob, project, comparisons):
    submit(alice, lease(alice, project), choice="A", client_id="shared")
    response = submit(bob, lease(bob, project), choice="B", client_id="shared")
    assert response.status_code == 409 and response.json()["code"] == "client_id_taken"
    assert "alice" not in response.content.decode()


def test_it_records_a_skip_and_moves_on(alice, project, comparisons):
    first = lease(alice, project)
    response = client_for(alice).post(
        f"/api/assignments/{first}/skip/", {"reason": "not my language"}, format="json"
    )
    assert response.status_code == 200
    assert response.json() == {"id": first, "state": "skipped", "skip_reason": "not my language"}
    assert lease(alice, project) != first


def test_it_refuses_to_skip_a_judged_comparison(alice, project, comparisons):
    assignment_id = lease(alice, project)
    submit(alice, assignment_id, choice="A")
    response = client_for(alice).post(f"/api/assignments/{assignment_id}/skip/", {}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "already_judged"


def test_it_undoes_a_judgment_and_shows_the_comparison_again(alice, project, comparisons):
    assignment_id = lease(alice, project)
    submit(alice, assignment_id, choice="A", client_id="undo-me")
    lease(alice, project)  # moved on
    response = client_for(alice).post("/api/judgments/undo/", {"client_id": "undo-me"}, format="json")
    assert response.status_code == 200
    assert response.json()["id"] == assignment_id and response.json()["state"] == "active"
    assert response.json()["response_a"]["text"]
    assert not Judgment.objects.exists()
    assert lease(alice, project) == assignment_id


def test_it_undoes_only_the_labelers_own_judgments(alice, bob, project, comparisons):
    submit(bob, lease(bob, project), choice="A", client_id="bobs")
    response = client_for(alice).post("/api/judgments/undo/", {"client_id": "bobs"}, format="json")
    assert response.status_code == 404
    assert Judgment.objects.count() == 1
    empty = client_for(alice).post("/api/judgments/undo/", {}, format="json")
    assert empty.status_code == 400 and empty.json()["error"].startswith("client_id: ")


def test_it_answers_the_next_assignment_with_the_judgment_when_asked(alice, project, comparisons):
    first = lease(alice, project)
    plain = submit(alice, first, choice="A")
    assert plain.status_code == 201 and "next" not in plain.json()
    second = lease(alice, project)
    url = f"/api/assignments/{second}/judgment/?next=1"
    answer = client_for(alice).post(url, {"choice": "B", "client_id": "with-next"}, format="json")
    assert answer.status_code == 201
    body = answer.json()
    assert body["client_id"] == "with-next" and body["next"]["message"] is None
    third = Assignment.objects.get(pk=body["next"]["assignment"]["id"])
    assert third.pk not in (first, second) and third.state == Assignment.State.ACTIVE
    assert third.labeler == alice
    # A retry of the same submission answers the same lease again, not a second one.
    again = client_for(alice).post(url, {"choice": "B", "client_id": "with-next"}, format="json")
    assert again.status_code == 200 and again.json()["next"]["assignment"]["id"] == third.pk


def test_it_says_when_nothing_is_left_after_the_judgment(alice, project):
    make_comparison(project)
    assignment_id = lease(alice, project)
    url = f"/api/assignments/{assignment_id}/judgment/?next=1"
    body = client_for(alice).post(url, {"choice": "A", "client_id": "last"}, format="json").json()
    assert body["next"]["assignment"] is None and "Nothing left" in body["next"]["message"]
