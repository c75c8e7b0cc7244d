"""The ranking screen's prefetch: leases ahead of the pair on screen, within k and a per-labeler cap."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from annotate.models import Assignment, Comparison, LabelerExclusion, SideOrder
from annotate.services import (
    JudgmentInput,
    assignments_active,
    comparison_assign_next,
    comparison_lease_ahead,
    judgment_record,
    judgment_undo,
)
from pairwise.errors import Conflict, Forbidden
from tests.factories import make_comparison, make_comparisons, make_project, make_user

CAP = Assignment.MAX_ACTIVE_LEASES


def judge(labeler, assignment, client_id):
    return judgment_record(
        labeler=labeler, assignment_id=assignment.pk, data=JudgmentInput(choice="A", client_id=client_id)
    )


def test_it_leases_other_comparisons_ahead_of_the_current_one(alice, project, comparisons):
    current = comparison_assign_next(labeler=alice, project=project)
    ahead = [comparison_lease_ahead(labeler=alice, project=project) for _ in range(2)]
    held = [current, *ahead]
    assert len({a.comparison_id for a in held}) == 3
    assert sorted(a.slot for a in held) == [0, 1, 2]
    # The current lease stays the oldest: what the API's "next" and the screen show first.
    assert comparison_assign_next(labeler=alice, project=project).pk == current.pk
    assert [a.pk for a in assignments_active(labeler=alice, project=project)] == [a.pk for a in held]


def test_it_starts_with_a_lease_when_none_is_held(alice, project, comparisons):
    first = comparison_lease_ahead(labeler=alice, project=project)
    assert first is not None and first.slot == 0
    assert comparison_assign_next(labeler=alice, project=project).pk == first.pk


def test_it_never_leases_ahead_beyond_k(alice, bob, carol, project):
    only = make_comparison(project)  # k = 2
    assert comparison_lease_ahead(labeler=alice, project=project).comparison_id == only.pk
    assert comparison_lease_ahead(labeler=bob, project=project).comparison_id == only.pk
    assert comparison_lease_ahead(labeler=carol, project=project) is None
    # And never the same comparison twice to one labeler.
    assert comparison_lease_ahead(labeler=alice, project=project) is None


def test_it_caps_the_leases_a_labeler_holds(alice, project):
    make_comparisons(project, CAP + 2)
    held = [comparison_lease_ahead(labeler=alice, project=project) for _ in range(CAP)]
    assert sorted(a.slot for a in held) == list(range(CAP))
    with pytest.raises(Conflict) as err:
        comparison_lease_ahead(labeler=alice, project=project)
    assert err.value.code == "lease_limit"
    judge(alice, held[3], "frees-a-slot")
    again = comparison_lease_ahead(labeler=alice, project=project)
    assert again.slot == 3
    assert again.comparison_id not in {a.comparison_id for a in held}


def test_it_frees_the_slots_of_expired_leases(alice, project):
    make_comparisons(project, CAP + 1)
    held = [comparison_lease_ahead(labeler=alice, project=project) for _ in range(CAP)]
    Assignment.objects.filter(pk=held[0].pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    fresh = comparison_lease_ahead(labeler=alice, project=project)
    assert fresh is not None and fresh.slot == 0
    assert Assignment.objects.get(pk=held[0].pk).state == Assignment.State.RELEASED


def test_it_gives_the_undone_pair_back_and_releases_the_prefetched_ones(alice, project, comparisons):
    current = comparison_assign_next(labeler=alice, project=project)
    ahead = comparison_lease_ahead(labeler=alice, project=project)
    judge(alice, current, "undo-me")
    back = judgment_undo(labeler=alice, client_id="undo-me")
    assert back.pk == current.pk
    assert [a.pk for a in assignments_active(labeler=alice, project=project)] == [current.pk]
    assert Assignment.objects.get(pk=ahead.pk).state == Assignment.State.RELEASED
    # The released pair returns to the pool and can be leased ahead again.
    assert comparison_lease_ahead(labeler=alice, project=project) is not None


def test_it_refuses_leases_ahead_to_an_excluded_labeler(alice, manager, project, comparisons):
    LabelerExclusion.objects.create(project=project, labeler=alice, reason="spam", excluded_by=manager)
    with pytest.raises(Forbidden):
        comparison_lease_ahead(labeler=alice, project=project)


def test_the_database_refuses_a_second_lease_on_one_slot_or_one_comparison(alice, project, comparisons):
    first = comparison_assign_next(labeler=alice, project=project)
    expires = timezone.now() + timedelta(minutes=5)
    common = dict(project=project, labeler=alice, side_order=SideOrder.AB, expires_at=expires)
    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.create(comparison=comparisons[4], slot=first.slot, **common)
    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.create(comparison=first.comparison, slot=5, **common)
    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.create(comparison=comparisons[4], slot=CAP, **common)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_keeps_k_and_the_cap_when_labelers_lease_ahead_at_once():
    """Each labeler runs several threads (tabs) that lease ahead together, each its own connection."""
    k = 2
    labelers = [make_user(f"racer{i}") for i in range(6)]
    project = make_project("Race ahead", labelers=tuple(labelers), overlap_k=k)
    make_comparisons(project, 20)  # 40 lease places for 6 x 8 = 48 wanted: the pool runs dry
    threads_per_labeler = 4
    barrier = threading.Barrier(len(labelers) * threads_per_labeler)
    errors: list[BaseException] = []

    def tab(labeler):
        try:
            barrier.wait()
            for _ in range(CAP):
                try:
                    comparison_lease_ahead(labeler=labeler, project=project)
                except Conflict as exc:
                    assert exc.code == "lease_limit"
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=tab, args=(u,)) for u in labelers for _ in range(threads_per_labeler)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    active = Assignment.objects.filter(project=project, state=Assignment.State.ACTIVE)
    per_labeler = Counter(active.values_list("labeler_id", flat=True))
    assert max(per_labeler.values()) <= CAP
    pairs = Counter(active.values_list("labeler_id", "comparison_id"))
    assert max(pairs.values()) == 1
    per_comparison = Counter(active.values_list("comparison_id", flat=True))
    assert max(per_comparison.values()) <= k
    # The pool really ran dry: every comparison got its k leases.
    assert sum(per_comparison.values()) == 20 * k
    assert Comparison.objects.filter(project=project).count() == 20
