"""Fixtures for SFT: a tiny starting policy registered as a base model, an arithmetic project."""

from __future__ import annotations

import pytest

from rewardmodel.models import ModelArtifact
from rewardmodel.registry.artifacts import artifact_register
from tests.factories import make_project


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path):
    """Checkpoints and snapshots of each test go to its own folder."""
    settings.DATA_DIR = tmp_path / "data"
    settings.DATA_DIR.mkdir()
    return settings.DATA_DIR


@pytest.fixture
def tiny_start(db, tiny_policy_dir) -> ModelArtifact:
    return artifact_register(kind=ModelArtifact.Kind.BASE, name="tiny-start", path=tiny_policy_dir)


@pytest.fixture
def arithmetic_project(db):
    from rewardmodel.registry.prompts import arithmetic_prompts_create

    project = make_project("Arithmetic")
    arithmetic_prompts_create(project=project, level="easy", n_train=24, n_heldout=4, seed=0)
    return project
