"""score_pairs reads what import_data reads: .jsonl and .jsonl.gz alike, HH pairs that part early."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

HH_QUIRKS = Path(__file__).resolve().parents[2] / "fixtures" / "hh_quirks.jsonl"


def test_score_pairs_reads_a_gzipped_file_and_names_its_bad_line(tiny_reward_dir, tmp_path):
    # Before: UnicodeDecodeError on the gzip's first byte.
    path = tmp_path / "pairs.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"prompt": "Q", "chosen": "a", "rejected": "b"}\n{"prompt": "Q"}\n'))
    with pytest.raises(CommandError, match=r"pairs.jsonl.gz:2: missing 'chosen'"):
        call_command("score_pairs", str(path), "--model", str(tiny_reward_dir))


def test_score_pairs_applies_the_import_limits(tiny_reward_dir, tmp_path, settings):
    settings.PAIRWISE_IMPORT_MAX_LINE_BYTES = 64
    path = tmp_path / "pairs.jsonl.gz"
    path.write_bytes(
        gzip.compress(json.dumps({"prompt": "Q" * 100, "chosen": "a", "rejected": "b"}).encode())
    )
    with pytest.raises(
        CommandError, match=r"line 1 is longer than 64 bytes .*PAIRWISE_IMPORT_MAX_LINE_BYTES"
    ):
        call_command("score_pairs", str(path), "--model", str(tiny_reward_dir))


@pytest.mark.ml
def test_score_pairs_scores_a_gzipped_hh_file_with_pairs_that_part_early(tiny_reward_dir, tmp_path):
    packed = tmp_path / "hh.jsonl.gz"
    packed.write_bytes(gzip.compress(HH_QUIRKS.read_bytes()))
    outputs = []
    for path in (HH_QUIRKS, packed):
        out = io.StringIO()
        call_command(
            "score_pairs",
            str(path),
            *("--model", str(tiny_reward_dir), "--format", "hh", "--skip-invalid", "--json"),
            stdout=out,
        )
        outputs.append(json.loads(out.getvalue()))
    assert outputs[0]["n_pairs"] == outputs[1]["n_pairs"] == 4
    assert outputs[0]["accuracy"] == outputs[1]["accuracy"]
    assert outputs[0]["mean_margin"] == pytest.approx(outputs[1]["mean_margin"])
