"""Force, every time, each interleaving a lock in annotate/services.py exists for (PostgreSQL).

The randomized races in test_race.py check the invariants but reach a given interleaving only by
chance. Here one thread (A) is held at a named `_checkpoint` inside its transaction, holding its
locks, while another (B) runs; B either finishes or waits on a database lock (seen in
pg_stat_activity), and only then is A let go. Each test names the lock or re-check it proves: with
that one removed from the service, the test fails on every run.

Every thread has its own connection and transaction and closes the connection when it ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from annotate.models import Assignment, Comparison, Judgment, SideOrder
from annotate.services import (
    JudgmentInput,
    assignment_skip,
    comparison_assign_next,
    comparison_lease_ahead,
    judgment_record,
)
from pairwise.errors import Conflict
from tests.annotate.race_support import Interleaving, Racer, interleaving
from tests.factories import make_comparisons, make_project, make_user

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def race(monkeypatch) -> Iterator[Interleaving]:
    with interleaving(monkeypatch) as race:
        yield race


def _lease(labeler, comparison: Comparison, *, expired: bool = False, slot: int = 0) -> Assignment:
    """A lease written directly (the state a past race or an old tab leaves behind)."""
    now = timezone.now()
    return Assignment.objects.create(
        project=comparison.project,
        comparison=comparison,
        labeler=labeler,
        side_order=SideOrder.AB,
        slot=slot,
        leased_at=now - timedelta(seconds=700 if expired else 0),
        expires_at=now + timedelta(seconds=-100 if expired else 600),
    )


def _judge(labeler, assignment: Assignment, client_id: str):
    return judgment_record(
        labeler=labeler, assignment_id=assignment.pk, data=JudgmentInput(choice="A", client_id=client_id)
    )


def _outcome(racer: Racer) -> Any:
    """The racer's result, or the code of the Conflict it raised."""
    try:
        return racer.result()
    except Conflict as exc:
        return exc.code


# --- comparison_assign_next ----------------------------------------------------------------------


def test_it_rechecks_a_pair_filled_after_its_snapshot(race):
    """Catches: no `_filled` re-check after the lock in _pick_regular.

    A's pick reads the last slot of the pair as free and locks it. Bob's lease on it commits before
    A's re-check, unseen by A's snapshot, as a lease committed between A's snapshot and A's lock
    would be (that window lies inside one statement, so the lease is written here while A is held).
    """
    alice, bob = make_user("alice"), make_user("bob")
    project = make_project("Recheck", labelers=(alice, bob), overlap_k=1, lease_seconds=600)
    [comparison] = make_comparisons(project, 1)

    a = race.start(
        "A", lambda: comparison_assign_next(labeler=alice, project=project), hold_at="assign.locked"
    )
    _lease(bob, comparison)  # committed: this thread's connection is in autocommit
    race.release("A")

    assert a.result() is None, "alice was leased a pair that bob's lease already filled"
    assert Assignment.objects.filter(comparison=comparison, state=Assignment.State.ACTIVE).count() == 1


def test_it_skips_a_pair_another_labeler_is_leasing_instead_of_waiting(race):
    """Catches: no SKIP LOCKED on the comparison lock in _pick_regular (assign_next then waits)."""
    alice, bob = make_user("alice"), make_user("bob")
    project = make_project("Skip locked", labelers=(alice, bob), overlap_k=2, lease_seconds=600)
    first, second = make_comparisons(project, 2)

    a = race.start(
        "A", lambda: comparison_assign_next(labeler=alice, project=project), hold_at="assign.locked"
    )
    b = race.start("B", lambda: comparison_assign_next(labeler=bob, project=project))
    assert race.settle(b) == "done", "bob waited for the pair alice was leasing"
    race.release("A")

    assert b.result().comparison_id == second.pk
    assert a.result().comparison_id == first.pk


def test_it_gives_a_labeler_racing_themself_for_the_last_pair_their_lease(race):
    """Catches: no lock on the labeler's user row in comparison_assign_next, and the labeler's
    leases read before that lock instead of after it.

    Alice's first call has leased the last pair and not committed; her second call must wait for
    it and get that lease back, not "nothing left" (the pair is locked, then full).
    """
    alice = make_user("alice")
    project = make_project("Last pair", labelers=(alice,), overlap_k=1, lease_seconds=600)
    make_comparisons(project, 1)

    def assign():
        return comparison_assign_next(labeler=alice, project=project)

    a = race.start("A", assign, hold_at="assign.leased")
    b = race.start("B", assign)
    race.settle(b)
    race.release("A")

    first, second = a.result(), b.result()
    assert second is not None, "alice's second tab was told nothing is left"
    assert second.pk == first.pk
    assert Assignment.objects.filter(labeler=alice, state=Assignment.State.ACTIVE).count() == 1


def test_it_does_not_deadlock_a_late_judgment_against_the_same_labelers_next(race):
    """Catches: the labeler's user row locked FOR UPDATE instead of FOR NO KEY UPDATE.

    A records alice's late judgment (her old tab) and holds the pair and that lease. B, her next
    call, locks her user row and waits for A on the expired lease it returns to the pool. A's
    judgment insert checks its labeler foreign key (FOR KEY SHARE on her user row): a FOR UPDATE
    there would make each wait for the other.
    """
    alice = make_user("alice")
    project = make_project("No deadlock", labelers=(alice,), overlap_k=2, lease_seconds=600)
    first, second = make_comparisons(project, 2)
    old = _lease(alice, first, expired=True)

    a = race.start("A", lambda: _judge(alice, old, "late"), hold_at="judgment.checked")
    b = race.start("B", lambda: comparison_assign_next(labeler=alice, project=project))
    assert race.settle(b) == "blocked", "alice's next call did not wait for her old lease"
    race.release("A")

    judgment, created = a.result()
    assert created and judgment.comparison_id == first.pk
    assert b.result().comparison_id == second.pk
    # B waited for the old lease and then found it judged: it stays submitted, not "released".
    old.refresh_from_db()
    assert old.state == Assignment.State.SUBMITTED


def test_it_lets_a_labeler_racing_themself_lease_ahead_take_another_slot(race):
    """Catches: comparison_lease_ahead not retrying after the constraint error of a lost race."""
    alice = make_user("alice")
    project = make_project("Lease ahead", labelers=(alice,), overlap_k=1, lease_seconds=600)
    make_comparisons(project, 3)
    current = comparison_assign_next(labeler=alice, project=project)

    def ahead():
        return comparison_lease_ahead(labeler=alice, project=project)

    a = race.start("A", ahead, hold_at="lease_ahead.leased")
    b = race.start("B", ahead)
    race.settle(b)
    race.release("A")

    leases = [current, a.result(), b.result()]
    assert None not in leases
    assert len({lease.comparison_id for lease in leases}) == 3
    assert sorted(lease.slot for lease in leases) == [0, 1, 2]


# --- judgment_record ----------------------------------------------------------------------------


def test_it_keeps_k_when_two_late_judgments_race_for_the_last_slot(race):
    """Catches: no lock on the comparison in judgment_record (both count k-1 and both write).

    Carol judged the pair; alice's and bob's leases on it ran out and both submit late with k=2:
    one fills the pair, the other is told it was not needed.
    """
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    project = make_project("Late", labelers=(alice, bob, carol), overlap_k=2, lease_seconds=600)
    [comparison] = make_comparisons(project, 1)
    _judge(carol, _lease(carol, comparison), "carol")
    alices, bobs = _lease(alice, comparison, expired=True), _lease(bob, comparison, expired=True)

    a = race.start("A", lambda: _judge(alice, alices, "alice"), hold_at="judgment.checked")
    b = race.start("B", lambda: _judge(bob, bobs, "bob"))
    race.settle(b)
    race.release("A")

    outcomes = [_outcome(a), _outcome(b)]
    assert sum(isinstance(o, tuple) for o in outcomes) == 1, f"both stored, past k=2: {outcomes}"
    assert "lease_expired" in outcomes
    comparison.refresh_from_db()
    assert Judgment.objects.filter(comparison=comparison).count() == comparison.judgment_count == 2


def test_it_does_not_let_a_skip_and_a_judgment_of_one_lease_both_win(race):
    """Catches: judgment_record not locking the labeler's assignments on the pair.

    Alice judges in one tab while she skips the same lease in another: the skip must wait and be
    refused, not be acknowledged and then overwritten by the judgment.
    """
    alice = make_user("alice")
    project = make_project("Skip or judge", labelers=(alice,), overlap_k=1, lease_seconds=600)
    make_comparisons(project, 1)
    lease = comparison_assign_next(labeler=alice, project=project)

    a = race.start("A", lambda: _judge(alice, lease, "judged"), hold_at="judgment.checked")
    b = race.start("B", lambda: assignment_skip(labeler=alice, assignment_id=lease.pk))
    race.settle(b)
    race.release("A")

    judgment, created = a.result()
    assert created
    assert _outcome(b) == "already_judged", "the skip was acknowledged and then lost"
    assert Assignment.objects.get(pk=lease.pk).state == Assignment.State.SUBMITTED


def test_it_lets_two_labelers_judge_different_pairs_at_once(race):
    """Catches: judgment_record's lock not limited to the comparison (`of=`): it would also lock
    the project row joined in, and every judgment in the project would wait for the one before."""
    alice, bob = make_user("alice"), make_user("bob")
    project = make_project("Parallel", labelers=(alice, bob), overlap_k=1, lease_seconds=600)
    make_comparisons(project, 2)
    alices = comparison_assign_next(labeler=alice, project=project)
    bobs = comparison_assign_next(labeler=bob, project=project)

    a = race.start("A", lambda: _judge(alice, alices, "alice"), hold_at="judgment.checked")
    b = race.start("B", lambda: _judge(bob, bobs, "bob"))
    assert race.settle(b) == "done", "bob's judgment waited for alice's on another pair"
    race.release("A")

    assert a.result()[1] and b.result()[1]
    assert Judgment.objects.count() == 2


# --- judgment_undo ------------------------------------------------------------------------------


def test_it_lets_an_undo_take_its_slot_back_from_a_lease_made_meanwhile(race):
    """Catches: judgment_undo releasing the labeler's other leases once, so a lease the screen's
    prefetch committed after that release kept the slot and the undo answered 500
    (one_active_lease_per_slot). The undone lease is current again; the new one gives way."""
    from annotate.services import judgment_undo

    alice = make_user("alice")
    project = make_project("Undo", labelers=(alice,), overlap_k=1, lease_seconds=600)
    make_comparisons(project, 3)
    first = comparison_assign_next(labeler=alice, project=project)
    _judge(alice, first, "c1")

    a = race.start("A", lambda: judgment_undo(labeler=alice, client_id="c1"), hold_at="undo.released")
    b = race.start("B", lambda: comparison_assign_next(labeler=alice, project=project))
    assert race.settle(b) == "done"
    meanwhile = b.result()
    assert meanwhile is not None and meanwhile.slot == first.slot
    race.release("A")

    undone = a.result()
    assert undone.pk == first.pk and undone.state == Assignment.State.ACTIVE
    assert Assignment.objects.get(pk=meanwhile.pk).state == Assignment.State.RELEASED
    active = Assignment.objects.filter(labeler=alice, project=project, state=Assignment.State.ACTIVE)
    assert list(active.values_list("pk", flat=True)) == [first.pk]
    assert not Judgment.objects.filter(client_id="c1").exists()
