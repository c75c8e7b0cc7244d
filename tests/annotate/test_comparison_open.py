"""Comparison.is_open (what the pick's partial index holds) follows every change of judgment_count,
is_gold and overlap_k."""

from __future__ import annotations

import io

from annotate.importing.write import data_import
from annotate.models import Comparison
from annotate.quality.gold import comparisons_mark_gold, comparisons_unmark_gold
from annotate.services import JudgmentInput, comparison_assign_next, judgment_record, judgment_undo
from tests.factories import make_comparison


def is_open(comparison: Comparison) -> bool:
    comparison.refresh_from_db()
    return comparison.is_open


def judge(labeler, project, client_id: str) -> None:
    assignment = comparison_assign_next(labeler=labeler, project=project)
    judgment_record(
        labeler=labeler, assignment_id=assignment.pk, data=JudgmentInput(choice="A", client_id=client_id)
    )


def test_it_closes_a_comparison_with_its_kth_judgment_and_reopens_it_on_undo(alice, bob, project):
    comparison = make_comparison(project)  # k = 2
    judge(alice, project, "a-1")
    assert is_open(comparison)
    judge(bob, project, "b-1")
    assert not is_open(comparison) and comparison.judgment_count == 2
    judgment_undo(labeler=bob, client_id="b-1")
    assert is_open(comparison) and comparison.judgment_count == 1


def test_it_follows_the_projects_overlap_k(alice, bob, project):
    comparison = make_comparison(project)
    judge(alice, project, "a-1")
    project.overlap_k = 1
    project.save()
    assert not is_open(comparison)
    project.refresh_from_db()
    project.overlap_k = 3
    project.save()
    assert is_open(comparison)
    assert comparison_assign_next(labeler=bob, project=project).comparison_id == comparison.pk


def test_it_keeps_gold_items_out_of_the_open_ones(project):
    comparison = make_comparison(project)
    comparisons_mark_gold(comparisons=Comparison.objects.filter(pk=comparison.pk), answer="A")
    assert not is_open(comparison)
    comparisons_unmark_gold(comparisons=Comparison.objects.filter(is_gold=True))
    assert is_open(comparison)
    assert not make_comparison(project, is_gold=True).is_open
    assert not make_comparison(project, judgment_count=2).is_open


def test_it_opens_imported_comparisons(project):
    data = b'{"prompt": "Capital of France?", "chosen": "Paris.", "rejected": "Lyon."}\n'
    data_import(project=project, source=io.BytesIO(data), fmt="trl")
    assert Comparison.objects.get().is_open
