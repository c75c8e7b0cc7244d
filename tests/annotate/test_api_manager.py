"""Manager endpoints: project progress (staff only)."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from annotate.models import Assignment, Judgment
from annotate.services import JudgmentInput, comparison_assign_next, judgment_record
from tests.annotate.api_client import client_for
from tests.factories import make_comparisons


def judge(user, project, client_id):
    assignment = comparison_assign_next(labeler=user, project=project)
    judgment_record(
        labeler=user, assignment_id=assignment.pk, data=JudgmentInput(choice="A", client_id=client_id)
    )


def test_it_reports_project_progress_to_managers(alice, bob, carol, manager, project, comparisons):
    make_comparisons(project, 2, is_gold=True)
    judge(alice, project, "a1")  # comparison 1: alice
    judge(bob, project, "b1")  # comparison 1: bob -> complete (k = 2)
    judge(alice, project, "a2")  # comparison 2: alice -> in progress
    comparison_assign_next(labeler=carol, project=project)  # comparison 2 leased by carol -> in progress
    old = Judgment.objects.get(client_id="a1")
    Judgment.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=2))

    response = client_for(manager).get(f"/api/projects/{project.pk}/progress/")
    assert response.status_code == 200
    assert response.json() == {
        "project_id": project.pk,
        "overlap_k": 2,
        "comparisons_total": 5,
        "comparisons_complete": 1,
        "comparisons_in_progress": 1,
        "gold_total": 2,
        "judgments_human": 3,
        "judgments_external": 0,
        "judgments_simulated": 0,
        "judgments_last_hour": 2,
        "live_leases": 1,
        "active_labelers": 3,  # alice and bob judged within the hour, carol holds a lease
    }


def test_it_counts_an_expired_lease_as_neither_live_nor_active(alice, manager, project, comparisons):
    assignment = comparison_assign_next(labeler=alice, project=project)
    Assignment.objects.filter(pk=assignment.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    body = client_for(manager).get(f"/api/projects/{project.pk}/progress/").json()
    assert (body["live_leases"], body["active_labelers"], body["comparisons_in_progress"]) == (0, 0, 0)


def test_it_refuses_progress_to_labelers(alice, project):
    response = client_for(alice).get(f"/api/projects/{project.pk}/progress/")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_it_answers_404_for_an_unknown_project(manager):
    response = client_for(manager).get("/api/projects/424242/progress/")
    assert response.status_code == 404 and "424242" in response.json()["error"]


def test_it_computes_progress_in_a_fixed_number_of_queries(alice, manager, project):
    client = client_for(manager)
    make_comparisons(project, 2)
    with CaptureQueriesContext(connection) as few:
        client.get(f"/api/projects/{project.pk}/progress/")
    make_comparisons(project, 20)
    for i in range(3):
        judge(alice, project, f"q{i}")
    with CaptureQueriesContext(connection) as many:
        assert client.get(f"/api/projects/{project.pk}/progress/").json()["comparisons_total"] == 22
    assert len(many) == len(few)
