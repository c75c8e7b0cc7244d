"""Rule-based GRPO on arithmetic with the real SmolLM2-135M-Instruct, within a wall-clock budget:
held-out accuracy and format rate (greedy) before and after, with the config printed.

    python bench/grpo_arithmetic.py                      # 30-minute budget, easy problems
    python bench/grpo_arithmetic.py --minutes 8          # a shorter run
    python bench/grpo_arithmetic.py --minutes 8 --template short --rewards accuracy,format_partial

The budget covers everything after the model is converted: the held-out check before, GRPO
steps until the budget minus a reserve for the check after, and the check after. The checks use
the same code as `manage.py evaluate_policy` (rewardmodel/training/evaluate.py). No database.

CPU notes: on a busy machine one torch thread is several times faster than two that fight for
the cores (`--threads auto` picks 1 when the load average exceeds the core count).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rewardmodel.training.arithmetic import generate_problems  # noqa: E402
from rewardmodel.training.verifiable import PromptTemplate, build_examples  # noqa: E402

SHORT_USER = "{question} Think inside <think></think>, then give only the number inside <answer></answer>."


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=30.0, help="wall-clock budget (30)")
    p.add_argument("--level", default="easy", help="easy | medium | hard (easy)")
    p.add_argument("--train", type=int, default=256, help="training problems (256)")
    p.add_argument("--heldout", type=int, default=48, help="held-out problems (48)")
    p.add_argument("--max-steps", type=int, default=10_000, help="stop earlier than the budget")
    p.add_argument("--num-generations", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=16, help="completions per step")
    p.add_argument("--max-completion-length", type=int, default=48)
    p.add_argument("--lr", type=float, default=1e-5)
    p.add_argument("--beta", type=float, default=0.0)
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--rewards", default="accuracy,format_partial")
    p.add_argument(
        "--template", choices=["r1", "short"], default="r1", help="R1 system prompt, or a short user hint"
    )
    p.add_argument("--threads", default="auto", help="torch threads, or auto")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast (GPU default; CPUs with AVX512-BF16)")
    p.add_argument(
        "--cold-start",
        type=int,
        default=0,
        help="first fine-tune on N training problems written in the template (DeepSeek-R1's 'cold start')",
    )
    p.add_argument("--cold-start-epochs", type=float, default=2.0)
    p.add_argument("--cold-start-lr", type=float, default=5e-5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", default=os.environ.get("PAIRWISE_DATA_DIR", "var"))
    p.add_argument("--model-dir", help="a converted SmolLM2 folder (default: <data-dir>/models/...)")
    p.add_argument("--keep", help="keep the trained policy in this folder")
    return p.parse_args()


def worked_solution(problem: dict) -> str:
    """The answer in the R1 template, with the computation as the reasoning."""
    a, op, b, answer = problem["a"], problem["op"], problem["b"], problem["answer"]
    return f"<think>{a} {op} {b} = {answer}</think>\n<answer>{answer}</answer>"


def cold_start(model_dir: Path, problems: list[dict], template: PromptTemplate, out_dir: Path, args) -> Path:
    """A short supervised pass (TRL SFTTrainer, loss on the completion only) on worked solutions in
    the template's format, so that GRPO starts from a policy that sometimes produces the format."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    from rewardmodel.training.base_model import load_tokenizer

    rows = [
        {
            "prompt": template.messages(p["question"]),
            "completion": [{"role": "assistant", "content": worked_solution(p)}],
        }
        for p in problems
    ]
    tokenizer = load_tokenizer(model_dir)
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32)
    sft_args = SFTConfig(
        output_dir=str(out_dir / "sft-trainer"),
        num_train_epochs=args.cold_start_epochs,
        per_device_train_batch_size=8,
        learning_rate=args.cold_start_lr,
        lr_scheduler_type="constant",
        logging_steps=1000,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        seed=args.seed,
        bf16=bool(args.bf16),
        use_cpu=not torch.cuda.is_available(),
        activation_checkpointing=False,
        max_length=512,
    )
    trainer = SFTTrainer(
        model=model, args=sft_args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer
    )
    trainer.train()
    target = out_dir / "cold-start"
    trainer.save_model(str(target))
    tokenizer.save_pretrained(str(target))
    return target


def main() -> None:
    args = parse_args()
    started = time.monotonic()
    import torch

    from rewardmodel.training.base_model import ensure_smollm2
    from rewardmodel.training.evaluate import evaluate_model_dir
    from rewardmodel.training.grpo import GrpoConfig, train_grpo

    cores = os.cpu_count() or 1
    load = os.getloadavg()[0]
    threads = (1 if load > cores else cores) if args.threads == "auto" else int(args.threads)
    torch.set_num_threads(threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"

    # ---- data ------------------------------------------------------------------------------------
    model_dir = (
        Path(args.model_dir)
        if args.model_dir
        else ensure_smollm2(Path(args.data_dir) / "models" / "smollm2-135m-instruct")
    )
    problems = generate_problems(level=args.level, n_train=args.train, n_heldout=args.heldout, seed=args.seed)
    train = [p.as_dict() for p in problems if p.split == "train"]
    heldout = [p.as_dict() for p in problems if p.split == "heldout"]
    template = PromptTemplate() if args.template == "r1" else PromptTemplate(system="", user=SHORT_USER)
    heldout_examples = build_examples(heldout, template)
    eval_kwargs = dict(max_new_tokens=args.max_completion_length, batch_size=16, seed=args.seed)

    budget = args.minutes * 60
    out_root = Path(tempfile.mkdtemp(prefix="grpo-bench-"))
    config = GrpoConfig(
        model_dir=str(model_dir),
        output_dir=str(out_root / "policy"),
        prompts=train,
        heldout=[],  # checked before and after below, with the evaluate_policy code
        rewards=[r.strip() for r in args.rewards.split(",")],
        template=template.as_dict(),
        num_generations=args.num_generations,
        batch_size=args.batch_size,
        steps=args.max_steps,
        lr=args.lr,
        beta=args.beta,
        measure_kl=True,
        max_completion_length=args.max_completion_length,
        temperature=args.temperature,
        eval_every=0,
        seed=args.seed,
        bf16=args.bf16 or None,
    )
    shown = {k: v for k, v in config.describe().items() if k not in ("model_dir", "output_dir")}
    print("== GRPO on arithmetic, SmolLM2-135M-Instruct")
    print(
        json.dumps(
            {
                "budget_minutes": args.minutes,
                "level": args.level,
                "train_problems": len(train),
                "heldout_problems": len(heldout),
                "device": device,
                "torch_threads": threads,
                "cores": cores,
                "load_average_at_start": round(load, 2),
                "cold_start": {
                    "problems": args.cold_start,
                    "epochs": args.cold_start_epochs,
                    "lr": args.cold_start_lr,
                }
                if args.cold_start
                else None,
                "grpo": shown,
            },
            indent=1,
        ),
        flush=True,
    )

    # ---- before ----------------------------------------------------------------------------------
    t = time.monotonic()
    before = evaluate_model_dir(model_dir, heldout_examples, **eval_kwargs)
    eval_seconds = time.monotonic() - t
    print(
        f"before: held-out accuracy {before.accuracy:.3f}, format rate {before.format_rate:.3f}, "
        f"mean length {before.mean_length:.1f} tokens ({eval_seconds:.0f} s for {before.n_prompts} prompts)",
        flush=True,
    )

    # ---- optional cold start -------------------------------------------------------------------
    start_dir, after_sft = model_dir, None
    if args.cold_start:
        t = time.monotonic()
        start_dir = cold_start(model_dir, train[: args.cold_start], template, out_root, args)
        sft_seconds = time.monotonic() - t
        after_sft = evaluate_model_dir(start_dir, heldout_examples, **eval_kwargs)
        config.model_dir = str(start_dir)
        print(
            f"cold start on {min(args.cold_start, len(train))} worked training problems ({sft_seconds:.0f} s): "
            f"held-out accuracy {after_sft.accuracy:.3f}, format rate {after_sft.format_rate:.3f}, "
            f"mean length {after_sft.mean_length:.1f} tokens",
            flush=True,
        )

    # ---- GRPO until the budget minus a reserve for the check after --------------------------------
    reserve = 1.3 * eval_seconds + 30
    config.max_seconds = max(1.0, budget - (time.monotonic() - started) - reserve)

    class PrintReporter:
        def __init__(self) -> None:
            self.t0 = time.monotonic()

        def log(self, step, metrics):
            keys = [k for k in metrics if k.startswith("reward/") and k not in ("reward/std",)]
            keys += ["format_rate", "kl", "completion_length", "zero_std_fraction"]
            parts = [f"{k} {metrics[k]:.3f}" for k in keys if isinstance(metrics.get(k), float)]
            print(f"step {step:4d} {time.monotonic() - self.t0:6.0f} s  " + "  ".join(parts), flush=True)

        def progress(self, done, total, message=""):
            pass

        def should_stop(self):
            return False

    result = train_grpo(config, PrintReporter())

    # ---- after -----------------------------------------------------------------------------------
    after = evaluate_model_dir(result.output_dir, heldout_examples, **eval_kwargs)
    wall = time.monotonic() - started
    s = result.summary
    print(
        f"after:  held-out accuracy {after.accuracy:.3f}, format rate {after.format_rate:.3f}, "
        f"mean length {after.mean_length:.1f} tokens"
    )
    print("== result")
    print(
        json.dumps(
            {
                "steps": result.steps,
                "train_budget_seconds": round(config.max_seconds, 1),
                "completions_trained_on": result.examples_seen,
                "train_seconds": round(result.wall_seconds, 1),
                "seconds_per_step": round(result.wall_seconds / max(1, result.steps), 1),
                "total_seconds": round(wall, 1),
                "heldout_accuracy_before_after": [round(before.accuracy, 3), round(after.accuracy, 3)],
                "heldout_format_rate_before_after": [
                    round(before.format_rate, 3),
                    round(after.format_rate, 3),
                ],
                "heldout_after_cold_start": None
                if after_sft is None
                else {
                    "accuracy": round(after_sft.accuracy, 3),
                    "format_rate": round(after_sft.format_rate, 3),
                },
                "train_reward_first_vs_last_steps": {
                    k[len("first/") :]: [round(s[k], 3), round(s["last/" + k[len("first/") :]], 3)]
                    for k in s
                    if k.startswith("first/reward/") and s[k] is not None
                },
                "train_format_rate_first_vs_last": [s.get("first/format_rate"), s.get("last/format_rate")],
                "kl_last": s.get("last/kl"),
                "load_average_at_end": round(os.getloadavg()[0], 2),
            },
            indent=1,
        )
    )
    for item in after.items[:3]:
        print(f"sample after: Q: {item['question']} (answer {item['answer']}) -> {item['completions'][0]!r}")
    if args.keep:
        shutil.move(result.output_dir, args.keep)
    shutil.rmtree(out_root, ignore_errors=True)


if __name__ == "__main__":
    main()
