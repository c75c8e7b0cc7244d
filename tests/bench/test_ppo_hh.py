"""bench/ppo_hh.py on the shipped made-up HH sample, with a tiny model: every number of the report is
there (the real SmolLM2 run is in the report). bench/ppo_overhead.py runs the same trainer twice and
is left to the bench itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "bench" / "data" / "hh_sample.jsonl"

pytestmark = pytest.mark.ml


def test_the_ppo_bench_trains_a_reward_model_then_ppo_and_reports_every_number(smol_tokenizer_dir, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    small = ["--pairs", "20", "--batch-size", "8", "--response-length", "8", "--ppo-epochs", "1"]
    small += ["--rm-max-length", "256", "--minutes", "0.05", "--device", "cpu"]
    proc = subprocess.run(
        [sys.executable, "bench/ppo_hh.py", str(SAMPLE), "--tiny", "--tokenizer-dir", str(smol_tokenizer_dir)]
        + [*small, "--data-dir", str(tmp_path / "bench")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert "40 pairs; using 20: 16 to train, 4 held out" in out
    assert "held-out accuracy " in out and "on 4 pairs" in out
    assert "RM score " in out and "mean length " in out and "KL to the start " in out
    assert "(stopped by the budget: True)" in out
    assert "reward hacking: not flagged" in out
    assert "python manage.py train_policy --algo ppo --project hh-ppo" in out and "--max-minutes 0.05" in out
    assert "python manage.py import_data" in out and "--split heldout" in out

    report = json.loads(out.strip().splitlines()[-1])
    assert report["updates"] >= 1 and report["episodes"] == 8 * report["updates"]
    assert report["rm_heldout_pairs"] == 4
    numbers = [k for k, v in report.items() if k not in ("wall_seconds", "reward_hacking_flagged")]
    for key in numbers:
        values = report[key] if isinstance(report[key], list) else [report[key]]
        assert all(isinstance(v, int | float) for v in values), (key, report[key])
    assert set(report["wall_seconds"]) == {
        "import train",
        "reward model",
        "import heldout",
        "score heldout",
        "ppo",
    }
