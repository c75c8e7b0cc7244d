"""Admin for managers: progress columns, read-only records, the release-leases action, the group."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotate.models import Assignment, Comparison, ImportBatch, Judgment, LabelerExclusion, Prompt, Response
from annotate.services import JudgmentInput, comparison_assign_next, judgment_record
from tests.factories import make_comparisons, make_project, make_user


@pytest.fixture
def admin_client(client, manager):
    manager.groups.add(Group.objects.get(name="managers"))
    client.force_login(manager)
    return client


def judge(user, project, client_id):
    assignment = comparison_assign_next(labeler=user, project=project)
    judgment_record(
        labeler=user, assignment_id=assignment.pk, data=JudgmentInput(choice="A", client_id=client_id)
    )


def test_it_creates_the_labelers_and_managers_groups_in_a_migration(db):
    assert not Group.objects.get(name="labelers").permissions.exists()
    managers = {p.codename for p in Group.objects.get(name="managers").permissions.all()}
    assert {"change_project", "view_judgment", "view_user"} <= managers
    assert "change_user" not in managers  # would let a manager make anyone a superuser


def test_it_lets_staff_in_only_with_the_permissions(client, project):
    clerk = make_user("clerk", staff=True, labeler=False)
    client.force_login(clerk)
    assert client.get(reverse("admin:annotate_project_changelist")).status_code == 403
    clerk.groups.add(Group.objects.get(name="managers"))
    assert client.get(reverse("admin:annotate_project_changelist")).status_code == 200


def test_it_shows_project_progress_columns(admin_client, alice, bob, carol, project, comparisons):
    judge(alice, project, "a1")
    judge(bob, project, "b1")  # the first comparison is complete (k = 2)
    comparison_assign_next(labeler=carol, project=project)
    page = admin_client.get(reverse("admin:annotate_project_changelist")).content.decode()
    assert "Comparisons complete / total" in page
    assert '<td class="field-comparisons_progress">1 / 5</td>' in page
    assert '<td class="field-judgments">2</td>' in page
    assert '<td class="field-active_labelers">3</td>' in page
    assert '<td class="field-live_leases">1</td>' in page


def test_it_lists_projects_in_a_fixed_number_of_queries(admin_client, alice, project, comparisons):
    url = reverse("admin:annotate_project_changelist")
    admin_client.get(url)  # warm the session and content types
    with CaptureQueriesContext(connection) as one:
        admin_client.get(url)
    for i in range(5):
        make_comparisons(make_project(f"P{i}", labelers=(alice,)), 2)
    with CaptureQueriesContext(connection) as six:
        assert admin_client.get(url).status_code == 200
    assert len(six) == len(one)


def test_it_releases_active_leases_from_an_action(admin_client, alice, bob, project, comparisons):
    comparison_assign_next(labeler=alice, project=project)
    comparison_assign_next(labeler=bob, project=project)
    response = admin_client.post(
        reverse("admin:annotate_project_changelist"),
        {"action": "release_leases", "_selected_action": [project.pk]},
        follow=True,
    )
    assert "Released 2 active lease(s) in 1 project(s)" in response.content.decode()
    assert not Assignment.objects.filter(state=Assignment.State.ACTIVE).exists()


def test_it_keeps_judgments_and_assignments_read_only(admin_client, alice, project, comparisons):
    judge(alice, project, "a1")
    judgment = Judgment.objects.get()
    assert admin_client.get(reverse("admin:annotate_judgment_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:annotate_judgment_add")).status_code == 403
    change_url = reverse("admin:annotate_judgment_change", args=[judgment.pk])
    page = admin_client.get(change_url)
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert admin_client.post(change_url, {"choice": "B"}).status_code == 403
    delete_url = reverse("admin:annotate_judgment_delete", args=[judgment.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    assert Judgment.objects.get().choice == "A"
    assignment_url = reverse("admin:annotate_assignment_change", args=[judgment.assignment_id])
    assert admin_client.post(assignment_url, {"state": "active"}).status_code == 403


def test_it_keeps_the_judgment_count_read_only(admin_client, project, comparisons):
    page = admin_client.get(reverse("admin:annotate_comparison_change", args=[comparisons[0].pk]))
    assert page.status_code == 200
    assert b'name="judgment_count"' not in page.content and b'name="priority"' in page.content


def test_it_opens_every_list_with_filters_and_search(admin_client, alice, manager, project, comparisons):
    judge(alice, project, "a1")
    LabelerExclusion.objects.create(project=project, labeler=alice, reason="test", excluded_by=manager)
    ImportBatch.objects.create(project=project, format="prompts", filename="x.jsonl", file_hash="0" * 64)
    for model, query in [
        (Prompt, f"?project__id__exact={project.pk}&q=Prompt"),
        (Response, "?q=Response"),
        (Comparison, f"?project__id__exact={project.pk}&is_gold__exact=0&q=Prompt"),
        (Assignment, "?state__exact=submitted&q=alice"),
        (Judgment, "?source__exact=human&q=a1"),
        (LabelerExclusion, "?lifted_at__isempty=1"),
        (ImportBatch, ""),
    ]:
        url = reverse(f"admin:annotate_{model._meta.model_name}_changelist") + query
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert response.context["cl"].result_count >= 1, url


def test_it_shows_an_import_batchs_counts_as_a_sentence(admin_client, project):
    batch = ImportBatch.objects.create(
        project=project,
        format="trl",
        filename="prefs.jsonl",
        file_hash="0" * 64,
        lines=40,
        created_counts={
            "prompts": 12,
            "responses": 24,
            "comparisons": 12,
            "judgments": 12,
            "existing": {"prompts": 3, "responses": 0, "comparisons": 0, "judgments": 0},
            "skipped_identical": 2,
            "duplicate_lines": 1,
            "skipped_invalid": 3,
        },
    )
    old = ImportBatch.objects.create(  # made before skipped_invalid was counted
        project=project, format="prompts", filename="old.jsonl", file_hash="1" * 64, lines=5,
        created_counts={"prompts": 5, "responses": 0, "comparisons": 0, "judgments": 0, "existing": {}},
    )  # fmt: skip
    sentence = (
        "40 lines: created 12 prompts, 24 responses, 12 comparisons, 12 judgments; already there: "
        "3 prompts; skipped 2 pairs with identical responses; 1 repeated lines; skipped 3 invalid lines."
    )
    listing = admin_client.get(reverse("admin:annotate_importbatch_changelist")).content.decode()
    assert f'<td class="field-counts">{sentence}</td>' in listing
    assert "5 lines: created 5 prompts, 0 responses, 0 comparisons, 0 judgments." in listing
    page = admin_client.get(reverse("admin:annotate_importbatch_change", args=[batch.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert sentence in html
    assert "skipped_identical" not in html and "&quot;prompts&quot;" not in html  # no raw JSON
    assert admin_client.get(reverse("admin:annotate_importbatch_change", args=[old.pk])).status_code == 200
    project_page = admin_client.get(
        reverse("admin:annotate_project_change", args=[project.pk])
    ).content.decode()
    assert sentence in project_page and "skipped_identical" not in project_page  # the project's inline too


def test_it_offers_labelers_group_members_for_a_project(admin_client, project):
    labeler = make_user("dana")
    outsider = make_user("eve", labeler=False)
    page = admin_client.get(reverse("admin:annotate_project_change", args=[project.pk])).content.decode()
    assert f'<option value="{labeler.pk}"' in page
    assert f'<option value="{outsider.pk}"' not in page


def test_it_keeps_labelers_out_of_the_admin(client, alice, project):
    client.force_login(alice)
    response = client.get(reverse("admin:annotate_project_changelist"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_it_marks_gold_from_the_comparison_list(admin_client, project, comparisons):
    target = comparisons[0]
    response = admin_client.post(
        reverse("admin:annotate_comparison_changelist"),
        {"action": "mark_gold_b", "_selected_action": [target.pk]},
        follow=True,
    )
    assert response.status_code == 200
    target.refresh_from_db()
    assert target.is_gold and target.gold_choice == "B"


def test_it_links_each_project_to_its_quality_pages(admin_client, project):
    page = admin_client.get(reverse("admin:annotate_project_changelist")).content.decode()
    assert reverse("quality:project", args=[project.pk]) in page
