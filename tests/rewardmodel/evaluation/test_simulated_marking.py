"""Simulated judgments are marked as such and reported apart everywhere: the stored source, the
quality report, project progress, both exports (--no-simulated leaves them out) and reward-model
snapshots."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from annotate.exporting.build import judgments_raw_rows, preferences_rows
from annotate.models import Judgment
from annotate.quality.report import quality_report_compute, quality_report_refresh
from annotate.selectors import project_progress
from annotate.services import JudgmentInput, comparison_assign_next, judgment_record
from rewardmodel.registry.preferences import preference_snapshot_create
from tests.factories import make_project
from tests.rewardmodel.support.bulk import bulk_comparisons


@pytest.fixture
def mixed(alice, bob):
    """12 comparisons, k = 2: alice and bob judge the first 4 (the longer response), simulated
    labelers the other 8 (16 judgments)."""
    project = make_project("Mixed", labelers=(alice, bob), overlap_k=2)
    bulk_comparisons(project, 12, seed=2)
    for n in range(4):
        for user in (alice, bob):
            assignment = comparison_assign_next(labeler=user, project=project)
            left, right = assignment.shown()
            choice = "A" if len(left.text) > len(right.text) else "B"
            data = JudgmentInput(choice=choice, client_id=f"h-{user.pk}-{n}", seconds_on_task=9.0)
            judgment_record(labeler=user, assignment_id=assignment.pk, data=data)
    args = ["--project", "Mixed", "--oracle", "length", "--agreement", "1"]
    call_command("simulate_labelers", *args, stdout=io.StringIO(), stderr=io.StringIO())
    return project


def export(*args: str) -> str:
    out = io.StringIO()
    call_command("export_preferences", "--project", "Mixed", *args, stdout=out)
    return out.getvalue()


def test_it_stores_simulated_judgments_with_their_own_source(mixed, alice, bob):
    sources = dict(
        Judgment.objects.filter(comparison__project=mixed)
        .values_list("labeler__username", "source")
        .distinct()
    )
    assert sources.pop("alice") == sources.pop("bob") == Judgment.Source.HUMAN
    assert sources and set(sources.values()) == {Judgment.Source.SIMULATED}
    assert all(name.startswith("sim-mixed-") for name in sources)


def test_it_counts_them_apart_in_the_quality_report_and_progress(mixed, manager):
    report = quality_report_compute(project=mixed, n_bootstrap=0)
    totals = report["totals"]
    assert (totals["judgments"], totals["simulated_judgments"]) == (24, 16)
    assert (totals["labelers"], totals["simulated_labelers"]) == (7, 5)
    assert report["agreement"]["judgments"] == 24 and report["agreement"]["simulated_judgments"] == 16
    rows = {row["username"]: row["simulated"] for row in report["labelers"]}
    assert rows.pop("alice") is rows.pop("bob") is False and set(rows.values()) == {True}
    progress = project_progress(project=mixed)
    assert (progress.judgments_human, progress.judgments_simulated, progress.comparisons_complete) == (
        8,
        16,
        12,
    )

    client = Client()
    client.force_login(manager)
    quality_report_refresh(project=mixed, n_bootstrap=0)
    page = client.get(reverse("quality:project", args=[mixed.pk])).content.decode()
    assert "Simulated judgments · in agreement · simulated labelers" in page and "16 · 16 · 5" in page

    out = io.StringIO()
    call_command("quality_report", "--project", "Mixed", "--bootstrap", "0", stdout=out)
    assert "24 judgments, 16 of them simulated; 7 labelers, 5 simulated" in out.getvalue()
    assert "(16 simulated)" in out.getvalue() and "sim-mixed-1 (sim.)" in out.getvalue()


def test_it_counts_them_in_the_preference_export_and_can_leave_them_out(mixed, tmp_path):
    rows, stats = preferences_rows(project=mixed)
    assert (len(rows), stats["n_judgments"], stats["n_simulated_judgments"]) == (12, 24, 16)
    rows, stats = preferences_rows(project=mixed, include_simulated=False)
    assert (len(rows), stats["n_judgments"], stats["n_simulated_judgments"]) == (4, 8, 0)

    printed = export("--out", str(tmp_path / "all.jsonl"))
    assert "from 12 comparisons, 24 judgments (16 simulated), 7 labelers" in printed
    printed = export("--out", str(tmp_path / "people.jsonl"), "--no-simulated")
    assert "from 4 comparisons, 8 judgments (0 simulated), 2 labelers" in printed
    assert "left out: the project's 16 simulated judgments" in printed
    assert len((tmp_path / "people.jsonl").read_text().splitlines()) == 4


def test_it_marks_them_in_the_raw_export_and_can_leave_them_out(mixed, tmp_path):
    sources = [row["source"] for row in judgments_raw_rows(project=mixed)]
    assert sources.count("simulated") == 16 and sources.count("human") == 8
    assert {row["source"] for row in judgments_raw_rows(project=mixed, include_simulated=False)} == {"human"}

    assert "Wrote 24 judgments (16 simulated)" in export(
        "--out", str(tmp_path / "raw.jsonl"), "--raw", "jsonl"
    )
    printed = export("--out", str(tmp_path / "people.csv"), "--raw", "csv", "--no-simulated")
    assert "Wrote 8 judgments (16 simulated left out)" in printed
    assert len((tmp_path / "people.csv").read_text().splitlines()) == 1 + 8


def test_it_records_in_a_snapshot_whether_they_were_included(mixed):
    everyone = preference_snapshot_create(project=mixed, eval_fraction=0.0, min_train_pairs=1)
    assert everyone.filters["include_simulated"] is True and everyone.filters["simulated_judgments"] == 16
    assert everyone.n_judgments == 24
    people = preference_snapshot_create(
        project=mixed, eval_fraction=0.0, min_train_pairs=1, include_simulated=False
    )
    assert people.filters["include_simulated"] is False and people.filters["simulated_judgments"] == 0
    assert (people.n_judgments, people.n_examples) == (8, 4) and people.pk != everyone.pk
    manifest = json.loads((Path(people.path) / "snapshot.json").read_text())
    assert manifest["n_simulated_judgments"] == 0 and manifest["filters"]["include_simulated"] is False


def test_it_leaves_them_out_of_reward_training_when_asked(mixed, settings):
    from rewardmodel.models import ModelArtifact, TrainingRun

    base = settings.DATA_DIR / "base"
    base.mkdir()
    (base / "config.json").write_text("{}")  # queued, never trained here
    ModelArtifact.objects.create(kind="base", name="b", path=str(base), weights_hash="cd" * 32)
    train = ["train_reward_model", "--project", "Mixed", "--base", "b", "--eval-fraction", "0"]
    out = io.StringIO()
    call_command(*train, stdout=out)
    assert "on 12 training and 0 eval pairs (24 judgments, 16 simulated, by 7 labelers" in out.getvalue()
    # People's judgments alone: the 4 pairs they made are too few for a run.
    with pytest.raises(CommandError, match="'Mixed' has 4 training pairs"):
        call_command(*train, "--no-simulated", stdout=io.StringIO())
    assert TrainingRun.objects.count() == 1
