"""GRPO as a recorded training run: lineage, metrics timeline with samples, cancel, failure, and
the train_policy / evaluate_policy commands, on a tiny policy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from pairwise.errors import PairwiseError
from pairwise.progress import ListReporter
from rewardmodel.evaluation.rules import policy_evaluate
from rewardmodel.jobs.execute import job_execute
from rewardmodel.jobs.lifecycle import job_cancel
from rewardmodel.models import DatasetSnapshot, JobStatus, ModelArtifact, RunMetric, TrainingRun
from rewardmodel.runs.checks import options_clean
from rewardmodel.runs.kinds import KINDS
from rewardmodel.runs.services import run_output_dir, run_start
from rewardmodel.training.verifiable import R1_SYSTEM

# Small and quick: 2 prompts x 4 completions per step, 8 tokens each.
FAST = {
    "steps": 2,
    "num_generations": 4,
    "batch_size": 8,
    "max_completion_length": 8,
    "eval_every": 1,
    "eval_batch_size": 4,
    "lr": 1e-3,
    "rewards": ["accuracy", "format_partial"],
}


def test_it_resolves_and_stores_the_whole_config_with_the_template():
    config = options_clean(KINDS["grpo"], {"steps": 3, "rewards": "accuracy, format", "output_name": "p1"})
    assert config["steps"] == 3 and config["rewards"] == ["accuracy", "format"]
    assert config["template"] == {"system": R1_SYSTEM, "user": "{question}"}
    assert config["num_generations"] == 8 and config["beta"] == 0.0 and config["output_name"] == "p1"
    assert "model_dir" not in config and "prompts" not in config


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"steps": 0}, "steps must be at least 1"),
        ({"batch_size": 10}, "multiple of num_generations"),
        ({"rewards": "accuracy,vibes"}, "rewards must be from accuracy, format"),
        ({"warp_speed": 9}, "Unknown GRPO option.*warp_speed"),
        ({"template": {"system": "", "user": "no question"}}, "must contain"),
        ({"heldout_limit": -1}, "negative"),
    ],
)
def test_it_refuses_bad_options_before_creating_a_run(db, options, message):
    with pytest.raises(PairwiseError, match=message):
        options_clean(KINDS["grpo"], options)


@pytest.mark.ml
def test_it_records_a_grpo_run_with_lineage_metrics_and_samples(arithmetic_project, tiny_start):
    run = run_start(kind="grpo", project=arithmetic_project, start=tiny_start, options=FAST)
    assert run.kind == TrainingRun.Kind.GRPO and run.status == JobStatus.QUEUED
    assert run.snapshot.kind == DatasetSnapshot.Kind.PROMPTS
    assert (run.snapshot.n_examples, run.snapshot.n_eval_examples) == (24, 4)
    assert run.config["template"]["system"] == R1_SYSTEM

    run = job_execute(TrainingRun, pk=run.pk)
    assert run.status == JobStatus.SUCCEEDED, run.traceback
    policy = run.output_model
    assert policy.kind == ModelArtifact.Kind.POLICY
    assert list(policy.parents.all()) == [tiny_start]
    assert policy.dataset_snapshot == run.snapshot and policy.training_run == run
    assert policy.metadata["algo"] == "grpo" and policy.metadata["template"]["system"] == R1_SYSTEM
    assert Path(policy.path, "pairwise_grpo.json").is_file()
    assert run.examples_seen == 16 and run.tokens_seen > 0

    rows = [m.values for m in RunMetric.objects.filter(run=run).order_by("pk")]
    steps = [v for v in rows if "reward/accuracy" in v]
    assert len(steps) == 2
    for key in ("reward/format_partial", "format_rate", "kl", "completion_length"):
        assert all(isinstance(v[key], float) for v in steps), key
    samples = [v["samples"] for v in rows if "samples" in v]
    assert len(samples) == 2 and all(isinstance(s, str) and s.startswith("Q: ") for s in samples[0])
    heldout = [v for v in rows if "heldout/accuracy" in v]
    assert len(heldout) == 3  # before training and after each step
    assert [v for v in rows if "heldout/samples" in v]

    s = run.summary
    assert s["train_prompts"] == 24 and s["heldout_prompts"] == 4
    assert 0.0 <= s["heldout/accuracy_after"] <= 1.0 and s["samples"]
    json.dumps(s)  # all of it is JSON


@pytest.mark.ml
def test_it_cancels_a_running_grpo_run_and_keeps_nothing(arithmetic_project, tiny_start, monkeypatch):
    monkeypatch.setattr("rewardmodel.jobs.lifecycle.CANCEL_CHECK_SECONDS", 0.0)
    run = run_start(kind="grpo", project=arithmetic_project, start=tiny_start, options={**FAST, "steps": 5})

    class CancelAtStep1(ListReporter):
        def progress(self, done, total, message=""):
            super().progress(done, total, message)
            if done == 1:
                job_cancel(TrainingRun.objects.get(pk=run.pk))

    run = job_execute(TrainingRun, pk=run.pk, reporter=CancelAtStep1())
    assert run.status == JobStatus.CANCELLED and run.output_model is None
    assert not ModelArtifact.objects.filter(kind=ModelArtifact.Kind.POLICY).exists()
    out = run_output_dir(run)
    assert not out.exists() and not list(out.parent.glob(f".{out.name}*"))


@pytest.mark.ml
def test_it_records_a_failure_with_its_reason(arithmetic_project, tiny_start):
    run = run_start(kind="grpo", project=arithmetic_project, start=tiny_start, options=FAST)
    Path(run.snapshot.path, "train.jsonl").unlink()
    run = job_execute(TrainingRun, pk=run.pk)
    assert run.status == JobStatus.FAILED and "files are missing" in run.error


@pytest.mark.ml
def test_it_refuses_reward_models_and_empty_projects(db, arithmetic_project, tiny_reward_dir, tiny_start):
    from rewardmodel.registry.artifacts import artifact_register
    from tests.factories import make_project

    reward = artifact_register(kind=ModelArtifact.Kind.REWARD, name="rm", path=tiny_reward_dir)
    with pytest.raises(PairwiseError, match="GRPO starts from a base model or a policy"):
        run_start(kind="grpo", project=arithmetic_project, start=reward, options=FAST)
    with pytest.raises(PairwiseError, match="no training prompts"):
        run_start(kind="grpo", project=make_project("Blank"), start=tiny_start, options=FAST)
    assert not TrainingRun.objects.exists()


@pytest.mark.ml
def test_it_trains_a_policy_from_the_command_line(arithmetic_project, tiny_start, capsys):
    call_command(
        "train_policy",
        "--algo",
        "grpo",
        "--policy",
        "tiny-start",
        "--project",
        "Arithmetic",
        "--rewards",
        "accuracy,format_partial",
        "--num-generations",
        "4",
        "--batch-size",
        "8",
        "--steps",
        "2",
        "--lr",
        "1e-3",
        "--beta",
        "0.01",
        "--max-completion-length",
        "8",
        "--eval-every",
        "0",
        "--tags",
        "level:easy",
        "--user-template",
        "Question: {question}",
        "--name",
        "tiny-grpo",
        "--sync",
    )
    out = capsys.readouterr().out
    assert "GRPO on tiny-start with 24 training and 4 held-out prompts" in out
    assert "Succeeded" in out and "tiny-grpo" in out and "held-out accuracy" in out
    run = TrainingRun.objects.get()
    assert run.config["beta"] == 0.01 and run.config["tags"] == ["level:easy"]
    assert run.config["template"] == {"system": R1_SYSTEM, "user": "Question: {question}"}
    policy = ModelArtifact.objects.get(name="tiny-grpo")
    assert list(policy.parents.all()) == [tiny_start]

    call_command("evaluate_policy", "--model", "tiny-grpo", "--project", "Arithmetic", "--json")
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["n_prompts"] == 4 and result["samples_per_prompt"] == 1
    assert 0.0 <= result["accuracy"] <= 1.0 and result["generation"]["decoding"] == "greedy"


def test_ppo_needs_a_reward_model(arithmetic_project):
    with pytest.raises(CommandError, match="--algo ppo needs --reward-model"):
        call_command("train_policy", "--algo", "ppo", "--project", "Arithmetic")


@pytest.mark.ml
def test_it_names_what_is_missing_on_the_command_line(db, arithmetic_project, tiny_start):
    with pytest.raises(CommandError, match="No project named 'Nope'"):
        call_command("train_policy", "--project", "Nope")
    with pytest.raises(CommandError, match="No registered model 'ghost'"):
        call_command("train_policy", "--project", "Arithmetic", "--policy", "ghost")
    with pytest.raises(CommandError, match="multiple of num_generations"):
        call_command("train_policy", "--project", "Arithmetic", "--policy", "tiny-start", "--batch-size", "7")
    with pytest.raises(CommandError, match="no heldout prompts"):
        call_command(
            "evaluate_policy", "--model", "tiny-start", "--project", "Arithmetic", "--tags", "op:none"
        )
    assert not TrainingRun.objects.exists()


@pytest.mark.ml
def test_it_evaluates_batched_left_padded_greedy_like_one_by_one(arithmetic_project, tiny_start):
    kwargs = dict(model=tiny_start, project=arithmetic_project, split="train", limit=6, max_new_tokens=6)
    batched = policy_evaluate(batch_size=6, **kwargs)
    single = policy_evaluate(batch_size=1, **kwargs)
    assert [i["completions"] for i in batched.items] == [i["completions"] for i in single.items]
    assert batched.n_prompts == 6 and batched.generation["decoding"] == "greedy"
    assert batched.accuracy == sum(sum(i["accuracy"]) for i in batched.items) / 6

    sampled = policy_evaluate(samples=3, batch_size=4, **kwargs)
    assert sampled.samples_per_prompt == 3 and all(len(i["completions"]) == 3 for i in sampled.items)
    assert len({c for i in sampled.items for c in i["completions"]}) > 6  # sampled, not greedy
