"""Snapshot folders: the files a run trains on, frozen under DATA_DIR/snapshots/<hash>/.

A snapshot folder holds train.jsonl, eval.jsonl (when there is an eval split) and a snapshot.json
manifest. Its name is a hash of the two data files, so the same data is stored once and a folder
never changes once written. Every kind of snapshot (registry.preferences, registry.demonstrations,
registry.prompts) is written and recorded the same way:

    with scratch_dir(snapshots_dir(), prefix=".prompts-") as tmp:
        write_jsonl(tmp / TRAIN_FILE, rows)
        files_hash, folder = snapshot_folder_store(tmp, manifest)
    snapshot = snapshot_record(project=p, kind=..., folder=folder, files_hash=files_hash, filters=filters, ...)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.conf import settings

from pairwise.errors import PairwiseError
from pairwise.files.atomic import move_into_place
from rewardmodel.models import DatasetSnapshot

TRAIN_FILE, EVAL_FILE, MANIFEST = "train.jsonl", "eval.jsonl", "snapshot.json"


def snapshots_dir() -> Path:
    path = settings.DATA_DIR / "snapshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


def snapshot_hash(train: Path, evals: Path | None) -> str:
    """sha256 of the train and eval files (a missing eval file counts as empty): the folder's name."""
    digest = hashlib.sha256()
    for label, path in (("train", train), ("eval", evals)):
        digest.update(f"\0{label}\0".encode())
        if path is not None and path.exists():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def snapshot_folder_store(
    tmp: Path, manifest: dict[str, Any], *, sort_keys: bool = False
) -> tuple[str, Path]:
    """Hash the data files written into `tmp` (a scratch folder in snapshots_dir()), add the
    manifest with its files_hash, and move the folder to snapshots/<hash[:20]>. The same data
    stored before (or by a concurrent writer) is kept as it is. Returns (files hash, folder)."""
    files_hash = snapshot_hash(tmp / TRAIN_FILE, tmp / EVAL_FILE)
    (tmp / MANIFEST).write_text(
        json.dumps({**manifest, "files_hash": files_hash}, indent=2, sort_keys=sort_keys)
    )
    target = move_into_place(tmp, tmp.parent / files_hash[:20], existing="keep", marker=TRAIN_FILE)
    return files_hash, target


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """One JSON object a line, UTF-8 as is (a file in a scratch folder: no rename of its own)."""
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every row of a snapshot's JSONL file (written by write_jsonl)."""
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def snapshot_record(
    *, project: Any, kind: str, folder: Path, files_hash: str, filters: dict[str, Any], **counts: int
) -> DatasetSnapshot:
    """The DatasetSnapshot of a stored folder: the one recorded before with the same files and the
    same filters (the same data frozen twice is one snapshot), else a new one with these counts."""
    same = DatasetSnapshot.objects.filter(
        project=project, kind=kind, content_hash=files_hash, path=str(folder)
    )
    for snapshot in same:
        if snapshot.filters == filters:
            return snapshot
    return DatasetSnapshot.objects.create(
        project=project, kind=kind, path=str(folder), content_hash=files_hash, filters=filters, **counts
    )


def snapshot_folder(snapshot: DatasetSnapshot | None, kind: str) -> Path:
    """The folder of a run's snapshot of `kind`, or a PairwiseError: no snapshot, another kind, or
    its files gone (a data directory moved or wiped)."""
    if snapshot is None:
        raise PairwiseError("The run has no dataset snapshot to train on.")
    if snapshot.kind != kind:
        raise PairwiseError(f"Snapshot #{snapshot.pk} holds {snapshot.kind}, not {kind}.")
    folder = Path(snapshot.path)
    if not (folder / TRAIN_FILE).is_file():
        raise PairwiseError(f"Snapshot #{snapshot.pk}'s files are missing at {folder}.")
    return folder
