"""Judgments become a reward model that learned something: through the command, on a tiny model."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command

from rewardmodel.models import JobStatus, ModelArtifact, TrainingRun
from rewardmodel.registry.snapshots import EVAL_FILE
from tests.rewardmodel.support.synthetic import judge_marker_pairs

pytestmark = pytest.mark.ml


def test_it_learns_a_marker_preference_through_the_command(project, alice, bob, tiny_base):
    judge_marker_pairs(project, 200, labelers=(alice, bob))
    out = io.StringIO()
    call_command(
        "train_reward_model",
        "--project", project.name,
        "--base", "tiny-base",
        "--epochs", "2",
        "--lr", "2e-3",
        "--batch-size", "8",
        "--eval-fraction", "0.2",
        "--sync",
        stdout=out,
    )  # fmt: skip
    run = TrainingRun.objects.get()
    assert run.status == JobStatus.SUCCEEDED, run.traceback
    assert run.summary["eval_pairs"] == 40 and run.summary["eval_accuracy"] > 0.9
    assert f"eval accuracy {run.summary['eval_accuracy']:.3f}" in out.getvalue()

    snap = run.snapshot
    assert (snap.n_examples, snap.n_eval_examples, snap.n_judgments, snap.n_labelers) == (160, 40, 400, 2)
    assert snap.filters["eval_fraction"] == 0.2 and snap.filters["conversational"] is True
    model = run.output_model
    assert model.kind == ModelArtifact.Kind.REWARD and model.dataset_snapshot == snap
    assert list(model.parents.all()) == [tiny_base]

    # The held-out file scored again from disk, by the scoring command, agrees with the run.
    scored = io.StringIO()
    call_command(
        "score_pairs", str(Path(snap.path, EVAL_FILE)), "--model", model.name, "--json", stdout=scored
    )
    result = json.loads(scored.getvalue())
    assert result["n_pairs"] == 40
    assert result["accuracy"] == pytest.approx(run.summary["eval_accuracy"])
    assert result["mean_margin"] == pytest.approx(run.summary["eval_margin"], abs=1e-4)
