"""DPO on a tiny random policy (TRL's DPOTrainer): the held-out preference loss falls and the
policy comes to prefer the chosen answers, metrics arrive under the names the run page charts,
and the checkpoint appears only when training finished."""

from __future__ import annotations

import json
import random

import pytest

from pairwise.progress import Cancelled, ListReporter
from rewardmodel.training.dpo import DpoConfig, main, train_dpo

pytestmark = pytest.mark.ml


def pair(rng: random.Random) -> dict:
    """A made-up preference: the chosen answer says "yes", the rejected one "no"."""
    question = f"Is {rng.randint(1, 99)} a number?"
    return {
        "prompt": [{"role": "user", "content": question}],
        "chosen": [{"role": "assistant", "content": "yes yes yes"}],
        "rejected": [{"role": "assistant", "content": "no no no"}],
    }


def _config(model_dir, out, **override) -> DpoConfig:
    rng = random.Random(0)
    values = dict(
        model_dir=str(model_dir),
        output_dir=str(out),
        pairs=[pair(rng) for _ in range(16)],
        heldout=[pair(rng) for _ in range(4)],
        # A random model: a large learning rate moves it in a few steps.
        lr=5e-3,
        beta=0.5,
        epochs=2.0,
        batch_size=4,
        max_length=64,
    )
    return DpoConfig(**{**values, **override})


def test_it_learns_the_preference_and_charts_it(tiny_policy_dir, tmp_path):
    reporter = ListReporter()
    result = train_dpo(_config(tiny_policy_dir, tmp_path / "out" / "policy"), reporter)
    s = result.summary
    assert s["heldout/loss_after"] < s["heldout/loss_before"] - 0.05, s
    assert s["heldout/margin_after"] > s["heldout/margin_before"], s
    assert s["heldout/accuracy_after"] == 1.0, s
    logged = {k for _, metrics in reporter.logs for k in metrics}
    for key in ("loss", "rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies"):
        assert key in logged, key
    assert result.steps == 8 and result.examples_seen == 32
    saved = json.loads((tmp_path / "out" / "policy" / "pairwise_dpo.json").read_text())
    assert saved["config"]["pairs"] == 16 and saved["config"]["beta"] == 0.5
    assert (tmp_path / "out" / "policy" / "model.safetensors").is_file()
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["policy"]  # nothing half-written beside it


def test_it_stops_when_the_reporter_asks_and_writes_nothing(tiny_policy_dir, tmp_path):
    with pytest.raises(Cancelled, match="stopped at step 1 of 8"):
        train_dpo(_config(tiny_policy_dir, tmp_path / "out" / "policy"), ListReporter(stop_after=1))
    assert list((tmp_path / "out").iterdir()) == []


def test_it_refuses_a_bad_config_before_loading_anything(tmp_path):
    cases = {
        "beta must be positive": dict(beta=0.0),
        "loss_type must be one of": dict(loss_type="vibes"),
        "No preference pairs": dict(pairs=[]),
        "the chosen and rejected answers are the same": dict(
            pairs=[{"prompt": "q", "chosen": "a", "rejected": "a"}]
        ),
    }
    for message, override in cases.items():
        with pytest.raises(ValueError, match=message):
            train_dpo(_config(tmp_path / "no-model", tmp_path / "out", **override), ListReporter())


def test_it_trains_from_a_shell_on_an_hh_file(tiny_policy_dir, tmp_path, capsys):
    lines = [
        {
            "chosen": f"\n\nHuman: Is {n} odd?\n\nAssistant: yes yes",
            "rejected": f"\n\nHuman: Is {n} odd?\n\nAssistant: no no",
        }
        for n in range(8)
    ]
    pairs = tmp_path / "hh.jsonl"
    pairs.write_text("".join(json.dumps(line) + "\n" for line in lines))
    args = ["--model", str(tiny_policy_dir), "--pairs", str(pairs), "--out", str(tmp_path / "p")]
    assert (
        main([*args, "--batch-size", "4", "--max-length", "48", "--lr", "1e-3", "--no-precompute-ref"]) == 0
    )
    assert json.loads(capsys.readouterr().out)["steps"] == 2
    assert main([*args, "--beta", "-1"]) == 2 and "beta must be positive" in capsys.readouterr().err
