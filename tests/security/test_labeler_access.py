"""A labeler excluded or removed from a project while holding leases can no longer judge, skip,
undo or read them, through the API or the ranking screen: 403 with a JSON error, the comparison
keeps its count, and the lease goes back to the pool for someone else."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotate.models import Assignment, Comparison, Judgment, LabelerExclusion
from annotate.services import comparison_assign_next
from tests.annotate.api_client import client_for
from tests.factories import make_comparisons, make_project


@pytest.fixture
def leased(alice, bob):
    """alice holds a lease in a project where a comparison needs one judgment (k = 1)."""
    project = make_project("Access", labelers=(alice, bob), overlap_k=1, lease_seconds=600)
    make_comparisons(project, 1)
    return comparison_assign_next(labeler=alice, project=project)


def _bar(how: str, assignment: Assignment, manager) -> None:
    if how == "excluded":
        LabelerExclusion.objects.create(
            project=assignment.project, labeler=assignment.labeler, reason="spam", excluded_by=manager
        )
    else:
        assignment.project.labelers.remove(assignment.labeler)


def _judge_api(assignment: Assignment):
    return client_for(assignment.labeler).post(
        reverse("api-judgment", args=[assignment.pk]), {"choice": "A", "client_id": "late-1"}, format="json"
    )


def _judge_screen(assignment: Assignment, client):
    client.force_login(assignment.labeler)
    url = reverse("label-judgment", args=[assignment.project_id, assignment.pk])
    return client.post(url, {"choice": "A", "client_id": "late-1"}, content_type="application/json")


@pytest.mark.parametrize("how", ["excluded", "removed"])
@pytest.mark.parametrize("path", ["api", "screen"])
def test_it_refuses_a_judgment_on_a_lease_taken_before_the_labeler_was_barred(
    leased, bob, manager, client, how, path
):
    _bar(how, leased, manager)
    response = _judge_api(leased) if path == "api" else _judge_screen(leased, client)
    assert response.status_code == 403
    assert response.json()["code"] == ("excluded" if how == "excluded" else "not_member")
    assert response.json()["error"]
    assert not Judgment.objects.exists()
    assert Comparison.objects.get().judgment_count == 0
    leased.refresh_from_db()
    assert leased.state == Assignment.State.RELEASED  # back to the pool, at once
    # ... so someone else takes the comparison now, not when the lease would have run out.
    assert comparison_assign_next(labeler=bob, project=leased.project).comparison_id == leased.comparison_id


@pytest.mark.parametrize("how", ["excluded", "removed"])
def test_it_refuses_skip_undo_and_reads_once_barred(alice, manager, client, how):
    project = make_project("Access", labelers=(alice,), overlap_k=2, lease_seconds=600)
    make_comparisons(project, 3)
    judged = comparison_assign_next(labeler=alice, project=project)
    api = client_for(alice)
    assert (
        api.post(
            reverse("api-judgment", args=[judged.pk]), {"choice": "A", "client_id": "c1"}, format="json"
        ).status_code
        == 201
    )
    current = comparison_assign_next(labeler=alice, project=project)
    _bar(how, current, manager)

    skip = api.post(reverse("api-skip", args=[current.pk]), {}, format="json")
    undo = api.post(reverse("api-undo"), {"client_id": "c1"}, format="json")
    read = api.get(reverse("api-assignment", args=[judged.pk]))
    assert [r.status_code for r in (skip, undo, read)] == [403, 403, 403]
    assert Judgment.objects.filter(client_id="c1").exists()  # the undo did not happen
    assert Comparison.objects.get(pk=judged.comparison_id).judgment_count == 1
    current.refresh_from_db()
    assert current.state == Assignment.State.RELEASED

    client.force_login(alice)
    screen_skip = client.post(
        reverse("label-skip", args=[project.pk, current.pk]), {}, content_type="application/json"
    )
    assert screen_skip.status_code == 403 and screen_skip.json()["error"]
    screen_undo = client.post(
        reverse("label-undo", args=[project.pk]), {"client_id": "c1"}, content_type="application/json"
    )
    assert screen_undo.status_code == (403 if how == "excluded" else 404)  # removed: not their project


def test_it_lets_a_reinstated_labeler_work_again(leased, manager):
    _bar("excluded", leased, manager)
    assert _judge_api(leased).status_code == 403
    LabelerExclusion.objects.update(lifted_at="2026-01-01T00:00:00Z")
    fresh = comparison_assign_next(labeler=leased.labeler, project=leased.project)
    response = client_for(leased.labeler).post(
        reverse("api-judgment", args=[fresh.pk]), {"choice": "B", "client_id": "again"}, format="json"
    )
    assert response.status_code == 201


def test_it_leaves_other_projects_alone(leased, manager):
    other = make_project("Other", labelers=(leased.labeler,), overlap_k=1)
    make_comparisons(other, 1)
    elsewhere = comparison_assign_next(labeler=leased.labeler, project=other)
    _bar("excluded", leased, manager)
    assert _judge_api(leased).status_code == 403
    elsewhere.refresh_from_db()
    assert elsewhere.state == Assignment.State.ACTIVE
