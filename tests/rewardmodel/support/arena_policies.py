from __future__ import annotations

from pathlib import Path

import pytest


def _talkative_policy(tokenizer_dir: Path, target: Path, seed: int) -> Path:
    """A tiny policy whose greedy answers are words. With the tied embeddings of build_tiny_model
    a random model's argmax repeats its input's last (special) token, so every greedy answer is
    "" and an arena would pair nothing; a random untied output head makes each model say its own
    words."""
    import torch
    from transformers import AutoModelForCausalLM

    from rewardmodel.training.base_model import build_tiny_model

    build_tiny_model(tokenizer_dir, target, head="causal", seed=seed)
    model = AutoModelForCausalLM.from_pretrained(target)
    model.config.tie_word_embeddings = False
    torch.manual_seed(seed)
    model.lm_head.weight = torch.nn.Parameter(torch.randn_like(model.lm_head.weight))
    model.save_pretrained(target)
    return target


@pytest.fixture(scope="session")
def arena_policy_dirs(smol_tokenizer_dir, tmp_path_factory) -> list[Path]:
    return [
        _talkative_policy(smol_tokenizer_dir, tmp_path_factory.mktemp(f"arena-policy-{seed}"), seed)
        for seed in (0, 1)
    ]
