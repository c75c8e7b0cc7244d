"""Rule-based GRPO (DeepSeek-R1 style) with TRL's GRPOTrainer: no reward model, only rules.

    from rewardmodel.training.grpo import GrpoConfig, train_grpo
    from rewardmodel.training.progress import ListReporter

    config = GrpoConfig(
        model_dir="var/models/smollm2-135m-instruct",
        output_dir="var/models/smollm2-grpo-1",
        prompts=[{"question": "What's 12 times 14?", "answer": "168"}, ...],
        heldout=[...],
        rewards=["accuracy", "format_partial"],
    )
    result = train_grpo(config, ListReporter())

Each optimizer step samples `num_generations` completions for each of `batch_size //
num_generations` prompts, scores them with the reward functions, and moves the policy towards
the completions that beat their group's mean. Per step the reporter gets (keys as the run page
charts them): reward/<name> for each reward, reward/total, format_rate (share of completions in
the exact R1 format, whatever the rewards), kl (to the starting policy), completion_length
(tokens), zero_std_fraction (groups whose rewards were all equal: nothing to learn from), loss,
entropy, and `samples` (a few completions as text). Every `eval_every` steps, and before the
first and after the last, it also gets heldout/accuracy and heldout/format_rate from greedy
decoding of the held-out prompts (the same code as `evaluate_policy`).

The checkpoint is written to a temporary folder beside `output_dir` and renamed into place only
when training finished; a cancelled or failed run leaves nothing behind. No Django here; torch,
transformers and trl are imported inside functions.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rewardmodel.training.devices import bf16_supported, pick_device
from rewardmodel.training.progress import Cancelled, Reporter, first_last_summary
from rewardmodel.training.rewards import REWARDS, completion_text, is_formatted, reward_functions
from rewardmodel.training.verifiable import PromptTemplate, build_examples

# TRL builds no reference model when beta is 0, and so logs no KL. To still chart the drift from
# the starting policy we hand TRL this coefficient instead: the penalty it adds is ~12 orders of
# magnitude below the policy loss (below float32 resolution), so training is unchanged.
KL_PROBE_BETA = 1e-12

# TRL's log keys → the names the run page charts.
METRIC_NAMES = {
    "reward": "reward/total",
    "reward_std": "reward/std",
    "kl": "kl",
    "format_rate": "format_rate",
    "completions/mean_length": "completion_length",
    "completions/clipped_ratio": "clipped_fraction",
    "frac_reward_zero_std": "zero_std_fraction",
    "loss": "loss",
    "grad_norm": "grad_norm",
    "learning_rate": "learning_rate",
    "entropy": "entropy",
}


@dataclass
class GrpoConfig:
    model_dir: str
    output_dir: str
    # Prompt records: {"question" or "messages", "answer" or "reference_answer"}; the template
    # turns each into chat messages.
    prompts: list[dict[str, Any]]
    heldout: list[dict[str, Any]] = field(default_factory=list)
    # Names from rewards.REWARDS, or callables with TRL's reward signature (tests, scripts).
    rewards: list[str | Callable[..., list[float]]] = field(default_factory=lambda: ["accuracy", "format"])
    reward_weights: list[float] | None = None
    template: dict[str, str] = field(default_factory=lambda: PromptTemplate().as_dict())
    num_generations: int = 8
    batch_size: int = 32  # completions per optimizer step; a multiple of num_generations
    steps: int = 50
    lr: float = 2e-5
    beta: float = 0.0  # KL coefficient; 0 as in DAPO / our baselines
    measure_kl: bool = True  # chart KL even when beta is 0 (costs one reference forward pass)
    max_completion_length: int = 96
    temperature: float = 0.8
    top_p: float = 1.0
    top_k: int = 0  # 0: off
    loss_type: str = "dapo"  # TRL 1.12 default: token-level normalization, no length bias
    scale_rewards: str = "group"
    max_grad_norm: float = 1.0
    warmup_steps: int = 0
    eval_every: int = 10
    eval_max_new_tokens: int | None = None  # default: max_completion_length
    eval_batch_size: int = 16
    samples_to_log: int = 4
    seed: int = 0
    gradient_checkpointing: bool = False
    # bf16 autocast: None = on a GPU that supports it; True also works on CPUs with AVX512-BF16,
    # where it roughly halves the time of a forward pass.
    bf16: bool | None = None
    # Wall-clock budget for the training loop: past it, training ends after the current step
    # (a normal finish: the final held-out check runs and the checkpoint is saved).
    max_seconds: float | None = None
    device: str | None = None  # None: cuda when available, else cpu

    def validate(self) -> None:
        if not self.prompts:
            raise ValueError("No training prompts.")
        if self.num_generations < 2:
            raise ValueError("GRPO needs at least 2 generations per prompt (their spread is the signal).")
        if self.batch_size < self.num_generations or self.batch_size % self.num_generations:
            raise ValueError(
                f"batch_size ({self.batch_size}) must be a positive multiple of num_generations "
                f"({self.num_generations}): each prompt's group of completions goes in one step."
            )
        if self.steps < 1:
            raise ValueError("steps must be at least 1.")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError("lr must be a positive number.")
        if self.beta < 0:
            raise ValueError("beta (the KL coefficient) cannot be negative.")
        if self.temperature <= 0:
            raise ValueError("temperature must be positive (GRPO samples).")
        if self.max_completion_length < 1:
            raise ValueError("max_completion_length must be at least 1.")
        if self.max_seconds is not None and self.max_seconds <= 0:
            raise ValueError("max_seconds must be positive.")
        if self.reward_weights is not None and len(self.reward_weights) != len(self.rewards):
            raise ValueError("Give one reward weight per reward.")
        named = [r for r in self.rewards if isinstance(r, str)]
        if named:
            reward_functions(named)
        if not self.rewards:
            raise ValueError(f"Give at least one reward: {', '.join(REWARDS)}.")
        PromptTemplate.from_dict(self.template)

    def describe(self) -> dict[str, Any]:
        """The config as JSON for the run record and the checkpoint (prompts as counts)."""
        data = asdict(self)
        data["prompts"] = len(self.prompts)
        data["heldout"] = len(self.heldout)
        data["rewards"] = [r if isinstance(r, str) else getattr(r, "__name__", repr(r)) for r in self.rewards]
        return data


@dataclass
class GrpoResult:
    output_dir: str
    steps: int
    wall_seconds: float
    device: str
    history: list[dict[str, Any]]  # every step's metrics, with "step"
    heldout: list[dict[str, Any]]  # [{"step", "accuracy", "format_rate", "mean_length"}, ...]
    samples: list[str]  # the last logged sample completions
    examples_seen: int  # completions generated and trained on
    tokens_seen: int
    summary: dict[str, Any]


class _Scoreboard:
    """Wraps the reward functions to see what TRL scores: keeps a few (question, completion,
    rewards) of the latest batch as sample strings and reports the share in exact R1 format."""

    def __init__(self, funcs: list[Callable[..., list[float]]], keep: int) -> None:
        self.keep = keep
        self.batch: dict[str, Any] = {}
        self.wrapped = [self._wrap(i, fn) for i, fn in enumerate(funcs)]

    def _wrap(self, index: int, fn: Callable[..., list[float]]) -> Callable[..., list[float]]:
        name = getattr(fn, "__name__", f"reward_{index}")

        def scored(prompts=None, completions=None, **kwargs):
            scores = fn(prompts=prompts, completions=completions, **kwargs)
            if index == 0:  # TRL calls the rewards in order: the first one starts a new batch
                texts = [completion_text(c) for c in completions]
                self.batch = {
                    "questions": kwargs.get("question") or [""] * len(texts),
                    "answers": kwargs.get("answer") or [""] * len(texts),
                    "texts": texts,
                    "scores": {},
                }
                log_metric = kwargs.get("log_metric")
                if log_metric is not None and texts:
                    log_metric("format_rate", sum(map(is_formatted, texts)) / len(texts))
            self.batch["scores"][name] = list(scores)
            return scores

        scored.__name__ = name
        return scored

    def samples(self) -> list[str]:
        batch, out = self.batch, []
        if not batch:
            return out
        n = len(batch["texts"])
        # Spread the picks over the batch so they show different prompts, not one group.
        picks = sorted({round(i * (n - 1) / max(1, self.keep - 1)) for i in range(min(self.keep, n))})
        for i in picks:
            scores = ", ".join(f"{k}={v[i]:.2f}" for k, v in batch["scores"].items() if i < len(v))
            out.append(
                f"Q: {batch['questions'][i]} (answer {batch['answers'][i]})\n{batch['texts'][i]}\n[{scores}]"
            )
        return out


def train_grpo(config: GrpoConfig, reporter: Reporter) -> GrpoResult:
    """Train with GRPO; write the policy to `config.output_dir`. Raises Cancelled when the
    reporter asked to stop (nothing is written then), ValueError for a bad config."""
    config.validate()
    output_dir = Path(config.output_dir)
    if output_dir.exists():
        raise ValueError(f"{output_dir} already exists; choose another output folder.")

    # ---- imports and setup ------------------------------------------------------------------------
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, PrinterCallback, TrainerCallback, set_seed
    from trl import GRPOConfig, GRPOTrainer

    from rewardmodel.training.base_model import load_tokenizer
    from rewardmodel.training.devices import checkpointing_kwargs
    from rewardmodel.training.evaluate import evaluate_examples

    started = time.monotonic()
    device = pick_device(config.device)
    set_seed(config.seed)
    template = PromptTemplate.from_dict(config.template)
    train_examples = build_examples(config.prompts, template)
    heldout_examples = build_examples(config.heldout, template)
    funcs = [REWARDS[r] if isinstance(r, str) else r for r in config.rewards]
    board = _Scoreboard(funcs, config.samples_to_log)

    tokenizer = load_tokenizer(config.model_dir, padding_side="left")
    use_bf16 = config.bf16 if config.bf16 is not None else bf16_supported(device)
    model = AutoModelForCausalLM.from_pretrained(config.model_dir, dtype=torch.float32)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id

    output_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}-", dir=output_dir.parent))
    beta = config.beta if config.beta > 0 or not config.measure_kl else KL_PROBE_BETA
    args = GRPOConfig(
        output_dir=str(work / "trainer"),
        max_steps=config.steps,
        learning_rate=config.lr,
        lr_scheduler_type="constant_with_warmup" if config.warmup_steps else "constant",
        warmup_steps=config.warmup_steps,
        max_grad_norm=config.max_grad_norm,
        per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=1,
        num_generations=config.num_generations,
        max_completion_length=config.max_completion_length,
        temperature=config.temperature,
        top_p=config.top_p,
        top_k=config.top_k,
        beta=beta,
        loss_type=config.loss_type,
        scale_rewards=config.scale_rewards,
        reward_weights=config.reward_weights,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        seed=config.seed,
        data_seed=config.seed,
        bf16=use_bf16,
        use_cpu=device == "cpu",
        **checkpointing_kwargs(GRPOConfig, config.gradient_checkpointing),
        disable_dropout=True,
        log_completions=False,
        remove_unused_columns=False,
    )

    history: list[dict[str, Any]] = []
    heldout_log: list[dict[str, Any]] = []
    state: dict[str, Any] = {"cancelled": False, "out_of_time": False, "last_samples": [], "tokens": 0}

    def run_heldout(model_: Any, step: int) -> None:
        if not heldout_examples:
            return
        result = evaluate_examples(
            model_,
            tokenizer,
            heldout_examples,
            samples=1,
            max_new_tokens=config.eval_max_new_tokens or config.max_completion_length,
            batch_size=config.eval_batch_size,
            seed=config.seed,
        )
        point = {
            "step": step,
            "accuracy": result.accuracy,
            "format_rate": result.format_rate,
            "mean_length": result.mean_length,
        }
        heldout_log.append(point)
        reporter.log(
            step,
            {
                "heldout/accuracy": result.accuracy,
                "heldout/format_rate": result.format_rate,
                "heldout/completion_length": result.mean_length,
                "heldout/samples": result.sample_strings(config.samples_to_log),
            },
        )

    class GrpoCallback(TrainerCallback):
        def on_train_begin(self, args, state_, control, model=None, **kwargs):
            reporter.progress(0, config.steps, "held-out check before training")
            run_heldout(model, 0)
            state["train_started"] = time.monotonic()
            reporter.progress(0, config.steps, "training")

        def on_step_end(self, args, state_, control, model=None, **kwargs):
            step = state_.global_step
            reporter.progress(step, config.steps, "training")
            if reporter.should_stop():
                state["cancelled"] = True
                control.should_training_stop = True
                return control
            if config.max_seconds and time.monotonic() - state["train_started"] > config.max_seconds:
                state["out_of_time"] = True
                control.should_training_stop = True
            if config.eval_every and step % config.eval_every == 0 and step != config.steps:
                run_heldout(model, step)
            return control

        def on_train_end(self, args, state_, control, model=None, **kwargs):
            if not state["cancelled"]:
                run_heldout(model, state_.global_step)  # the "after" number, however training ended
            return control

        def on_log(self, args, state_, control, logs=None, **kwargs):
            if not logs or "train_runtime" in logs:  # the end-of-training summary, not a step
                return control
            metrics: dict[str, Any] = {}
            for key, value in logs.items():
                if not isinstance(value, int | float) or isinstance(value, bool):
                    continue
                if key.startswith("rewards/") and key.endswith("/mean"):
                    metrics["reward/" + key[len("rewards/") : -len("/mean")]] = value
                elif key in METRIC_NAMES:
                    metrics[METRIC_NAMES[key]] = value
                elif key == "num_tokens":
                    state["tokens"] = int(value)
            # The story first (a progress bar shows the first few): rewards, format, KL, length.
            first = ("format_rate", "kl", "completion_length")
            metrics = dict(
                sorted(metrics.items(), key=lambda kv: (not kv[0].startswith("reward/"), kv[0] not in first))
            )
            samples = board.samples()
            if samples:
                metrics["samples"] = samples
                state["last_samples"] = samples
            history.append(
                {"step": state_.global_step, **{k: v for k, v in metrics.items() if k != "samples"}}
            )
            reporter.log(state_.global_step, metrics)
            return control

    # ---- train -------------------------------------------------------------------------------------
    try:
        trainer = GRPOTrainer(
            model=model,
            reward_funcs=board.wrapped,
            args=args,
            train_dataset=Dataset.from_list(train_examples),
            processing_class=tokenizer,
            callbacks=[GrpoCallback()],
        )
        trainer.remove_callback(PrinterCallback)  # disable_tqdm adds it; the reporter shows progress
        trainer.train()
        if state["cancelled"]:
            raise Cancelled(f"stopped at step {trainer.state.global_step} of {config.steps}")

        # ---- save: write beside the target, then rename into place -----------------------------
        final = work / "model"
        trainer.save_model(str(final))
        tokenizer.save_pretrained(str(final))
        shutil.rmtree(work / "trainer", ignore_errors=True)
        steps_done = trainer.state.global_step
        wall = time.monotonic() - started
        summary = _summary(history, heldout_log, steps_done, wall, device)
        summary["stopped_by_time_budget"] = state["out_of_time"]
        (final / "pairwise_grpo.json").write_text(
            json.dumps({"config": config.describe(), "summary": summary}, indent=2, default=str)
        )
        os.replace(final, output_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    return GrpoResult(
        output_dir=str(output_dir),
        steps=steps_done,
        wall_seconds=wall,
        device=device,
        history=history,
        heldout=heldout_log,
        samples=state["last_samples"],
        examples_seen=steps_done * config.batch_size,
        tokens_seen=state["tokens"],
        summary=summary,
    )


def _summary(
    history: list[dict[str, Any]], heldout: list[dict[str, Any]], steps: int, wall: float, device: str
) -> dict[str, Any]:
    """Final numbers: held-out before/after, and the training metrics of the first and last steps."""
    summary: dict[str, Any] = {"steps": steps, "wall_seconds": round(wall, 1), "device": device}
    summary.update(first_last_summary(history))
    if heldout:
        summary["heldout/accuracy_before"] = heldout[0]["accuracy"]
        summary["heldout/format_rate_before"] = heldout[0]["format_rate"]
        summary["heldout/accuracy_after"] = heldout[-1]["accuracy"]
        summary["heldout/format_rate_after"] = heldout[-1]["format_rate"]
    return summary
