from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.utils import timezone

from annotate.models import Assignment, Choice, Comparison, Judgment, LabelerExclusion, SideOrder
from annotate.services import (
    JudgmentInput,
    assignment_skip,
    comparison_assign_next,
    judgment_record,
    judgment_undo,
    labeler_stats,
    project_for_labeler,
)
from pairwise.errors import Conflict, Forbidden, NotFound, PairwiseError
from tests.factories import make_comparison, make_project


def judge(labeler, assignment, choice="A", client_id=None, **kw):
    data = JudgmentInput(choice=choice, client_id=client_id or f"c-{assignment.pk}-{labeler.pk}", **kw)
    return judgment_record(labeler=labeler, assignment_id=assignment.pk, data=data)


def test_it_returns_the_current_lease_when_asked_again(alice, project, comparisons):
    first = comparison_assign_next(labeler=alice, project=project)
    again = comparison_assign_next(labeler=alice, project=project)
    assert first.pk == again.pk
    assert Assignment.objects.filter(labeler=alice).count() == 1


def test_it_never_leases_one_comparison_beyond_k(alice, bob, carol, project):
    only = make_comparison(project)  # k = 2
    a = comparison_assign_next(labeler=alice, project=project)
    b = comparison_assign_next(labeler=bob, project=project)
    c = comparison_assign_next(labeler=carol, project=project)
    assert a.comparison_id == b.comparison_id == only.pk
    assert c is None


def test_it_returns_expired_leases_to_the_pool(alice, bob, carol, project):
    make_comparison(project)
    a = comparison_assign_next(labeler=alice, project=project)
    comparison_assign_next(labeler=bob, project=project)
    Assignment.objects.filter(pk=a.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    c = comparison_assign_next(labeler=carol, project=project)
    assert c is not None and c.comparison_id == a.comparison_id


def test_it_does_not_hand_a_labeler_what_they_judged_or_skipped(alice, project):
    c1, c2 = make_comparison(project), make_comparison(project)
    first = comparison_assign_next(labeler=alice, project=project)
    judge(alice, first)
    second = comparison_assign_next(labeler=alice, project=project)
    assert {first.comparison_id, second.comparison_id} == {c1.pk, c2.pk}
    assignment_skip(labeler=alice, assignment_id=second.pk, reason="not my language")
    assert comparison_assign_next(labeler=alice, project=project) is None
    assert Assignment.objects.get(pk=second.pk).skip_reason == "not my language"


def test_it_randomizes_and_records_side_order(alice, project):
    make_comparison(project)
    orders = set()
    for seed in range(12):
        Assignment.objects.all().delete()
        orders.add(comparison_assign_next(labeler=alice, project=project, rng=random.Random(seed)).side_order)
    assert orders == {SideOrder.AB, SideOrder.BA}


def test_it_serves_higher_priority_first(alice, project):
    make_comparison(project, priority=0)
    urgent = make_comparison(project, priority=5)
    assert comparison_assign_next(labeler=alice, project=project).comparison_id == urgent.pk


def test_it_stores_the_winner_independent_of_side_order(alice, project):
    comparison = make_comparison(project)
    a = comparison_assign_next(labeler=alice, project=project)
    Assignment.objects.filter(pk=a.pk).update(side_order=SideOrder.BA)
    judgment, created = judge(alice, a, choice="A", seconds_on_task=4.5, strength=3)
    assert created
    assert judgment.side_order == SideOrder.BA
    assert judgment.winner_id == comparison.response_b_id  # A on screen was response_b
    assert judgment.seconds_on_task == 4.5 and judgment.strength == 3
    assert Comparison.objects.get(pk=comparison.pk).judgment_count == 1


def test_it_stores_a_resubmitted_client_id_once(alice, project, comparisons):
    a = comparison_assign_next(labeler=alice, project=project)
    first, created1 = judge(alice, a, client_id="same-id")
    second, created2 = judge(alice, a, client_id="same-id")
    assert (created1, created2) == (True, False)
    assert first.pk == second.pk
    assert Judgment.objects.count() == 1
    assert Comparison.objects.get(pk=a.comparison_id).judgment_count == 1


def test_it_refuses_a_second_judgment_with_another_client_id(alice, project, comparisons):
    a = comparison_assign_next(labeler=alice, project=project)
    judge(alice, a, client_id="one")
    with pytest.raises(Conflict):
        judge(alice, a, client_id="two")


def test_it_rejects_a_client_id_taken_by_someone_else(alice, bob, project, comparisons):
    a = comparison_assign_next(labeler=alice, project=project)
    b = comparison_assign_next(labeler=bob, project=project)
    judge(alice, a, client_id="shared")
    with pytest.raises(Conflict):
        judge(bob, b, client_id="shared")


def test_it_records_an_expired_lease_while_within_k(alice, project):
    make_comparison(project)
    a = comparison_assign_next(labeler=alice, project=project)
    Assignment.objects.filter(pk=a.pk).update(expires_at=timezone.now() - timedelta(seconds=5))
    _, created = judge(alice, a)
    assert created


def test_it_answers_conflict_for_an_expired_lease_once_k_is_reached(alice, bob, carol, project):
    make_comparison(project)  # k = 2
    a = comparison_assign_next(labeler=alice, project=project)
    Assignment.objects.filter(pk=a.pk).update(expires_at=timezone.now() - timedelta(seconds=5))
    judge(bob, comparison_assign_next(labeler=bob, project=project))
    judge(carol, comparison_assign_next(labeler=carol, project=project))
    with pytest.raises(Conflict) as err:
        judge(alice, a)
    assert err.value.code == "lease_expired"
    assert Judgment.objects.count() == 2


def test_it_validates_choice_strength_and_rationale(alice, project, comparisons):
    project.require_rationale_for_tie = True
    project.save()
    a = comparison_assign_next(labeler=alice, project=project)
    with pytest.raises(PairwiseError, match="choice"):
        judge(alice, a, choice="C")
    with pytest.raises(PairwiseError, match="strength"):
        judge(alice, a, strength=7)
    with pytest.raises(PairwiseError, match="rationale"):
        judge(alice, a, choice=Choice.TIE)
    _, created = judge(alice, a, choice=Choice.TIE, rationale="Both equally fine.")
    assert created


def test_it_lets_a_labeler_undo_while_the_lease_lasts(alice, project, comparisons):
    a = comparison_assign_next(labeler=alice, project=project)
    judge(alice, a, client_id="undo-me")
    comparison_assign_next(labeler=alice, project=project)  # moved on to the next one
    back = judgment_undo(labeler=alice, client_id="undo-me")
    assert back.pk == a.pk and back.state == Assignment.State.ACTIVE
    assert comparison_assign_next(labeler=alice, project=project).pk == a.pk
    assert Comparison.objects.get(pk=a.comparison_id).judgment_count == 0


def test_it_hides_other_labelers_assignments(alice, bob, project, comparisons):
    a = comparison_assign_next(labeler=alice, project=project)
    with pytest.raises(NotFound):
        judge(bob, a)


def test_it_hides_projects_the_labeler_is_not_in(alice, mallory, project):
    other = make_project("Secret", labelers=(mallory,))
    with pytest.raises(NotFound):
        project_for_labeler(labeler=alice, project_id=other.pk)
    assert project_for_labeler(labeler=alice, project_id=project.pk) == project


def test_it_refuses_work_to_an_excluded_labeler(alice, manager, project, comparisons):
    LabelerExclusion.objects.create(
        project=project, labeler=alice, reason="random clicks", excluded_by=manager
    )
    with pytest.raises(Forbidden):
        comparison_assign_next(labeler=alice, project=project)


def test_it_serves_gold_items_to_everyone_regardless_of_k(alice, bob, carol, project):
    project.gold_rate = 1.0
    project.save()
    gold = make_comparison(project, is_gold=True, gold_choice="A")
    for labeler in (alice, bob, carol):
        assert comparison_assign_next(labeler=labeler, project=project).comparison_id == gold.pk


def test_it_counts_a_labelers_progress(alice, project, comparisons):
    judge(alice, comparison_assign_next(labeler=alice, project=project))
    stats = labeler_stats(labeler=alice, project=project)
    assert stats.judged_total == stats.judged_today == 1
    assert stats.remaining_for_me == 4
    assert stats.project_remaining == 5
    assert stats.capped_at is None


def test_it_counts_what_is_left_only_up_to_a_cap_when_asked(alice, project, comparisons):
    judge(alice, comparison_assign_next(labeler=alice, project=project))
    capped = labeler_stats(labeler=alice, project=project, cap=3)
    assert (capped.remaining_for_me, capped.project_remaining, capped.capped_at) == (3, 3, 3)
    assert capped.judged_total == 1  # only the counts of what is left are capped
    roomy = labeler_stats(labeler=alice, project=project, cap=100)
    assert (roomy.remaining_for_me, roomy.project_remaining) == (4, 5)


def test_it_takes_one_judgment_when_an_expired_lease_comes_back_to_the_same_labeler(alice, project):
    make_comparison(project)  # k = 2; the only comparison
    old = comparison_assign_next(labeler=alice, project=project)
    Assignment.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    new = comparison_assign_next(labeler=alice, project=project)
    assert new.pk != old.pk and new.comparison_id == old.comparison_id  # served again
    _, created = judge(alice, old, client_id="late")  # the late tab submits first
    assert created
    # The re-served lease closed with it: nothing is left for alice, and a second answer is refused.
    assert comparison_assign_next(labeler=alice, project=project) is None
    with pytest.raises(Conflict) as err:
        judge(alice, new, client_id="second")
    assert err.value.code == "already_judged"
    assert Judgment.objects.count() == 1
    assert Comparison.objects.get(pk=old.comparison_id).judgment_count == 1


def test_it_does_not_count_the_labelers_own_new_lease_against_a_late_submission(alice, project):
    project.overlap_k = 1
    project.save()
    make_comparison(project)
    old = comparison_assign_next(labeler=alice, project=project)
    Assignment.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    comparison_assign_next(labeler=alice, project=project)  # the same comparison, leased again
    _, created = judge(alice, old, client_id="late")
    assert created
