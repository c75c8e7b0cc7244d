from __future__ import annotations

import threading

import pytest
from django.contrib import admin
from django.contrib.messages.storage.fallback import FallbackStorage
from django.db import close_old_connections
from django.test import RequestFactory

from annotate.models import Assignment, Comparison, LabelerExclusion
from annotate.quality.admin_actions import GOLD_ACTIONS, quality_links
from annotate.quality.exclusion import labeler_exclude, labeler_reinstate
from annotate.quality.gold import comparisons_mark_gold, gold_accuracy_of, wilson_interval
from annotate.services import comparison_assign_next
from pairwise.errors import Conflict, Forbidden, PairwiseError
from tests.factories import make_comparison, make_comparisons, make_project


def test_it_computes_the_wilson_interval():
    # Wilson for 8 of 10 at 95 %: centre (8 + z^2/2) / (10 + z^2), half-width z sqrt(pq/n + z^2/4n^2)/(1 + z^2/n).
    z = 1.959963984540054
    p, n = 0.8, 10
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / (1 + z * z / n)
    lo, hi = wilson_interval(8, 10)
    assert lo == pytest.approx(centre - half) and hi == pytest.approx(centre + half)
    assert wilson_interval(0, 0) is None
    assert wilson_interval(0, 5)[0] == 0.0


def test_it_flags_gold_accuracy_only_after_enough_answers(project):
    project.gold_min_items, project.gold_accuracy_threshold = 10, 0.7
    assert not gold_accuracy_of(answered=9, correct=0, project=project).flagged
    low = gold_accuracy_of(answered=10, correct=6, project=project)
    assert low.flagged and not low.clearly_under  # 0.6, but the interval reaches above 0.7
    very_low = gold_accuracy_of(answered=30, correct=9, project=project)
    assert very_low.flagged and very_low.clearly_under
    assert not gold_accuracy_of(answered=10, correct=7, project=project).flagged


def test_it_compares_gold_with_the_stored_order_not_the_shown_side(project, alice, bob):
    from annotate.models import Judgment
    from annotate.quality.report import quality_report_compute

    c = make_comparison(project, is_gold=True, gold_choice="A")  # response_a is right
    # alice saw response_a on the RIGHT (BA) and picked B: she chose response_a, right.
    Judgment.objects.create(
        comparison=c, labeler=alice, choice="B", side_order="BA", winner_id=c.response_a_id, client_id="g1"
    )
    # bob saw response_a on the LEFT and picked B: response_b, wrong.
    Judgment.objects.create(
        comparison=c, labeler=bob, choice="B", side_order="AB", winner_id=c.response_b_id, client_id="g2"
    )
    rows = {
        r["username"]: r["gold"] for r in quality_report_compute(project=project, n_bootstrap=0)["labelers"]
    }
    assert (rows["alice"]["correct"], rows["alice"]["answered"]) == (1, 1)
    assert (rows["bob"]["correct"], rows["bob"]["answered"]) == (0, 1)


def test_it_refuses_an_unknown_gold_answer(project):
    c = make_comparison(project)
    with pytest.raises(PairwiseError, match="must be one of"):
        comparisons_mark_gold(comparisons=Comparison.objects.filter(pk=c.pk), answer="left")
    assert not Comparison.objects.get(pk=c.pk).is_gold


def _admin_request(user):
    request = RequestFactory().post("/admin/annotate/comparison/")
    request.user = user
    request.session = {}
    request._messages = FallbackStorage(request)
    return request


def test_it_offers_admin_actions_to_mark_gold(project, manager):
    comparisons = make_comparisons(project, 3)
    modeladmin = admin.ModelAdmin(Comparison, admin.site)
    actions = {a.__name__: a for a in GOLD_ACTIONS}
    assert set(actions) == {
        "mark_gold_a",
        "mark_gold_b",
        "mark_gold_tie",
        "mark_gold_both_bad",
        "unmark_gold",
    }
    qs = Comparison.objects.filter(pk__in=[c.pk for c in comparisons[:2]])
    actions["mark_gold_b"](modeladmin, _admin_request(manager), qs)
    assert list(Comparison.objects.filter(is_gold=True).values_list("gold_choice", flat=True)) == ["B", "B"]
    actions["unmark_gold"](modeladmin, _admin_request(manager), qs)
    assert not Comparison.objects.filter(is_gold=True).exists()
    assert f"/quality/projects/{project.pk}/" in quality_links(project)


def test_it_records_an_exclusion_and_its_lifting(project, alice, manager):
    make_comparisons(project, 2)
    lease = comparison_assign_next(labeler=alice, project=project)
    exclusion = labeler_exclude(project=project, labeler=alice, reason=" random clicks ", by=manager)
    assert (exclusion.reason, exclusion.excluded_by, exclusion.lifted_at) == ("random clicks", manager, None)
    lease.refresh_from_db()
    assert lease.state == Assignment.State.RELEASED  # the comparison goes back to the pool
    with pytest.raises(Forbidden):
        comparison_assign_next(labeler=alice, project=project)
    with pytest.raises(Conflict, match="already excluded"):
        labeler_exclude(project=project, labeler=alice, reason="again", by=manager)
    lifted = labeler_reinstate(project=project, labeler=alice, by=manager)
    assert lifted.lifted_by == manager and lifted.lifted_at is not None
    assert comparison_assign_next(labeler=alice, project=project) is not None
    with pytest.raises(Conflict, match="not excluded"):
        labeler_reinstate(project=project, labeler=alice, by=manager)
    # Reversible as often as needed; the history stays.
    labeler_exclude(project=project, labeler=alice, reason="second time", by=manager)
    assert LabelerExclusion.objects.filter(labeler=alice).count() == 2
    with pytest.raises(PairwiseError, match="reason"):
        labeler_exclude(project=project, labeler=make_project("P2") and alice, reason="", by=manager)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_creates_one_exclusion_when_two_managers_race(alice, manager):
    from tests.factories import make_user

    project = make_project("Race", labelers=(alice,))
    other = make_user("manager2", staff=True, labeler=False)
    barrier = threading.Barrier(2)
    results: list[str] = []

    def run(by):
        try:
            barrier.wait()
            labeler_exclude(project=project, labeler=alice, reason=f"by {by.username}", by=by)
            results.append("ok")
        except Conflict:
            results.append("conflict")
        finally:
            close_old_connections()

    threads = [threading.Thread(target=run, args=(m,)) for m in (manager, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["conflict", "ok"]
    assert LabelerExclusion.objects.filter(project=project, lifted_at__isnull=True).count() == 1
