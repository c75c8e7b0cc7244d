"""Score text with a reward model: pairwise accuracy and margin on pairs, or one reward per answer.

    from pairwise.files.pairs import read_pairs
    from rewardmodel.training.scoring import score_pairs
    result = score_pairs("var/models/reward-run3", read_pairs("heldout.jsonl"), batch_size=16)
    print(result.accuracy, result.mean_margin)

The text is built exactly as TRL's RewardTrainer builds it while training (`sequence_ids`), so a
model scores what it was trained to score: the chat template over prompt + answer when the
tokenizer has one, else plain prompt + answer + EOS. Sequences longer than `max_length` are cut
from the left, keeping the end of the answer, where the reward is read.

No Django; torch and transformers are imported inside functions.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pairwise.files.pairs import Messages, Pair
from rewardmodel.training.devices import pick_device


class NotARewardModel(ValueError):
    """The folder holds no sequence-classification model with one output."""


@dataclass
class ScoreResult:
    n_pairs: int
    accuracy: float  # share of pairs whose chosen answer scores strictly higher
    mean_margin: float  # mean of score(chosen) - score(rejected)
    n_truncated: int = 0  # sequences cut to max_length
    wall_seconds: float = 0.0
    chosen_scores: list[float] = field(default_factory=list, repr=False)
    rejected_scores: list[float] = field(default_factory=list, repr=False)

    def as_dict(self, *, with_scores: bool = False) -> dict[str, Any]:
        data = {
            "n_pairs": self.n_pairs,
            "accuracy": self.accuracy,
            "mean_margin": self.mean_margin,
            "n_truncated": self.n_truncated,
            "wall_seconds": round(self.wall_seconds, 3),
        }
        if with_scores:
            data |= {"chosen_scores": self.chosen_scores, "rejected_scores": self.rejected_scores}
        return data


def uses_chat_template(tokenizer: Any) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def plain_text(messages: Messages) -> str:
    """A conversation as plain text, for tokenizers without a chat template (HH's transcript style)."""
    names = {"user": "Human", "assistant": "Assistant"}
    return "".join(f"\n\n{names.get(m['role'], m['role'].title())}: {m['content']}" for m in messages)


def trl_row(pair: Pair, tokenizer: Any) -> dict[str, Any]:
    """The TRL preference row the trainer feeds RewardTrainer for this pair."""
    if uses_chat_template(tokenizer):
        return {"prompt": pair["prompt"], "chosen": pair["chosen"], "rejected": pair["rejected"]}
    prompt = plain_text(pair["prompt"]) + "\n\nAssistant: "
    return {
        "prompt": prompt,
        "chosen": " ".join(m["content"] for m in pair["chosen"]),
        "rejected": " ".join(m["content"] for m in pair["rejected"]),
    }


def sequence_ids(tokenizer: Any, prompt: Any, answer: Any) -> list[int]:
    """Token ids of prompt + answer as TRL's RewardTrainer makes them (see its `tokenize_fn`)."""
    if isinstance(prompt, list):
        out = tokenizer.apply_chat_template(prompt + answer, tokenize=True, return_dict=True)
        return list(out["input_ids"])
    text = prompt + answer
    if not text.endswith(tokenizer.eos_token):
        text += tokenizer.eos_token
    return list(tokenizer(text=text)["input_ids"])


def check_reward_model(model_dir: Path) -> None:
    config_file = model_dir / "config.json"
    if not config_file.exists():
        raise NotARewardModel(f"{model_dir} has no config.json: not a model folder.")
    config = json.loads(config_file.read_text())
    archs = config.get("architectures") or []
    if not any(a.endswith("ForSequenceClassification") for a in archs) or config.get("num_labels", 1) != 1:
        raise NotARewardModel(
            f"{model_dir} is not a reward model (architectures {archs}); train one with train_reward_model."
        )


def load_reward_model(model_dir: str | Path) -> tuple[Any, Any]:
    """(model in eval mode on the best device, tokenizer) for a reward-model folder."""
    from transformers import AutoModelForSequenceClassification

    from rewardmodel.training.base_model import load_tokenizer

    model_dir = Path(model_dir)
    check_reward_model(model_dir)
    tokenizer = load_tokenizer(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(str(model_dir))
    model.config.pad_token_id = tokenizer.pad_token_id
    return model.to(pick_device()).eval(), tokenizer


@functools.lru_cache(maxsize=2)
def _cached(model_dir: str, stamp: float) -> tuple[Any, Any]:
    return load_reward_model(model_dir)


def cached_reward_model(model_dir: str | Path) -> tuple[Any, Any]:
    """load_reward_model, kept in memory for a long-lived worker (reloaded when the weights change)."""
    model_dir = Path(model_dir).resolve()
    stamp = max((f.stat().st_mtime for f in model_dir.glob("*.safetensors")), default=0.0)
    return _cached(str(model_dir), stamp)


def _max_length(model: Any, max_length: int | None) -> int:
    limit = getattr(model.config, "max_position_embeddings", None) or 2048
    return min(max_length or limit, limit)


def score_sequences(
    model: Any, tokenizer: Any, sequences: Sequence[list[int]], *, batch_size: int
) -> list[float]:
    """One reward per token sequence (right-padded batches, longest first to waste little padding)."""
    import torch

    order = sorted(range(len(sequences)), key=lambda i: -len(sequences[i]))
    scores = [0.0] * len(sequences)
    device = next(model.parameters()).device
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            width = max(len(sequences[i]) for i in idx)
            ids = torch.full((len(idx), width), tokenizer.pad_token_id, dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            for row, i in enumerate(idx):
                ids[row, : len(sequences[i])] = torch.tensor(sequences[i])
                mask[row, : len(sequences[i])] = 1
            logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
            for row, value in zip(idx, logits.float().squeeze(-1).tolist(), strict=True):
                scores[row] = value
    return scores


def score_pairs_with(
    model: Any, tokenizer: Any, pairs: Sequence[Pair], *, batch_size: int = 8, max_length: int | None = None
) -> ScoreResult:
    """Pairwise accuracy and mean margin of an already loaded reward model."""
    started = time.perf_counter()
    limit = _max_length(model, max_length)
    sequences, truncated = [], 0
    for pair in pairs:
        row = trl_row(pair, tokenizer)
        for answer in (row["chosen"], row["rejected"]):
            ids = sequence_ids(tokenizer, row["prompt"], answer)
            if len(ids) > limit:
                ids, truncated = ids[-limit:], truncated + 1
            sequences.append(ids)
    scores = score_sequences(model, tokenizer, sequences, batch_size=batch_size * 2)
    chosen, rejected = scores[0::2], scores[1::2]
    n = len(chosen)
    return ScoreResult(
        n_pairs=n,
        accuracy=sum(c > r for c, r in zip(chosen, rejected, strict=True)) / n if n else 0.0,
        mean_margin=sum(c - r for c, r in zip(chosen, rejected, strict=True)) / n if n else 0.0,
        n_truncated=truncated,
        wall_seconds=time.perf_counter() - started,
        chosen_scores=chosen,
        rejected_scores=rejected,
    )


def score_pairs(
    model_dir: str | Path, pairs: Sequence[Pair], *, batch_size: int = 8, max_length: int | None = None
) -> ScoreResult:
    """Load a reward model and score pairs (see `pairwise.files.pairs.read_pairs`)."""
    if not pairs:
        raise ValueError("No pairs to score.")
    model, tokenizer = load_reward_model(model_dir)
    return score_pairs_with(model, tokenizer, pairs, batch_size=batch_size, max_length=max_length)


def score_texts(
    model_dir: str | Path,
    items: Sequence[tuple[str | Messages, str]],
    *,
    batch_size: int = 8,
    max_length: int | None = None,
    cached: bool = True,
) -> list[float]:
    """The reward of each (prompt, response); the prompt is text (one user turn) or chat messages."""
    model, tokenizer = cached_reward_model(model_dir) if cached else load_reward_model(model_dir)
    limit = _max_length(model, max_length)
    sequences = []
    for prompt, response in items:
        messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)
        pair = {"prompt": messages, "chosen": [{"role": "assistant", "content": response}], "rejected": []}
        row = trl_row(pair, tokenizer)
        sequences.append(sequence_ids(tokenizer, row["prompt"], row["chosen"])[-limit:])
    return score_sequences(model, tokenizer, sequences, batch_size=batch_size)
