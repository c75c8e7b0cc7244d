"""bench/reward_hh.py on the shipped made-up HH sample, with a tiny model (the real run is in the report)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "bench" / "data" / "hh_sample.jsonl"

pytestmark = pytest.mark.ml


def test_the_hh_bench_imports_trains_and_scores_the_sample(tiny_policy_dir, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    proc = subprocess.run(
        [sys.executable, "bench/reward_hh.py", str(SAMPLE), "--base", str(tiny_policy_dir), "--lr", "1e-3"]
        + ["--max-length", "256", "--data-dir", str(tmp_path / "bench")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert "40 pairs; using 40: 32 to train, 8 held out" in out
    assert "import_data" not in out  # steps are named, not echoed
    assert "trained on 32 pairs (0 cut to fit 256 tokens, none left out)" in out
    assert "held-out accuracy " in out and "on 8 pairs" in out


def test_the_importer_and_the_scorer_read_hh_pairs_alike():
    """import_data (annotate.importing.parse) and score_pairs (pairwise.files.pairs) parse HH
    separately; the held-out score is only comparable if they agree."""
    from annotate.importing.parse import parse_records
    from pairwise.files.pairs import read_pairs

    imported = parse_records(SAMPLE, fmt="hh").records
    scored = read_pairs(SAMPLE, fmt="hh")
    assert len(imported) == len(scored) == 40
    for record, pair in zip(imported, scored, strict=True):
        assert record.messages == pair["prompt"]
        chosen, rejected = (record.responses[i].text for i in record.preference)
        assert (chosen, rejected) == (pair["chosen"][0]["content"], pair["rejected"][0]["content"])
