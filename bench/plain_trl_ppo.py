"""Plain TRL PPO with no Pairwise code: the baseline for bench/ppo_overhead.py.

    python bench/plain_trl_ppo.py --model DIR --reward-model DIR --prompts train.jsonl --out DIR \
        [--episodes 64] [--batch-size 8] [--mini-batches 1] [--ppo-epochs 4] [--kl-coef 0.05] \
        [--response-length 32] [--temperature 0.7] [--lr 3e-6] [--missing-eos-penalty 1.0] [--seed 0]

What a person would write from TRL 1.12's PPO example: load the policy, a frozen reference, the
reward model and a value model started from it; tokenize the prompts ({"messages": [...]} lines)
with the chat template; PPOConfig + `trl.experimental.ppo.PPOTrainer.train()`; save. The settings
are the platform trainer's (rewardmodel/training/ppo.py): fp32 on CPU, no activation
checkpointing, no sample generations, one log per update, no checkpoints, `<|endoftext|>` as the
pad token (SmolLM2's own pad is its end-of-turn token, which TRL would take for padding). What it
leaves out is what the platform adds: the run record, metrics in the database, the reward read
after the chat template's end-of-turn suffix, held-out checks. Prints one JSON line with the times.
"""

from __future__ import annotations

import argparse
import json
import time

started = time.perf_counter()

import torch  # noqa: E402
from datasets import Dataset  # noqa: E402
from transformers import (  # noqa: E402
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DataCollatorWithPadding,
)
from trl.experimental.ppo import PPOConfig, PPOTrainer  # noqa: E402

PAD, EOS = "<|endoftext|>", "<|im_end|>"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True)
    parser.add_argument("--reward-model", required=True)
    parser.add_argument("--prompts", required=True, help='JSONL of {"messages": [...]}')
    parser.add_argument("--out", required=True)
    parser.add_argument("--episodes", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--mini-batches", type=int, default=1)
    parser.add_argument("--ppo-epochs", type=int, default=4)
    parser.add_argument("--kl-coef", type=float, default=0.05)
    parser.add_argument("--response-length", type=int, default=32)
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--lr", type=float, default=3e-6)
    parser.add_argument("--missing-eos-penalty", type=float, default=1.0)
    parser.add_argument("--max-prompt-length", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    loaded = time.perf_counter()

    # ---- tokenizer and prompts ----------------------------------------------------------------
    tokenizer = AutoTokenizer.from_pretrained(args.model, padding_side="left")
    tokenizer.eos_token, tokenizer.pad_token = EOS, PAD
    with open(args.prompts, encoding="utf-8") as fh:
        records = [json.loads(line) for line in fh if line.strip()]
    ids = [
        list(
            tokenizer.apply_chat_template(
                r["messages"], add_generation_prompt=True, tokenize=True, return_dict=True
            )["input_ids"]
        )
        for r in records
    ]
    ids = [p for p in ids if len(p) <= args.max_prompt_length]

    # ---- models ---------------------------------------------------------------------------------
    def causal():
        model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32)
        model.generation_config.pad_token_id = tokenizer.pad_token_id
        model.generation_config.eos_token_id = tokenizer.eos_token_id
        return model

    def classifier():
        return AutoModelForSequenceClassification.from_pretrained(
            args.reward_model, num_labels=1, dtype=torch.float32
        )

    policy, reference, reward_model, value_model = (
        causal(),
        causal().eval(),
        classifier().eval(),
        classifier(),
    )

    # ---- train ----------------------------------------------------------------------------------
    config = PPOConfig(
        output_dir=args.out,
        total_episodes=args.episodes,
        per_device_train_batch_size=args.batch_size,
        gradient_accumulation_steps=1,
        num_mini_batches=args.mini_batches,
        num_ppo_epochs=args.ppo_epochs,
        local_rollout_forward_batch_size=min(16, args.batch_size),
        per_device_eval_batch_size=1,
        learning_rate=args.lr,
        kl_coef=args.kl_coef,
        response_length=args.response_length,
        temperature=args.temperature,
        missing_eos_penalty=args.missing_eos_penalty,
        stop_token="eos",
        num_sample_generations=0,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        seed=args.seed,
        data_seed=args.seed,
        bf16=torch.cuda.is_available() and torch.cuda.is_bf16_supported(),
        use_cpu=not torch.cuda.is_available(),
        activation_checkpointing=False,
        reward_model_path=args.reward_model,
        sft_model_path=args.model,
    )
    trainer = PPOTrainer(
        args=config,
        processing_class=tokenizer,
        model=policy,
        ref_model=reference,
        reward_model=reward_model,
        value_model=value_model,
        train_dataset=Dataset.from_dict({"input_ids": ids}),
        eval_dataset=Dataset.from_dict({"input_ids": ids[:1]}),
        data_collator=DataCollatorWithPadding(tokenizer),
    )
    train_started = time.perf_counter()
    trainer.train()
    train_seconds = time.perf_counter() - train_started
    trainer.save_model(args.out)
    done = time.perf_counter()
    print(
        json.dumps(
            {
                "wall_seconds": round(done - started, 3),
                "trainer_seconds": round(done - loaded, 3),  # after imports: load, train, save
                "train_seconds": round(train_seconds, 3),
                "updates": trainer.state.global_step,
                "episodes": trainer.state.episode,
                "prompts": len(ids),
            }
        )
    )


if __name__ == "__main__":
    main()
