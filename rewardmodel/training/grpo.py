"""Rule-based GRPO (DeepSeek-R1 style) with TRL's GRPOTrainer: no reward model, only rules.

    from rewardmodel.training.grpo import GrpoConfig, train_grpo
    from pairwise.progress import ListReporter

    config = GrpoConfig(
        model_dir="var/models/smollm2-135m-instruct",
        output_dir="var/models/smollm2-grpo-1",
        prompts=[{"question": "What's 12 times 14?", "answer": "168"}, ...],
        heldout=[...],
        rewards=["accuracy", "format_partial"],
    )
    result = train_grpo(config, ListReporter())

    python -m rewardmodel.training.grpo --model M --prompts train.jsonl [--heldout heldout.jsonl] \
        --out DIR [--steps 50] [--rewards accuracy,format] ...     (same thing from a shell)

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

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pairwise.files.atomic import move_into_place, scratch_dir
from pairwise.progress import Cancelled, Reporter
from rewardmodel.training.devices import bf16_supported, pick_device
from rewardmodel.training.options import (
    add_arguments,
    bf16_switch,
    checkpointing_switch,
    config_problems,
    given,
    grad_clip,
    learning_rate,
    option,
    options_of,
    time_budget,
    warmup,
)
from rewardmodel.training.progress import run_in_shell, trainer_callback_for, training_summary
from rewardmodel.training.rule_rewards import REWARDS, completion_text, is_formatted
from rewardmodel.training.verifiable import (
    PromptTemplate,
    add_template_arguments,
    build_examples,
    template_from_args,
)

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
    # Names from rule_rewards.REWARDS, or callables with TRL's reward signature (tests, scripts).
    rewards: list[str | Callable[..., list[float]]] = option(
        ["accuracy", "format"], "rule-based rewards, summed", choices=REWARDS, form=True
    )
    reward_weights: list[float] | None = option(None, "one weight per reward (empty: 1 each)")
    # The chat the question is put in (--system-prompt, --user-template on the command line).
    template: dict[str, str] = option(PromptTemplate().as_dict(), "the prompt template", cli=False)
    num_generations: int = option(
        8, "completions per prompt: the group whose rewards are compared", low=2, form=True
    )
    batch_size: int = option(
        32, "completions per optimizer step, a multiple of num_generations", low=2, form=True
    )
    steps: int = option(50, "optimizer steps", low=1, form=True)
    lr: float = learning_rate(2e-5)
    beta: float = option(0.0, "KL coefficient (0, as in DAPO and our baselines)", low=0, form=True)
    measure_kl: bool = option(True, "chart KL even when beta is 0 (one reference forward pass more)")
    max_completion_length: int = option(96, "tokens per completion", low=1, form=True)
    temperature: float = option(0.8, "sampling temperature", above=0, form=True)
    top_p: float = option(
        1.0, "nucleus sampling: keep the most likely tokens up to this mass", above=0, high=1
    )
    top_k: int = option(0, "sample from the k most likely tokens (0: off)", low=0)
    loss_type: str = option("dapo", "TRL's GRPO loss (dapo: token-level normalisation, no length bias)")
    scale_rewards: str = option("group", "how TRL scales advantages: group, batch or none")
    max_grad_norm: float = grad_clip()
    warmup_steps: int = warmup()
    eval_every: int = option(
        10, "held-out accuracy every N steps (0: before and after only)", low=0, form=True
    )
    eval_max_new_tokens: int | None = option(
        None, "tokens per held-out answer (empty: max_completion_length)", low=1
    )
    eval_batch_size: int = option(16, "held-out prompts per generation batch", low=1)
    samples_to_log: int = option(4, "sample completions kept per logged step", low=0)
    seed: int = option(0, "seed of sampling and the data order")
    gradient_checkpointing: bool = checkpointing_switch()
    # bf16 autocast: None = on a GPU that supports it; True also works on CPUs with AVX512-BF16,
    # where it roughly halves the time of a forward pass.
    bf16: bool | None = bf16_switch()
    # Wall-clock budget for the training loop: past it, training ends after the current step
    # (a normal finish: the final held-out check runs and the checkpoint is saved).
    max_seconds: float | None = time_budget()
    device: str | None = None  # None: cuda when available, else cpu

    def option_rules(self) -> list[str]:
        """The rules between options."""
        out = []
        if self.batch_size % self.num_generations:
            out.append(
                f"batch_size ({self.batch_size}) must be a positive multiple of num_generations "
                f"({self.num_generations}): each prompt's group of completions goes in one step"
            )
        if not self.rewards:
            out.append(f"give at least one reward: {', '.join(REWARDS)}")
        if self.reward_weights is not None and len(self.reward_weights) != len(self.rewards):
            out.append("give one reward weight per reward")
        try:
            PromptTemplate.from_dict(self.template)
        except ValueError as exc:
            out.append(str(exc).rstrip("."))
        return out

    def validate(self) -> None:
        problems = config_problems(self) + self.option_rules()
        if problems:
            raise ValueError("; ".join(problems) + ".")
        if not self.prompts:
            raise ValueError("No training prompts.")

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


# ------------------------------------------------------------------------------------------------
# setup: the model, the examples, TRL's arguments
# ------------------------------------------------------------------------------------------------


@dataclass
class GrpoSetup:
    """What one training needs, loaded and built before the trainer is."""

    device: str
    use_bf16: bool
    tokenizer: Any
    model: Any
    train_examples: list[dict[str, Any]]
    heldout_examples: list[dict[str, Any]]
    board: _Scoreboard


def grpo_setup(config: GrpoConfig) -> GrpoSetup:
    """Seed, build the examples from the template, load the tokenizer (left padding) and policy."""
    import torch
    from transformers import AutoModelForCausalLM, set_seed

    from rewardmodel.training.base_model import load_tokenizer

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
    return GrpoSetup(device, use_bf16, tokenizer, model, train_examples, heldout_examples, board)


def grpo_trainer_args(config: GrpoConfig, setup: GrpoSetup, trainer_dir: Path) -> Any:
    """TRL's GRPOConfig for this config (the trainer writes only scratch files to `trainer_dir`)."""
    from trl import GRPOConfig

    from rewardmodel.training.devices import trainer_kwargs

    beta = config.beta if config.beta > 0 or not config.measure_kl else KL_PROBE_BETA
    return GRPOConfig(
        output_dir=str(trainer_dir),
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
        **trainer_kwargs(
            GRPOConfig,
            device=setup.device,
            bf16=setup.use_bf16,
            seed=config.seed,
            gradient_checkpointing=config.gradient_checkpointing,
        ),
        disable_dropout=True,
        log_completions=False,
        remove_unused_columns=False,
    )


# ------------------------------------------------------------------------------------------------
# what happens at each trainer event
# ------------------------------------------------------------------------------------------------


class GrpoEvents:
    """The trainer's events (wrapped by progress.trainer_callback_for): held-out checks before,
    every `eval_every` steps and after; cancel and the time budget; metrics under the names the
    run page charts. What training produced is kept here for the result."""

    def __init__(self, config: GrpoConfig, setup: GrpoSetup, reporter: Reporter) -> None:
        self.config, self.setup, self.reporter = config, setup, reporter
        self.history: list[dict[str, Any]] = []
        self.heldout: list[dict[str, Any]] = []
        self.last_samples: list[str] = []
        self.tokens = 0
        self.cancelled = False
        self.out_of_time = False
        self.train_started = 0.0

    def run_heldout(self, model: Any, step: int) -> None:
        from rewardmodel.training.evaluate import evaluate_examples

        config = self.config
        if not self.setup.heldout_examples:
            return
        result = evaluate_examples(
            model,
            self.setup.tokenizer,
            self.setup.heldout_examples,
            samples=1,
            max_new_tokens=config.eval_max_new_tokens or config.max_completion_length,
            batch_size=config.eval_batch_size,
            seed=config.seed,
        )
        self.heldout.append(
            {
                "step": step,
                "accuracy": result.accuracy,
                "format_rate": result.format_rate,
                "mean_length": result.mean_length,
            }
        )
        self.reporter.log(
            step,
            {
                "heldout/accuracy": result.accuracy,
                "heldout/format_rate": result.format_rate,
                "heldout/completion_length": result.mean_length,
                "heldout/samples": result.sample_strings(config.samples_to_log),
            },
        )

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        self.reporter.progress(0, self.config.steps, "held-out check before training")
        self.run_heldout(model, 0)
        self.train_started = time.monotonic()
        self.reporter.progress(0, self.config.steps, "training")

    def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> Any:
        config, step = self.config, state.global_step
        self.reporter.progress(step, config.steps, "training")
        if self.reporter.should_stop():
            self.cancelled = True
            control.should_training_stop = True
            return control
        if config.max_seconds and time.monotonic() - self.train_started > config.max_seconds:
            self.out_of_time = True
            control.should_training_stop = True
        if config.eval_every and step % config.eval_every == 0 and step != config.steps:
            self.run_heldout(model, step)
        return control

    def on_train_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> Any:
        if not self.cancelled:
            self.run_heldout(model, state.global_step)  # the "after" number, however training ended
        return control

    def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None, **kwargs: Any) -> Any:
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
                self.tokens = int(value)
        # The story first (a progress bar shows the first few): rewards, format, KL, length.
        first = ("format_rate", "kl", "completion_length")
        metrics = dict(
            sorted(metrics.items(), key=lambda kv: (not kv[0].startswith("reward/"), kv[0] not in first))
        )
        samples = self.setup.board.samples()
        if samples:
            metrics["samples"] = samples
            self.last_samples = samples
        self.history.append(
            {"step": state.global_step, **{k: v for k, v in metrics.items() if k != "samples"}}
        )
        self.reporter.log(state.global_step, metrics)
        return control


# ------------------------------------------------------------------------------------------------
# train_grpo
# ------------------------------------------------------------------------------------------------


def train_grpo(config: GrpoConfig, reporter: Reporter) -> GrpoResult:
    """Train with GRPO; write the policy to `config.output_dir`. Raises Cancelled when the
    reporter asked to stop (nothing is written then), ValueError for a bad config."""
    config.validate()
    output_dir = Path(config.output_dir)
    if output_dir.exists():
        raise ValueError(f"{output_dir} already exists; choose another output folder.")
    from datasets import Dataset
    from transformers import PrinterCallback
    from trl import GRPOTrainer

    started = time.monotonic()
    setup = grpo_setup(config)
    events = GrpoEvents(config, setup, reporter)

    # The checkpoint is written beside the target, then renamed into place.
    with scratch_dir(output_dir.parent, prefix=f".{output_dir.name}-") as work:
        trainer = GRPOTrainer(
            model=setup.model,
            reward_funcs=setup.board.wrapped,
            args=grpo_trainer_args(config, setup, work / "trainer"),
            train_dataset=Dataset.from_list(setup.train_examples),
            processing_class=setup.tokenizer,
            callbacks=[trainer_callback_for(events)],
        )
        trainer.remove_callback(PrinterCallback)  # disable_tqdm adds it; the reporter shows progress
        trainer.train()
        if events.cancelled:
            raise Cancelled(f"stopped at step {trainer.state.global_step} of {config.steps}")

        final = work / "model"
        trainer.save_model(str(final))
        setup.tokenizer.save_pretrained(str(final))
        steps_done = trainer.state.global_step
        wall = time.monotonic() - started
        summary = grpo_summary(events.history, events.heldout, steps_done, wall, setup.device)
        summary["stopped_by_time_budget"] = events.out_of_time
        (final / "pairwise_grpo.json").write_text(
            json.dumps({"config": config.describe(), "summary": summary}, indent=2, default=str)
        )
        move_into_place(final, output_dir)

    return GrpoResult(
        output_dir=str(output_dir),
        steps=steps_done,
        wall_seconds=wall,
        device=setup.device,
        history=events.history,
        heldout=events.heldout,
        samples=events.last_samples,
        examples_seen=steps_done * config.batch_size,
        tokens_seen=events.tokens,
        summary=summary,
    )


def grpo_summary(
    history: list[dict[str, Any]], heldout: list[dict[str, Any]], steps: int, wall: float, device: str
) -> dict[str, Any]:
    """Final numbers: held-out before/after, and the training metrics of the first and last steps."""
    summary = training_summary(history, steps=steps, wall_seconds=wall, device=device)
    if heldout:
        summary["heldout/accuracy_before"] = heldout[0]["accuracy"]
        summary["heldout/format_rate_before"] = heldout[0]["format_rate"]
        summary["heldout/accuracy_after"] = heldout[-1]["accuracy"]
        summary["heldout/format_rate_after"] = heldout[-1]["format_rate"]
    return summary


# ------------------------------------------------------------------------------------------------
# command line (no Django): the same trainer from a shell
# ------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    from pairwise.files.jsonl import read_records

    parser = argparse.ArgumentParser(
        prog="python -m rewardmodel.training.grpo",
        description="Rule-based GRPO with TRL's GRPOTrainer (see the module docstring).",
    )
    parser.add_argument("--model", required=True, help="starting policy folder")
    parser.add_argument(
        "--prompts", required=True, help="JSONL(.gz) of {'question' or 'messages', 'answer'} records"
    )
    parser.add_argument("--heldout", help="JSONL(.gz) of held-out prompt records")
    parser.add_argument("--out", required=True, help="output folder (must not exist)")
    parser.add_argument("--device", help="cuda, cpu, ... (default: cuda when available)")
    add_arguments(parser, options_of(GrpoConfig))
    add_template_arguments(parser)
    args = parser.parse_args(argv)
    options = given(args, options_of(GrpoConfig))
    if args.device:
        options["device"] = args.device
    template = template_from_args(args)
    if template is not None:
        options["template"] = template
    try:
        config = GrpoConfig(
            model_dir=args.model,
            output_dir=args.out,
            prompts=read_records(args.prompts),
            heldout=read_records(args.heldout) if args.heldout else [],
            **options,
        )
        config.validate()
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return run_in_shell(train_grpo, config, "GRPO")


if __name__ == "__main__":
    raise SystemExit(main())
