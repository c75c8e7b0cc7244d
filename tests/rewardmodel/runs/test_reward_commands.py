"""train_reward_model and score_pairs: snapshots, queueing, and clear errors (no training here)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from rewardmodel.models import DatasetSnapshot, JobStatus, TrainingRun
from rewardmodel.registry.snapshots import EVAL_FILE, MANIFEST, TRAIN_FILE
from tests.factories import make_project
from tests.rewardmodel.support.synthetic import judge_marker_pairs


def train(*args: str) -> str:
    out = io.StringIO()
    call_command("train_reward_model", *args, stdout=out)
    return out.getvalue()


def test_it_freezes_a_snapshot_and_queues_the_run_for_a_worker(project, alice, bob, tiny_base, data_dir):
    judge_marker_pairs(project, 30, labelers=(alice, bob))
    printed = train("--project", project.name, "--base", "tiny-base", "--epochs", "3", "--lr", "1e-4")

    run = TrainingRun.objects.get()
    assert run.status == JobStatus.QUEUED and len(run.task_id) == 32
    assert (run.config["epochs"], run.config["lr"], run.base_model) == (3.0, 1e-4, tiny_base)
    assert run.config["batch_size"] is None  # the device decides when the run starts (4 on CPU, 16 on GPU)
    assert f"Run #{run.pk}" in printed and "training` queue" in printed and run.task_id in printed

    snap = run.snapshot
    folder = Path(snap.path)
    assert folder.parent == data_dir / "snapshots" and folder.name == snap.content_hash[:20]
    assert (snap.n_examples, snap.n_eval_examples, snap.n_judgments, snap.n_labelers) == (27, 3, 60, 2)
    rows = [json.loads(line) for line in (folder / TRAIN_FILE).read_text().splitlines()]
    assert len(rows) == 27 and rows[0]["prompt"][0]["role"] == "user"  # conversational form
    assert rows[0]["chosen"][0]["role"] == "assistant"
    assert len((folder / EVAL_FILE).read_text().splitlines()) == 3
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["files_hash"] == snap.content_hash and manifest["n_judgments"] == 60

    # Same data, same filters: the snapshot is reused, not copied.
    train("--project", project.name, "--base", "tiny-base")
    assert DatasetSnapshot.objects.count() == 1 and TrainingRun.objects.count() == 2
    assert len(list((data_dir / "snapshots").iterdir())) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--project", "Nope"], "No project named 'Nope'. Projects: Helpfulness"),
        (["--base", "no-such-model"], "No registered model 'no-such-model'"),
        (["--lr", "-1", "--batch-size", "0"], "lr must be positive; got -1.0; batch_size must be at least 1"),
        (["--eval-fraction", "1.5"], "eval_fraction must be at least 0 and below 1"),
        (["--name", "tiny-base"], "A model named 'tiny-base' already exists"),
    ],
)
def test_it_explains_bad_arguments_and_creates_nothing(project, alice, tiny_base, args, message):
    judge_marker_pairs(project, 20, labelers=(alice,))
    base = ["--project", project.name, "--base", "tiny-base"]
    with pytest.raises(CommandError, match=message):
        train(*base, *args)
    assert not TrainingRun.objects.exists() and not DatasetSnapshot.objects.exists()


def test_it_refuses_a_project_without_enough_pairs(alice, bob, tiny_base, data_dir):
    empty = make_project("Empty", labelers=(alice,))
    with pytest.raises(CommandError, match="'Empty' has no usable judgments yet"):
        train("--project", "Empty", "--base", "tiny-base")
    small = make_project("Small", labelers=(alice, bob))
    judge_marker_pairs(small, 6, labelers=(alice, bob))
    with pytest.raises(CommandError, match=r"'Small' has 5 training pairs .* at least 8 are needed"):
        train("--project", "Small", "--base", "tiny-base")
    assert not TrainingRun.objects.exists() and empty.pk
    assert not [p for p in (data_dir / "snapshots").iterdir()]  # the export was thrown away


def test_score_pairs_says_what_is_wrong(tiny_base, tiny_reward_dir, tmp_path):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text('{"prompt": "Q", "chosen": "a", "rejected": "b"}\n{"prompt": "Q"}\n')
    with pytest.raises(CommandError, match="is not a reward model"):
        call_command("score_pairs", str(pairs), "--model", "tiny-base")
    with pytest.raises(CommandError, match="pairs.jsonl:2: missing 'chosen'"):
        call_command("score_pairs", str(pairs), "--model", str(tiny_reward_dir))
    with pytest.raises(CommandError, match="No registered model 'ghost'"):
        call_command("score_pairs", str(pairs), "--model", "ghost")


@pytest.mark.ml
def test_score_pairs_prints_accuracy_and_margin_for_trl_and_hh_files(tiny_reward_dir, tmp_path):
    trl = tmp_path / "trl.jsonl"
    trl.write_text(json.dumps({"prompt": "Hi", "chosen": "Hello!", "rejected": "Go away."}) + "\n")
    hh = tmp_path / "hh.jsonl"
    hh.write_text(
        json.dumps(
            {
                "chosen": "\n\nHuman: Hi\n\nAssistant: Hello!",
                "rejected": "\n\nHuman: Hi\n\nAssistant: Go away.",
            }
        )
        + "\n"
    )
    outputs = []
    for path, fmt in ((trl, "trl"), (hh, "hh")):
        out = io.StringIO()
        call_command("score_pairs", str(path), "--model", str(tiny_reward_dir), "--format", fmt, stdout=out)
        outputs.append(out.getvalue())
    assert (
        outputs[0].startswith("1 pairs scored by")
        and "accuracy " in outputs[0]
        and "mean margin " in outputs[0]
    )
    # The same pair in both formats is the same text for the model: the same numbers.
    assert outputs[0].split(",")[0:2] == outputs[1].split(",")[0:2]
