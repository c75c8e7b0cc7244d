"""The one home of exports: DATA_DIR/exports/<project id>/<export id>/<files>.

Every export made for a person lands here, whoever starts it: the admin's export job
(annotate.data_jobs), the API (POST /api/projects/<id>/export/) and `manage.py
export_preferences` without --out. Files in an export folder:

    train.jsonl, train.eval.jsonl    preference pairs (TRL prompt/chosen/rejected; eval with a split)
    judgments.jsonl | judgments.csv  raw judgments, labelers pseudonymized

An export id is `<UTC time>-<hash of its files>` (20260101T120000Z-0123456789). A folder is written
beside the others in a scratch folder and renamed into place whole, so a folder either holds a
complete export or does not exist; the same files exported in the same second share one folder.

Reading: export_store_list (a project's exports, newest first) and export_store_open (one file).
Every download goes through one view, GET /api/projects/<id>/exports/<export id>/<file>
(annotate.api.views.ExportFileApi, managers only: annotate.permissions.is_manager); pages link it
with export_file_url. Ids and file names are checked against strict patterns before any path is
built, and the resolved path must still lie inside the project's folder of the store, so a
download never leaves it.

Not here: the frozen files a training run reads (rewardmodel.registry.snapshots, DATA_DIR/snapshots/<hash>/).
Those are training inputs, addressed by content so a run can be reproduced, not downloads.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Literal, TypeVar

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from annotate.exporting.build import ExportResult, judgments_export_raw, preferences_export
from annotate.models import Project
from pairwise.errors import NotFound
from pairwise.files.atomic import move_into_place, scratch_dir

_EXPORT_ID = re.compile(r"^(\d{8}T\d{6}Z)-[0-9a-f]{10}$")
# A bare file name: no separator, no leading dot (so neither "." nor ".." nor hidden files).
_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
TRAIN_FILE = "train.jsonl"
_MISSING = "No such export file."

R = TypeVar("R")


@dataclass(frozen=True)
class StoredExport:
    project_id: int
    export_id: str
    folder: Path
    files: tuple[str, ...]  # the file names in the folder, sorted

    @property
    def created_at(self) -> datetime:
        stamp = _EXPORT_ID.match(self.export_id).group(1)  # type: ignore[union-attr]
        return datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)

    def url(self, filename: str) -> str:
        return export_file_url(project_id=self.project_id, export_id=self.export_id, filename=filename)

    @property
    def downloads(self) -> list[tuple[str, str]]:
        """(file name, download URL) for each file, for pages."""
        return [(name, self.url(name)) for name in self.files]


def exports_root() -> Path:
    return Path(settings.DATA_DIR) / "exports"


def _project_dir(project_id: int) -> Path:
    return exports_root() / str(int(project_id))


def _files_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        digest.update(path.name.encode() + b"\0")
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _stored(project_id: int, export_id: str, folder: Path) -> StoredExport:
    files = tuple(sorted(p.name for p in folder.iterdir() if p.is_file() and _FILE.match(p.name)))
    return StoredExport(project_id=project_id, export_id=export_id, folder=folder, files=files)


def export_store_write(*, project: Project, write: Callable[[Path], R]) -> tuple[StoredExport, R]:
    """Add an export to the project's store: `write(folder)` writes its files into an empty scratch
    folder, which is then renamed into place whole. Returns the stored export and what `write`
    returned (paths in it still name the scratch folder: rebase them on StoredExport.folder)."""
    root = _project_dir(project.pk)
    with scratch_dir(root, prefix=".export-") as tmp:
        value = write(tmp)
        names = sorted(p.name for p in tmp.iterdir())
        bad = [name for name in names if not _FILE.match(name)]
        if not names or bad:
            raise ValueError(f"an export must write plain file names; got {names}")
        export_id = f"{timezone.now():%Y%m%dT%H%M%SZ}-{_files_hash(tmp)[:10]}"
        folder = root / export_id
        # The same files exported in the same second: that folder already holds them.
        move_into_place(tmp, folder, existing="keep", marker=names[0])
    return _stored(project.pk, export_id, folder), value


def export_store_preferences(
    *,
    project: Project,
    eval_fraction: float = 0.0,
    min_agreement: float = 0.0,
    keep_ties: bool = False,
    seed: int = 0,
    conversational: bool | None = None,
    include_simulated: bool = True,
) -> tuple[StoredExport, ExportResult]:
    """The preference export (TRL JSONL: train.jsonl, train.eval.jsonl) as a new stored export;
    the result's paths name the stored files."""
    stored, result = export_store_write(
        project=project,
        write=lambda folder: preferences_export(
            project=project,
            out_path=folder / TRAIN_FILE,
            fmt="jsonl",
            eval_fraction=eval_fraction,
            min_agreement=min_agreement,
            keep_ties=keep_ties,
            seed=seed,
            conversational=conversational,
            include_simulated=include_simulated,
        ),
    )
    train = stored.folder / result.train_path.name
    evals = stored.folder / result.eval_path.name if result.eval_path is not None else None
    return stored, replace(result, path=train, train_path=train, eval_path=evals)


def export_store_judgments(
    *, project: Project, fmt: Literal["jsonl", "csv"] = "jsonl", include_simulated: bool = True
) -> tuple[StoredExport, int]:
    """Every judgment, labelers pseudonymized (judgments.jsonl or .csv), as a new stored export;
    returns it and the number of judgments."""
    return export_store_write(
        project=project,
        write=lambda folder: judgments_export_raw(
            project=project,
            out_path=folder / f"judgments.{fmt}",
            fmt=fmt,
            include_simulated=include_simulated,
        ),
    )


def export_store_list(*, project: Project) -> list[StoredExport]:
    """The project's exports, newest first (scratch folders of exports being written left out)."""
    root = _project_dir(project.pk)
    if not root.is_dir():
        return []
    found = [
        _stored(project.pk, path.name, path)
        for path in root.iterdir()
        if _EXPORT_ID.match(path.name) and path.is_dir()
    ]
    return sorted(found, key=lambda stored: stored.export_id, reverse=True)


def _file_path(project_id: int, export_id: str, filename: str) -> Path:
    if not _EXPORT_ID.match(export_id) or not _FILE.match(filename):
        raise NotFound(_MISSING)
    root = _project_dir(project_id).resolve()
    path = (root / export_id / filename).resolve()
    # A link that points out of the project's exports (another project's included) is refused too.
    if not path.is_relative_to(root) or not path.is_file():
        raise NotFound(_MISSING)
    return path


def export_store_open(*, project_id: int, export_id: str, filename: str) -> BinaryIO:
    """One file of one of the project's exports, open for reading; NotFound for anything else."""
    return _file_path(project_id, export_id, filename).open("rb")


def export_file_url(*, project_id: int, export_id: str, filename: str) -> str:
    """The one download path of a stored file (managers only)."""
    return reverse("api-export-file", args=[project_id, export_id, filename])
