"""Fixtures for reward-model runs: a tiny base model, a snapshot of marker-word pairs."""

from __future__ import annotations

import pytest

from rewardmodel.models import DatasetSnapshot, ModelArtifact
from rewardmodel.registry.artifacts import artifact_register
from rewardmodel.registry.snapshots import EVAL_FILE, TRAIN_FILE
from tests.reward.synthetic import marker_pairs, write_jsonl

FAST = {"lr": 2e-3, "epochs": 1, "batch_size": 8, "logging_steps": 2}


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path):
    """Checkpoints and snapshots of each test go to its own folder."""
    settings.DATA_DIR = tmp_path / "data"
    settings.DATA_DIR.mkdir()
    return settings.DATA_DIR


@pytest.fixture
def quick_cancel(monkeypatch):
    """The job reporter re-reads the cancel flag and beats at every step (tiny models train in ms)."""
    monkeypatch.setattr("rewardmodel.jobs.lifecycle.CANCEL_CHECK_SECONDS", 0.0)
    monkeypatch.setattr("rewardmodel.jobs.lifecycle.BEAT_SECONDS", 0.0)


@pytest.fixture
def tiny_base(db, tiny_policy_dir) -> ModelArtifact:
    return artifact_register(kind=ModelArtifact.Kind.BASE, name="tiny-base", path=tiny_policy_dir)


@pytest.fixture
def marker_snapshot(project, tmp_path) -> DatasetSnapshot:
    """A snapshot written by hand (48 train / 16 eval marker pairs), no exporter involved."""
    folder = tmp_path / "snap"
    folder.mkdir()
    write_jsonl(folder / TRAIN_FILE, marker_pairs(48, seed=1))
    write_jsonl(folder / EVAL_FILE, marker_pairs(16, seed=2))
    return DatasetSnapshot.objects.create(
        project=project,
        kind=DatasetSnapshot.Kind.PREFERENCES,
        path=str(folder),
        content_hash="f" * 64,
        n_examples=48,
        n_eval_examples=16,
        n_judgments=64,
        n_labelers=3,
        filters={"min_agreement": 0.0, "eval_fraction": 0.25},
    )
