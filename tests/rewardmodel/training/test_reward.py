"""The Django-free reward trainer and scorer, on a tiny model (seconds on CPU)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pairwise.progress import Cancelled, ListReporter
from rewardmodel.training.reward import CONFIG_FILE, RewardConfig, train_reward
from tests.rewardmodel.support.synthetic import marker_pairs, write_jsonl

pytestmark = pytest.mark.ml

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def marker_files(tmp_path):
    return (
        write_jsonl(tmp_path / "train.jsonl", marker_pairs(48, seed=1)),
        write_jsonl(tmp_path / "eval.jsonl", marker_pairs(16, seed=2)),
    )


def _config(model_dir, files, out, **options) -> RewardConfig:
    train, evals = files
    values = {"lr": 2e-3, "epochs": 1, "batch_size": 8, "logging_steps": 2} | options
    return RewardConfig(
        model_dir=str(model_dir), train_file=str(train), eval_file=str(evals), output_dir=str(out), **values
    )


def test_it_scores_the_eval_split_as_trl_does_and_saves_a_loadable_checkpoint(
    tiny_policy_dir, marker_files, tmp_path
):
    from pairwise.files.pairs import read_pairs
    from rewardmodel.training.scoring import score_pairs

    out = tmp_path / "rm"
    reporter = ListReporter()
    # 48 pairs / batch 8 = 6 steps; TRL evaluates at step 6 with eval batches of 8 (16 pairs: no
    # short batch, so its mean of batch means equals the plain mean).
    result = train_reward(
        _config(tiny_policy_dir, marker_files, out, eval_steps=6, eval_batch_size=8), reporter
    )

    trl_eval = [m for _, m in reporter.logs if "eval_loss" in m][-1]
    assert result.eval_accuracy == pytest.approx(trl_eval["eval_accuracy"])
    assert result.eval_margin == pytest.approx(trl_eval["eval_margin"], abs=1e-4)
    assert result.steps == 6 and result.examples_seen == 48 and result.tokens_seen > 48 * 2 * 10
    assert [s for s, m in reporter.logs if "loss" in m] == [2, 4, 6]

    saved = json.loads((out / CONFIG_FILE).read_text())
    assert saved["lr"] == 2e-3 and saved["max_length"] == 256  # CPU default filled in
    again = score_pairs(out, read_pairs(marker_files[1]), batch_size=4)
    assert again.accuracy == pytest.approx(result.eval_accuracy)
    assert again.mean_margin == pytest.approx(result.eval_margin, abs=1e-4)
    assert not list(tmp_path.glob(".rm*"))  # no partial folder left beside it


def test_it_stops_at_the_next_step_when_asked_and_leaves_no_checkpoint(
    tiny_policy_dir, marker_files, tmp_path
):
    out = tmp_path / "rm"
    reporter = ListReporter(stop_after=2)
    with pytest.raises(Cancelled, match="step 2"):
        train_reward(_config(tiny_policy_dir, marker_files, out), reporter)
    assert reporter.last_progress == (2, 6)
    assert not out.exists() and not list(tmp_path.glob(".rm*"))


class _ExplodingReporter(ListReporter):
    def progress(self, done, total, message=""):
        super().progress(done, total, message)
        if done == 3:
            raise RuntimeError("disk on fire at step 3")


def test_it_removes_the_partial_checkpoint_when_training_crashes(tiny_policy_dir, marker_files, tmp_path):
    out = tmp_path / "rm"
    with pytest.raises(RuntimeError, match="disk on fire"):
        train_reward(_config(tiny_policy_dir, marker_files, out), _ExplodingReporter())
    assert not out.exists() and not list(tmp_path.glob(".rm*"))


def test_it_refuses_a_bad_config_before_loading_anything(tiny_policy_dir, marker_files, tmp_path):
    cfg = _config(tiny_policy_dir, marker_files, tmp_path / "rm", lr=-1.0, batch_size=0)
    with pytest.raises(ValueError, match="lr must be positive.*batch_size must be at least 1"):
        train_reward(cfg)
    cfg = _config(tiny_policy_dir, (tmp_path / "nope.jsonl", marker_files[1]), tmp_path / "rm")
    with pytest.raises(ValueError, match="nope.jsonl: no such file"):
        train_reward(cfg)
    with pytest.raises(ValueError, match="Unknown reward config keys: learning_rate"):
        RewardConfig.from_dict({"model_dir": "m", "train_file": "t", "output_dir": "o", "learning_rate": 1})
    assert RewardConfig("m", "t", "o", lr="fast").option_problems() == ["lr must be a number; got 'fast'"]
    assert not (tmp_path / "rm").exists()


def test_it_trains_on_every_pair_cutting_the_long_ones_to_fit(tiny_policy_dir, marker_files, tmp_path):
    """TRL would leave out every one of these 48 pairs at 48 tokens; they are cut to fit instead."""
    from pairwise.files.pairs import read_pairs
    from rewardmodel.training.base_model import load_tokenizer
    from rewardmodel.training.reward import fitted_rows

    tokenizer = load_tokenizer(tiny_policy_dir)
    pairs = read_pairs(marker_files[0])
    rows, cut = fitted_rows(pairs, tokenizer, 48)
    assert cut == 48 and all(len(r["chosen_ids"]) <= 48 and len(r["rejected_ids"]) <= 48 for r in rows)
    result = train_reward(_config(tiny_policy_dir, marker_files, tmp_path / "rm", max_length=48))
    assert result.train_pairs == 48 and result.truncated_pairs == 48 and result.examples_seen == 48


def test_its_rows_are_trls_own_tokenization_when_nothing_is_cut(tiny_policy_dir, marker_files, tmp_path):
    """fitted_rows tokenizes as RewardTrainer would (chat template, EOS): only the cut differs."""
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification
    from trl import RewardConfig as TRLRewardConfig
    from trl import RewardTrainer

    from pairwise.files.pairs import read_pairs
    from rewardmodel.training.base_model import load_tokenizer
    from rewardmodel.training.reward import fitted_rows
    from rewardmodel.training.scoring import trl_row

    tokenizer = load_tokenizer(tiny_policy_dir)
    pairs = read_pairs(marker_files[0])[:8]
    model = AutoModelForSequenceClassification.from_pretrained(tiny_policy_dir, num_labels=1)
    model.config.pad_token_id = tokenizer.pad_token_id
    trainer = RewardTrainer(
        model=model,
        args=TRLRewardConfig(output_dir=str(tmp_path / "trl"), max_length=4096, report_to="none", bf16=False),
        train_dataset=Dataset.from_list([trl_row(p, tokenizer) for p in pairs]),
        processing_class=tokenizer,
    )
    ours, cut = fitted_rows(pairs, tokenizer, 4096)
    assert cut == 0
    assert [r["chosen_ids"] for r in ours] == trainer.train_dataset["chosen_ids"]
    assert [r["rejected_ids"] for r in ours] == trainer.train_dataset["rejected_ids"]


def test_it_runs_from_the_command_line_under_accelerate_launch(tiny_policy_dir, marker_files, tmp_path):
    out = tmp_path / "rm"
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(_config(tiny_policy_dir, marker_files, out, max_steps=2).as_dict()))
    launcher = [sys.executable, "-m", "accelerate.commands.launch", "--cpu", "--num_processes", "1"]
    launcher += ["--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    proc = subprocess.run(
        [*launcher, "-m", "rewardmodel.training.reward", "--config", str(cfg)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    printed = json.loads(proc.stdout[proc.stdout.index("{") :])
    assert printed["steps"] == 2 and printed["output_dir"] == str(out)
    assert (out / "model.safetensors").exists() and (out / CONFIG_FILE).exists()

    bad = subprocess.run(
        [sys.executable, "-m", "rewardmodel.training.reward", "--config", str(cfg)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "already exists" in bad.stderr
