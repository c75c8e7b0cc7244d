"""PPO against a reward model as a recorded run, on a tiny policy and a hand-built reward model
that prefers one token (tests/rewardmodel/support/marker_rm.py): it learns, it records lineage and metrics, bad
input fails before anything is queued, and a cancel leaves nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from pairwise.errors import PairwiseError
from pairwise.progress import ListReporter
from rewardmodel.evaluation.rm_scoring import policy_rm_evaluate
from rewardmodel.jobs.execute import job_execute
from rewardmodel.models import JobStatus, ModelArtifact, RunMetric, TrainingRun
from rewardmodel.runs.checks import options_clean
from rewardmodel.runs.kinds import KINDS
from rewardmodel.runs.services import run_output_dir, run_start
from tests.factories import make_project

# 16 prompts x 8 responses per update, 8 tokens each; a high lr so a tiny model moves in seconds.
FAST = {
    "episodes": 96,
    "batch_size": 8,
    "response_length": 8,
    "lr": 3e-2,
    "kl_coef": 0.01,
    "missing_eos_penalty": None,
    "eval_every": 6,
    "eval_batch_size": 4,
}


def test_it_resolves_the_whole_config():
    config = options_clean(KINDS["ppo"], {"episodes": 64, "batch_size": 8, "output_name": "p1"})
    assert config["episodes"] == 64 and config["kl_coef"] == 0.05 and config["response_length"] == 64
    assert config["output_name"] == "p1" and config["tags"] == [] and "heldout_limit" not in config
    assert "model_dir" not in config and "prompts" not in config


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"episodes": 0}, "episodes must be at least 1"),
        ({"batch_size": 6, "mini_batches": 4}, "multiple of mini_batches"),
        ({"kl_coef": -1}, "kl_coef cannot be negative"),
        ({"temperature": 0}, "temperature must be positive"),
        ({"response_length": 0}, "response_length"),
        ({"whiten_rewards": True, "batch_size": 8, "mini_batches": 2}, "whiten_rewards"),
        ({"warp_speed": 9}, "Unknown PPO option.*warp_speed"),
    ],
)
def test_it_refuses_bad_options(db, options, message):
    with pytest.raises(PairwiseError, match=message):
        options_clean(KINDS["ppo"], options)


@pytest.mark.ml
def test_it_refuses_a_reward_model_with_another_tokenizer(chat_project, tiny_start, other_tokenizer_rm):
    with pytest.raises(PairwiseError, match="different tokenizer"):
        run_start(
            kind="ppo",
            project=chat_project,
            start=tiny_start,
            inputs={"reward_model": other_tokenizer_rm},
            options=FAST,
        )
    assert not TrainingRun.objects.exists()


@pytest.mark.ml
def test_it_refuses_a_policy_as_reward_model_and_a_reward_model_as_policy(
    chat_project, tiny_start, marker_rm
):
    with pytest.raises(PairwiseError, match="reward model must be a reward model"):
        run_start(
            kind="ppo",
            project=chat_project,
            start=tiny_start,
            inputs={"reward_model": tiny_start},
            options=FAST,
        )
    with pytest.raises(PairwiseError, match="PPO starts from a base model or a policy"):
        run_start(
            kind="ppo",
            project=chat_project,
            start=marker_rm,
            inputs={"reward_model": marker_rm},
            options=FAST,
        )
    assert not TrainingRun.objects.exists()


@pytest.mark.ml
def test_it_refuses_a_project_without_enough_prompts(tiny_start, marker_rm):
    empty = make_project("Empty")
    with pytest.raises(PairwiseError, match="has 0 training prompts"):
        run_start(
            kind="ppo", project=empty, start=tiny_start, inputs={"reward_model": marker_rm}, options=FAST
        )
    assert not TrainingRun.objects.exists()


@pytest.mark.ml
def test_ppo_raises_the_reward_model_score_and_records_the_run(chat_project, tiny_start, marker_rm):
    run = run_start(
        kind="ppo", project=chat_project, start=tiny_start, inputs={"reward_model": marker_rm}, options=FAST
    )
    assert run.kind == TrainingRun.Kind.PPO and run.status == JobStatus.QUEUED
    assert (run.snapshot.n_examples, run.snapshot.n_eval_examples) == (16, 4)

    run = job_execute(TrainingRun, pk=run.pk)
    assert run.status == JobStatus.SUCCEEDED, run.traceback
    policy = run.output_model
    assert policy.kind == ModelArtifact.Kind.POLICY and policy.metadata["algo"] == "ppo"
    # Lineage: the starting policy and the reward model (which leads back to its judgments).
    assert {p.name for p in policy.parents.all()} == {"tiny-start", "marker-rm"}
    assert policy.training_run == run and policy.dataset_snapshot == run.snapshot
    assert Path(policy.path, "pairwise_ppo.json").is_file()
    assert run.examples_seen == 96 and run.tokens_seen > 0

    rows = [m.values for m in RunMetric.objects.filter(run=run).order_by("pk")]
    updates = [v for v in rows if "score" in v]
    assert len(updates) == 12
    for key in (
        "kl",
        "non_score_reward",
        "rlhf_reward",
        "entropy",
        "response_length",
        "policy_loss",
        "value_loss",
        "clip_fraction",
        "approx_kl",
    ):
        assert all(isinstance(v.get(key), float) for v in updates), key
    assert any("samples" in v for v in rows) and any("heldout/samples" in v for v in rows)
    checks = [v for v in rows if "heldout/score" in v]
    assert len(checks) == 3  # before, at update 6, after the last

    # It learned: the held-out greedy score climbed (deterministic: greedy answers to the same
    # held-out prompts), and so did the sampled responses' mean score, half against half. One
    # update's sampled mean swings by +-0.4 with 8 samples, and how far it climbs in 12 updates
    # depends on the CPU's floating point (0.22 here, over 0.3 on another machine), so the sampled
    # score only has to rise; the held-out score has to rise by 0.2 (0.42 here).
    first = sum(v["score"] for v in updates[:6]) / 6
    last = sum(v["score"] for v in updates[-6:]) / 6
    assert last > first, (first, last)
    s = run.summary
    assert s["heldout/score_after"] > s["heldout/score_before"] + 0.2, s
    assert s["heldout/kl_before"] == pytest.approx(0.0, abs=1e-4) and s["heldout/kl_after"] > 0
    assert "reward_hacking" in s and s["reward_model"] == "marker-rm"

    # The same measurement from outside the run gives the run's final held-out numbers.
    result, reference = policy_rm_evaluate(
        model=policy, project=chat_project, reward_model=marker_rm, max_new_tokens=8
    )
    assert reference == tiny_start
    assert result.mean_score == pytest.approx(s["heldout/score_after"], abs=1e-3)
    assert result.kl == pytest.approx(s["heldout/kl_after"], rel=1e-3)


@pytest.mark.ml
def test_a_cancelled_run_leaves_no_artifact(chat_project, tiny_start, marker_rm):
    run = run_start(
        kind="ppo", project=chat_project, start=tiny_start, inputs={"reward_model": marker_rm}, options=FAST
    )
    run = job_execute(TrainingRun, pk=run.pk, reporter=ListReporter(stop_after=1))
    assert run.status == JobStatus.CANCELLED and "stopped at update 1" in run.status_message
    assert run.output_model is None
    assert not ModelArtifact.objects.filter(kind=ModelArtifact.Kind.POLICY).exists()
    out = run_output_dir(run)
    assert not out.exists() and not list(out.parent.glob(f".{out.name}*"))
