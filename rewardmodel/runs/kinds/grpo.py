"""GRPO runs and policy evaluation on verifiable prompts, the Django side of
rewardmodel/training/grpo.py and evaluate.py.

    run = grpo_run_start(project=p, policy=m, options={"steps": 50, "rewards": ["accuracy", "format"]})
    run_enqueue(run)   # or run_execute(run_id=run.pk) in this process: rewardmodel.runs.services does the rest
    result = policy_evaluate(model=m, project=p, split="heldout")

A GRPO run records everything that shapes it in its config, the prompt template included; its
snapshot (kind prompts) holds the exact prompts; its checkpoint is a policy whose parents are the
starting policy and whose dataset_snapshot is that prompt set.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

from django.db import transaction

from annotate.models import Project, Prompt
from pairwise.errors import PairwiseError
from rewardmodel.models import ModelArtifact, TrainingRun
from rewardmodel.registry.prompts import (
    prompt_record,
    prompts_snapshot_create,
    prompts_snapshot_records,
    verifiable_prompts,
)
from rewardmodel.runs.services import RunOutput, run_create
from rewardmodel.training.progress import Reporter

# Run-level keys of a GRPO run's config that are not trainer options.
RUN_KEYS = {"output_name", "tags", "heldout_limit"}
# Trainer fields the run sets itself.
RUN_SET = {"model_dir", "output_dir", "prompts", "heldout", "device"}


def _grpo_config(options: dict[str, Any], **run_set: Any):
    from rewardmodel.training.grpo import GrpoConfig

    known = {f.name for f in fields(GrpoConfig)} - RUN_SET
    unknown = sorted(set(options) - known)
    if unknown:
        raise PairwiseError(
            f"Unknown GRPO option(s): {', '.join(unknown)}. Known: {', '.join(sorted(known))}."
        )
    base = {"model_dir": "", "output_dir": "", "prompts": [{"question": "?", "answer": "0"}]}
    try:
        cfg = GrpoConfig(**{**base, **options, **run_set})
        cfg.validate()
    except (TypeError, ValueError) as exc:
        raise PairwiseError(f"Invalid GRPO options: {exc}") from None
    return cfg


def grpo_options_clean(options: dict[str, Any]) -> dict[str, Any]:
    """Check the options now (a typo never reaches a worker) and return the full resolved trainer
    config (defaults filled in, the prompt template included) as the run will store it."""
    trainer_options = {k: v for k, v in options.items() if v is not None and k not in RUN_KEYS}
    if isinstance(trainer_options.get("rewards"), str):
        trainer_options["rewards"] = [r.strip() for r in trainer_options["rewards"].split(",") if r.strip()]
    cfg = _grpo_config(trainer_options)
    resolved = {k: v for k, v in cfg.describe().items() if k not in RUN_SET}
    run_options = {k: v for k, v in options.items() if k in RUN_KEYS and v is not None}
    if "heldout_limit" in run_options and int(run_options["heldout_limit"]) < 0:
        raise PairwiseError("heldout_limit cannot be negative.")
    return {**resolved, **run_options}


def grpo_run_start(
    *,
    project: Project,
    policy: ModelArtifact,
    options: dict[str, Any] | None = None,
    created_by=None,
    starts_after: TrainingRun | None = None,
) -> TrainingRun:
    """Check the options and the starting policy, freeze the prompts, create a queued GRPO run.
    With `starts_after` (a cold-start SFT run), `policy` only stands in until that run's result
    replaces it (rewardmodel.runs.services), so its files are not checked."""
    options = dict(options or {})
    config = grpo_options_clean(options)
    if starts_after is None and not Path(policy.path, "config.json").is_file():
        raise PairwiseError(f"Model {policy.name!r} has no files at {policy.path}.")
    if policy.kind not in (ModelArtifact.Kind.BASE, ModelArtifact.Kind.POLICY):
        raise PairwiseError(
            f"Model {policy.name!r} is a {policy.get_kind_display().lower()}; GRPO starts from a base model "
            "or a policy."
        )
    snapshot = prompts_snapshot_create(project=project, tags=config.get("tags") or ())
    with transaction.atomic():
        return run_create(
            kind=TrainingRun.Kind.GRPO,
            project=project,
            base_model=policy,
            config=config,
            created_by=created_by,
            snapshot=snapshot,
            starts_after=starts_after,
        )


def grpo_trainer(*, run: TrainingRun, reporter: Reporter, output_dir: Path) -> RunOutput:
    """What rewardmodel.runs.services calls for runs of kind grpo."""
    from rewardmodel.training.grpo import train_grpo

    if run.snapshot is None:
        raise PairwiseError(f"GRPO run #{run.pk} has no prompt snapshot to train on.")
    train, heldout = prompts_snapshot_records(run.snapshot, heldout_limit=run.config.get("heldout_limit"))
    options = {k: v for k, v in run.config.items() if k not in RUN_KEYS}
    cfg = _grpo_config(
        options,
        model_dir=run.base_model.path,
        output_dir=str(output_dir),
        prompts=train,
        heldout=heldout,
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
        artifact_kind=ModelArtifact.Kind.POLICY,
        summary=summary,
        device=result.device,
        examples_seen=result.examples_seen,
        tokens_seen=result.tokens_seen,
        metadata={"algo": "grpo", "template": cfg.template, "rewards": cfg.describe()["rewards"]},
    )


def policy_evaluate(
    *,
    model: ModelArtifact,
    project: Project,
    split: str | None = Prompt.Split.HELDOUT,
    tags: tuple[str, ...] = (),
    samples: int = 1,
    limit: int | None = None,
    template: dict[str, str] | None = None,
    max_new_tokens: int = 96,
    temperature: float = 0.8,
    batch_size: int = 16,
    seed: int = 0,
    on_batch=None,
):
    """Accuracy and format rate of a registered model on a project's verifiable prompts, through
    the same generation and scoring code as a GRPO run's held-out checks. Returns an EvalResult."""
    from rewardmodel.training.evaluate import evaluate_model_dir
    from rewardmodel.training.verifiable import PromptTemplate, build_examples

    if model.kind not in (ModelArtifact.Kind.BASE, ModelArtifact.Kind.POLICY):
        raise PairwiseError(
            f"Model {model.name!r} is a {model.kind} model; evaluate a base model or a policy."
        )
    if samples < 1:
        raise PairwiseError("samples must be at least 1.")
    if limit is not None and limit < 1:
        raise PairwiseError("limit must be at least 1.")
    prompts = verifiable_prompts(project=project, split=split, tags=tags)[:limit]
    if not prompts:
        where = f"{split} " if split else ""
        raise PairwiseError(f"Project {project.name!r} has no {where}prompts with a reference answer.")
    try:
        examples = build_examples(map(prompt_record, prompts), PromptTemplate.from_dict(template))
    except ValueError as exc:
        raise PairwiseError(str(exc)) from None
    if not Path(model.path, "config.json").is_file():
        raise PairwiseError(f"Model {model.name!r} has no files at {model.path}.")
    return evaluate_model_dir(
        model.path,
        examples,
        tokenizer_dir=model.tokenizer_path or None,
        samples=samples,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        batch_size=batch_size,
        seed=seed,
        on_batch=on_batch,
    )
