"""Write beside, then rename (pairwise.files.atomic): whole or absent, and what an existing
target becomes under each policy."""

from __future__ import annotations

import stat

import pytest

from pairwise.files.atomic import atomic_dir, atomic_file, move_into_place, partial_dir, scratch_dir


def test_it_writes_a_file_whole_and_readable(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    with atomic_file(target) as fh:
        fh.write("hello\n")
    assert target.read_text() == "hello\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert [p.name for p in target.parent.iterdir()] == ["out.txt"]


def test_it_leaves_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_file(target) as fh:
        fh.write("half")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_it_moves_a_folder_into_place_or_removes_it(tmp_path):
    with atomic_dir(tmp_path / "model") as tmp:
        (tmp / "config.json").write_text("{}")
    assert (tmp_path / "model" / "config.json").exists()
    with pytest.raises(RuntimeError), atomic_dir(tmp_path / "other") as tmp:
        raise RuntimeError("boom")
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_it_keeps_a_complete_folder_and_replaces_when_asked(tmp_path):
    target = tmp_path / "snap"
    target.mkdir()
    (target / "train.jsonl").write_text("first")
    with atomic_dir(target, existing="keep", marker="train.jsonl") as tmp:
        (tmp / "train.jsonl").write_text("second")
    assert (target / "train.jsonl").read_text() == "first"
    with atomic_dir(target, existing="replace") as tmp:
        (tmp / "train.jsonl").write_text("third")
    assert (target / "train.jsonl").read_text() == "third"
    with pytest.raises(OSError), atomic_dir(target) as tmp:  # "fail": a folder is never overwritten
        (tmp / "train.jsonl").write_text("fourth")
    assert (target / "train.jsonl").read_text() == "third"
    assert [p.name for p in tmp_path.iterdir()] == ["snap"]


def test_it_raises_when_an_incomplete_folder_is_in_the_way(tmp_path):
    (tmp_path / "snap").mkdir()
    (tmp_path / "snap" / "stray").write_text("")
    with scratch_dir(tmp_path, prefix=".x-") as tmp, pytest.raises(OSError):
        (tmp / "train.jsonl").write_text("new")
        move_into_place(tmp, tmp_path / "snap", existing="keep", marker="train.jsonl")
    assert [p.name for p in tmp_path.iterdir()] == ["snap"]


def test_it_names_the_partial_folder_the_same_in_every_process(tmp_path):
    assert partial_dir(tmp_path / "rm") == tmp_path / ".rm.partial"
