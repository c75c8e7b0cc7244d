"""Excluding a labeler on the quality page changes the exported training data exactly as the
majority-vote rules say (annotate/exporting/build.py), and reinstating brings it back."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from annotate.exporting.build import preferences_rows
from annotate.models import Judgment
from annotate.quality.exclusion import labeler_reinstate
from annotate.quality.report import quality_report_compute
from tests.factories import make_comparison


def _vote(c, user, winner, n):
    side = "BA" if n % 2 else "AB"  # left/right differs; the stored winner is what counts
    left_is_a = side == "AB"
    shown = "A" if (winner == "a") == left_is_a else "B"
    Judgment.objects.create(
        comparison=c,
        labeler=user,
        choice=shown,
        side_order=side,
        client_id=f"x{n}",
        winner_id=c.response_a_id if winner == "a" else c.response_b_id,
        seconds_on_task=20.0,
    )


def _exported(project):
    rows, stats = preferences_rows(project=project)
    return {(r["comparison_id"], r["chosen"], r["n_votes"], r["agreement"]) for r in rows}, stats


def test_it_changes_the_export_exactly_as_expected_when_a_labeler_is_excluded(
    project, alice, bob, carol, manager
):
    c1 = make_comparison(project, a="c1-a", b="c1-b")  # alice a, bob a, carol b
    c2 = make_comparison(project, a="c2-a", b="c2-b")  # alice a, bob b, carol b
    c3 = make_comparison(project, a="c3-a", b="c3-b")  # alice b, carol a
    gold = make_comparison(project, a="g-a", b="g-b", is_gold=True, gold_choice="A")
    votes = [
        (c1, alice, "a"),
        (c1, bob, "a"),
        (c1, carol, "b"),
        (c2, alice, "a"),
        (c2, bob, "b"),
        (c2, carol, "b"),
        (c3, alice, "b"),
        (c3, carol, "a"),
        (gold, alice, "a"),
        (gold, carol, "b"),
    ]
    for n, (c, user, winner) in enumerate(votes):
        _vote(c, user, winner, n)

    before, stats = _exported(project)
    # c1: a 2-1; c2: b 2-1; c3: 1-1, no majority, dropped; gold never exported.
    assert before == {(c1.pk, "c1-a", 3, round(2 / 3, 6)), (c2.pk, "c2-b", 3, round(2 / 3, 6))}
    assert stats["excluded_labelers"] == 0

    client = Client()
    client.force_login(manager)
    response = client.post(reverse("quality:exclude", args=[project.pk, carol.pk]), {"reason": "contrarian"})
    assert response.status_code == 302

    after, stats = _exported(project)
    # Without carol: c1 a 2-0; c2 1-1, dropped; c3 b 1-0.
    assert after == {(c1.pk, "c1-a", 2, 1.0), (c3.pk, "c3-b", 1, 1.0)}
    assert stats["excluded_labelers"] == 1 and stats["n_labelers"] == 2
    # The agreement figures drop carol the same way: pairs left are c1 (agree) and c2 (disagree).
    report = quality_report_compute(project=project, n_bootstrap=0)
    assert report["agreement"]["raw"] == 0.5 and report["agreement"]["pairs"] == 2

    labeler_reinstate(project=project, labeler=carol, by=manager)
    assert _exported(project)[0] == before
