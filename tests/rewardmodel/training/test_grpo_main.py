"""GRPO from a shell: `python -m rewardmodel.training.grpo` (main) with no Django in the way."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys

import pytest

from rewardmodel.training.grpo import main


def test_it_prints_its_options():
    done = subprocess.run(
        [sys.executable, "-m", "rewardmodel.training.grpo", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    for option in ("--model", "--prompts", "--heldout", "--out", "--rewards", "--steps", "--num-generations"):
        assert option in done.stdout


def test_it_refuses_a_bad_config_with_a_message(tmp_path, capsys):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(json.dumps({"question": "What's 1 plus 1?", "answer": "2"}) + "\n")
    code = main(
        ["--model", str(tmp_path), "--prompts", str(prompts), "--out", str(tmp_path / "out"), "--steps", "0"]
    )
    assert code == 2
    assert "steps must be at least 1" in capsys.readouterr().err


@pytest.mark.ml
def test_it_trains_a_tiny_policy_from_gzipped_prompts(tiny_policy_dir, tmp_path, capsys):
    prompts = tmp_path / "prompts.jsonl.gz"
    with gzip.open(prompts, "wt", encoding="utf-8") as fh:
        for i in range(4):
            fh.write(json.dumps({"question": f"What's {i} plus 1?", "answer": str(i + 1)}) + "\n")
    out = tmp_path / "out" / "policy"
    code = main(
        [
            "--model", str(tiny_policy_dir), "--prompts", str(prompts), "--out", str(out),
            "--steps", "1", "--num-generations", "2", "--batch-size", "4",
            "--max-completion-length", "4", "--eval-every", "0", "--device", "cpu",
        ]
    )  # fmt: skip
    assert code == 0
    assert (out / "config.json").exists() and (out / "pairwise_grpo.json").exists()
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["policy"]  # no temporary folder left
    assert json.loads(capsys.readouterr().out)["steps"] == 1
