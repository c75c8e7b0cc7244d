from __future__ import annotations

import json

import pytest

from rewardmodel.training.base_model import EOS_TOKEN, load_tokenizer, safetensors_parameter_count

pytestmark = pytest.mark.ml


def test_it_sets_pad_and_eos_explicitly(smol_tokenizer_dir):
    tokenizer = load_tokenizer(smol_tokenizer_dir)
    assert tokenizer.eos_token == EOS_TOKEN
    assert tokenizer.pad_token is not None
    text = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False)
    assert "<|im_start|>user" in text


def test_it_builds_tiny_models_on_the_real_tokenizer(tiny_policy_dir, tiny_reward_dir, smol_tokenizer_dir):
    tokenizer = load_tokenizer(smol_tokenizer_dir)
    for folder in (tiny_policy_dir, tiny_reward_dir):
        config = json.loads((folder / "config.json").read_text())
        assert config["vocab_size"] == len(tokenizer)
        assert config["pad_token_id"] == tokenizer.pad_token_id
        assert 0 < safetensors_parameter_count(folder) < 5_000_000


@pytest.mark.slow
def test_it_converts_the_wheel_gguf_to_safetensors(smollm2_dir):
    import torch
    from transformers import AutoModelForCausalLM

    assert safetensors_parameter_count(smollm2_dir) > 130_000_000
    tokenizer = load_tokenizer(smollm2_dir, padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(str(smollm2_dir))
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    with torch.no_grad():
        out = model.generate(**prompt, max_new_tokens=12, do_sample=False)
    answer = tokenizer.decode(out[0, prompt["input_ids"].shape[1] :], skip_special_tokens=True)
    assert "Paris" in answer
