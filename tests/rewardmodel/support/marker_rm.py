"""Fixtures for PPO: a tiny starting policy, a reward model that prefers one token, a project of
short prompts. The reward model is built by hand so its preference is known exactly:

every layer's attention is uniform (zero queries and keys) and copies its input (identity value
and output projections), and the MLPs add nothing, so the last hidden state is (the normalised)
mean of the sequence's token embeddings; the score head is the marker token's embedding. The
score is therefore higher the more the text's tokens point the marker's way — a continuous
signal a random tiny policy can climb in a few updates.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from annotate.models import Prompt, content_hash
from rewardmodel.models import ModelArtifact
from rewardmodel.registry.artifacts import artifact_register
from tests.factories import make_project

MARKER = " thanks"


def build_marker_reward_model(tokenizer_dir: Path, target: Path) -> Path:
    import torch
    from transformers import AutoModelForSequenceClassification

    from rewardmodel.training.base_model import build_tiny_model, load_tokenizer

    build_tiny_model(tokenizer_dir, target, head="reward", seed=1)
    tokenizer = load_tokenizer(tokenizer_dir)
    [marker] = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(MARKER))
    model = AutoModelForSequenceClassification.from_pretrained(str(target))
    width = model.config.hidden_size
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.q_proj.weight.zero_()
            layer.self_attn.k_proj.weight.zero_()
            layer.self_attn.v_proj.weight.copy_(torch.eye(width))
            layer.self_attn.o_proj.weight.copy_(torch.eye(width))
            layer.mlp.down_proj.weight.zero_()
        direction = model.model.embed_tokens.weight[marker]
        model.score.weight.copy_((direction / direction.norm() * 4).unsqueeze(0))
    model.save_pretrained(str(target), safe_serialization=True)
    return target


@pytest.fixture(scope="session")
def marker_reward_dir(smol_tokenizer_dir, tmp_path_factory) -> Path:
    return build_marker_reward_model(smol_tokenizer_dir, tmp_path_factory.mktemp("marker-rm"))


@pytest.fixture
def marker_rm(db, marker_reward_dir, tiny_start) -> ModelArtifact:
    return artifact_register(
        kind=ModelArtifact.Kind.REWARD, name="marker-rm", path=marker_reward_dir, parents=[tiny_start]
    )


@pytest.fixture
def other_tokenizer_rm(db, marker_reward_dir, tmp_path) -> ModelArtifact:
    """The same reward model with one vocabulary entry changed: a different tokenizer."""
    folder = tmp_path / "other-tokenizer-rm"
    shutil.copytree(marker_reward_dir, folder)
    data = json.loads((folder / "tokenizer.json").read_text())
    vocab = data["model"]["vocab"]
    word = next(iter(vocab))
    vocab[word + "-renamed"] = vocab.pop(word)
    (folder / "tokenizer.json").write_text(json.dumps(data))
    return artifact_register(kind=ModelArtifact.Kind.REWARD, name="other-tokenizer-rm", path=folder)


@pytest.fixture
def chat_project(db):
    """16 short training prompts and 4 held-out ones (a short system turn keeps them cheap)."""
    project = make_project("Chat")
    for i in range(20):
        messages = [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": f"Say a word {i}."},
        ]
        Prompt.objects.create(
            project=project,
            messages=messages,
            content_hash=content_hash(messages),
            split="heldout" if i >= 16 else "train",
        )
    return project
