"""Snapshot folders: the files a run trains on, frozen under DATA_DIR/snapshots/<hash>/.

A snapshot folder holds train.jsonl, eval.jsonl (when there is an eval split) and a snapshot.json
manifest. Its name is a hash of the two data files, so the same data is stored once and a folder
never changes once written. Every kind of snapshot (preferences: reward_runs; demonstrations:
sft_runs; prompts: verifiable_prompts) is written the same way:

    with scratch_dir(snapshots_dir(), prefix=".prompts-") as tmp:
        write_jsonl(tmp / TRAIN_FILE, rows)
        files_hash, folder = snapshot_folder_store(tmp, manifest)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.conf import settings

from pairwise.files.atomic import move_into_place

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
