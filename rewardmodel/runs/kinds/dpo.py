"""DPO runs: a policy trained straight from people's judgments, with no reward model and no RL
(TRL's DPOTrainer, rewardmodel/training/dpo.py): the people's third road beside PPO against a
reward model and GRPO with a reward model.

    runs = runs_start(kind="dpo", project=p, start=m, options={"beta": 0.1, "epochs": 1})

It trains on the same majority-vote pairs a reward model would (registry.preferences: gold
comparisons, excluded labelers, ties, both-bad and split votes left out), frozen into a preferences
snapshot before the run is queued; the held-out pairs give the preference loss, reward accuracy and
margin before and after. The result is a policy whose parents are the starting model and whose
dataset_snapshot is those pairs, so the ledger counts the people's hours of the judgments it used.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pairwise.progress import Reporter
from rewardmodel.models import GENERATIVE_KINDS, DatasetSnapshot, ModelArtifact, TrainingRun
from rewardmodel.registry.preferences import PreferencePairs, preference_snapshot_create, snapshot_files
from rewardmodel.registry.snapshots import read_jsonl
from rewardmodel.runs.kind import (
    ROAD_HUMAN_FEEDBACK,
    Chart,
    RunKind,
    RunOutput,
    first_last_lines,
    number,
)
from rewardmodel.training.dpo import DpoConfig


@dataclass
class DpoRun(PreferencePairs):
    """Which pairs it trains on (the preference export's choices; a tie teaches DPO nothing)."""


def dpo_snapshot(*, project, config: dict[str, Any]) -> DatasetSnapshot:
    return preference_snapshot_create(project=project, **PreferencePairs.from_config(config).export_options())


def dpo_trainer(*, run: TrainingRun, reporter: Reporter, output_dir: Path) -> RunOutput:
    from rewardmodel.training.dpo import train_dpo

    train, evals = snapshot_files(run.snapshot)
    cfg = KIND.trainer_config(
        run.config,
        model_dir=run.base_model.path,
        output_dir=str(output_dir),
        pairs=read_jsonl(train),
        heldout=read_jsonl(evals) if evals else [],
    )
    result = train_dpo(cfg, reporter)
    return RunOutput(
        model_dir=Path(result.output_dir),
        summary=result.summary,
        device=result.device,
        examples_seen=result.examples_seen,
        tokens_seen=result.tokens_seen,
        metadata={"algo": "dpo", "beta": cfg.beta, "loss_type": cfg.loss_type},
    )


def _describe(run: TrainingRun, start: str) -> str:
    snap, cfg = run.snapshot, run.config
    simulated = snap.filters.get("simulated_judgments", 0)
    return (
        f"Run #{run.pk}: DPO on {start} with {snap.n_examples} training and {snap.n_eval_examples} held-out "
        f"pairs ({snap.n_judgments} judgments, {simulated} simulated, by {snap.n_labelers} labelers; snapshot "
        f"{snap.content_hash[:12]}); beta {cfg['beta']}, {cfg['epochs']} epochs of {cfg['batch_size']}, "
        f"lr {cfg['lr']}, max length {cfg['max_length']}."
    )


def _summary(s: dict[str, Any]) -> list[str]:
    lines = first_last_lines(s, ("loss", "rewards/margins", "rewards/accuracies"))
    if "heldout/loss_before" in s:
        lines.append(
            f"  held-out ({s.get('heldout_pairs')} pairs): loss {number(s, 'heldout/loss_before')} -> "
            f"{number(s, 'heldout/loss_after')}; reward accuracy {number(s, 'heldout/accuracy_before')} -> "
            f"{number(s, 'heldout/accuracy_after')}; margin {number(s, 'heldout/margin_before')} -> "
            f"{number(s, 'heldout/margin_after')}"
        )
    return lines


KIND = RunKind(
    name=TrainingRun.Kind.DPO,
    label="DPO",
    title="DPO on the judgments",
    about=(
        "Direct preference optimisation: the policy learns straight from the project's majority-vote pairs "
        "(frozen into a snapshot, as a reward model's are), against a frozen copy of where it started; no "
        "reward model, no sampling. Held-out pairs give the preference loss and reward accuracy before and after."
    ),
    config=DpoConfig,
    run_options=DpoRun,
    starts_from=GENERATIVE_KINDS,
    produces=ModelArtifact.Kind.POLICY,
    road=ROAD_HUMAN_FEEDBACK,
    snapshot=dpo_snapshot,
    trainer=dpo_trainer,
    cold_start=("judgments", "responses", "reference"),
    charts=(
        Chart("Loss", ("loss", "heldout/loss")),
        Chart("Implicit rewards", ("rewards/chosen", "rewards/rejected")),
        Chart("Reward margin (chosen - rejected)", ("rewards/margins", "heldout/margin")),
        Chart("Reward accuracy", ("rewards/accuracies", "heldout/accuracy")),
        Chart("Log-probabilities", ("logps/chosen", "logps/rejected")),
    ),
    curve=("rewards/margins", "DPO reward margin"),
    describe=_describe,
    summary_lines=_summary,
)
