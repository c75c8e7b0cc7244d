"""train_policy --algo ppo from the command line: checks before anything is queued, a --sync run
with its report, and a queued run that waits for its cold-start SFT run."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from rewardmodel.models import JobStatus, TrainingRun

SMALL = ["--episodes", "16", "--batch-size", "8", "--response-length", "6", "--eval-every", "0"]


@pytest.mark.ml
def test_it_needs_a_reward_model_and_refuses_grpo_options(chat_project, tiny_start, marker_rm):
    base = ["train_policy", "--algo", "ppo", "--project", "Chat", "--policy", "tiny-start"]
    with pytest.raises(CommandError, match="needs --reward-model"):
        call_command(*base)
    with pytest.raises(CommandError, match="--steps: for --algo grpo"):
        call_command(*base, "--reward-model", "marker-rm", "--steps", "3")
    with pytest.raises(CommandError, match="reward model must be a reward model"):
        call_command(*base, "--reward-model", "tiny-start")
    with pytest.raises(CommandError, match="No registered model 'nope'"):
        call_command(*base, "--reward-model", "nope")
    assert not TrainingRun.objects.exists()


@pytest.mark.ml
def test_it_trains_in_process_and_reports(chat_project, tiny_start, marker_rm, capsys):
    call_command(
        "train_policy",
        "--algo",
        "ppo",
        "--project",
        "Chat",
        "--policy",
        "tiny-start",
        "--reward-model",
        "marker-rm",
        "--kl-coef",
        "0.1",
        "--name",
        "ppo-chat",
        "--sync",
        *SMALL,
    )
    out = capsys.readouterr().out
    run = TrainingRun.objects.get()
    assert run.kind == TrainingRun.Kind.PPO and run.status == JobStatus.SUCCEEDED, run.error
    assert run.config["kl_coef"] == 0.1 and run.config["reward_model"] == marker_rm.pk
    assert run.output_model.name == "ppo-chat"
    assert "PPO on tiny-start against marker-rm with 16 training and 4 held-out prompts" in out
    assert "held-out (greedy, 4 prompts): RM score" in out and "2 updates" in out


@pytest.mark.ml
def test_a_cold_start_queues_sft_then_ppo_linked(chat_project, tiny_start, marker_rm, capsys, settings):
    from tests.factories import make_response

    prompt = chat_project.prompts.filter(split="train").first()
    for p in chat_project.prompts.all():
        make_response(p, "A short kind answer.", model_name="teacher-x")
    assert prompt is not None
    call_command(
        "train_policy",
        "--algo",
        "ppo",
        "--project",
        "Chat",
        "--policy",
        "tiny-start",
        "--reward-model",
        "marker-rm",
        "--cold-start",
        "8",
        "--source",
        "responses",
        "--teacher",
        "teacher-x",
        *SMALL,
    )
    sft, ppo = TrainingRun.objects.order_by("pk")
    assert sft.kind == TrainingRun.Kind.SFT and ppo.kind == TrainingRun.Kind.PPO
    assert ppo.starts_after == sft and ppo.status == JobStatus.QUEUED and ppo.task_id
    assert sft.snapshot.n_examples == 8
    assert f"waits for run #{sft.pk}" in capsys.readouterr().out
