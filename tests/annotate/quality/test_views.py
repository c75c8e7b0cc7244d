from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from annotate.models import Comparison, LabelerExclusion, QualitySnapshot
from annotate.quality.report import quality_report_refresh
from rewardmodel.models import DataJob
from tests.annotate.quality.sim import simulate
from tests.factories import make_comparison, make_project, make_user


@pytest.fixture
def staff_client(manager):
    client = Client()
    client.force_login(manager)
    return client


@pytest.fixture
def judged(project, alice, bob, carol):
    rng = random.Random(2)
    comparisons = [make_comparison(project) for _ in range(12)]
    truths = {c.pk: rng.choice(["response_a", "response_b"]) for c in comparisons}
    simulate(comparisons, {alice: "accurate", bob: "accurate", carol: "left"}, truths)
    return comparisons


def _csrf_client(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def _token(client, url):
    client.get(url)
    return client.cookies["csrftoken"].value


def test_it_keeps_the_pages_to_logged_in_staff(client, alice, project):
    url = reverse("quality:project", args=[project.pk])
    response = client.get(url)
    assert response.status_code == 302 and reverse("login") in response["Location"]
    client.force_login(alice)
    for name in ("project", "leaderboard", "gold"):
        assert client.get(reverse(f"quality:{name}", args=[project.pk])).status_code == 403
    assert client.post(reverse("quality:recompute", args=[project.pk])).status_code == 403
    assert client.get(reverse("quality:index")).status_code == 403


def test_it_renders_the_stored_report_without_recomputing(
    staff_client, project, judged, django_assert_max_num_queries, run_jobs
):
    url = reverse("quality:project", args=[project.pk])
    assert b"No report computed yet" in staff_client.get(url).content
    with run_jobs():  # the recompute is a job for a worker; its page links back to the report
        response = staff_client.post(reverse("quality:recompute", args=[project.pk]), {"window": "day"})
    job = DataJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("data-job", args=[job.pk])
    assert QualitySnapshot.objects.filter(project=project, kind="quality").count() == 1
    job_page = staff_client.get(response["Location"]).content.decode()
    assert "Recomputed in" in job_page and f'href="{url}"' in job_page
    # session, user, its permissions (user, groups: annotate.permissions.is_manager), project,
    # snapshot, exclusions: no judgments read
    with django_assert_max_num_queries(10):
        page = staff_client.get(url)
    html = page.content.decode()
    assert page.status_code == 200
    assert html.count("<svg") == 4
    assert "Krippendorff" in html and "carol" in html
    assert '<span class="q-flag">position</span>' in html
    for user in project.labelers.all():  # the row forms post where the URLconf says
        assert f'action="{reverse("quality:exclude", args=[project.pk, user.pk])}"' in html


def test_it_excludes_and_reinstates_with_csrf_and_a_reason(manager, project, judged, carol):
    client = _csrf_client(manager)
    page = reverse("quality:project", args=[project.pk])
    quality_report_refresh(project=project, n_bootstrap=10)
    exclude = reverse("quality:exclude", args=[project.pk, carol.pk])
    assert client.post(exclude, {"reason": "always left"}).status_code == 403  # no CSRF token
    token = _token(client, page)
    response = client.post(exclude, {"reason": "  ", "csrfmiddlewaretoken": token}, follow=True)
    assert "Give a reason" in response.content.decode()
    assert not LabelerExclusion.objects.exists()
    response = client.post(exclude, {"reason": "always left", "csrfmiddlewaretoken": token}, follow=True)
    exclusion = LabelerExclusion.objects.get()
    assert (exclusion.labeler, exclusion.excluded_by, exclusion.reason) == (carol, manager, "always left")
    html = response.content.decode()
    assert "excluded" in html and "always left" in html and "Reinstate" in html
    assert "Exclusions changed after these figures were computed" in html
    assert client.get(exclude).status_code == 405
    client.post(reverse("quality:reinstate", args=[project.pk, carol.pk]), {"csrfmiddlewaretoken": token})
    exclusion.refresh_from_db()
    assert exclusion.lifted_at is not None and exclusion.lifted_by == manager


def test_it_refuses_to_exclude_someone_outside_the_project(staff_client, project, mallory):
    response = staff_client.post(reverse("quality:exclude", args=[project.pk, mallory.pk]), {"reason": "x"})
    assert response.status_code == 403 and not LabelerExclusion.objects.exists()


def test_it_marks_and_unmarks_gold_from_the_manager_page(staff_client, project):
    c = make_comparison(project, prompt_text="Capital of <France>?")
    url = reverse("quality:gold", args=[project.pk])
    page = staff_client.get(url, {"comparison": c.pk}).content.decode()
    assert "Capital of &lt;France&gt;?" in page and "Mark gold" in page
    staff_client.post(url, {"comparison": c.pk, "action": "mark", "answer": "B"})
    c.refresh_from_db()
    assert (c.is_gold, c.gold_choice) == (True, "B")
    response = staff_client.post(url, {"comparison": c.pk, "action": "mark", "answer": "left"}, follow=True)
    assert "The gold answer must be one of" in response.content.decode()
    staff_client.post(url, {"comparison": c.pk, "action": "unmark"})
    c.refresh_from_db()
    assert (c.is_gold, c.gold_choice) == (False, "")
    other = make_comparison(make_project("Other"))
    response = staff_client.post(url, {"comparison": other.pk, "action": "mark", "answer": "A"}, follow=True)
    assert "has no comparison" in response.content.decode()
    assert not Comparison.objects.get(pk=other.pk).is_gold


def test_it_escapes_names_in_tables_and_charts(staff_client, alice, bob, run_jobs):
    from annotate.models import Judgment

    project = make_project("Escapes", labelers=(alice, bob))
    for n in range(4):
        c = make_comparison(project)
        type(c.response_a).objects.filter(pk=c.response_a_id).update(model_name='<script>alert("a")</script>')
        for user in (alice, bob):
            Judgment.objects.create(
                comparison=c,
                labeler=user,
                choice="A",
                side_order="AB",
                winner_id=c.response_a_id,
                client_id=f"e-{n}-{user.pk}",
                seconds_on_task=10,
            )
    evil = make_user('<img src=x onerror="boom">')
    project.labelers.add(evil)
    Judgment.objects.create(
        comparison=c, labeler=evil, choice="B", side_order="AB", winner_id=c.response_b_id, client_id="evil"
    )
    with run_jobs():
        staff_client.post(reverse("quality:recompute", args=[project.pk]))
        staff_client.post(reverse("quality:leaderboard-recompute", args=[project.pk]))
    for name in ("project", "leaderboard"):
        html = staff_client.get(reverse(f"quality:{name}", args=[project.pk])).content.decode()
        assert "<script>alert" not in html and "<img src=x" not in html
    board = staff_client.get(reverse("quality:leaderboard", args=[project.pk])).content.decode()
    assert "&lt;script&gt;alert(&quot;a&quot;)&lt;/script&gt;" in board


def test_it_recomputes_and_shows_the_leaderboard(staff_client, project, judged, run_jobs):
    url = reverse("quality:leaderboard", args=[project.pk])
    assert b"No leaderboard computed yet" in staff_client.get(url).content
    with run_jobs():
        staff_client.post(
            reverse("quality:leaderboard-recompute", args=[project.pk]), {"sources": ["model-a", "model-b"]}
        )
    html = staff_client.get(url).content.decode()
    assert "model-a" in html and "model-b" in html and "<svg" in html and "Win rates" in html
    assert "Style-controlled" in html and "Style coefficients" in html
    snapshot = QualitySnapshot.objects.get(kind="leaderboard")
    assert snapshot.params["sources"] == ["model-a", "model-b"]
    with run_jobs():
        response = staff_client.post(
            reverse("quality:leaderboard-recompute", args=[project.pk]), {"sources": ["model-a", "ghost"]}
        )
    assert "No compared responses from ghost" in staff_client.get(response["Location"]).content.decode()


def test_a_recompute_that_waits_for_a_worker_says_so_on_the_page(staff_client, settings):
    settings.PAIRWISE_QUEUED_WARN_SECONDS = 10
    project = make_project("Waits")
    for kind, page in (
        (DataJob.Kind.QUALITY, "quality:project"),
        (DataJob.Kind.LEADERBOARD, "quality:leaderboard"),
    ):
        past = timezone.now() - timedelta(minutes=2)
        job = DataJob.objects.create(project=project, kind=kind, created_at=past, sent_at=past)
        html = staff_client.get(reverse(page, args=[project.pk])).content.decode()
        assert 'id="recompute-pending"' in html and reverse("data-job", args=[job.pk]) in html
        assert "no worker serves the &#x27;default&#x27; queue" in html
