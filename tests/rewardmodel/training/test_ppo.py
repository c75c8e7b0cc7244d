"""The pieces PPO adds around TRL: scoring where the reward model learned to read, the pad token,
the reward-hacking monitor, and `evaluate_policy --reward-model`."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from rewardmodel.training.ppo import (
    PpoConfig,
    _AlignedScorer,
    end_of_turn_suffix,
    hacking_monitor,
    ppo_pad_token,
)

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say a word."}]


@pytest.mark.ml
def test_rollouts_are_scored_as_score_texts_scores_them(smol_tokenizer_dir, marker_reward_dir):
    """TRL reads the reward on the response's last token (<|im_end|>); the reward model learned to
    read it after the template's "\\n". The aligned scorer gives exactly what score_texts gives."""
    import torch
    from trl.experimental.utils import get_reward

    from rewardmodel.training.base_model import load_tokenizer
    from rewardmodel.training.scoring import load_reward_model, score_texts

    tokenizer = load_tokenizer(smol_tokenizer_dir, padding_side="left")
    tokenizer.pad_token = ppo_pad_token(tokenizer)
    assert tokenizer.pad_token == "<|endoftext|>" and tokenizer.pad_token_id != tokenizer.eos_token_id
    model, reward_tokenizer = load_reward_model(marker_reward_dir)
    suffix = end_of_turn_suffix(reward_tokenizer)
    assert reward_tokenizer.convert_ids_to_tokens(suffix) == ["Ċ"]

    query = tokenizer.apply_chat_template(
        MESSAGES, add_generation_prompt=True, tokenize=True, return_dict=True
    )
    query = list(query["input_ids"])
    responses = ["hello there", "a longer answer, thanks"]
    rows, lengths = [], []
    for text in responses:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        rows.append(query + ids + [tokenizer.pad_token_id] * (8 - len(ids)))
        lengths.append(len(ids))
    batch = torch.tensor(rows)
    scorer = _AlignedScorer(get_reward, model, tokenizer, tokenizer.eos_token_id, suffix)
    _, aligned, _ = scorer(model, batch, tokenizer.pad_token_id, len(query))
    expected = score_texts(marker_reward_dir, [(MESSAGES, r) for r in responses], cached=False)
    assert aligned.tolist() == pytest.approx(expected, abs=1e-4)
    _, unaligned, _ = get_reward(model, batch, tokenizer.pad_token_id, len(query))
    assert abs(float(unaligned[0]) - expected[0]) > 1e-5  # read one token early: what TRL alone optimises
    assert scorer.take()[0] == lengths  # response lengths, end-of-turn included


def _point(step, score, length, corr, kl):
    return {"step": step, "score": score, "length": length, "length_score_corr": corr, "kl": kl}


def test_the_monitor_flags_a_score_that_rises_with_length_past_the_kl_threshold():
    config = PpoConfig(model_dir="", reward_model_dir="", output_dir="", prompts=[{"question": "?"}])
    hacked = hacking_monitor([_point(0, -0.7, 40, 0.1, 0.0), _point(50, -0.2, 70, 0.8, 1.6)], config)
    assert hacked["flagged"] and "rises with length" in hacked["evidence"]
    assert hacked["length_gain"] == pytest.approx(0.75) and "40.0 → 70.0" in hacked["evidence"]
    # Same rise, but close to the start: not (yet) hacking.
    near = hacking_monitor([_point(0, -0.7, 40, 0.1, 0.0), _point(50, -0.2, 70, 0.8, 0.4)], config)
    assert not near["flagged"]
    # Score up, length flat: an honest gain.
    honest = hacking_monitor([_point(0, -0.7, 40, 0.1, 0.0), _point(50, -0.2, 41, 0.05, 1.6)], config)
    assert not honest["flagged"]
    assert not hacking_monitor([_point(0, -0.7, 40, 0.1, 0.0)], config)["flagged"]


@pytest.mark.ml
def test_evaluate_policy_measures_any_policy_with_a_reward_model(chat_project, tiny_start, marker_rm, capsys):
    call_command(
        "evaluate_policy",
        "--model",
        "tiny-start",
        "--project",
        "Chat",
        "--reward-model",
        "marker-rm",
        "--max-new-tokens",
        "6",
        "--json",
    )
    data = json.loads(capsys.readouterr().out)
    rm = data["reward_model"]
    assert rm["name"] == "marker-rm" and rm["reference"] == "tiny-start" and rm["n_prompts"] == 4
    assert rm["kl"] == pytest.approx(0.0, abs=1e-5)  # the base against itself
    assert isinstance(rm["mean_score"], float) and 1 <= rm["mean_length"] <= 6
    assert "accuracy" not in data  # no reference answers in this project: the rules part is skipped

    call_command(
        "evaluate_policy",
        "--model",
        "tiny-start",
        "--project",
        "Chat",
        "--reward-model",
        "marker-rm",
        "--max-new-tokens",
        "6",
    )
    out = capsys.readouterr().out
    assert "scored by marker-rm on 4 heldout prompts" in out and "KL to tiny-start 0.000" in out

    with pytest.raises(CommandError, match="scored with a reward model"):
        call_command(
            "evaluate_policy", "--model", "tiny-start", "--project", "Chat", "--reward-model", "tiny-start"
        )
