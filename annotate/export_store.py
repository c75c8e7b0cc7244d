"""Preference exports kept in the data directory, for managers who export over the API.

Each export is a folder DATA_DIR/exports/project-<id>/<UTC time>-<content hash>/ holding
train.jsonl (and train.eval.jsonl with an eval split), written by annotate.exports and moved into
place whole: a folder either holds a complete export or does not exist. Names are checked
against a strict pattern before any path is built, so a download can never leave the folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from rewardmodel.training.atomic import move_into_place, scratch_dir

from .errors import NotFound
from .exports import ExportResult, preferences_export
from .models import Project

_NAME = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{10}$")
_FILE = re.compile(r"^[a-z]+(\.eval)?\.jsonl$")
TRAIN_FILE = "train.jsonl"


@dataclass(frozen=True)
class StoredExport:
    name: str
    folder: Path
    result: ExportResult

    @property
    def files(self) -> dict[str, str]:
        """{"train": "train.jsonl", "eval": "train.eval.jsonl"} (eval only with an eval split)."""
        out = {"train": self.result.train_path.name}
        if self.result.eval_path is not None:
            out["eval"] = self.result.eval_path.name
        return out


def _project_dir(project: Project) -> Path:
    return Path(settings.DATA_DIR) / "exports" / f"project-{project.pk}"


def export_store_create(
    *,
    project: Project,
    eval_fraction: float = 0.0,
    min_agreement: float = 0.0,
    keep_ties: bool = False,
    seed: int = 0,
    conversational: bool | None = None,
) -> StoredExport:
    """Run the preference export into a new folder of the project's exports (JSONL)."""
    root = _project_dir(project)
    with scratch_dir(root, prefix=".export-") as tmp:
        result = preferences_export(
            project=project,
            out_path=tmp / TRAIN_FILE,
            fmt="jsonl",
            eval_fraction=eval_fraction,
            min_agreement=min_agreement,
            keep_ties=keep_ties,
            seed=seed,
            conversational=conversational,
        )
        name = f"{timezone.now():%Y%m%dT%H%M%SZ}-{result.content_hash[:10]}"
        folder = root / name
        # The same rows exported in the same second: that folder already holds them.
        move_into_place(tmp, folder, existing="keep", marker=TRAIN_FILE)
    train = folder / result.train_path.name
    evals = folder / result.eval_path.name if result.eval_path is not None else None
    result = replace(result, path=train, train_path=train, eval_path=evals)
    return StoredExport(name=name, folder=folder, result=result)


def export_store_file(*, project: Project, name: str, filename: str) -> Path:
    """A file of one of the project's exports; NotFound for anything else."""
    if not _NAME.match(name) or not _FILE.match(filename):
        raise NotFound("No such export file.")
    path = _project_dir(project) / name / filename
    if not path.is_file():
        raise NotFound("No such export file.")
    return path
