"""PPO against a reward model (the InstructGPT road): TRL 1.12's PPOTrainer, the Django side of
rewardmodel/training/ppo.py.

    runs = runs_start(kind="ppo", project=p, start=policy, inputs={"reward_model": rm},
                      options={"episodes": 512})

Checked before anything is queued, besides what every kind checks: the reward model's tokenizer is
the policy's (TRL hands the reward model the policy's token ids, so a different tokenizer would
silently score garbage) and the project has a batch of training prompts. The run's snapshot (kind
prompts: all of the project's prompts, with or without a reference answer) holds the exact train and
held-out prompts; its checkpoint is a policy whose parents are the starting policy and the reward
model, so the lineage reaches back to the judgments.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from annotate.models import Prompt
from pairwise.errors import PairwiseError
from pairwise.progress import Reporter
from rewardmodel.models import GENERATIVE_KINDS, DatasetSnapshot, ModelArtifact, RunMetric, TrainingRun
from rewardmodel.registry.artifacts import same_tokenizer_check
from rewardmodel.registry.prompts import project_prompts, prompts_snapshot_create, prompts_snapshot_records
from rewardmodel.runs.kind import (
    ROAD_HUMAN_FEEDBACK,
    Chart,
    ModelInput,
    RunKind,
    RunOutput,
    first_last_lines,
    number,
    run_input,
    sample_lines,
)
from rewardmodel.training.options import option
from rewardmodel.training.ppo import PpoConfig


@dataclass
class PpoRun:
    """Which prompts it trains and checks on."""

    tags: list[str] = option([], "only prompts with all these tags, e.g. level:easy")
    heldout_limit: int | None = option(
        None, "held-out checks on at most N prompts (empty: all)", low=0, form=True
    )


def ppo_check(
    *, project, start: ModelArtifact, inputs: dict[str, ModelArtifact], config: dict[str, Any], linked: bool
) -> None:
    same_tokenizer_check(policy=start, reward_model=inputs["reward_model"])
    train = project_prompts(project=project, split=Prompt.Split.TRAIN, tags=config.get("tags") or ())
    if len(train) < config["batch_size"]:
        raise PairwiseError(
            f"Project {project.name!r} has {len(train)} training prompts; PPO needs at least batch_size "
            f"({config['batch_size']}). Import prompts or lower --batch-size."
        )


def ppo_snapshot(*, project, config: dict[str, Any]) -> DatasetSnapshot:
    return prompts_snapshot_create(project=project, tags=config.get("tags") or (), verifiable=False)


def ppo_trainer(*, run: TrainingRun, reporter: Reporter, output_dir: Path) -> RunOutput:
    from rewardmodel.training.ppo import train_ppo

    reward_model = run_input(run, KIND.input("reward_model"))
    same_tokenizer_check(policy=run.base_model, reward_model=reward_model)
    train, heldout = prompts_snapshot_records(run.snapshot, heldout_limit=run.config.get("heldout_limit"))
    cfg = KIND.trainer_config(
        run.config,
        model_dir=run.base_model.path,
        reward_model_dir=reward_model.path,
        output_dir=str(output_dir),
        prompts=train,
        heldout=heldout,
    )
    result = train_ppo(cfg, reporter)
    summary = {
        **result.summary,
        "train_prompts": len(train),
        "heldout_prompts": len(heldout),
        "reward_model": reward_model.name,
        "samples": result.samples,
    }
    return RunOutput(
        model_dir=Path(result.output_dir),
        summary=summary,
        device=result.device,
        examples_seen=result.episodes,
        tokens_seen=result.tokens_seen,
        metadata={"algo": "ppo", "reward_model": reward_model.name, "kl_coef": cfg.kl_coef},
    )


def _number(value: Any, spec: str) -> str:
    return format(value, spec) if isinstance(value, int | float) else "n/a"


def reward_hacking(run: TrainingRun) -> dict[str, Any] | None:
    """The reward-hacking verdict of a PPO run (training/ppo.py's `hacking_monitor`), or None before
    its first held-out check: the final one from the summary once the run has finished, else the
    latest held-out row's flag with its numbers as the evidence."""
    final = run.summary.get("reward_hacking") if isinstance(run.summary, dict) else None
    if isinstance(final, dict) and "flagged" in final:
        return {"flagged": bool(final["flagged"]), "evidence": str(final.get("evidence", "")), "final": True}
    row = (
        RunMetric.objects.filter(run=run, values__has_key="hacking/flagged")
        .order_by("-pk")
        .values("step", "values")
        .first()
    )
    if row is None:
        return None
    v = row["values"]
    evidence = (
        f"at step {row['step']}: held-out RM score {_number(v.get('heldout/score'), '+.3f')}, mean length "
        f"{_number(v.get('heldout/length'), '.1f')} tokens, length–score correlation "
        f"{_number(v.get('heldout/length_score_corr'), '.2f')}, KL to the start {_number(v.get('heldout/kl'), '.2f')}"
    )
    return {"flagged": v.get("hacking/flagged") == 1, "evidence": evidence, "final": False}


def _describe(run: TrainingRun, start: str) -> str:
    snap, cfg = run.snapshot, run.config
    reward_model = run_input(run, KIND.input("reward_model"))
    return (
        f"Run #{run.pk}: PPO on {start} against {reward_model.name} with {snap.n_examples} training and "
        f"{snap.n_eval_examples} held-out prompts (snapshot {snap.content_hash[:12]}); {cfg['episodes']} "
        f"episodes in batches of {cfg['batch_size']} ({cfg['mini_batches']} mini-batches, {cfg['ppo_epochs']} "
        f"PPO epochs), kl_coef {cfg['kl_coef']}, {cfg['response_length']}-token responses at temperature "
        f"{cfg['temperature']}, lr {cfg['lr']}."
    )


def _summary(s: dict[str, Any]) -> list[str]:
    lines = first_last_lines(s, ("score", "kl", "rlhf_reward", "response_length", "entropy"), "updates")
    if "heldout/score_before" in s:
        lines.append(
            f"  held-out (greedy, {s.get('heldout_prompts')} prompts): RM score {number(s, 'heldout/score_before')}"
            f" -> {number(s, 'heldout/score_after')}; length {number(s, 'heldout/length_before')} -> "
            f"{number(s, 'heldout/length_after')} tokens; KL to the start {number(s, 'heldout/kl_after')}"
        )
    hacking = s.get("reward_hacking") or {}
    if hacking.get("flagged"):
        lines.append("  possible reward hacking: " + hacking["evidence"])
    lines += sample_lines(s)
    return lines


def _notes(run: TrainingRun, artifact: ModelArtifact) -> list[str]:
    hacking = run.summary.get("reward_hacking") or {}
    if not hacking.get("flagged"):
        return []
    return [
        f"PPO run #{run.pk} ({artifact.name}) may be gaming its reward model: "
        f"{str(hacking.get('evidence', '')).rstrip('.')}."
    ]


KIND = RunKind(
    name=TrainingRun.Kind.PPO,
    label="PPO",
    title="PPO against a reward model",
    about=(
        "The project's prompts are frozen into a snapshot. Each update samples responses, scores them with the "
        "reward model and pays the KL to the starting policy; every few updates the held-out prompts are "
        "answered greedily and checked for reward hacking (the score rising with length while the KL grows)."
    ),
    config=PpoConfig,
    run_options=PpoRun,
    starts_from=GENERATIVE_KINDS,
    produces=ModelArtifact.Kind.POLICY,
    road=ROAD_HUMAN_FEEDBACK,
    snapshot=ppo_snapshot,
    trainer=ppo_trainer,
    inputs=(
        ModelInput(
            "reward_model",
            (ModelArtifact.Kind.REWARD,),
            "the reward model to optimise against: trained from the same base model as the policy, so it reads "
            "the policy's tokens (train_reward_model makes one)",
        ),
    ),
    check=ppo_check,
    cold_start=("judgments", "responses", "reference"),
    charts=(
        Chart("Reward-model score", ("score", "heldout/score")),
        Chart("KL to the start", ("kl", "heldout/kl")),
        Chart("Non-score reward and total RLHF reward", ("non_score_reward", "rlhf_reward")),
        Chart("Entropy", ("entropy",)),
        Chart("Response length (tokens)", ("response_length", "heldout/length")),
        Chart("Losses", ("policy_loss", "value_loss")),
        Chart("Clip fraction and approx KL", ("clip_fraction", "approx_kl")),
        Chart("Length–score correlation (held out)", ("heldout/length_score_corr",)),
    ),
    curve=("score", "PPO reward-model score"),
    steps_key="updates",
    describe=_describe,
    summary_lines=_summary,
    notes=_notes,
    verdict=reward_hacking,
)
