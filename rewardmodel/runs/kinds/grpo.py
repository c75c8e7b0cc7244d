"""GRPO runs on rule-based rewards (the DeepSeek-R1 road): TRL's GRPOTrainer, the Django side of
rewardmodel/training/grpo.py.

    runs = runs_start(kind="grpo", project=p, start=m, options={"steps": 50, "rewards": ["accuracy", "format"]})
    runs = runs_start(kind="grpo", project=p, start=m, options={...}, cold_start=64)  # SFT first

A GRPO run records everything that shapes it in its config, the prompt template included; its
snapshot (kind prompts, those with a reference answer) holds the exact prompts; its checkpoint is a
policy whose parents are the starting policy and whose dataset_snapshot is that prompt set.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from statistics import fmean
from typing import Any

from pairwise.progress import Reporter
from rewardmodel.models import GENERATIVE_KINDS, DatasetSnapshot, ModelArtifact, RunMetric, TrainingRun
from rewardmodel.registry.prompts import prompts_snapshot_create, prompts_snapshot_records
from rewardmodel.runs.kind import (
    ROAD_RULES,
    Chart,
    RunKind,
    RunOutput,
    first_last_lines,
    number,
    sample_lines,
)
from rewardmodel.training.grpo import GrpoConfig
from rewardmodel.training.options import option

# GRPO learns only from groups whose completions got different rewards; above half identical, most
# of every batch teaches nothing.
ZERO_STD_STALL = 0.5


@dataclass
class GrpoRun:
    """Which prompts it trains and checks on."""

    tags: list[str] = option([], "only prompts with all these tags, e.g. level:easy")
    heldout_limit: int | None = option(
        None, "evaluate on at most N held-out prompts (empty: all)", low=0, form=True
    )


def grpo_snapshot(*, project, config: dict[str, Any]) -> DatasetSnapshot:
    return prompts_snapshot_create(project=project, tags=config.get("tags") or ())


def grpo_trainer(*, run: TrainingRun, reporter: Reporter, output_dir: Path) -> RunOutput:
    from rewardmodel.training.grpo import train_grpo

    train, heldout = prompts_snapshot_records(run.snapshot, heldout_limit=run.config.get("heldout_limit"))
    cfg = KIND.trainer_config(
        run.config, model_dir=run.base_model.path, output_dir=str(output_dir), prompts=train, heldout=heldout
    )
    result = train_grpo(cfg, reporter)
    summary = {
        **result.summary,
        "train_prompts": len(train),
        "heldout_prompts": len(heldout),
        "samples": result.samples,
    }
    return RunOutput(
        model_dir=Path(result.output_dir),
        summary=summary,
        device=result.device,
        examples_seen=result.examples_seen,
        tokens_seen=result.tokens_seen,
        metadata={"algo": "grpo", "template": cfg.template, "rewards": cfg.describe()["rewards"]},
    )


def _describe(run: TrainingRun, start: str) -> str:
    snap, cfg = run.snapshot, run.config
    return (
        f"Run #{run.pk}: GRPO on {start} with {snap.n_examples} training and {snap.n_eval_examples} "
        f"held-out prompts (snapshot {snap.content_hash[:12]}); rewards {','.join(cfg['rewards'])}, "
        f"{cfg['steps']} steps of {cfg['batch_size']} completions ({cfg['num_generations']} per prompt), "
        f"lr {cfg['lr']}, beta {cfg['beta']}, temperature {cfg['temperature']}."
    )


def _summary(s: dict[str, Any]) -> list[str]:
    logged = sorted(k.removeprefix("last/") for k in s if k.startswith("last/"))
    lines = first_last_lines(
        s, [k for k in logged if k.startswith("reward/") or k in ("format_rate", "kl", "completion_length")]
    )
    if "heldout/accuracy_before" in s:
        lines.append(
            f"  held-out accuracy (greedy, {s.get('heldout_prompts')} prompts): "
            f"{number(s, 'heldout/accuracy_before')} -> {number(s, 'heldout/accuracy_after')}; format rate "
            f"{number(s, 'heldout/format_rate_before')} -> {number(s, 'heldout/format_rate_after')}"
        )
    lines += sample_lines(s)
    return lines


def _notes(run: TrainingRun, artifact: ModelArtifact) -> list[str]:
    rows = RunMetric.objects.filter(run=run).order_by("step", "id").values_list("values", flat=True)
    zero = [v["zero_std_fraction"] for v in rows if isinstance(v.get("zero_std_fraction"), int | float)]
    if not zero or fmean(zero) <= ZERO_STD_STALL:
        return []
    return [
        f"GRPO run #{run.pk} ({artifact.name}): in {fmean(zero) * 100:.0f} % of its groups on average every "
        "completion got the same reward, so most groups had nothing to learn from. Easier prompts, more "
        "completions per prompt or a higher temperature give the rewards variance."
    ]


KIND = RunKind(
    name=TrainingRun.Kind.GRPO,
    label="GRPO",
    title="GRPO on rule-based rewards",
    about=(
        "Rule-based rewards over the project's prompts with a reference answer (make_arithmetic, import_data "
        "--format gsm8k). With a cold start, an SFT run on reference demonstrations is queued first and the "
        "GRPO run waits for its result (and is cancelled if it fails)."
    ),
    config=GrpoConfig,
    run_options=GrpoRun,
    starts_from=GENERATIVE_KINDS,
    produces=ModelArtifact.Kind.POLICY,
    road=ROAD_RULES,
    snapshot=grpo_snapshot,
    trainer=grpo_trainer,
    cold_start=("reference",),
    charts=(
        Chart("Rewards", ("reward/accuracy", "reward/format", "reward/format_partial", "reward/total")),
        Chart("Format rate", ("format_rate", "heldout/format_rate")),
        Chart("Held-out accuracy (greedy)", ("heldout/accuracy",)),
        Chart("KL to the start", ("kl",)),
        Chart("Completion length (tokens)", ("completion_length",)),
        Chart("Groups with equal rewards", ("zero_std_fraction",)),
    ),
    curve=("reward/total", "GRPO reward (total)"),
    describe=_describe,
    summary_lines=_summary,
    notes=_notes,
)
