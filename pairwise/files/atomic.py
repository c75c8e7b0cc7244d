"""Write beside, then rename: a file or folder is either whole at its path or not there at all.

    with atomic_file(path) as fh:           # a temporary file beside `path`, renamed over it
        fh.write(text)

    with atomic_dir(target) as tmp:         # a temporary folder beside `target`, renamed to it
        model.save_pretrained(tmp)

    with scratch_dir(root, prefix=".export-") as tmp:   # when the name is known only at the end
        ...write files, hash them...
        move_into_place(tmp, root / digest, existing="keep", marker="train.jsonl")

The temporary path is always in the target's folder (same file system), so the final rename is
atomic; a crash or an exception removes it. What happens when the target already exists is the
caller's choice (`existing`):

- "fail": a plain rename. A file is replaced; a folder that exists and is not empty raises OSError.
- "keep": content-addressed output. The folder already there (holding `marker`, so it is complete)
  is kept and the new copy is discarded; this also settles two writers racing for the same name.
- "replace": the old folder is swapped out and removed (os.replace cannot overwrite a folder).

Several processes (an `accelerate launch`) must agree on one folder: `partial_dir(target)` is the
same name in every process, and the caller decides which process renames it (`move_into_place`).

No Django here, no heavy imports.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Literal

Existing = Literal["fail", "keep", "replace"]
# mkstemp makes files 0600; what we write (exports, reports) is meant to be read by other tools.
FILE_MODE = 0o644


def partial_dir(target: Path) -> Path:
    """`.<name>.partial` beside `target`: the same name in every process, unlike a random one."""
    target = Path(target)
    return target.with_name(f".{target.name}.partial")


@contextmanager
def scratch_dir(parent: Path, *, prefix: str) -> Iterator[Path]:
    """A new empty folder in `parent` (created if missing), removed with whatever is left in it on exit.

    Move the finished result out of it with `move_into_place`; it is on the same file system.
    """
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def move_into_place(
    tmp: Path, target: Path, *, existing: Existing = "fail", marker: str | None = None
) -> Path:
    """Rename the finished `tmp` (file or folder) to `target`; see the module docstring for `existing`.

    With existing="keep", `marker` names the file whose presence says a folder at `target` is
    complete (a folder without it is a failed write and raises). Returns `target`.
    """
    tmp, target = Path(tmp), Path(target)
    if existing == "keep":
        if marker is None:
            raise ValueError("existing='keep' needs a marker file that says the target is complete")
        if (target / marker).exists():
            _remove(tmp)
            return target
        try:
            os.replace(tmp, target)
        except OSError:  # a concurrent writer of the same content got there first
            _remove(tmp)
            if not (target / marker).exists():
                raise
        return target
    if existing == "replace" and tmp.is_dir() and target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
        os.replace(tmp, target)
        _remove(old)
        return target
    os.replace(tmp, target)
    return target


@contextmanager
def atomic_dir(target: Path, *, existing: Existing = "fail", marker: str | None = None) -> Iterator[Path]:
    """A temporary folder beside `target`, moved into place when the block ends without error."""
    target = Path(target)
    with scratch_dir(target.parent, prefix=f".{target.name}.") as tmp:
        yield tmp
        move_into_place(tmp, target, existing=existing, marker=marker)


@contextmanager
def atomic_file(
    target: Path, mode: str = "w", *, encoding: str | None = "utf-8", newline: str | None = None
) -> Iterator[IO[Any]]:
    """An open temporary file beside `target`; synced and renamed over `target` when the block ends
    without error, removed otherwise. `mode` is "w" (text) or "wb"."""
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', not {mode!r}")
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    tmp = Path(name)
    try:
        os.chmod(fd, FILE_MODE)
        text = mode == "w"
        with os.fdopen(
            fd, mode, encoding=encoding if text else None, newline=newline if text else None
        ) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
