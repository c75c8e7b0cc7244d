"""Fixtures of the model side's tests (every package of rewardmodel): each test's own data
directory, one torch thread for tiny models, tiny starting models, an arithmetic project, a
snapshot of marker pairs; and, from tests/rewardmodel/support/, the marker reward model and chat
project of the PPO tests, the arena's talkative policies and the report's "roads" world."""

from __future__ import annotations

import pytest

from rewardmodel.models import DatasetSnapshot, ModelArtifact
from rewardmodel.registry.artifacts import artifact_register
from rewardmodel.registry.snapshots import EVAL_FILE, TRAIN_FILE
from tests.factories import make_project
from tests.rewardmodel.support.arena_policies import arena_policy_dirs  # noqa: F401
from tests.rewardmodel.support.marker_rm import (  # noqa: F401
    chat_project,
    marker_reward_dir,
    marker_rm,
    other_tokenizer_rm,
)
from tests.rewardmodel.support.roads import other_policy_dir, roads_models, roads_rows  # noqa: F401
from tests.rewardmodel.support.synthetic import marker_pairs, write_jsonl


@pytest.fixture(autouse=True)
def _one_torch_thread(request):
    """Tiny models gain nothing from a second thread, and on a shared CPU the OpenMP hand-offs make
    a 3-token generate take seconds instead of a tenth of one. Tests that run torch use one thread."""
    if request.node.get_closest_marker("ml") is None:
        yield
        return
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path):
    """Checkpoints, snapshots and exports of each test go to its own folder."""
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
def tiny_start(db, tiny_policy_dir) -> ModelArtifact:
    return artifact_register(kind=ModelArtifact.Kind.BASE, name="tiny-start", path=tiny_policy_dir)


@pytest.fixture
def arithmetic_project(db):
    from rewardmodel.registry.prompts import arithmetic_prompts_create

    project = make_project("Arithmetic")
    arithmetic_prompts_create(project=project, level="easy", n_train=24, n_heldout=4, seed=0)
    return project


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
