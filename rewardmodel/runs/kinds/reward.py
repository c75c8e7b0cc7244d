"""Reward-model runs: TRL's RewardTrainer on a project's majority-vote preference pairs.

    runs = runs_start(kind="reward", project=p, start=base, options={"epochs": 1, "eval_fraction": 0.1})

The pairs are frozen into a preferences snapshot (registry.preferences) before the run is queued;
the trainer reads its files (rewardmodel/training/reward.py). The result is a reward model whose
parents are the base it started from and whose dataset_snapshot is those pairs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pairwise.progress import Reporter
from rewardmodel.models import DatasetSnapshot, ModelArtifact, TrainingRun
from rewardmodel.registry.preferences import PreferencePairs, preference_snapshot_create, snapshot_files
from rewardmodel.runs.kind import (
    ROAD_HUMAN_FEEDBACK,
    Chart,
    RunKind,
    RunOutput,
    number,
)
from rewardmodel.training.options import option
from rewardmodel.training.reward import CONFIG_FILE, RewardConfig

# A reward model right on fewer than 55 % of held-out pairs is close to a coin on the pairs it
# will judge: PPO then optimises mostly noise.
RM_CHANCE = 0.55


@dataclass
class RewardRun(PreferencePairs):
    """Which pairs it trains on (the preference export's choices)."""

    keep_ties: bool = option(False, "train a tie as two mirrored pairs (default: ties are left out)")


def reward_snapshot(*, project, config: dict[str, Any]) -> DatasetSnapshot:
    return preference_snapshot_create(
        project=project,
        keep_ties=bool(config.get("keep_ties")),
        **PreferencePairs.from_config(config).export_options(),
    )


def reward_trainer(*, run: TrainingRun, reporter: Reporter, output_dir: Path) -> RunOutput:
    from rewardmodel.training.reward import train_reward

    train, evals = snapshot_files(run.snapshot)
    cfg = KIND.trainer_config(
        run.config,
        model_dir=run.base_model.path,
        train_file=str(train),
        eval_file=str(evals) if evals else None,
        output_dir=str(output_dir),
    )
    result = train_reward(cfg, reporter)
    resolved = json.loads((Path(result.output_dir) / CONFIG_FILE).read_text())
    summary = {
        "eval_accuracy": result.eval_accuracy,
        "eval_margin": result.eval_margin,
        "eval_pairs": result.eval_pairs,
        "train_pairs": result.train_pairs,
        "truncated_pairs": result.truncated_pairs,
        "steps": result.steps,
        "train_loss": result.metrics.get("train_loss"),
        "train_seconds": result.train_seconds,
        "wall_seconds": result.wall_seconds,
        "config": {
            k: v
            for k, v in resolved.items()
            if k not in ("model_dir", "train_file", "eval_file", "output_dir")
        },
    }
    return RunOutput(
        model_dir=Path(result.output_dir),
        summary=summary,
        device=result.device,
        examples_seen=result.examples_seen,
        tokens_seen=result.tokens_seen,
    )


def _describe(run: TrainingRun, start: str) -> str:
    snap = run.snapshot
    simulated = snap.filters.get("simulated_judgments", 0)
    left_out = "" if snap.filters.get("include_simulated", True) else ", simulated ones left out"
    return (
        f"Run #{run.pk}: reward model from {start} on {snap.n_examples} training and {snap.n_eval_examples} "
        f"eval pairs ({snap.n_judgments} judgments, {simulated} simulated{left_out}, by {snap.n_labelers} "
        f"labelers; snapshot {snap.content_hash[:12]})."
    )


def _summary(s: dict[str, Any]) -> list[str]:
    return [
        f"  eval accuracy {number(s, 'eval_accuracy')}, mean margin {number(s, 'eval_margin')} on "
        f"{s.get('eval_pairs', 0)} pairs ({s.get('train_pairs', 0)} trained on, {_fitted(s)})"
    ]


def _fitted(s: dict[str, Any]) -> str:
    """What max_length did to the training pairs (runs before truncation left the long ones out)."""
    if "truncated_pairs" in s:
        return f"{s['truncated_pairs']} cut to fit max_length, none left out"
    return f"{s.get('dropped_pairs', 0)} over max_length left out"


def _notes(run: TrainingRun, artifact: ModelArtifact) -> list[str]:
    accuracy = run.summary.get("eval_accuracy")
    if accuracy is None or accuracy >= RM_CHANCE:
        return []
    return [
        f"The reward model {artifact.name} barely beats chance: it prefers the people's choice on "
        f"{accuracy * 100:.0f} % of {run.summary.get('eval_pairs', '?')} held-out pairs (a coin gets 50 %). "
        "PPO against it optimises mostly noise; more or cleaner judgments come first."
    ]


KIND = RunKind(
    name=TrainingRun.Kind.REWARD,
    label="reward",
    title="Train a reward model",
    about=(
        "The project's judgments are frozen into a snapshot (majority vote per comparison; ties, both-bad "
        "and split votes left out) and the run is queued for a worker on the training queue."
    ),
    config=RewardConfig,
    run_options=RewardRun,
    starts_from=(ModelArtifact.Kind.BASE, ModelArtifact.Kind.POLICY, ModelArtifact.Kind.REWARD),
    produces=ModelArtifact.Kind.REWARD,
    road=ROAD_HUMAN_FEEDBACK,
    snapshot=reward_snapshot,
    trainer=reward_trainer,
    command="train_reward_model",
    start_flag="--base",
    charts=(
        Chart("Loss", ("loss", "eval_loss")),
        Chart("Pairwise accuracy", ("accuracy", "eval_accuracy")),
        Chart("Margin (chosen - rejected)", ("margin", "eval_margin")),
    ),
    curve=("accuracy", "reward-model pair accuracy"),
    describe=_describe,
    summary_lines=_summary,
    notes=_notes,
)
