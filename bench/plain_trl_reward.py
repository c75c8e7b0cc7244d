"""Plain TRL reward-model training with no Pairwise code: the baseline for bench/reward_overhead.py.

    python bench/plain_trl_reward.py --model DIR --train train.jsonl --eval eval.jsonl --out DIR \
        [--epochs 1] [--lr 1e-5] [--batch-size 8] [--max-length 128] [--seed 0]

The same TRL settings the platform's trainer uses (no activation checkpointing, fp32 on CPU, one
save at the end, one evaluation at the end). Prints one JSON line with the wall time and metrics.
"""

from __future__ import annotations

import argparse
import json
import time

started = time.perf_counter()

import torch  # noqa: E402
from datasets import load_dataset  # noqa: E402
from transformers import AutoModelForSequenceClassification, AutoTokenizer  # noqa: E402
from trl import RewardConfig, RewardTrainer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True)
    parser.add_argument("--train", required=True)
    parser.add_argument("--eval", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--lr", type=float, default=1e-5)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    tokenizer = AutoTokenizer.from_pretrained(args.model)
    tokenizer.pad_token = tokenizer.pad_token or tokenizer.eos_token
    data = load_dataset("json", data_files={"train": args.train, "eval": args.eval})
    model = AutoModelForSequenceClassification.from_pretrained(args.model, num_labels=1, dtype=torch.float32)
    model.config.pad_token_id = tokenizer.pad_token_id

    config = RewardConfig(
        output_dir=args.out,
        num_train_epochs=args.epochs,
        learning_rate=args.lr,
        per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=2 * args.batch_size,
        max_length=args.max_length,
        bf16=torch.cuda.is_available() and torch.cuda.is_bf16_supported(),
        activation_checkpointing=False,
        logging_steps=5,
        eval_strategy="no",
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        dataloader_pin_memory=torch.cuda.is_available(),
        seed=args.seed,
    )
    trainer = RewardTrainer(
        model=model,
        args=config,
        train_dataset=data["train"],
        eval_dataset=data["eval"],
        processing_class=tokenizer,
    )
    train_started = time.perf_counter()
    output = trainer.train()
    train_seconds = time.perf_counter() - train_started
    metrics = trainer.evaluate()
    trainer.save_model(args.out)
    print(
        json.dumps(
            {
                "wall_seconds": round(time.perf_counter() - started, 3),
                "train_seconds": round(train_seconds, 3),
                "steps": trainer.state.global_step,
                "train_loss": output.metrics.get("train_loss"),
                "eval_accuracy": metrics.get("eval_accuracy"),
                "eval_margin": metrics.get("eval_margin"),
            }
        )
    )


if __name__ == "__main__":
    main()
