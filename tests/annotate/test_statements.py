"""annotate.statements: each hand-written statement answers what the ORM query it replaced answers.

The ORM versions below are the queries annotate.services ran before (kept here as the reference).
Both run over the same randomly filled project (leases live and expired, judged, skipped and
released pairs, gold items, priorities, exclusions, a non-member), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Count, Exists, F, Func, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from annotate import statements
from annotate.models import (
    SIMULATED_GROUP,
    Assignment,
    Comparison,
    Judgment,
    LabelerExclusion,
    Project,
    SideOrder,
)
from tests.factories import make_comparisons, make_project, make_user

# --- the ORM reference queries ---------------------------------------------------------------------


def _live(now):
    return (
        Assignment.objects.filter(
            comparison=OuterRef("pk"), state=Assignment.State.ACTIVE, expires_at__gt=now
        )
        .order_by()
        .values("comparison")
        .annotate(n=Count("id"))
        .values("n")
    )


def orm_pick(project, labeler, now, rejected):
    k = project.overlap_k
    closed = Assignment.objects.filter(
        comparison=OuterRef("pk"),
        labeler=labeler,
        state__in=[Assignment.State.SUBMITTED, Assignment.State.SKIPPED],
    )
    judged = Judgment.objects.filter(comparison=OuterRef("pk"), labeler=labeler)
    qs = (
        Comparison.objects.filter(project=project, is_open=True, is_gold=False, judgment_count__lt=k)
        .alias(live=Coalesce(Subquery(_live(now)), 0))
        .alias(taken=F("judgment_count") + F("live"))
        .filter(taken__lt=k)
        .exclude(pk__in=rejected)
        .exclude(Exists(closed))
        .exclude(Exists(judged))
        .order_by("-priority", "id")
    )
    return qs.values_list("id", flat=True).first()


def orm_filled(comparison_id, k, now, except_labeler=None):
    leases = Assignment.objects.filter(
        comparison_id=OuterRef("pk"), state=Assignment.State.ACTIVE, expires_at__gt=now
    )
    if except_labeler is not None:
        leases = leases.exclude(labeler_id=except_labeler)
    counted = leases.order_by().annotate(n=Func(F("pk"), function="COUNT", output_field=IntegerField()))
    taken = (
        Comparison.objects.filter(pk=comparison_id)
        .annotate(live=Coalesce(Subquery(counted.values("n")), 0))
        .values_list(F("judgment_count") + F("live"), flat=True)
        .get()
    )
    return taken >= k


def orm_access(labeler, project_id):
    member = Project.labelers.through.objects.filter(project_id=project_id, user_id=labeler.pk).exists()
    excluded = LabelerExclusion.objects.filter(
        project_id=project_id, labeler=labeler, lifted_at__isnull=True
    ).exists()
    return member, excluded


# --- a randomly filled project ---------------------------------------------------------------------


@pytest.fixture
def filled(db):
    rng = random.Random(7)
    labelers = [make_user(f"lab{i}") for i in range(5)]
    outsider = make_user("outsider")
    Group.objects.get_or_create(name=SIMULATED_GROUP)[0].user_set.add(labelers[4])
    project = make_project("stmt", labelers=tuple(labelers[:4]), overlap_k=3)
    make_project("other", labelers=(labelers[0],))
    comparisons = make_comparisons(project, 40)
    now = timezone.now()
    for c in comparisons:
        c.priority = rng.choice([0, 0, 1, 5])
        c.is_gold = rng.random() < 0.1
        c.save()
    for c in comparisons:
        for labeler in rng.sample(labelers, rng.randint(0, 4)):
            state = rng.choice(list(Assignment.State.values))
            expires = now + timedelta(seconds=rng.choice([-300, -1, 1, 300]))
            active = Assignment.objects.filter(
                labeler=labeler, project=project, state=Assignment.State.ACTIVE
            )
            if state == Assignment.State.ACTIVE and active.exists():
                continue  # one active lease per labeler here: they all take slot 0
            assignment = Assignment.objects.create(
                project=project,
                comparison=c,
                labeler=labeler,
                side_order=SideOrder.AB,
                state=state,
                leased_at=now - timedelta(seconds=600),
                expires_at=expires,
                slot=0,
            )
            if state == Assignment.State.SUBMITTED:
                Judgment.objects.create(
                    comparison=c,
                    labeler=labeler,
                    assignment=assignment,
                    choice="A",
                    side_order=SideOrder.AB,
                    client_id=f"c{assignment.pk}",
                )
        n = Judgment.objects.filter(comparison=c).count()
        Comparison.objects.filter(pk=c.pk).update(
            judgment_count=n, is_open=not c.is_gold and n < project.overlap_k
        )
    # Flags a bulk writer left stale: the pick checks the row itself, as the ORM query did.
    stale = Comparison.objects.create(
        project=project,
        prompt=comparisons[0].prompt,
        response_a=comparisons[1].response_a,
        response_b=comparisons[2].response_b,
        priority=9,
        is_gold=True,
    )
    Comparison.objects.filter(pk=stale.pk).update(is_open=True)
    Comparison.objects.filter(pk=comparisons[5].pk).update(is_open=True, judgment_count=3, priority=9)
    LabelerExclusion.objects.create(project=project, labeler=labelers[3], reason="test", excluded_by=outsider)
    LabelerExclusion.objects.create(
        project=project, labeler=labelers[2], reason="lifted", excluded_by=outsider, lifted_at=now
    )
    return project, [*labelers, outsider], now, rng


def test_the_pick_and_the_fill_check_answer_as_the_orm_did(filled):
    project, labelers, now, rng = filled
    ids = list(Comparison.objects.filter(project=project).values_list("id", flat=True))
    checked = 0
    for labeler in labelers:
        for at in (now - timedelta(seconds=2), now, now + timedelta(seconds=2), now + timedelta(hours=1)):
            for rejected in ([], rng.sample(ids, 3), ids[:10]):
                got = statements.pick_open(
                    project_id=project.pk, k=3, labeler_id=labeler.pk, now=at, rejected=rejected
                )
                assert got == orm_pick(project, labeler, at, rejected)
                checked += got is not None
            for cid in rng.sample(ids, 8):
                for k in (1, 2, 3):
                    for other in (None, labeler.pk):
                        assert statements.comparison_filled(
                            comparison_id=cid, k=k, now=at, except_labeler=other
                        ) == orm_filled(cid, k, at, other)
    assert checked > 10  # the states above leave plenty to pick


def test_the_access_reads_answer_as_the_orm_did(filled):
    project, labelers, _, _ = filled
    other = Project.objects.get(name="other")
    for labeler in labelers:
        for p in (project, other):
            got = statements.project_with_access(project_id=p.pk, labeler_id=labeler.pk)
            assert (got.pk, got.name, got.overlap_k, got.created_at) == (
                p.pk,
                p.name,
                p.overlap_k,
                p.created_at,
            )
            assert (bool(got.labeler_is_member), bool(got.labeler_is_excluded)) == orm_access(labeler, p.pk)
        with transaction.atomic():
            excluded = statements.lock_labeler(labeler_id=labeler.pk, project_id=project.pk)
        assert excluded == orm_access(labeler, project.pk)[1]
        for assignment in Assignment.objects.filter(project=project)[:30]:
            got = statements.assignment_access(assignment_id=assignment.pk, labeler_id=labeler.pk)
            if assignment.labeler_id != labeler.pk:
                assert got is None
                continue
            simulated = labeler.groups.filter(name=SIMULATED_GROUP).exists()
            assert got == (project.pk, *orm_access(labeler, project.pk), simulated)
            via = statements.project_of_assignment(assignment_id=assignment.pk, labeler_id=labeler.pk)
            assert (via.pk, via.lease_seconds, via.gold_rate) == (
                project.pk,
                project.lease_seconds,
                project.gold_rate,
            )
            assert (bool(via.labeler_is_member), bool(via.labeler_is_excluded)) == orm_access(
                labeler, project.pk
            )
        foreign = Assignment.objects.exclude(labeler=labeler).first()
        assert statements.project_of_assignment(assignment_id=foreign.pk, labeler_id=labeler.pk) is None
    assert statements.project_with_access(project_id=10**9, labeler_id=labelers[0].pk) is None
    assert statements.project_of_assignment(assignment_id=10**9, labeler_id=labelers[0].pk) is None


def test_the_shown_lease_reads_what_the_orm_reads(filled, django_assert_num_queries):
    project, _, _, _ = filled
    # A side of several turns (an imported HH pair), with text that needs no escaping in SQL.
    multi = Comparison.objects.filter(project=project).first().response_a
    multi.messages = [
        {"role": "assistant", "content": 'Hi "there" ünïcode'},
        {"role": "user", "content": "?"},
    ]
    multi.save()
    checked = 0
    for expected in Assignment.objects.filter(project=project).select_related(
        "comparison__prompt", "comparison__response_a", "comparison__response_b"
    ):
        with django_assert_num_queries(1):
            got = statements.lease_shown(assignment_id=expected.pk)
            shown = [(r.pk, r.text, r.messages) for r in got.shown()]
            messages = got.comparison.prompt.messages
        for field in Assignment._meta.concrete_fields:
            assert getattr(got, field.attname) == getattr(expected, field.attname), field.name
        assert shown == [(r.pk, r.text, r.messages) for r in expected.shown()]
        assert messages == expected.comparison.prompt.messages
        checked += shown[0][2] != [] or shown[1][2] != []
        # Fields it did not read are read when asked for, not wrong defaults.
        assert got.comparison.judgment_count == expected.comparison.judgment_count
        assert got.comparison.response_a.model_name == expected.comparison.response_a.model_name
    assert checked >= 1
    assert statements.lease_shown(assignment_id=10**9) is None


def test_the_judgment_target_and_the_count_match_the_rows(filled):
    project, _, _, _ = filled
    Project.objects.filter(pk=project.pk).update(require_rationale_for_tie=True)
    for assignment in Assignment.objects.filter(project=project).select_related("comparison")[:20]:
        c = assignment.comparison
        with transaction.atomic():
            target = statements.lock_judgment_target(
                assignment_id=assignment.pk, labeler_id=assignment.labeler_id
            )
            assert (
                statements.lock_judgment_target(
                    assignment_id=assignment.pk, labeler_id=assignment.labeler_id + 10**6
                )
                is None
            )
        assert target == statements.JudgmentTarget(
            project.pk, 3, True, c.pk, c.is_gold, c.response_a_id, c.response_b_id
        )
    # The count and the flag move together, as Comparison.open_expression sets them.
    for c in Comparison.objects.filter(project=project):
        for delta in (+1, +1, -1, -1):
            statements.count_judgment(comparison_id=c.pk, delta=delta)
            row = Comparison.objects.get(pk=c.pk)
            expected = (
                Comparison.objects.filter(pk=c.pk).values_list(Comparison.open_expression(), flat=True).get()
            )
            assert row.is_open == bool(expected) == (not row.is_gold and row.judgment_count < 3)


def test_the_lease_and_clash_reads_answer_as_the_orm_did(filled):
    project, labelers, now, _ = filled
    for labeler in labelers:
        for at in (now - timedelta(seconds=2), now, now + timedelta(hours=1)):
            expected = [
                (pk, expires_at > at)
                for pk, expires_at in Assignment.objects.filter(
                    labeler=labeler, project=project, state=Assignment.State.ACTIVE
                )
                .order_by("leased_at", "id")
                .values_list("pk", "expires_at")
            ]
            assert statements.leases_held(labeler_id=labeler.pk, project_id=project.pk, now=at) == expected
        for c in Comparison.objects.filter(project=project):
            for client_id in ("nobody", *Judgment.objects.values_list("client_id", flat=True)[:5]):
                got = statements.judgment_clashes(
                    client_id=client_id, comparison_id=c.pk, labeler_id=labeler.pk
                )
                expected = Judgment.objects.filter(
                    Q(client_id=client_id) | Q(comparison=c, labeler=labeler)
                ).values_list("id", "client_id", "labeler_id")
                assert sorted(got) == sorted(expected)


def test_the_own_assignments_read_and_the_closing_update_match_the_rows(filled):
    project, labelers, now, _ = filled
    for labeler in labelers[:4]:
        for c in Comparison.objects.filter(project=project):
            for at in (now - timedelta(seconds=2), now + timedelta(hours=1)):
                with transaction.atomic():
                    got = statements.lock_own_assignments(labeler_id=labeler.pk, comparison_id=c.pk, now=at)
                expected = [
                    statements.OwnLease(a.pk, a.state, a.is_live(at), a.side_order)
                    for a in Assignment.objects.filter(labeler=labeler, comparison=c).order_by("pk")
                ]
                assert got == expected
    first, *others = Assignment.objects.filter(project=project).order_by("pk")[:4]
    untouched = Assignment.objects.filter(project=project).order_by("pk")[4]
    before = (untouched.state, untouched.closed_at)
    statements.close_assignments(submitted=first.pk, released=[o.pk for o in others], now=now)
    assert Assignment.objects.get(pk=first.pk).state == Assignment.State.SUBMITTED
    assert {Assignment.objects.get(pk=o.pk).state for o in others} == {Assignment.State.RELEASED}
    assert {Assignment.objects.get(pk=a.pk).closed_at for a in [first, *others]} == {now}
    untouched.refresh_from_db()
    assert (untouched.state, untouched.closed_at) == before
