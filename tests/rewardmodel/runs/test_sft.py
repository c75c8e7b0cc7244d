"""SFT as a recorded training run, alone and as GRPO's cold start: lineage, metrics timeline, the
linked run's hand-over, a failed parent, a cancel; through `train_policy` on a tiny policy."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from pairwise.progress import ListReporter
from rewardmodel.jobs.execute import job_execute
from rewardmodel.models import JobStatus, ModelArtifact, RunMetric, TrainingRun
from rewardmodel.runs.services import run_output_dir, run_start

pytestmark = pytest.mark.ml

TINY_GRPO = ["--steps", "1", "--num-generations", "2", "--batch-size", "4", "--max-completion-length", "8"]


def test_it_records_an_sft_run_with_lineage_and_metrics(arithmetic_project, tiny_start, capsys):
    call_command(
        "train_policy",
        *("--algo", "sft", "--project", "Arithmetic", "--policy", "tiny-start", "--source", "reference"),
        *("--epochs", "1", "--lr", "1e-3", "--batch-size", "8", "--max-length", "256", "--name", "tiny-sft"),
        "--sync",
    )
    out = capsys.readouterr().out
    assert "SFT on tiny-start with 24 training and 4 held-out demonstrations from reference" in out
    assert "Succeeded" in out and "tiny-sft" in out and "held-out loss (4 demonstrations)" in out

    run = TrainingRun.objects.get()
    assert run.kind == TrainingRun.Kind.SFT and run.status == JobStatus.SUCCEEDED, run.traceback
    assert (
        run.config["epochs"] == 1 and run.config["max_length"] == 256 and run.config["source"] == "reference"
    )
    policy = run.output_model
    assert policy.name == "tiny-sft" and policy.kind == ModelArtifact.Kind.POLICY
    assert list(policy.parents.all()) == [tiny_start]
    assert policy.dataset_snapshot == run.snapshot and policy.training_run == run
    assert policy.metadata["algo"] == "sft" and policy.metadata["source"] == "reference"
    assert Path(policy.path, "pairwise_sft.json").is_file()
    assert run.examples_seen == 24 and run.tokens_seen > 0

    rows = [m.values for m in RunMetric.objects.filter(run=run).order_by("pk")]
    steps = [v for v in rows if "loss" in v]
    assert len(steps) == 3  # 24 demonstrations, 8 a step, one epoch
    assert all(isinstance(v["mean_token_accuracy"], float) for v in steps)
    assert [v["heldout/loss"] > 0 for v in rows if "heldout/loss" in v] == [True, True]
    assert run.summary["heldout/loss_after"] < run.summary["heldout/loss_before"]


def test_it_cold_starts_grpo_from_an_sft_run(arithmetic_project, tiny_start, capsys):
    call_command(
        "train_policy",
        *("--algo", "grpo", "--project", "Arithmetic", "--policy", "tiny-start", "--cold-start", "8"),
        *("--epochs", "1", "--eval-every", "0", "--heldout-limit", "2", *TINY_GRPO, "--sync"),
    )
    out = capsys.readouterr().out
    sft, grpo = TrainingRun.objects.order_by("pk")
    assert "SFT on tiny-start with 8 training and 4 held-out demonstrations" in out
    assert f"GRPO on the result of run #{sft.pk} (SFT)" in out and "held-out loss" in out

    assert sft.kind == TrainingRun.Kind.SFT and sft.config["limit"] == 8
    assert (sft.status, grpo.status) == (JobStatus.SUCCEEDED, JobStatus.SUCCEEDED), grpo.traceback
    assert grpo.starts_after == sft and grpo.base_model == sft.output_model
    assert list(sft.output_model.parents.all()) == [tiny_start]
    assert list(grpo.output_model.parents.all()) == [sft.output_model]
    # The cold start saw the prompts as GRPO does: the same template.
    assert sft.config["template"] == grpo.config["template"]


def test_a_failed_sft_run_cancels_the_grpo_run_waiting_for_it(arithmetic_project, tiny_start, capsys):
    call_command(
        "train_policy",
        *("--algo", "grpo", "--project", "Arithmetic", "--policy", "tiny-start", "--cold-start", "4"),
        *TINY_GRPO,
    )
    sft, grpo = TrainingRun.objects.order_by("pk")
    out = capsys.readouterr().out
    assert (
        f"Run #{grpo.pk} queued on the `training` queue (task {grpo.task_id}, waits for run #{sft.pk})" in out
    )
    assert grpo.status == JobStatus.QUEUED and grpo.base_model == tiny_start

    Path(sft.snapshot.path, "train.jsonl").unlink()
    sft = job_execute(TrainingRun, pk=sft.pk)
    grpo.refresh_from_db()
    assert sft.status == JobStatus.FAILED and "files are missing" in sft.error
    assert grpo.status == JobStatus.CANCELLED
    assert grpo.status_message == f"the run it starts from (#{sft.pk}) failed"
    assert not ModelArtifact.objects.filter(kind=ModelArtifact.Kind.POLICY).exists()


def test_it_cancels_a_running_sft_run_and_keeps_nothing(arithmetic_project, tiny_start):
    run = run_start(
        kind="sft", project=arithmetic_project, start=tiny_start, options={"batch_size": 4, "epochs": 1}
    )
    follower = run_start(kind="grpo", project=arithmetic_project, start=tiny_start, starts_after=run)

    run = job_execute(TrainingRun, pk=run.pk, reporter=ListReporter(stop_after=1))
    assert run.status == JobStatus.CANCELLED and run.output_model is None
    assert run.status_message.startswith("stopped at step 1 of 6")
    assert not ModelArtifact.objects.filter(kind=ModelArtifact.Kind.POLICY).exists()
    out = run_output_dir(run)
    assert not out.exists() and not list(out.parent.glob(f".{out.name}*"))
    follower.refresh_from_db()
    assert follower.status == JobStatus.CANCELLED and f"(#{run.pk})" in follower.status_message


def test_it_names_what_is_wrong_on_the_command_line(arithmetic_project, tiny_start):
    with pytest.raises(CommandError, match="needs a teacher"):
        call_command("train_policy", "--algo", "sft", "--project", "Arithmetic", "--policy", "tiny-start",
                     "--source", "responses")  # fmt: skip
    with pytest.raises(CommandError, match="No responses by 'ghost'"):
        call_command("train_policy", "--algo", "sft", "--project", "Arithmetic", "--policy", "tiny-start",
                     "--source", "responses", "--teacher", "ghost")  # fmt: skip
    with pytest.raises(CommandError, match="--epochs: for --algo sft.* or --cold-start, not grpo"):
        call_command("train_policy", "--project", "Arithmetic", "--policy", "tiny-start", "--epochs", "1")
    with pytest.raises(CommandError, match="multiple of num_generations"):
        call_command("train_policy", "--project", "Arithmetic", "--policy", "tiny-start", "--cold-start", "4",
                     "--batch-size", "7")  # fmt: skip
    assert not TrainingRun.objects.exists()
