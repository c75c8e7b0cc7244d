"""Accuracy and format rate of a policy on verifiable prompts: one code path for the base model,
every trained policy, and the held-out checks inside a GRPO run, so their numbers compare.

Greedy decoding with `samples=1`; with `samples=K>1`, K sampled completions per prompt and the
mean accuracy over them. Generation is batched with left padding (decoder-only models continue
from the right edge).

    from rewardmodel.training.evaluate import evaluate_model_dir
    result = evaluate_model_dir("var/models/smollm2-135m-instruct", examples)
    print(result.accuracy, result.format_rate)

No Django; torch and transformers are imported inside functions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rewardmodel.training.rule_rewards import accuracy, format


@dataclass
class EvalResult:
    n_prompts: int
    samples_per_prompt: int
    accuracy: float  # mean over all completions
    format_rate: float  # share of completions in the exact R1 format
    mean_length: float  # completion tokens
    # Per prompt: question, answer, completions, and the accuracy/format of each completion.
    items: list[dict[str, Any]] = field(default_factory=list)
    generation: dict[str, Any] = field(default_factory=dict)

    def as_dict(self, *, with_items: bool = False) -> dict[str, Any]:
        data = asdict(self)
        if not with_items:
            data.pop("items")
        return data

    def sample_strings(self, k: int = 4) -> list[str]:
        """A few completions as readable strings (for metrics timelines and reports)."""
        return [
            f"Q: {item['question']} (answer {item['answer']})\n{item['completions'][0]}"
            for item in self.items[:k]
        ]


def evaluate_examples(
    model: Any,
    tokenizer: Any,
    examples: Sequence[dict[str, Any]],
    *,
    samples: int = 1,
    temperature: float = 0.8,
    top_p: float = 1.0,
    max_new_tokens: int = 96,
    batch_size: int = 16,
    seed: int = 0,
    on_batch: Callable[[int, int], None] | None = None,
) -> EvalResult:
    """Generate for `examples` ({"prompt": messages, "answer": str, "question": str}, as built by
    `verifiable.build_examples`) and score them with the `accuracy` and `format` rewards.

    `model` is a loaded causal LM (it is put in eval mode and restored afterwards, so a trainer can
    call this mid-run); `tokenizer` its tokenizer. `on_batch(done, total)` reports progress.
    """
    import torch

    if samples < 1:
        raise ValueError("samples must be at least 1.")
    if not examples:
        return EvalResult(0, samples, 0.0, 0.0, 0.0)
    was_training = model.training
    padding_side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    model.eval()
    greedy = samples == 1
    gen_kwargs: dict[str, Any] = {
        "max_new_tokens": max_new_tokens,
        "do_sample": not greedy,
        "pad_token_id": tokenizer.pad_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "num_return_sequences": samples,
        "use_cache": True,
    }
    if greedy:
        # Neutralise sampling settings a model's generation_config may carry, so greedy is greedy.
        gen_kwargs.update(temperature=None, top_p=None, top_k=None)
    else:
        gen_kwargs.update(temperature=temperature, top_p=top_p, top_k=0)
    device = next(model.parameters()).device
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    items: list[dict[str, Any]] = []
    total_tokens = 0
    try:
        for start in range(0, len(examples), batch_size):
            batch = examples[start : start + batch_size]
            texts = [
                tokenizer.apply_chat_template(ex["prompt"], tokenize=False, add_generation_prompt=True)
                for ex in batch
            ]
            enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
            with torch.inference_mode():
                out = model.generate(**enc, **gen_kwargs)
            new = out[:, enc["input_ids"].shape[1] :]
            total_tokens += int(
                _completion_lengths(new, {tokenizer.eos_token_id, tokenizer.pad_token_id}).sum()
            )
            decoded = tokenizer.batch_decode(new, skip_special_tokens=True)
            for j, ex in enumerate(batch):
                completions = decoded[j * samples : (j + 1) * samples]
                answers = [ex["answer"]] * samples
                items.append(
                    {
                        "question": ex.get("question", ""),
                        "answer": ex["answer"],
                        "completions": completions,
                        "accuracy": accuracy(completions, answer=answers),
                        "format": format(completions),
                    }
                )
            if on_batch:
                on_batch(min(start + batch_size, len(examples)), len(examples))
    finally:
        torch.random.set_rng_state(generator_state)
        tokenizer.padding_side = padding_side
        if was_training:
            model.train()
    n = len(items) * samples
    return EvalResult(
        n_prompts=len(items),
        samples_per_prompt=samples,
        accuracy=sum(sum(i["accuracy"]) for i in items) / n,
        format_rate=sum(sum(i["format"]) for i in items) / n,
        mean_length=total_tokens / n,
        items=items,
        generation={
            "decoding": "greedy" if greedy else "sampled",
            "temperature": None if greedy else temperature,
            "top_p": None if greedy else top_p,
            "max_new_tokens": max_new_tokens,
            "seed": seed,
        },
    )


def _completion_lengths(new_tokens: Any, stop_ids: set[int]) -> Any:
    """Tokens up to and including the first stop token (all of them when none was produced)."""
    import torch

    stop = torch.isin(new_tokens, torch.tensor(sorted(stop_ids), device=new_tokens.device))
    full = torch.full_like(stop[:, 0], new_tokens.shape[1], dtype=torch.long)
    return torch.where(stop.any(1), stop.int().argmax(1) + 1, full)


def evaluate_model_dir(
    model_dir: str | Path,
    examples: Sequence[dict[str, Any]],
    *,
    tokenizer_dir: str | Path | None = None,
    device: str | None = None,
    **kwargs: Any,
) -> EvalResult:
    """Load a checkpoint folder and run `evaluate_examples` on it."""
    from transformers import AutoModelForCausalLM

    from rewardmodel.training.base_model import load_tokenizer
    from rewardmodel.training.devices import default_dtype, pick_device

    device = pick_device(device)
    tokenizer = load_tokenizer(tokenizer_dir or model_dir, padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=default_dtype(device)).to(device)
    return evaluate_examples(model, tokenizer, examples, **kwargs)
