"""Preference pairs frozen for a run: the export's majority-vote pairs of a project, kept as a
snapshot that reward-model and DPO runs train on.

    snapshot = preference_snapshot_create(project=p, eval_fraction=0.1, include_simulated=False)
    train, evals = snapshot_files(snapshot)

The snapshot is the exporter's output (TRL preference rows, conversational form) kept under
DATA_DIR/snapshots/<hash>/ as train.jsonl and eval.jsonl with a snapshot.json manifest; the folder
name is a hash of both files, so the same data is stored once and never changes.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from annotate.models import Project
from pairwise.errors import PairwiseError
from pairwise.files.atomic import scratch_dir
from rewardmodel.models import DatasetSnapshot
from rewardmodel.registry.snapshots import (
    EVAL_FILE,
    TRAIN_FILE,
    snapshot_folder,
    snapshot_folder_store,
    snapshot_record,
    snapshots_dir,
)
from rewardmodel.training.options import option, options_of

MIN_TRAIN_PAIRS = 8


@dataclass
class PreferencePairs:
    """Which of a project's judgments become pairs, and how they are split: the run options of
    every kind that trains on preference pairs (annotate.exporting.build.preferences_export)."""

    eval_fraction: float = option(0.1, "share of prompts held out for evaluation", low=0, below=1, form=True)
    min_agreement: float = option(
        0.0, "leave out comparisons whose judgments agree less than this", low=0, high=1, form=True
    )
    include_simulated: bool = option(
        True, "count simulated labelers' judgments (--no-simulated leaves them out)", flag="simulated"
    )
    split_seed: int = option(0, "seed of the prompts' train/eval split")

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> PreferencePairs:
        names = {o.name for o in options_of(cls)}
        return cls(**{k: v for k, v in config.items() if k in names})

    def export_options(self) -> dict[str, Any]:
        """These choices as preference_snapshot_create's keyword arguments."""
        options = asdict(self)
        options["seed"] = options.pop("split_seed")
        return options


def snapshot_files(snapshot: DatasetSnapshot | None) -> tuple[Path, Path | None]:
    """(train file, eval file or None) of a preference snapshot; raises if the files are gone."""
    folder = snapshot_folder(snapshot, DatasetSnapshot.Kind.PREFERENCES)
    train, evals = folder / TRAIN_FILE, folder / EVAL_FILE
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

    include_simulated=False leaves simulated labelers' judgments out; the filters (the
    export's) record the choice and how many simulated judgments the snapshot holds either way.
    keep_ties trains a tie as two mirrored pairs (a reward model's choice; DPO has none).
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

    return snapshot_record(
        project=project,
        kind=DatasetSnapshot.Kind.PREFERENCES,
        folder=target,
        files_hash=files_hash,
        filters=filters,
        n_examples=result.n_train,
        n_eval_examples=result.n_eval,
        n_judgments=result.n_judgments,
        n_labelers=result.n_labelers,
    )
