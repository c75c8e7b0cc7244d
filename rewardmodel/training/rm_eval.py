"""A policy measured against a reward model: greedy responses to held-out prompts, their mean
reward-model score, mean length and KL to a reference policy. One code path for every policy
(base, SFT, PPO, GRPO), for `evaluate_policy --reward-model` and for the held-out checks inside a
PPO run, so their numbers compare.

    from rewardmodel.training.rm_eval import rm_evaluate_dirs
    result = rm_evaluate_dirs("var/models/ppo-1", prompts, reward_dir="var/models/rm-1",
                              reference_dir="var/models/smollm2-135m-instruct")
    print(result.mean_score, result.mean_length, result.kl)

- The score is read exactly as `score_pairs` and `score_texts` read it (the chat template over
  prompt + response, as TRL's RewardTrainer built the training text).
- KL is the exact sequence-level KL along each greedy response: the sum over its tokens of
  KL(policy(·|context) ‖ reference(·|context)) over the whole vocabulary, in nats; then the mean
  over prompts. (TRL's PPO logs a sampled estimate of the same quantity as `objective/kl`.)
- The length–score correlation (Pearson, over the held-out prompts) is the reward-hacking
  monitor's first piece of evidence: a reward model that overrates length shows a high one.

No Django; torch and transformers are imported inside functions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

Messages = list[dict[str, str]]


@dataclass
class RmEvalResult:
    n_prompts: int
    mean_score: float  # reward-model score of the greedy responses
    mean_length: float  # response tokens, up to and including the end-of-turn token
    kl: float | None  # mean sequence KL to the reference (None without one)
    length_score_corr: float | None  # Pearson correlation of score and length (None if undefined)
    items: list[dict[str, Any]] = field(default_factory=list)  # prompt, response, score, length, kl

    def as_dict(self, *, with_items: bool = False) -> dict[str, Any]:
        data = asdict(self)
        if not with_items:
            data.pop("items")
        return data

    def sample_strings(self, k: int = 4) -> list[str]:
        return [
            f"Q: {item['question']}\n{item['response']}\n[score={item['score']:.3f}, {item['length']} tokens]"
            for item in self.items[:k]
        ]


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    n = len(xs)
    if n < 3:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx <= 0 or syy <= 0:
        return None
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / math.sqrt(sxx * syy)


def last_user_text(messages: Messages) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return str(message.get("content", ""))
    return ""


def _generate_greedy(model: Any, tokenizer: Any, prompts: Sequence[Messages], *, max_new_tokens: int) -> Any:
    """(prompt ids list, response ids list) for a batch, greedy, stopping at the end-of-turn token."""
    import torch

    device = next(model.parameters()).device
    prompt_ids = [
        list(
            tokenizer.apply_chat_template(m, add_generation_prompt=True, tokenize=True, return_dict=True)[
                "input_ids"
            ]
        )
        for m in prompts
    ]
    width = max(map(len, prompt_ids))
    pad = tokenizer.pad_token_id
    ids = torch.full((len(prompt_ids), width), pad, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, p in enumerate(prompt_ids):  # left padding: decoder-only models continue from the right
        ids[row, width - len(p) :] = torch.tensor(p)
        mask[row, width - len(p) :] = 1
    with torch.inference_mode():
        out = model.generate(
            input_ids=ids.to(device),
            attention_mask=mask.to(device),
            max_new_tokens=max_new_tokens,
            do_sample=False,
            temperature=None,
            top_p=None,
            top_k=None,
            pad_token_id=pad,
            eos_token_id=tokenizer.eos_token_id,
        )
    responses = []
    for row in out[:, width:].tolist():
        tokens = []
        for token in row:
            tokens.append(token)
            if token == tokenizer.eos_token_id:
                break
        responses.append(tokens)
    return prompt_ids, responses


def _sequence_kl(policy: Any, reference: Any, prompt_ids: list[int], response_ids: list[int]) -> float:
    """Exact KL(policy ‖ reference) summed over the response's positions, for one sequence."""
    import torch

    if not response_ids:
        return 0.0
    device = next(policy.parameters()).device
    ids = torch.tensor([prompt_ids + response_ids], device=device)
    start, end = len(prompt_ids) - 1, len(prompt_ids) - 1 + len(response_ids)
    with torch.inference_mode():
        logp = torch.log_softmax(policy(input_ids=ids).logits[0, start:end].float(), -1)
        logq = torch.log_softmax(
            reference(input_ids=ids.to(next(reference.parameters()).device)).logits[0, start:end].float(), -1
        )
        logq = logq.to(logp.device)
        return float((logp.exp() * (logp - logq)).sum())


def rm_evaluate(
    policy: Any,
    tokenizer: Any,
    prompts: Sequence[Messages],
    *,
    reward_model: Any,
    reward_tokenizer: Any,
    reference: Any | None = None,
    max_new_tokens: int = 64,
    batch_size: int = 16,
    on_batch: Callable[[int, int], None] | None = None,
) -> RmEvalResult:
    """Greedy responses of a loaded `policy` to `prompts` (chat messages), scored by a loaded
    reward model; KL to `reference` when given. The policy is put in eval mode and restored."""
    from rewardmodel.training.scoring import score_sequences, sequence_ids

    if not prompts:
        return RmEvalResult(0, 0.0, 0.0, None, None)
    was_training = policy.training
    policy.eval()
    items: list[dict[str, Any]] = []
    try:
        for start in range(0, len(prompts), batch_size):
            batch = list(prompts[start : start + batch_size])
            prompt_ids, responses = _generate_greedy(policy, tokenizer, batch, max_new_tokens=max_new_tokens)
            texts = tokenizer.batch_decode(responses, skip_special_tokens=True)
            limit = getattr(reward_model.config, "max_position_embeddings", None) or 2048
            sequences = [
                sequence_ids(reward_tokenizer, list(m), [{"role": "assistant", "content": t}])[-limit:]
                for m, t in zip(batch, texts, strict=True)
            ]
            scores = score_sequences(reward_model, reward_tokenizer, sequences, batch_size=batch_size)
            for i, messages in enumerate(batch):
                kl = None
                if reference is not None:
                    kl = _sequence_kl(policy, reference, prompt_ids[i], responses[i])
                items.append(
                    {
                        "question": last_user_text(list(messages)),
                        "response": texts[i],
                        "score": scores[i],
                        "length": len(responses[i]),
                        "kl": kl,
                    }
                )
            if on_batch:
                on_batch(min(start + batch_size, len(prompts)), len(prompts))
    finally:
        if was_training:
            policy.train()
    n = len(items)
    scores = [i["score"] for i in items]
    lengths = [float(i["length"]) for i in items]
    return RmEvalResult(
        n_prompts=n,
        mean_score=sum(scores) / n,
        mean_length=sum(lengths) / n,
        kl=None if reference is None else sum(i["kl"] for i in items) / n,
        length_score_corr=pearson(lengths, scores),
        items=items,
    )


def rm_evaluate_dirs(
    policy_dir: str | Path,
    prompts: Sequence[Messages],
    *,
    reward_dir: str | Path,
    reference_dir: str | Path | None = None,
    tokenizer_dir: str | Path | None = None,
    device: str | None = None,
    **kwargs: Any,
) -> RmEvalResult:
    """Load the folders and run `rm_evaluate` (float32 on CPU, bf16 on a GPU that has it)."""
    from transformers import AutoModelForCausalLM

    from rewardmodel.training.base_model import load_tokenizer
    from rewardmodel.training.devices import default_dtype, pick_device
    from rewardmodel.training.scoring import load_reward_model

    device = pick_device(device)
    dtype = default_dtype(device)
    tokenizer = load_tokenizer(tokenizer_dir or policy_dir, padding_side="left")
    policy = AutoModelForCausalLM.from_pretrained(str(policy_dir), dtype=dtype).to(device)
    reference = None
    if reference_dir is not None:
        reference = AutoModelForCausalLM.from_pretrained(str(reference_dir), dtype=dtype).to(device).eval()
    reward_model, reward_tokenizer = load_reward_model(reward_dir)
    return rm_evaluate(
        policy,
        tokenizer,
        prompts,
        reward_model=reward_model.to(device),
        reward_tokenizer=reward_tokenizer,
        reference=reference,
        **kwargs,
    )
