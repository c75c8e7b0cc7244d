"""PPO runs against a reward model (the InstructGPT road), the Django side of training/ppo.py.

    run = ppo_run_start(project=p, policy=m, reward_model=r, options={"episodes": 512})
    run_enqueue(run)   # or run_execute(run_id=run.pk) in this process: rewardmodel.runs.services does the rest
    result = policy_rm_evaluate(model=m, project=p, reward_model=r)

Everything that can be checked before a worker picks the run up is checked in `ppo_run_start`,
each with a message a person can act on: the reward model is a registered reward model with its
files, its tokenizer is the policy's (TRL hands the reward model the policy's token ids, so a
different tokenizer would silently score garbage), the project has training prompts, the options
are in range. The run's snapshot (kind prompts, all prompts with or without a reference answer)
holds the exact train and held-out prompts; its checkpoint is a policy whose parents are the
starting policy and the reward model, so the lineage reaches back to the judgments.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

from django.db import transaction

from annotate.models import Project, Prompt
from pairwise.errors import PairwiseError
from rewardmodel.models import ModelArtifact, TrainingRun
from rewardmodel.registry.artifacts import tokenizer_fingerprint
from rewardmodel.registry.prompts import project_prompts, prompts_snapshot_create, prompts_snapshot_records
from rewardmodel.runs.services import RunOutput, run_create
from rewardmodel.training.progress import Reporter

# Run-level keys of a PPO run's config that are not trainer options.
RUN_KEYS = {"output_name", "tags", "heldout_limit", "reward_model"}
# Trainer fields the run sets itself.
RUN_SET = {"model_dir", "reward_model_dir", "output_dir", "prompts", "heldout", "device"}
POLICY_KINDS = (ModelArtifact.Kind.BASE, ModelArtifact.Kind.POLICY)


def _ppo_config(options: dict[str, Any], **run_set: Any):
    from rewardmodel.training.ppo import PpoConfig

    known = {f.name for f in fields(PpoConfig)} - RUN_SET
    unknown = sorted(set(options) - known)
    if unknown:
        raise PairwiseError(
            f"Unknown PPO option(s): {', '.join(unknown)}. Known: {', '.join(sorted(known))}."
        )
    prompts = run_set.pop("prompts", None) or [{"question": "?"}] * int(options.get("batch_size") or 16)
    base = {"model_dir": "", "reward_model_dir": "", "output_dir": "", "prompts": prompts}
    try:
        cfg = PpoConfig(**{**base, **options, **run_set})
        cfg.validate()
    except (TypeError, ValueError) as exc:
        raise PairwiseError(f"Invalid PPO options: {exc}") from None
    return cfg


def ppo_options_clean(options: dict[str, Any]) -> dict[str, Any]:
    """Check the options now (a typo never reaches a worker) and return the resolved trainer config
    (defaults filled in) plus the run keys, as the run stores it."""
    trainer_options = {k: v for k, v in options.items() if v is not None and k not in RUN_KEYS}
    cfg = _ppo_config(trainer_options)
    resolved = {k: v for k, v in cfg.describe().items() if k not in RUN_SET | {"updates"}}
    run_options = {k: v for k, v in options.items() if k in RUN_KEYS and v is not None}
    if "heldout_limit" in run_options and int(run_options["heldout_limit"]) < 0:
        raise PairwiseError("heldout_limit cannot be negative.")
    return {**resolved, **run_options}


def _check_files(model: ModelArtifact) -> None:
    if not Path(model.path, "config.json").is_file():
        raise PairwiseError(f"Model {model.name!r} has no files at {model.path}.")


def ppo_models_check(*, policy: ModelArtifact, reward_model: ModelArtifact) -> None:
    """The starting policy and the reward model can go into one PPO run, or a PairwiseError says why."""
    if policy.kind not in POLICY_KINDS:
        raise PairwiseError(
            f"Model {policy.name!r} is a {policy.get_kind_display().lower()}; PPO starts from a base model "
            "or a policy."
        )
    if reward_model.kind != ModelArtifact.Kind.REWARD:
        raise PairwiseError(
            f"Model {reward_model.name!r} is a {reward_model.get_kind_display().lower()}, not a reward model; "
            "train one with train_reward_model (or register one with --kind reward)."
        )
    _check_files(policy)
    _check_files(reward_model)
    if tokenizer_fingerprint(policy) != tokenizer_fingerprint(reward_model):
        raise PairwiseError(
            f"The reward model {reward_model.name!r} uses a different tokenizer from the policy {policy.name!r}: "
            "PPO hands the reward model the policy's token ids, so it would score garbage. Train the reward "
            "model from the same base model as the policy."
        )


def ppo_run_start(
    *,
    project: Project,
    policy: ModelArtifact,
    reward_model: ModelArtifact,
    options: dict[str, Any] | None = None,
    created_by=None,
    starts_after: TrainingRun | None = None,
) -> TrainingRun:
    """Check everything, freeze the prompts, create a queued PPO run (not yet sent to a worker).

    With `starts_after` (an SFT run), `policy` is that run's starting model, checked for the
    tokenizer; the run starts from the SFT result once it exists."""
    options = dict(options or {})
    ppo_models_check(policy=policy, reward_model=reward_model)
    config = ppo_options_clean({**options, "reward_model": reward_model.pk})
    name = config.get("output_name")
    if name and ModelArtifact.objects.filter(name=name).exists():
        raise PairwiseError(f"A model named {name!r} already exists; pick another name.")
    train = project_prompts(project=project, split=Prompt.Split.TRAIN, tags=config.get("tags") or ())
    if len(train) < config["batch_size"]:
        raise PairwiseError(
            f"Project {project.name!r} has {len(train)} training prompts; PPO needs at least batch_size "
            f"({config['batch_size']}). Import prompts or lower --batch-size."
        )
    snapshot = prompts_snapshot_create(project=project, tags=config.get("tags") or (), verifiable=False)
    with transaction.atomic():
        return run_create(
            kind=TrainingRun.Kind.PPO,
            project=project,
            base_model=policy,
            config=config,
            created_by=created_by,
            snapshot=snapshot,
            starts_after=starts_after,
        )


def run_reward_model(run: TrainingRun) -> ModelArtifact:
    model = ModelArtifact.objects.filter(pk=run.config.get("reward_model")).first()
    if model is None:
        raise PairwiseError(f"PPO run #{run.pk}'s reward model (#{run.config.get('reward_model')}) is gone.")
    return model


def ppo_trainer(*, run: TrainingRun, reporter: Reporter, output_dir: Path) -> RunOutput:
    """What rewardmodel.runs.services calls for runs of kind ppo."""
    from rewardmodel.training.ppo import train_ppo

    if run.snapshot is None:
        raise PairwiseError(f"PPO run #{run.pk} has no prompt snapshot to train on.")
    reward_model = run_reward_model(run)
    ppo_models_check(policy=run.base_model, reward_model=reward_model)
    train, heldout = prompts_snapshot_records(run.snapshot, heldout_limit=run.config.get("heldout_limit"))
    options = {k: v for k, v in run.config.items() if k not in RUN_KEYS}
    cfg = _ppo_config(
        options,
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
        artifact_kind=ModelArtifact.Kind.POLICY,
        summary=summary,
        device=result.device,
        examples_seen=result.episodes,
        tokens_seen=result.tokens_seen,
        extra_parents=[reward_model],
        metadata={"algo": "ppo", "reward_model": reward_model.name, "kl_coef": cfg.kl_coef},
    )


def policy_rm_evaluate(
    *,
    model: ModelArtifact,
    project: Project,
    reward_model: ModelArtifact,
    reference: ModelArtifact | None = None,
    split: str | None = Prompt.Split.HELDOUT,
    tags: tuple[str, ...] = (),
    limit: int | None = None,
    max_new_tokens: int = 64,
    batch_size: int = 16,
    on_batch=None,
):
    """Mean reward-model score, mean length and KL to `reference` (default: the base model at the
    root of `model`'s lineage) of greedy responses to the project's prompts. Returns (RmEvalResult,
    the reference used). Works on any project, verifiable or not."""
    from rewardmodel.registry.prompts import prompt_record
    from rewardmodel.training.ppo import prompt_messages
    from rewardmodel.training.rm_eval import rm_evaluate_dirs

    ppo_models_check(policy=model, reward_model=reward_model)
    reference = reference or lineage_root(model)
    _check_files(reference)
    splits = [split] if split else list(Prompt.Split.values)
    prompts = [p for s in splits for p in project_prompts(project=project, split=s, tags=tags)][:limit]
    if not prompts:
        raise PairwiseError(f"Project {project.name!r} has no {split or ''} prompts to evaluate on.")
    messages = [prompt_messages(prompt_record(p)) for p in prompts]
    result = rm_evaluate_dirs(
        model.path,
        messages,
        reward_dir=reward_model.path,
        reference_dir=reference.path,
        tokenizer_dir=model.tokenizer_path or None,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        on_batch=on_batch,
    )
    return result, reference


def lineage_root(model: ModelArtifact) -> ModelArtifact:
    """The base model a policy descends from (through its policy/base parents); itself if none."""
    seen, current = set(), model
    while current.pk not in seen:
        seen.add(current.pk)
        parent = current.parents.filter(kind__in=POLICY_KINDS).order_by("pk").first()
        if parent is None:
            return current
        current = parent
    return current
