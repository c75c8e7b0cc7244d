from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from annotate.models import Judgment
from annotate.quality.data import judgment_columns
from tests.annotate.quality.sim import shown_to_winner
from tests.factories import make_comparison, make_project, make_user

SHOWN = {"A": 0, "B": 1, "tie": 2, "both_bad": 3}


def test_it_reads_every_column_the_same_way_on_each_database(project, alice, bob, carol):
    """The PostgreSQL path packs rows in SQL and decodes outcomes in numpy; SQLite reads rows. Both
    must agree with what the ORM says."""
    t0 = datetime(2025, 5, 1, 8, 30, 15, 250000, tzinfo=UTC)
    plain = make_comparison(project)
    gold_a = make_comparison(project, is_gold=True, gold_choice="A")
    gold_tie = make_comparison(project, is_gold=True, gold_choice="tie")
    gold_unanswered = make_comparison(project, is_gold=True, gold_choice="")
    cases = [  # comparison, labeler, shown choice, side order, seconds
        (plain, alice, "A", "AB", 12.5),
        (plain, bob, "A", "BA", None),
        (plain, carol, "both_bad", "AB", 3.0),
        (gold_a, alice, "B", "BA", 40.25),
        (gold_a, bob, "tie", "AB", 7.0),
        (gold_tie, alice, "tie", "BA", 1.5),
        (gold_unanswered, carol, "B", "AB", 2.0),
    ]
    for n, (c, user, shown, side, seconds) in enumerate(cases):
        Judgment.objects.create(
            comparison=c,
            labeler=user,
            choice=shown,
            side_order=side,
            seconds_on_task=seconds,
            winner_id=shown_to_winner(c, side, shown),
            client_id=f"d{n}",
            created_at=t0 + timedelta(hours=n),
        )
    Judgment.objects.create(  # imported: no labeler, left out
        comparison=plain,
        labeler=None,
        source="external",
        choice="A",
        side_order="AB",
        winner_id=plain.response_a_id,
        client_id="ext",
    )
    other = make_comparison(make_project("Elsewhere"))
    Judgment.objects.create(  # another project's: left out
        comparison=other,
        labeler=make_user("zed"),
        choice="A",
        side_order="AB",
        winner_id=other.response_a_id,
        client_id="other",
    )

    cols = judgment_columns(project=project)
    expected = Judgment.objects.filter(comparison__project=project, labeler__isnull=False).order_by("id")
    assert cols.id.tolist() == [j.pk for j in expected]
    assert cols.comparison.tolist() == [j.comparison_id for j in expected]
    assert cols.labeler.tolist() == [j.labeler_id for j in expected]
    assert cols.shown.tolist() == [SHOWN[j.choice] for j in expected]
    # Outcomes in stored order: A shown on AB is response_a; A shown on BA is response_b.
    assert cols.outcome.tolist() == [0, 1, 3, 0, 2, 2, 1]
    assert cols.is_gold.tolist() == [False, False, False, True, True, True, True]
    assert cols.gold.tolist() == [-1, -1, -1, 0, 0, 2, -1]
    seconds = [j.seconds_on_task for j in expected]
    assert np.isnan(cols.seconds[1]) and cols.seconds[[0, 2, 3]].tolist() == pytest.approx([12.5, 3.0, 40.25])
    assert seconds[1] is None
    assert cols.created.tolist() == pytest.approx(
        [(t0 + timedelta(hours=n)).timestamp() for n in range(7)], abs=1e-3
    )
