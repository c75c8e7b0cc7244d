"""Reward-model runs: freeze a project's preferences into a snapshot, start a run, and the trainer
that `rewardmodel.runs.services` calls for runs of kind "reward".

    run = reward_run_start(project=p, base_model=m, options={"epochs": 1}, eval_fraction=0.1)
    run_enqueue(run)   # or run_execute(run_id=run.pk) in this process

The snapshot is the exporter's output (TRL preference rows, conversational form) kept under
DATA_DIR/snapshots/<hash>/ as train.jsonl and eval.jsonl with a snapshot.json manifest; the
folder name is a hash of both files, so the same data is stored once and never changes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from django.db import transaction

from annotate.models import Project
from pairwise.errors import PairwiseError
from pairwise.files.atomic import scratch_dir
from rewardmodel.models import DatasetSnapshot, ModelArtifact, TrainingRun
from rewardmodel.registry.snapshots import EVAL_FILE, TRAIN_FILE, snapshot_folder_store, snapshots_dir
from rewardmodel.runs.services import RunOutput, run_create
from rewardmodel.training.progress import Reporter

MIN_TRAIN_PAIRS = 8
# Run-level keys of a reward run's config that are not trainer options.
RUN_KEYS = {"output_name"}


# --------------------------------------------------------------------------------------------
# snapshots
# --------------------------------------------------------------------------------------------


def snapshot_files(snapshot: DatasetSnapshot) -> tuple[Path, Path | None]:
    """(train file, eval file or None) of a preference snapshot; raises if the files are gone."""
    folder = Path(snapshot.path)
    train, evals = folder / TRAIN_FILE, folder / EVAL_FILE
    if not train.is_file():
        raise PairwiseError(f"Snapshot #{snapshot.pk}'s files are missing at {folder}.")
    return train, (evals if evals.is_file() and evals.stat().st_size else None)


def preference_snapshot_create(
    *,
    project: Project,
    eval_fraction: float = 0.1,
    min_agreement: float = 0.0,
    keep_ties: bool = False,
    seed: int = 0,
    min_train_pairs: int = MIN_TRAIN_PAIRS,
    include_simulated: bool = True,
) -> DatasetSnapshot:
    """Export the project's preferences once and record them; too few pairs is an error, not a run.

    include_simulated=False leaves simulated labelers' judgments out; the filters (the export's)
    record the choice and how many simulated judgments the snapshot holds either way.
    """
    from annotate.exporting.build import preferences_export

    with scratch_dir(snapshots_dir(), prefix=".export-") as tmp:
        result = preferences_export(
            project=project,
            out_path=tmp / TRAIN_FILE,
            fmt="jsonl",
            eval_fraction=eval_fraction,
            min_agreement=min_agreement,
            keep_ties=keep_ties,
            seed=seed,
            conversational=True,  # the chat template, as the reward model will see text when scoring
            include_simulated=include_simulated,
        )
        if result.n_judgments == 0:
            left_out = "" if include_simulated else " (simulated judgments left out)"
            raise PairwiseError(
                f"Project {project.name!r} has no usable judgments yet{left_out}: label some comparisons "
                "or import preference data (manage.py import_data)."
            )
        if result.n_train < min_train_pairs:
            raise PairwiseError(
                f"Project {project.name!r} has {result.n_train} training pairs with a clear winner "
                f"({result.n_judgments} judgments on {result.n_comparisons} comparisons; ties, both-bad and "
                f"split votes are left out, and {result.n_eval} pairs went to eval); at least "
                f"{min_train_pairs} are needed."
            )
        if result.eval_path is not None:
            os.replace(result.eval_path, tmp / EVAL_FILE)
        filters = {
            **result.filters,
            "n_comparisons": result.n_comparisons,
            "judgment_ids_hash": result.judgment_ids_hash,
            "rows_hash": result.content_hash,
            "conversational": result.conversational,
        }
        manifest = result.as_dict()
        for key in ("path", "train_path", "eval_path"):
            manifest.pop(key, None)
        files_hash, target = snapshot_folder_store(tmp, manifest, sort_keys=True)

    existing = DatasetSnapshot.objects.filter(
        project=project, kind=DatasetSnapshot.Kind.PREFERENCES, content_hash=files_hash, path=str(target)
    )
    for snapshot in existing:
        if snapshot.filters == filters:
            return snapshot
    return DatasetSnapshot.objects.create(
        project=project,
        kind=DatasetSnapshot.Kind.PREFERENCES,
        path=str(target),
        content_hash=files_hash,
        n_examples=result.n_train,
        n_eval_examples=result.n_eval,
        n_judgments=result.n_judgments,
        n_labelers=result.n_labelers,
        filters=filters,
    )


# --------------------------------------------------------------------------------------------
# starting a run
# --------------------------------------------------------------------------------------------


def reward_options_clean(options: dict[str, Any]) -> dict[str, Any]:
    """The trainer options of a reward run, checked now so a typo never reaches a worker."""
    from rewardmodel.training.reward import RewardConfig

    trainer_options = {k: v for k, v in options.items() if v is not None and k not in RUN_KEYS}
    for path_key in ("model_dir", "train_file", "eval_file", "output_dir"):
        if path_key in trainer_options:
            raise PairwiseError(f"{path_key} is set by the run; leave it out of the options.")
    try:
        cfg = RewardConfig.from_dict({"model_dir": "", "train_file": "", "output_dir": "", **trainer_options})
    except (TypeError, ValueError) as exc:
        raise PairwiseError(str(exc)) from None
    problems = cfg.option_problems()
    if problems:
        raise PairwiseError("Invalid training options: " + "; ".join(problems) + ".")
    return {k: v for k, v in options.items() if v is not None}


def reward_run_start(
    *,
    project: Project,
    base_model: ModelArtifact,
    options: dict[str, Any] | None = None,
    eval_fraction: float = 0.1,
    min_agreement: float = 0.0,
    keep_ties: bool = False,
    seed: int = 0,
    created_by=None,
    include_simulated: bool = True,
) -> TrainingRun:
    """Check the options and the base model, freeze a snapshot, create a queued reward run."""
    config = reward_options_clean(options or {})
    name = config.get("output_name")
    if name and ModelArtifact.objects.filter(name=name).exists():
        raise PairwiseError(f"A model named {name!r} already exists; pick another name.")
    if not Path(base_model.path, "config.json").is_file():
        raise PairwiseError(f"Model {base_model.name!r} has no files at {base_model.path}.")
    if base_model.kind == ModelArtifact.Kind.VALUE:
        raise PairwiseError(
            f"Model {base_model.name!r} is a value model; start from a base, policy or reward model."
        )
    snapshot = preference_snapshot_create(
        project=project,
        eval_fraction=eval_fraction,
        min_agreement=min_agreement,
        keep_ties=keep_ties,
        seed=seed,
        include_simulated=include_simulated,
    )
    with transaction.atomic():
        return run_create(
            kind=TrainingRun.Kind.REWARD,
            project=project,
            base_model=base_model,
            config=config,
            created_by=created_by,
            snapshot=snapshot,
        )


# --------------------------------------------------------------------------------------------
# the trainer rewardmodel.runs.services calls
# --------------------------------------------------------------------------------------------


def reward_trainer(*, run: TrainingRun, reporter: Reporter, output_dir: Path) -> RunOutput:
    from rewardmodel.training.reward import CONFIG_FILE, RewardConfig, train_reward

    if run.snapshot is None:
        raise PairwiseError(f"Reward run #{run.pk} has no dataset snapshot to train on.")
    train, evals = snapshot_files(run.snapshot)
    options = {k: v for k, v in run.config.items() if k not in RUN_KEYS}
    cfg = RewardConfig.from_dict(
        {
            **options,
            "model_dir": run.base_model.path,
            "train_file": str(train),
            "eval_file": str(evals) if evals else None,
            "output_dir": str(output_dir),
        }
    )
    result = train_reward(cfg, reporter)
    resolved = json.loads((Path(result.output_dir) / CONFIG_FILE).read_text())
    summary = {
        "eval_accuracy": result.eval_accuracy,
        "eval_margin": result.eval_margin,
        "eval_pairs": result.eval_pairs,
        "train_pairs": result.train_pairs,
        "dropped_pairs": result.dropped_pairs,
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
        artifact_kind=ModelArtifact.Kind.REWARD,
        summary=summary,
        device=result.device,
        examples_seen=result.examples_seen,
        tokens_seen=result.tokens_seen,
    )
