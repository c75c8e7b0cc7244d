"""The labeler pages and the ranking screen's JSON endpoints, through Django's test client."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from annotate import screen_views
from annotate.models import Assignment, Judgment, LabelerExclusion, SideOrder
from annotate.services import JudgmentInput, comparison_assign_next, judgment_record
from pairwise.errors import Forbidden
from tests.factories import make_comparison, make_comparisons, make_project


@pytest.fixture
def as_alice(alice):
    client = Client()
    client.force_login(alice)
    return client


def post(client, url, body=None, **extra):
    return client.post(url, data=json.dumps(body or {}), content_type="application/json", **extra)


def urls(project, assignment_id=0):
    return {
        "page": reverse("label", args=[project.pk]),
        "lease": reverse("label-lease", args=[project.pk]),
        "judgment": reverse("label-judgment", args=[project.pk, assignment_id]),
        "skip": reverse("label-skip", args=[project.pk, assignment_id]),
        "undo": reverse("label-undo", args=[project.pk]),
    }


def bootstrap(response) -> dict:
    html = response.content.decode()
    start = html.index('<script id="screen-data" type="application/json">') + len(
        '<script id="screen-data" type="application/json">'
    )
    return json.loads(html[start : html.index("</script>", start)])


# --- pages ---------------------------------------------------------------------------------------


def test_it_sends_visitors_to_the_login_page(client, project):
    for url in (reverse("home"), urls(project)["page"]):
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_it_logs_a_labeler_in_with_the_form(client, alice, project):
    page = client.get(reverse("login"))
    assert b'name="username"' in page.content
    wrong = client.post(reverse("login"), {"username": "alice", "password": "nope"})
    assert wrong.status_code == 200 and b'role="alert"' in wrong.content
    response = client.post(reverse("login"), {"username": "alice", "password": "pw-alice"})
    assert response.status_code == 302 and response.url == reverse("home")
    assert b"Helpfulness" in client.get(reverse("home")).content


def test_it_lists_only_the_labelers_projects_with_their_progress(as_alice, alice, mallory, project):
    make_project("Secret", labelers=(mallory,))
    make_comparisons(project, 3)
    judgment_record(
        labeler=alice,
        assignment_id=comparison_assign_next(labeler=alice, project=project).pk,
        data=JudgmentInput(choice="A", client_id="home-1"),
    )
    html = as_alice.get(reverse("home")).content.decode()
    assert "Helpfulness" in html and "Secret" not in html
    assert '<progress class="progress" max="3" value="1"' in html


def test_it_counts_what_is_left_on_the_home_page_up_to_the_cap(as_alice, project, monkeypatch):
    make_comparisons(project, 5)
    html = as_alice.get(reverse("home")).content.decode()
    assert "<dt>Left for you</dt><dd>5</dd>" in html and "<dt>Project still open</dt><dd>5</dd>" in html
    monkeypatch.setattr("annotate.views.SCREEN_COUNT_CAP", 3)  # a big project: "at least 3"
    html = as_alice.get(reverse("home")).content.decode()
    assert "<dt>Left for you</dt><dd>3+</dd>" in html and "<dt>Project still open</dt><dd>3+</dd>" in html


def test_it_shows_staff_every_project(manager, mallory, project):
    make_project("Secret", labelers=(mallory,))
    client = Client()
    client.force_login(manager)
    html = client.get(reverse("home")).content.decode()
    assert "Helpfulness" in html and "Secret" in html
    assert client.get(urls(project)["page"]).status_code == 200


def test_it_opens_the_screen_with_the_current_lease(as_alice, alice, project, comparisons):
    response = as_alice.get(urls(project)["page"])
    assert response.status_code == 200
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert response["Cache-Control"] == "no-store"
    data = bootstrap(response)
    current = Assignment.objects.get(labeler=alice, state=Assignment.State.ACTIVE)
    assert [a["id"] for a in data["assignments"]] == [current.pk]
    assert data["stats"]["remaining_for_me"] == 5


def test_it_never_shows_model_names_or_gold_answers(as_alice, project):
    make_comparison(project, is_gold=True, gold_choice="A")
    html = as_alice.get(urls(project)["page"]).content.decode()
    assert "model-a" not in html and "model-b" not in html
    assert "gold" not in html.lower()


def test_it_hides_other_projects_screens(as_alice, mallory):
    other = make_project("Secret", labelers=(mallory,))
    make_comparisons(other, 2)
    assert as_alice.get(urls(other)["page"]).status_code == 404
    assert not Assignment.objects.filter(project=other).exists()


def test_it_tells_an_excluded_labeler_why(as_alice, alice, manager, project, comparisons):
    LabelerExclusion.objects.create(project=project, labeler=alice, reason="spam", excluded_by=manager)
    response = as_alice.get(urls(project)["page"])
    assert response.status_code == 403
    assert b"excluded" in response.content


def test_it_shows_a_in_the_assignments_side_order(as_alice, alice, project):
    comparison = make_comparison(project, a="stored first", b="stored second")
    assignment = comparison_assign_next(labeler=alice, project=project)
    Assignment.objects.filter(pk=assignment.pk).update(side_order=SideOrder.BA)
    (payload,) = bootstrap(as_alice.get(urls(project)["page"]))["assignments"]
    assert "stored second" in payload["a"]["html"] and "stored first" in payload["b"]["html"]
    assert payload["a"]["chars"] == len(comparison.response_b.text)
    assert payload["a"]["tokens"] == round(len(comparison.response_b.text) / 4)


def test_it_shows_every_turn_with_its_role(as_alice, alice, project):
    comparison = make_comparison(project)
    comparison.prompt.messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi <b>there</b>"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Tell me a joke."},
    ]
    comparison.prompt.save()
    (payload,) = bootstrap(as_alice.get(urls(project)["page"]))["assignments"]
    html = payload["prompt_html"]
    assert payload["turns"] == 4
    assert [html.count(f'class="turn turn-{role}"') for role in ("system", "user", "assistant")] == [1, 2, 1]
    assert "Hi &lt;b&gt;there&lt;/b&gt;" in html


# --- JSON endpoints ------------------------------------------------------------------------------


def test_it_leases_pairs_ahead(as_alice, alice, project, comparisons):
    as_alice.get(urls(project)["page"])
    answer = post(as_alice, urls(project)["lease"]).json()
    assert answer["assignment"]["id"] != Assignment.objects.filter(labeler=alice).order_by("id").first().pk
    assert set(answer["stats"]) == {"today", "total", "remaining_for_me", "project_remaining", "capped_at"}
    assert Assignment.objects.filter(labeler=alice, state=Assignment.State.ACTIVE).count() == 2


def test_it_leases_the_next_pair_in_the_judgments_answer(as_alice, alice, project, comparisons):
    """The screen's steady state: one request per judgment keeps its queue of three full."""
    page = bootstrap(as_alice.get(urls(project)["page"]))
    queue = [page["assignments"][0]["id"]]
    queue += [post(as_alice, urls(project)["lease"]).json()["assignment"]["id"] for _ in range(2)]
    requests = 0
    for n in range(2):
        body = {"client_id": f"j-{n}", "choice": "A", "next": True}
        answer = post(as_alice, urls(project, queue.pop(0))["judgment"], body)
        requests += 1
        assert answer.status_code == 201
        nxt = answer.json()["next"]
        assert set(nxt["stats"]) == {"today", "total", "remaining_for_me", "project_remaining", "capped_at"}
        queue.append(nxt["assignment"]["id"])
    assert requests == Judgment.objects.filter(labeler=alice).count() == 2
    active = Assignment.objects.filter(labeler=alice, state=Assignment.State.ACTIVE)
    assert sorted(active.values_list("id", flat=True)) == sorted(queue)
    # Five comparisons: two judged, three queued; nothing left to lease with the next judgment.
    body = {"client_id": "j-2", "choice": "A", "next": True}
    assert post(as_alice, urls(project, queue[0])["judgment"], body).json()["next"]["assignment"] is None
    without = post(as_alice, urls(project, queue[1])["judgment"], {"client_id": "j-3", "choice": "A"})
    assert without.status_code == 201 and "next" not in without.json()


def test_it_answers_a_lease_refusal_beside_the_stored_judgment(
    as_alice, alice, project, comparisons, monkeypatch
):
    # Excluded between the judgment and the next lease (an exclusion committed in that instant:
    # one before the judgment refuses the judgment itself, see tests/security).
    assignment = comparison_assign_next(labeler=alice, project=project)

    def excluded(**kwargs):
        raise Forbidden("You were excluded from this project.", code="excluded")

    monkeypatch.setattr(screen_views, "comparison_lease_ahead", excluded)
    answer = post(
        as_alice, urls(project, assignment.pk)["judgment"], {"client_id": "x", "choice": "A", "next": True}
    )
    assert answer.status_code == 201 and Judgment.objects.filter(client_id="x").exists()
    assert answer.json()["next"]["code"] == "excluded" and answer.json()["next"]["status"] == 403


def test_it_answers_null_when_nothing_is_left(as_alice, project):
    assert post(as_alice, urls(project)["lease"]).json()["assignment"] is None


def test_it_stores_a_judgment_with_side_order_and_seconds(as_alice, alice, project, comparisons):
    assignment = comparison_assign_next(labeler=alice, project=project)
    body = {"client_id": "j-1", "choice": "B", "strength": 3, "rationale": " why ", "seconds_on_task": 12.5}
    response = post(as_alice, urls(project, assignment.pk)["judgment"], body)
    assert response.status_code == 201 and response.json()["created"] is True
    judgment = Judgment.objects.get(client_id="j-1")
    assert (judgment.choice, judgment.strength, judgment.rationale) == ("B", 3, "why")
    assert judgment.seconds_on_task == 12.5
    assert judgment.side_order == assignment.side_order
    # The same client id again (a retry after a lost answer): one row, the same answer.
    again = post(as_alice, urls(project, assignment.pk)["judgment"], body)
    assert again.status_code == 200 and again.json()["judgment_id"] == judgment.pk
    assert Judgment.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"client_id": "x", "choice": "C"}, "choice"),
        ({"client_id": "x", "choice": "A", "strength": "2"}, "strength"),
        ({"client_id": "x", "choice": "A", "strength": 9}, "strength"),
        ({"client_id": "x", "choice": "A", "seconds_on_task": "ten"}, "seconds_on_task"),
        ({"client_id": "", "choice": "A"}, "client_id"),
        ({"client_id": "x" * 65, "choice": "A"}, "client_id"),
    ],
)
def test_it_refuses_bad_judgments_with_a_message(as_alice, alice, project, comparisons, body, fragment):
    assignment = comparison_assign_next(labeler=alice, project=project)
    response = post(as_alice, urls(project, assignment.pk)["judgment"], body)
    assert response.status_code == 400
    assert fragment in response.json()["error"] and response.json()["code"] == "invalid"
    assert not Judgment.objects.exists()


def test_it_refuses_a_body_that_is_not_json(as_alice, alice, project, comparisons):
    assignment = comparison_assign_next(labeler=alice, project=project)
    response = as_alice.post(
        urls(project, assignment.pk)["judgment"], data="{nope", content_type="application/json"
    )
    assert response.status_code == 400 and response.json()["code"] == "invalid"


def test_it_asks_for_a_rationale_when_the_project_requires_one(as_alice, alice, project, comparisons):
    project.require_rationale_for_tie = True
    project.save()
    assignment = comparison_assign_next(labeler=alice, project=project)
    response = post(as_alice, urls(project, assignment.pk)["judgment"], {"client_id": "t", "choice": "tie"})
    assert response.status_code == 400 and response.json()["code"] == "rationale"


def test_it_hides_assignments_of_other_labelers_and_projects(
    as_alice, alice, bob, mallory, project, comparisons
):
    bobs = comparison_assign_next(labeler=bob, project=project)
    body = {"client_id": "steal", "choice": "A"}
    for url in (urls(project, bobs.pk)["judgment"], urls(project, bobs.pk)["skip"]):
        response = post(as_alice, url, body)
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    # Alice's own assignment through another project's URL is not found either.
    other = make_project("Other", labelers=(alice, mallory))
    mine = comparison_assign_next(labeler=alice, project=project)
    assert post(as_alice, urls(other, mine.pk)["judgment"], body).status_code == 404
    # And a project she is not in answers 404 before anything else.
    secret = make_project("Secret", labelers=(mallory,))
    assert post(as_alice, urls(secret)["lease"]).status_code == 404
    assert not Judgment.objects.exists()
    assert Assignment.objects.get(pk=bobs.pk).state == Assignment.State.ACTIVE


def test_it_explains_an_expired_lease_that_was_no_longer_needed(alice, bob, carol, project):
    make_comparison(project)  # k = 2
    late = comparison_assign_next(labeler=alice, project=project)
    Assignment.objects.filter(pk=late.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    for i, labeler in enumerate((bob, carol)):
        judgment_record(
            labeler=labeler,
            assignment_id=comparison_assign_next(labeler=labeler, project=project).pk,
            data=JudgmentInput(choice="A", client_id=f"other-{i}"),
        )
    client = Client()
    client.force_login(alice)
    response = post(client, urls(project, late.pk)["judgment"], {"client_id": "late", "choice": "A"})
    assert response.status_code == 409
    assert response.json()["code"] == "lease_expired" and "expired" in response.json()["error"]


def test_it_records_a_skip_with_its_reason(as_alice, alice, project, comparisons):
    assignment = comparison_assign_next(labeler=alice, project=project)
    response = post(as_alice, urls(project, assignment.pk)["skip"], {"reason": "Outside my knowledge"})
    assert response.status_code == 200
    assignment.refresh_from_db()
    assert (assignment.state, assignment.skip_reason) == ("skipped", "Outside my knowledge")


def test_it_undoes_a_judgment_and_gives_the_pair_back(as_alice, alice, project, comparisons):
    assignment = comparison_assign_next(labeler=alice, project=project)
    post(as_alice, urls(project, assignment.pk)["judgment"], {"client_id": "u-1", "choice": "A"})
    ahead = post(as_alice, urls(project)["lease"]).json()["assignment"]
    response = post(as_alice, urls(project)["undo"], {"client_id": "u-1"})
    assert response.status_code == 200
    assert response.json()["assignment"]["id"] == assignment.pk
    assert not Judgment.objects.exists()
    assert Assignment.objects.get(pk=ahead["id"]).state == Assignment.State.RELEASED


def test_it_refuses_to_undo_someone_elses_or_a_late_judgment(as_alice, alice, bob, project, comparisons):
    bobs = comparison_assign_next(labeler=bob, project=project)
    judgment_record(labeler=bob, assignment_id=bobs.pk, data=JudgmentInput(choice="A", client_id="bob-1"))
    assert post(as_alice, urls(project)["undo"], {"client_id": "bob-1"}).status_code == 404
    assert Judgment.objects.filter(client_id="bob-1").exists()

    mine = comparison_assign_next(labeler=alice, project=project)
    post(as_alice, urls(project, mine.pk)["judgment"], {"client_id": "a-1", "choice": "A"})
    Assignment.objects.filter(pk=mine.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = post(as_alice, urls(project)["undo"], {"client_id": "a-1"})
    assert response.status_code == 409 and response.json()["code"] == "too_late"


def test_it_answers_json_when_logged_out_or_the_token_is_stale(alice, project, comparisons):
    anonymous = post(Client(), urls(project)["lease"])
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "not_authenticated"

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    refused = post(strict, urls(project)["lease"])
    assert refused.status_code == 403 and refused.json()["code"] == "csrf"
    strict.get(urls(project)["page"])  # sets the csrftoken cookie
    token = strict.cookies["csrftoken"].value
    assert post(strict, urls(project)["lease"], HTTP_X_CSRFTOKEN=token).status_code == 200


def test_it_keeps_a_page_opened_by_someone_else_from_sending_as_the_new_user(as_alice, alice, bob, project):
    response = post(as_alice, urls(project)["lease"], HTTP_X_PAIRWISE_USER=str(bob.pk))
    assert response.status_code == 403 and response.json()["code"] == "wrong_user"
    assert post(as_alice, urls(project)["lease"], HTTP_X_PAIRWISE_USER=str(alice.pk)).status_code == 200


def test_it_wants_post(as_alice, project):
    response = as_alice.get(urls(project)["lease"])
    assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"
