"""SFT runs: TRL's SFTTrainer on demonstrations (the first step of both roads, and DeepSeek-R1's
cold start before GRPO).

    runs = runs_start(kind="sft", project=p, start=m, options={"source": "reference", "epochs": 2})

Where the demonstrations come from (`source`: reference answers in the R1 template, a teacher's
responses, or the chosen side of the judgments) and how they are frozen: registry.demonstrations.
The result is a policy whose parents are the starting model and whose dataset_snapshot is the
demonstrations.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pairwise.progress import Reporter
from rewardmodel.models import GENERATIVE_KINDS, DatasetSnapshot, ModelArtifact, TrainingRun
from rewardmodel.registry.demonstrations import (
    SOURCES,
    demonstrations_snapshot_create,
    demonstrations_snapshot_records,
)
from rewardmodel.runs.kind import (
    ROAD_SUPERVISED,
    Chart,
    RunKind,
    RunOutput,
    first_last_lines,
    number,
)
from rewardmodel.training.options import option
from rewardmodel.training.sft import SftConfig
from rewardmodel.training.verifiable import PromptTemplate


@dataclass
class SftRun:
    """Which demonstrations it learns from."""

    source: str = option(
        "reference",
        "where the demonstrations come from: reference (the prompts' reference answers in the R1 template), "
        "responses (a teacher's), judgments (the chosen side of each majority-vote comparison)",
        choices=SOURCES,
        form=True,
    )
    teacher: str | None = option(
        None, "source responses: a registered model's name or a response label (hh:chosen)", form=True
    )
    tags: list[str] = option([], "only prompts with all these tags, e.g. level:easy")
    limit: int | None = option(None, "train on the first N demonstrations (prompt order)", low=1)
    # Source reference: the R1 template the answers are written in (--system-prompt, --user-template).
    template: dict[str, str] | None = option(None, "source reference: the prompt template", cli=False)

    def rules(self) -> list[str]:
        """The options that go together; fills in the template for source reference."""
        if self.source == "responses" and not str(self.teacher or "").strip():
            return ["source responses needs a teacher: the model whose responses to learn from"]
        if self.source != "responses" and self.teacher is not None:
            return ["a teacher is for source responses only"]
        if self.source == "reference":
            try:
                self.template = PromptTemplate.from_dict(self.template).as_dict()
            except ValueError as exc:
                return [str(exc)]
        elif self.template is not None:
            return ["a prompt template is for source reference only (the others keep their prompts)"]
        return []


def sft_snapshot(*, project, config: dict[str, Any]) -> DatasetSnapshot:
    return demonstrations_snapshot_create(
        project=project,
        source=config["source"],
        teacher=config.get("teacher"),
        template=config.get("template"),
        tags=config.get("tags") or (),
        limit=config.get("limit"),
    )


def sft_trainer(*, run: TrainingRun, reporter: Reporter, output_dir: Path) -> RunOutput:
    from rewardmodel.training.sft import train_sft

    train, heldout = demonstrations_snapshot_records(run.snapshot)
    cfg = KIND.trainer_config(
        run.config,
        model_dir=run.base_model.path,
        output_dir=str(output_dir),
        demonstrations=train,
        heldout=heldout,
    )
    result = train_sft(cfg, reporter)
    metadata = {"algo": "sft", "source": run.config.get("source", "reference")}
    metadata.update({k: run.config[k] for k in ("teacher", "template") if run.config.get(k)})
    return RunOutput(
        model_dir=Path(result.output_dir),
        summary=result.summary,
        device=result.device,
        examples_seen=result.examples_seen,
        tokens_seen=result.tokens_seen,
        metadata=metadata,
    )


def _describe(run: TrainingRun, start: str) -> str:
    snap, cfg = run.snapshot, run.config
    source = cfg["source"] + (f" by {cfg['teacher']}" if cfg.get("teacher") else "")
    return (
        f"Run #{run.pk}: SFT on {start} with {snap.n_examples} training and {snap.n_eval_examples} "
        f"held-out demonstrations from {source} (snapshot {snap.content_hash[:12]}); {cfg['epochs']} "
        f"epochs of {cfg['batch_size']}, lr {cfg['lr']}, max length {cfg['max_length']}."
    )


def _summary(s: dict[str, Any]) -> list[str]:
    lines = first_last_lines(s, ("loss", "mean_token_accuracy"))
    if "heldout/loss_before" in s:
        lines.append(
            f"  held-out loss ({s.get('heldout_examples')} demonstrations): "
            f"{number(s, 'heldout/loss_before')} -> {number(s, 'heldout/loss_after')}; token accuracy "
            f"{number(s, 'heldout/mean_token_accuracy_before')} -> {number(s, 'heldout/mean_token_accuracy_after')}"
        )
    return lines


KIND = RunKind(
    name=TrainingRun.Kind.SFT,
    label="SFT",
    title="Fine-tune a policy (SFT)",
    about=(
        "Supervised fine-tuning on demonstrations frozen into a snapshot: the prompts' reference answers in "
        "the DeepSeek-R1 template, a teacher's responses, or the chosen side of each majority-vote comparison. "
        "Held-out prompts' demonstrations give the held-out loss before and after."
    ),
    config=SftConfig,
    run_options=SftRun,
    starts_from=GENERATIVE_KINDS,
    produces=ModelArtifact.Kind.POLICY,
    road=ROAD_SUPERVISED,
    snapshot=sft_snapshot,
    trainer=sft_trainer,
    charts=(
        Chart("Loss", ("loss", "heldout/loss")),
        Chart("Token accuracy", ("mean_token_accuracy", "heldout/mean_token_accuracy")),
    ),
    curve=("loss", "SFT loss"),
    describe=_describe,
    summary_lines=_summary,
)
