"""SFT on a tiny random policy: the loss on held-out demonstrations falls, metrics arrive under the
names the run page charts, and the checkpoint appears only when training finished."""

from __future__ import annotations

import json
import random

import pytest

from pairwise.progress import ListReporter
from rewardmodel.training.sft import SftConfig, train_sft

pytestmark = pytest.mark.ml


def demo(a: int, b: int) -> dict:
    return {
        "prompt": [{"role": "system", "content": "Answer."}, {"role": "user", "content": f"{a} times {b}?"}],
        "completion": [
            {
                "role": "assistant",
                "content": f"<think>{a} times {b} is {a * b}.</think><answer>{a * b}</answer>",
            }
        ],
    }


def test_it_lowers_the_loss_on_held_out_demonstrations(tiny_policy_dir, tmp_path):
    rng = random.Random(0)
    train = [demo(rng.randint(1, 20), rng.randint(1, 9)) for _ in range(24)]
    # The other accepted form: one conversation ending in the assistant's turn.
    heldout = [{"messages": d["prompt"] + d["completion"]} for d in (demo(3, 7), demo(11, 4), demo(6, 6))]
    reporter = ListReporter()
    config = SftConfig(
        model_dir=str(tiny_policy_dir),
        output_dir=str(tmp_path / "out" / "policy"),
        demonstrations=train,
        heldout=heldout,
        # A random model spreads its mass over 49k tokens: a large learning rate moves it in 9 steps.
        lr=1e-2,
        epochs=3,
        batch_size=8,
    )
    result = train_sft(config, reporter)

    s = result.summary
    assert s["heldout/loss_after"] < s["heldout/loss_before"] - 1.0, s
    assert s["heldout/mean_token_accuracy_after"] > s["heldout/mean_token_accuracy_before"]
    assert s["last/loss"] < s["first/loss"] and s["steps"] == 9 == result.steps
    assert s["examples"] == 24 and s["heldout_examples"] == 3 and s["device"] == "cpu"

    steps = [m for _, m in reporter.logs if "loss" in m]
    assert len(steps) == 9
    for key in ("loss", "mean_token_accuracy", "learning_rate", "grad_norm", "num_tokens"):
        assert all(isinstance(m[key], float) for m in steps), key
    heldout_points = [m for _, m in reporter.logs if "heldout/loss" in m]
    assert len(heldout_points) == 2 and reporter.last_progress == (9, 9)
    assert result.examples_seen == 72 and result.tokens_seen == int(steps[-1]["num_tokens"])

    saved = tmp_path / "out" / "policy"
    assert (saved / "config.json").exists() and list(saved.glob("*.safetensors"))
    assert (saved / "tokenizer_config.json").exists()
    recorded = json.loads((saved / "pairwise_sft.json").read_text())
    assert recorded["config"]["demonstrations"] == 24 and recorded["config"]["lr"] == 1e-2
    assert recorded["summary"]["heldout/loss_after"] == s["heldout/loss_after"]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["policy"]  # no temporary folder left


def test_it_refuses_a_demonstration_without_an_assistant_answer(tmp_path):
    bad = {"prompt": [{"role": "user", "content": "Hi"}], "completion": [{"role": "user", "content": "Hi"}]}
    with pytest.raises(ValueError, match="ending in one assistant turn"):
        SftConfig(model_dir="m", output_dir=str(tmp_path / "o"), demonstrations=[bad]).validate()
