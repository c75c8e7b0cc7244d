"""Race the assignment and judgment services against real PostgreSQL row locks.

Every thread has its own database connection (Django opens one per thread) and closes it at the
end. The behaviours mix what real labelers do: take and submit, resubmit the same client id (a
retry after a dropped response), let a lease run out and submit late, skip.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from annotate.models import Assignment, Comparison, Judgment, Project
from annotate.services import (
    JudgmentInput,
    assignment_skip,
    comparison_assign_next,
    judgment_record,
)
from pairwise.errors import Conflict
from tests.factories import make_comparisons, make_project, make_user

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

LABELERS = 16
COMPARISONS = 40
K = 3
DEADLINE_S = 60


def _run_threads(target, args_list) -> list[BaseException]:
    """Start all threads at once (a barrier), wait for them, return what they raised."""
    barrier = threading.Barrier(len(args_list))
    errors: list[BaseException] = []

    def wrapper(*args):
        try:
            barrier.wait()
            target(*args)
        except BaseException as exc:  # noqa: BLE001 - reported by the test, not swallowed
            errors.append(exc)
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=wrapper, args=args) for args in args_list]
    for t in threads:
        t.start()
    for t in threads:
        t.join(DEADLINE_S + 30)
    assert not any(t.is_alive() for t in threads), "a labeler thread hung"
    return errors


def _labeler_loop(index: int, user_id: int, project_id: int, acknowledged: list[str]) -> None:
    """Take and submit until nothing is left for this labeler and nobody holds a live lease."""
    from django.contrib.auth.models import User

    labeler = User.objects.get(pk=user_id)
    project = Project.objects.get(pk=project_id)
    rng = random.Random(index)
    deadline = time.monotonic() + DEADLINE_S
    late: list[Assignment] = []  # leases this labeler let run out, still open in an "old tab"
    n = 0
    while time.monotonic() < deadline:
        assignment = comparison_assign_next(labeler=labeler, project=project, rng=rng)
        # The old tab submits now: recorded if it keeps the comparison within k. The lease just
        # taken is often the same comparison served again (it went back to the pool).
        for old in late:
            _submit(labeler, old, f"late-{index}-{old.pk}", acknowledged, rng)
        late.clear()
        if assignment is None:
            if _open_and_unseen(project, labeler).exists():
                # Others hold the rest (their leases may come back), or the pick gave up after
                # losing every candidate it locked to faster labelers: ask again.
                time.sleep(0.01)
                continue
            return  # every comparison still short of k is one this labeler judged or skipped
        n += 1
        roll = rng.random()
        if index < 2 and roll < 0.15:
            assignment_skip(labeler=labeler, assignment_id=assignment.pk, reason="race")
        elif index % 4 == 1 and roll < 0.3:
            # Let the lease run out: another labeler (or this one) may take the comparison first.
            Assignment.objects.filter(pk=assignment.pk).update(
                expires_at=timezone.now() - timedelta(seconds=1)
            )
            late.append(assignment)
        else:
            client_id = f"t{index}-{n}"
            if _submit(labeler, assignment, client_id, acknowledged, rng) and index % 3 == 0:
                # A retry after a dropped response: answered with the same judgment.
                again, created = judgment_record(
                    labeler=labeler,
                    assignment_id=assignment.pk,
                    data=JudgmentInput(choice="B", client_id=client_id),
                )
                assert not created and again.client_id == client_id
    raise AssertionError(f"labeler {index} still busy after {DEADLINE_S}s")


def _open_and_unseen(project: Project, labeler):
    """Comparisons still short of k that this labeler has neither judged nor skipped. A labeler
    stops only when there are none: quitting while one is merely leased by someone else (who may
    let it go) would leave it short of k once everyone has stopped."""
    skipped = Assignment.objects.filter(labeler=labeler, state=Assignment.State.SKIPPED)
    judged = Judgment.objects.filter(labeler=labeler)
    return (
        Comparison.objects.filter(project=project, judgment_count__lt=K)
        .exclude(pk__in=skipped.values("comparison_id"))
        .exclude(pk__in=judged.values("comparison_id"))
    )


def _submit(labeler, assignment: Assignment, client_id: str, acknowledged: list[str], rng) -> bool:
    data = JudgmentInput(choice=rng.choice("AB"), client_id=client_id, strength=2, seconds_on_task=3.0)
    try:
        judgment, created = judgment_record(labeler=labeler, assignment_id=assignment.pk, data=data)
    except Conflict as exc:
        # Turned away only because others filled the comparison while the lease was out, or
        # because this labeler already answered it through their other lease on it.
        assert exc.code in ("lease_expired", "already_judged"), exc.message
        if exc.code == "already_judged":
            assert Judgment.objects.filter(comparison_id=assignment.comparison_id, labeler=labeler).exists()
        return False
    assert created
    acknowledged.append(judgment.client_id)
    return True


def test_it_keeps_every_invariant_with_16_labelers_racing():
    users = [make_user(f"racer{i}") for i in range(LABELERS)]
    project = make_project("Race", labelers=tuple(users), overlap_k=K, lease_seconds=600)
    make_comparisons(project, COMPARISONS)
    acknowledged: list[str] = []

    errors = _run_threads(_labeler_loop, [(i, u.pk, project.pk, acknowledged) for i, u in enumerate(users)])
    assert not errors, errors

    per_comparison = Comparison.objects.filter(project=project).annotate(real=Count("judgments"))
    for c in per_comparison:
        assert c.real <= K, f"comparison {c.pk} has {c.real} judgments (k={K})"
        assert c.judgment_count == c.real, f"comparison {c.pk}: counter {c.judgment_count} != {c.real}"
    # The pool is exhausted: every comparison reached k, and nobody gets anything more.
    assert all(c.real == K for c in per_comparison)
    pairs = Counter(Judgment.objects.values_list("comparison_id", "labeler_id"))
    assert max(pairs.values()) == 1, "a labeler judged one comparison twice"
    stored = list(Judgment.objects.values_list("client_id", flat=True))
    assert Counter(acknowledged) == Counter(stored), "acknowledged and stored submissions differ"
    assert len(stored) == COMPARISONS * K
    for user in users:
        assert comparison_assign_next(labeler=user, project=project) is None


def test_it_gives_a_labeler_racing_themself_one_lease():
    alice = make_user("alice")
    project = make_project("Self race", labelers=(alice,), overlap_k=1)
    make_comparisons(project, 10)
    for round_ in range(10):
        got: list[int] = []

        def take(user_id: int, project_id: int, got: list[int] = got) -> None:
            from django.contrib.auth.models import User

            got.append(
                comparison_assign_next(
                    labeler=User.objects.get(pk=user_id), project=Project.objects.get(pk=project_id)
                ).pk
            )

        errors = _run_threads(take, [(alice.pk, project.pk)] * 4)
        assert not errors, errors
        assert len(set(got)) == 1, f"round {round_}: {got}"
        assert Assignment.objects.filter(labeler=alice, state=Assignment.State.ACTIVE).count() == 1
        judgment_record(
            labeler=alice, assignment_id=got[0], data=JudgmentInput(choice="A", client_id=f"self-{round_}")
        )
    assert Judgment.objects.filter(labeler=alice).count() == 10


def test_it_stores_a_client_id_raced_against_itself_once():
    alice = make_user("alice")
    project = make_project("Retry race", labelers=(alice,), overlap_k=1)
    make_comparisons(project, 1)
    assignment = comparison_assign_next(labeler=alice, project=project)
    results: list[tuple[int, bool]] = []

    def submit(user_id: int) -> None:
        from django.contrib.auth.models import User

        judgment, created = judgment_record(
            labeler=User.objects.get(pk=user_id),
            assignment_id=assignment.pk,
            data=JudgmentInput(choice="A", client_id="double-click"),
        )
        results.append((judgment.pk, created))

    errors = _run_threads(submit, [(alice.pk,)] * 6)
    assert not errors, errors
    assert len({pk for pk, _ in results}) == 1
    assert sorted(created for _, created in results) == [False] * 5 + [True]
    assert Judgment.objects.count() == 1
    assert Comparison.objects.get().judgment_count == 1
