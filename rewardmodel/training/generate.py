"""Batched sampling of chat responses from a causal LM, seeded per sample. No Django here.

    from rewardmodel.training.generate import sample_responses
    samples = sample_responses(
        model_dir, [[{"role": "user", "content": "Hi"}]], per_prompt=2, temperature=0.8, top_p=0.95,
        max_new_tokens=128, seed=0, batch_size=16,
    )

Each (prompt, sample index) gets its own seed, derived from the run's seed and the prompt's
messages (`sample_seed`). Sampling draws that sample's random numbers from its own generator, so
a sample's text does not depend on which other rows share its batch: a run that is interrupted
and resumed with another batch size produces the same texts as one that ran straight through
(up to float rounding of padded batches, which in float32 practically never flips a token).

How: `generate()` runs in greedy mode with one extra logits processor (`_SeededSampler`) that
does the temperature/top-p warping and then inverse-CDF sampling with the row's pre-drawn uniform
for that step, and hands back a one-hot score. All of it is a handful of batched tensor ops per
step, no per-row Python, so it costs what transformers' own multinomial sampling costs
(bench/generate.py measures it).

Rows are tokenized with the chat template and LEFT padded (decoder-only models continue from the
right edge). On CUDA the model runs in bfloat16; on CPU in float32. Heavy imports stay inside
functions: importing this module does not import torch.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pairwise.progress import Cancelled
from rewardmodel.training.devices import pick_device

Messages = list[dict[str, str]]
ROLES = ("system", "user", "assistant")


# from_pretrained swaps torch globals (meta-device init) while it runs: two threads loading at once
# leave parameters on the meta device, for good. One load at a time per process.
_LOAD_LOCK = threading.Lock()


class GenerationError(RuntimeError):
    """Generation cannot run as asked; the message says what to change."""


@dataclass(frozen=True)
class SamplingParams:
    """What decides a sample's text (besides model, prompt and sample index). Stored per response."""

    temperature: float = 0.8
    top_p: float = 0.95
    max_new_tokens: int = 256
    seed: int = 0

    def validate(self, *, per_prompt: int = 1) -> None:
        if self.temperature < 0:
            raise GenerationError("temperature must be >= 0 (0 means greedy decoding).")
        if not 0 < self.top_p <= 1:
            raise GenerationError("top_p must be in (0, 1].")
        if self.max_new_tokens < 1:
            raise GenerationError("max_new_tokens must be at least 1.")
        if per_prompt < 1:
            raise GenerationError("per_prompt must be at least 1.")
        if self.temperature == 0 and per_prompt > 1:
            raise GenerationError(
                "temperature 0 is greedy decoding: every sample of a prompt would be the same text. "
                "Use per_prompt 1, or a temperature above 0."
            )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Sample:
    prompt_index: int
    sample_index: int
    seed: int
    text: str
    new_tokens: int
    finished: bool  # ended with the end-of-turn token (else it hit max_new_tokens)


@dataclass
class BatchReport:
    """Handed to `on_batch` after every batch: the batch's samples and the run's totals so far."""

    samples: list[Sample]
    rows_done: int
    rows_total: int
    new_tokens: int
    seconds: float


@dataclass
class GenerationSummary:
    samples: list[Sample] = field(default_factory=list)
    rows_total: int = 0
    new_tokens: int = 0
    seconds: float = 0.0
    device: str = ""
    dtype: str = ""

    @property
    def tokens_per_second(self) -> float:
        return self.new_tokens / self.seconds if self.seconds else 0.0


def messages_validate(messages: Any) -> Messages:
    """A prompt must be a non-empty list of {role, content} strings; raise a readable error if not."""
    if not isinstance(messages, list) or not messages:
        raise GenerationError("a prompt must be a non-empty list of chat messages")
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise GenerationError(f"message {i} is not an object with 'role' and 'content'")
        if message.get("role") not in ROLES:
            raise GenerationError(f"message {i} has role {message.get('role')!r}; expected one of {ROLES}")
        if not isinstance(message.get("content"), str):
            raise GenerationError(f"message {i} has no text content")
    return messages


def sample_seed(seed: int, messages: Messages, sample_index: int) -> int:
    """The seed of one sample: stable across runs, machines and batch layouts (63 bits)."""
    raw = json.dumps([seed, messages, sample_index], sort_keys=True, ensure_ascii=False)
    return int.from_bytes(hashlib.sha256(raw.encode("utf-8")).digest()[:8], "big") >> 1


def is_out_of_memory(exc: BaseException) -> bool:
    """CUDA OOM, or a CPU allocation that failed (torch reports those as RuntimeError)."""
    import torch

    if isinstance(exc, torch.OutOfMemoryError):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and (
        "out of memory" in text or "can't allocate memory" in text or "not enough memory" in text
    )


def load_policy(
    model_dir: str | Path, *, device: str, dtype: str | None = None, tokenizer_dir: str | Path | None = None
) -> tuple[Any, Any]:
    """(model in eval mode on `device`, tokenizer with left padding; from `tokenizer_dir` if given)."""
    import torch
    from transformers import AutoModelForCausalLM

    from rewardmodel.training.base_model import load_tokenizer

    model_dir = Path(model_dir)
    if not (model_dir / "config.json").exists():
        raise GenerationError(f"{model_dir} has no config.json: not a model folder.")
    torch_dtype = getattr(torch, dtype) if dtype else (torch.bfloat16 if device.startswith("cuda") else None)
    try:
        with _LOAD_LOCK:
            tokenizer = load_tokenizer(tokenizer_dir or model_dir, padding_side="left")
            model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch_dtype or torch.float32)
    except Exception as exc:  # safetensors, config and tokenizer errors have no common base class
        raise GenerationError(f"cannot load a causal language model from {model_dir}: {exc}") from exc
    if not tokenizer.chat_template:
        raise GenerationError(f"the tokenizer in {model_dir} has no chat template; responses need one.")
    model.to(device).eval()
    return model, tokenizer


def generation_config(
    model: Any,
    tokenizer: Any,
    *,
    max_new_tokens: int,
    min_new_tokens: int = 0,
    do_sample: bool = False,
    **extra,
) -> Any:
    """A complete GenerationConfig, so nothing leaks in from the checkpoint's generation_config.json."""
    from transformers import GenerationConfig

    return GenerationConfig(
        max_new_tokens=max_new_tokens,
        min_new_tokens=min_new_tokens or None,
        do_sample=do_sample,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=model.config.bos_token_id,
        **extra,
    )


def _seeded_sampler(uniforms: Any, prompt_len: int, temperature: float, top_p: float) -> Any:
    from transformers import LogitsProcessor

    class _SeededSampler(LogitsProcessor):
        """Temperature + top-p, then inverse-CDF sampling with each row's own uniform for this step.

        Returns scores that are 0 at the drawn token and -inf elsewhere, so greedy `generate`
        picks exactly that token. Rows that already finished are overwritten with padding by
        `generate` itself.
        """

        def __call__(self, input_ids, scores):
            import torch

            # A deferred stop check (CUDA) may run one step past the end; that step is discarded.
            step = min(input_ids.shape[1] - prompt_len, uniforms.shape[1] - 1)
            logits = scores / temperature if temperature != 1.0 else scores
            if top_p < 1.0:
                logits, order = torch.sort(logits, dim=-1, descending=True)
                probs = logits.softmax(dim=-1)
                # Keep the smallest prefix whose mass reaches top_p (the first token always stays).
                mass_before = probs.cumsum(dim=-1) - probs
                probs = probs.masked_fill(mass_before >= top_p, 0.0)
            else:
                order, probs = None, logits.softmax(dim=-1)
            cdf = probs.cumsum(dim=-1)
            target = uniforms[:, step : step + 1] * cdf[:, -1:]
            picked = torch.searchsorted(cdf, target, right=True).clamp_(max=cdf.shape[-1] - 1)
            if order is not None:
                picked = order.gather(-1, picked)
            return scores.fill_(float("-inf")).scatter_(-1, picked, 0.0)

    return _SeededSampler()


def generate_batch(
    model: Any,
    tokenizer: Any,
    rows: Sequence[tuple[Messages, int]],
    params: SamplingParams,
    *,
    min_new_tokens: int = 0,
) -> list[tuple[str, int, bool]]:
    """Generate one batch of (messages, row seed) rows: [(text, new tokens, finished)]."""
    import torch
    from transformers import LogitsProcessorList

    device = model.device
    texts = [tokenizer.apply_chat_template(m, add_generation_prompt=True, tokenize=False) for m, _ in rows]
    inputs = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
    prompt_len = inputs["input_ids"].shape[1]
    processors = LogitsProcessorList()
    if params.temperature > 0:
        # Each row's random numbers come from its own generator: independent of the batch layout.
        uniforms = torch.stack(
            [
                torch.rand(params.max_new_tokens + 2, generator=torch.Generator().manual_seed(seed))
                for _, seed in rows
            ]
        ).to(device)
        processors.append(_seeded_sampler(uniforms, prompt_len, params.temperature, params.top_p))
    config = generation_config(
        model, tokenizer, max_new_tokens=params.max_new_tokens, min_new_tokens=min_new_tokens
    )
    with torch.inference_mode():
        output = model.generate(**inputs, generation_config=config, logits_processor=processors)
    new = output[:, prompt_len:].cpu()
    eos = tokenizer.eos_token_id
    results = []
    for row in new.tolist():
        length = row.index(eos) + 1 if eos in row else len(row)
        text = tokenizer.decode(row[:length], skip_special_tokens=True).strip()
        results.append((text, length, eos in row))
    return results


def sample_responses(
    model_dir: str | Path,
    prompts: Sequence[Messages],
    *,
    per_prompt: int = 1,
    temperature: float = 0.8,
    top_p: float = 0.95,
    max_new_tokens: int = 256,
    seed: int = 0,
    batch_size: int = 8,
    device: str | None = None,
    dtype: str | None = None,
    tokenizer_dir: str | Path | None = None,
    min_new_tokens: int = 0,
    skip: Callable[[int, int], bool] | None = None,
    on_batch: Callable[[BatchReport], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    model_and_tokenizer: tuple[Any, Any] | None = None,
) -> GenerationSummary:
    """Sample `per_prompt` responses for every prompt, `batch_size` rows per forward pass.

    `skip(prompt_index, sample_index)` leaves out samples that already exist (resume).
    `on_batch` runs after each batch (the caller stores it: whole batches only);
    `should_stop` is asked before each batch, and a true answer raises `Cancelled` (batches
    already handed to `on_batch` stay done). Out of memory raises GenerationError naming a
    smaller batch size.
    """
    params = SamplingParams(temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens, seed=seed)
    params.validate(per_prompt=per_prompt)
    if batch_size < 1:
        raise GenerationError("batch_size must be at least 1.")
    for i, messages in enumerate(prompts):
        try:
            messages_validate(messages)
        except GenerationError as exc:
            raise GenerationError(f"prompt {i}: {exc}") from None
    rows = [
        (i, k, sample_seed(seed, prompts[i], k))
        for i in range(len(prompts))
        for k in range(per_prompt)
        if skip is None or not skip(i, k)
    ]
    summary = GenerationSummary(rows_total=len(rows))
    if not rows:
        return summary
    import torch

    if model_and_tokenizer is None:
        summary.device = pick_device(device)
        model, tokenizer = load_policy(
            model_dir, device=summary.device, dtype=dtype, tokenizer_dir=tokenizer_dir
        )
    else:
        model, tokenizer = model_and_tokenizer
        summary.device = str(model.device)
    summary.dtype = str(model.dtype).removeprefix("torch.")
    torch.manual_seed(seed)  # nothing should draw from the global RNG; if something does, it is seeded
    for start in range(0, len(rows), batch_size):
        if should_stop is not None and should_stop():
            raise Cancelled(f"stopped after {start} of {len(rows)} samples")
        batch = rows[start : start + batch_size]
        began = time.perf_counter()
        try:
            outputs = generate_batch(
                model,
                tokenizer,
                [(prompts[i], s) for i, _, s in batch],
                params,
                min_new_tokens=min_new_tokens,
            )
        except (RuntimeError, MemoryError) as exc:
            if isinstance(exc, MemoryError) or is_out_of_memory(exc):
                if summary.device.startswith("cuda"):
                    torch.cuda.empty_cache()
                smaller = max(1, len(batch) // 2)
                raise GenerationError(
                    f"out of memory generating {len(batch)} rows at once on {summary.device} "
                    f"(max_new_tokens {max_new_tokens}); try a smaller batch size, e.g. --batch-size {smaller}"
                ) from exc
            raise
        seconds = time.perf_counter() - began
        samples = [
            Sample(prompt_index=i, sample_index=k, seed=s, text=text, new_tokens=n, finished=done)
            for (i, k, s), (text, n, done) in zip(batch, outputs, strict=True)
        ]
        tokens = sum(s.new_tokens for s in samples)
        summary.samples.extend(samples)
        summary.new_tokens += tokens
        summary.seconds += seconds
        if on_batch is not None:
            on_batch(
                BatchReport(
                    samples=samples,
                    rows_done=start + len(batch),
                    rows_total=len(rows),
                    new_tokens=tokens,
                    seconds=seconds,
                )
            )
    return summary
