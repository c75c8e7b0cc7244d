"""GRPO on a tiny random policy: a rule reward measurably rises, metrics arrive under the names the
run page charts, the checkpoint appears only on success, and a cancel leaves nothing behind."""

from __future__ import annotations

import json

import pytest

from pairwise.progress import Cancelled, ListReporter
from rewardmodel.training.grpo import GrpoConfig, train_grpo
from rewardmodel.training.rule_rewards import completion_text

pytestmark = pytest.mark.ml


def vowel_share(completions, **kwargs):
    """A text rule a random model can move: the share of vowels among the completion's letters."""
    scores = []
    for completion in completions:
        letters = [ch for ch in completion_text(completion).lower() if ch.isalpha()]
        scores.append(sum(ch in "aeiou" for ch in letters) / len(letters) if letters else 0.0)
    return scores


def _config(policy_dir, output_dir, **overrides) -> GrpoConfig:
    prompts = [{"question": f"Say something, number {i}.", "answer": str(i)} for i in range(16)]
    values = dict(
        model_dir=str(policy_dir),
        output_dir=str(output_dir),
        prompts=prompts,
        rewards=[vowel_share],
        template={"system": "", "user": "{question}"},
        num_generations=8,
        batch_size=16,
        steps=12,
        # A random model spreads its mass over 49k tokens; top-k sampling and a large learning
        # rate let the same few tokens recur, so 12 steps suffice.
        lr=3e-2,
        top_k=20,
        temperature=1.0,
        max_completion_length=8,
        eval_every=0,
        measure_kl=False,
        seed=0,
    )
    values.update(overrides)
    return GrpoConfig(**values)


def test_it_raises_a_rule_reward_within_a_few_steps(tiny_policy_dir, tmp_path):
    reporter = ListReporter()
    result = train_grpo(_config(tiny_policy_dir, tmp_path / "out" / "policy"), reporter)

    rewards = [m["reward/vowel_share"] for _, m in reporter.logs if "reward/vowel_share" in m]
    assert len(rewards) == 12
    first, last = sum(rewards[:3]) / 3, sum(rewards[-3:]) / 3
    assert last > first + 0.1, rewards
    assert result.summary["last/reward/vowel_share"] > result.summary["first/reward/vowel_share"]

    saved = tmp_path / "out" / "policy"
    assert (saved / "config.json").exists() and list(saved.glob("*.safetensors"))
    assert (saved / "tokenizer_config.json").exists()
    recorded = json.loads((saved / "pairwise_grpo.json").read_text())
    assert recorded["config"]["rewards"] == ["vowel_share"]
    assert recorded["config"]["prompts"] == 16
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["policy"]  # no temporary folder left
    assert result.steps == 12 and result.examples_seen == 12 * 16


def test_it_logs_the_story_metrics_and_held_out_accuracy(tiny_policy_dir, tmp_path):
    heldout = [{"question": f"What's {i} plus 1?", "answer": str(i + 1)} for i in range(3)]
    reporter = ListReporter()
    result = train_grpo(
        _config(
            tiny_policy_dir,
            tmp_path / "policy",
            rewards=["accuracy", "format_partial"],
            heldout=heldout,
            steps=2,
            eval_every=1,
            measure_kl=True,
        ),
        reporter,
    )
    steps = [m for _, m in reporter.logs if "reward/accuracy" in m]
    assert len(steps) == 2
    for metrics in steps:
        for key in ("reward/accuracy", "reward/format_partial", "format_rate", "kl", "completion_length"):
            assert isinstance(metrics[key], float), key
        assert metrics["completion_length"] <= 8
        assert metrics["samples"] and all(
            isinstance(s, str) and s.startswith("Q: ") for s in metrics["samples"]
        )
    evals = [(step, m) for step, m in reporter.logs if "heldout/accuracy" in m]
    assert [step for step, _ in evals] == [0, 1, 2]  # before training, then every step
    assert all(0.0 <= m["heldout/accuracy"] <= 1.0 for _, m in evals)
    assert result.summary["heldout/accuracy_before"] == evals[0][1]["heldout/accuracy"]
    assert result.heldout[-1]["step"] == 2


def test_it_stops_when_the_reporter_asks_and_writes_nothing(tiny_policy_dir, tmp_path):
    reporter = ListReporter(stop_after=1)
    with pytest.raises(Cancelled, match="step 1 of 12"):
        train_grpo(_config(tiny_policy_dir, tmp_path / "out" / "policy"), reporter)
    assert list((tmp_path / "out").iterdir()) == []


def test_it_refuses_a_bad_config_before_loading_anything(tmp_path):
    cases = {
        "multiple of num_generations": dict(batch_size=12),
        "num_generations must be at least 2": dict(num_generations=1, batch_size=4),
        "rewards must be from accuracy": dict(rewards=["accuracy", "vibes"]),
        "No training prompts": dict(prompts=[]),
        "must contain {question}": dict(template={"system": "", "user": "no placeholder"}),
    }
    for message, override in cases.items():
        with pytest.raises(ValueError, match=message):
            train_grpo(_config(tmp_path / "no-model", tmp_path / "out", **override), ListReporter())
    (tmp_path / "taken").mkdir()
    with pytest.raises(ValueError, match="already exists"):
        train_grpo(_config(tmp_path / "no-model", tmp_path / "taken"), ListReporter())
