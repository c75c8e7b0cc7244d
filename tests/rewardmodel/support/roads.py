"""Fixtures for the cost ledger and the comparison report: runs, snapshots and judgments written
as rows (no training), and policies that are tiny models where the report must measure them.

The "roads" world, in one arithmetic project:

    base ─┬─ rm-1 (reward run: 30 min on 2 H100s, a snapshot of people's and simulated judgments)
          │    └──────────┐
          ├─────────── ppo-1 (PPO run: 2 h on cpu; parents base and rm-1)
          └─ sft-1 (cold-start SFT run: 1 h on cpu) ── grpo-1 (GRPO run: 30 min on "cuda", linked)

plus arena comparisons between base, ppo-1 and grpo-1 on held-out prompts.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.utils import timezone

from annotate.models import Choice, Comparison, Judgment, Prompt, Response, SideOrder, content_hash
from rewardmodel.models import JobStatus, ModelArtifact, RunMetric, TrainingRun
from rewardmodel.registry.artifacts import artifact_register
from rewardmodel.registry.preferences import preference_snapshot_create
from tests.factories import make_comparison, make_project, make_user

RATES = {"cpu": 0.5, "cuda": 2.0, "H100": 3.0}


@pytest.fixture(autouse=True)
def device_rates(settings):
    """Round device rates, so a ledger's dollars are easy to check by hand (report and ledger tests)."""
    settings.PAIRWISE_DEVICE_HOURLY_USD = RATES


@pytest.fixture(scope="session")
def other_policy_dir(smol_tokenizer_dir, tmp_path_factory) -> Path:
    """A second tiny policy (other random weights): a "trained" policy that answers differently."""
    from rewardmodel.training.base_model import build_tiny_model

    return build_tiny_model(smol_tokenizer_dir, tmp_path_factory.mktemp("tiny-other"), head="causal", seed=7)


def judge(comparison: Comparison, labeler, choice: str, seconds: float | None, *, source: str = "human"):
    winner = {Choice.A: comparison.response_a, Choice.B: comparison.response_b}.get(choice)
    return Judgment.objects.create(
        comparison=comparison,
        labeler=labeler,
        source=source,
        choice=choice,
        side_order=SideOrder.AB,
        winner=winner,
        seconds_on_task=seconds,
        client_id=uuid.uuid4().hex,
    )


def finished_run(project, base, kind: str, *, seconds: float, device: str, **fields) -> TrainingRun:
    end = timezone.now()
    return TrainingRun.objects.create(
        kind=kind,
        project=project,
        base_model=base,
        status=JobStatus.SUCCEEDED,
        progress=1.0,
        started_at=end - timedelta(seconds=seconds),
        finished_at=end,
        device=device,
        **fields,
    )


def metrics(run: TrainingRun, key: str, values: list[float], **extra: list[float]) -> None:
    rows = []
    for k, value in enumerate(values):
        row = {key: value, **{name: series[k] for name, series in extra.items()}}
        rows.append(RunMetric(run=run, step=k + 1, values=row))
    RunMetric.objects.bulk_create(rows)


def answer(prompt: Prompt, model: ModelArtifact, text: str) -> Response:
    return Response.objects.create(
        prompt=prompt, text=text, model=model, model_name=model.name, content_hash=content_hash(text)
    )


def build_roads(
    *,
    base_dir: Path | None = None,
    reward_dir: Path | None = None,
    ppo_dir: Path | None = None,
    grpo_dir: Path | None = None,
) -> SimpleNamespace:
    """The world of the module docstring. A model whose folder is None is a row without files."""
    from rewardmodel.registry.prompts import arithmetic_prompts_create

    alice, bob, carol, sim = (make_user(name) for name in ("alice", "bob", "carol", "sim-1"))
    project = make_project("Roads", labelers=(alice, bob, carol), labeler_hourly_rate=30)
    arithmetic_prompts_create(project=project, level="easy", n_train=8, n_heldout=3, seed=0)

    def model(kind, name, folder, parents=(), *, snapshot=None, run=None) -> ModelArtifact:
        if folder is not None:
            return artifact_register(
                kind=kind, name=name, path=folder, parents=parents, snapshot=snapshot, run=run
            )
        artifact = ModelArtifact.objects.create(
            kind=kind,
            name=name,
            path=f"/models/{name}",
            parameter_count=1000,
            dataset_snapshot=snapshot,
            training_run=run,
        )
        artifact.parents.set(parents)
        return artifact

    base = model(ModelArtifact.Kind.BASE, "base", base_dir)

    # People's and simulated judgments on training comparisons, frozen into a snapshot.
    comparisons = [make_comparison(project) for _ in range(4)]
    judge(comparisons[0], alice, Choice.A, 60)
    judge(comparisons[0], bob, Choice.A, 120)
    judge(comparisons[1], alice, Choice.B, 30)
    judge(comparisons[1], sim, Choice.B, 5, source="simulated")
    judge(comparisons[2], bob, Choice.A, None)  # untimed
    judge(comparisons[2], sim, Choice.A, 4, source="simulated")
    judge(comparisons[3], alice, Choice.TIE, 90)  # a tie: left out of the snapshot
    snapshot = preference_snapshot_create(project=project, eval_fraction=0.0, min_train_pairs=1)

    rm_run = finished_run(
        project,
        base,
        TrainingRun.Kind.REWARD,
        seconds=1800,
        device="cuda: 2 x NVIDIA H100 80GB HBM3",
        snapshot=snapshot,
        tokens_seen=1000,
        examples_seen=3,
        config={"epochs": 1, "lr": 1e-05, "output_name": "rm-1"},
        summary={"eval_accuracy": 0.52, "eval_pairs": 25},
    )
    metrics(rm_run, "accuracy", [0.5, 0.55, 0.6])
    rm = model(ModelArtifact.Kind.REWARD, "rm-1", reward_dir, [base], snapshot=snapshot, run=rm_run)

    ppo_run = finished_run(
        project,
        base,
        TrainingRun.Kind.PPO,
        seconds=7200,
        device="cpu (2 threads)",
        tokens_seen=500,
        examples_seen=64,
        config={
            "episodes": 64,
            "batch_size": 8,
            "kl_coef": 0.05,
            "whiten_rewards": False,
            "max_seconds": 600,
            "reward_model": rm.pk,
        },
        summary={
            "reward_hacking": {
                "flagged": True,
                "evidence": "held-out length 10 -> 60 tokens as the score rose",
            }
        },
    )
    metrics(ppo_run, "score", [-1.0, -0.5, 0.2, 0.4])
    ppo = model(ModelArtifact.Kind.POLICY, "ppo-1", ppo_dir, [base, rm], run=ppo_run)

    sft_run = finished_run(
        project,
        base,
        TrainingRun.Kind.SFT,
        seconds=3600,
        device="cpu (2 threads)",
        tokens_seen=200,
        examples_seen=8,
        config={"source": "reference", "limit": 8, "epochs": 1.0, "max_length": 128},
    )
    metrics(sft_run, "loss", [3.0, 2.0, 1.5])
    sft = model(ModelArtifact.Kind.POLICY, "sft-1", None, [base], run=sft_run)
    grpo_run = finished_run(
        project,
        sft,
        TrainingRun.Kind.GRPO,
        seconds=1800,
        device="cuda",
        starts_after=sft_run,
        tokens_seen=300,
        examples_seen=32,
        config={
            "rewards": ["accuracy", "format"],
            "steps": 4,
            "num_generations": 4,
            "batch_size": 8,
            "lr": 2e-05,
            "beta": 0.0,
        },
    )
    metrics(grpo_run, "reward/total", [0.0, 0.1, 0.1, 0.2], zero_std_fraction=[1.0, 0.75, 0.75, 0.5])
    grpo = model(ModelArtifact.Kind.POLICY, "grpo-1", grpo_dir, [sft], run=grpo_run)

    # Arena: each pair of base, ppo-1 and grpo-1 on two held-out prompts, judged by carol in 40 s;
    # ppo-1 wins every game, grpo-1 beats base once.
    arena = []
    for k, prompt in enumerate(Prompt.objects.filter(project=project, split="heldout").order_by("pk")[:2]):
        answers = {m.name: answer(prompt, m, f"{m.name} answers {k}") for m in (base, ppo, grpo)}
        for x, y, choice in (
            ("base", "ppo-1", Choice.B),
            ("ppo-1", "grpo-1", Choice.A),
            ("base", "grpo-1", Choice.B if k else Choice.A),
        ):
            pair = Comparison.objects.create(
                project=project, prompt=prompt, response_a=answers[x], response_b=answers[y]
            )
            judge(pair, carol, choice, 40)
            arena.append(pair)
    return SimpleNamespace(
        project=project,
        base=base,
        rm=rm,
        ppo=ppo,
        sft=sft,
        grpo=grpo,
        snapshot=snapshot,
        runs=SimpleNamespace(rm=rm_run, ppo=ppo_run, sft=sft_run, grpo=grpo_run),
        people=SimpleNamespace(alice=alice, bob=bob, carol=carol, sim=sim),
        arena=arena,
    )


@pytest.fixture
def roads_rows(db) -> SimpleNamespace:
    """The roads as rows only, no model files: the ledger and the pages (nothing is measured)."""
    return build_roads()


@pytest.fixture
def roads_models(db, tiny_policy_dir, other_policy_dir, tiny_reward_dir) -> SimpleNamespace:
    """The roads with tiny models behind base, rm-1, ppo-1 and grpo-1, for the report to measure."""
    return build_roads(
        base_dir=tiny_policy_dir,
        reward_dir=tiny_reward_dir,
        ppo_dir=other_policy_dir,
        grpo_dir=tiny_policy_dir,
    )
