"""Direct preference optimisation with TRL's DPOTrainer: a policy trained straight from people's
preference pairs, with no reward model and no RL (Rafailov et al. 2023, "Direct Preference
Optimization: Your Language Model is Secretly a Reward Model").

    python -m rewardmodel.training.dpo --model M --pairs train.jsonl [--heldout eval.jsonl] --out DIR

or from Python (a Celery worker through rewardmodel.runs.kinds.dpo, a test):

    from rewardmodel.training.dpo import DpoConfig, train_dpo
    result = train_dpo(DpoConfig(model_dir=..., output_dir=..., pairs=[...]), ListReporter())

A pair is TRL's preference row: {"prompt", "chosen", "rejected"}, each plain text or chat messages
(what the preference export writes, and what `pairwise.files.pairs` reads from TRL or Anthropic HH
files). The loss pulls the policy's log-probability of the chosen answer above the rejected one's,
both measured against a frozen copy of the starting policy (the reference), with `beta` saying how
far from the reference the preferences may pull it.

Steps, top to bottom:

  1. config: check everything before any heavy work
  2. data: the pairs in TRL's conversational preference form
  3. model: the starting checkpoint (the reference is TRL's frozen copy of it)
  4. held-out loss, reward accuracy and margin before training
  5. train: per logged step the reporter gets loss, rewards/chosen, rewards/rejected,
     rewards/margins, rewards/accuracies, logps/chosen, logps/rejected, learning_rate, grad_norm
     and num_tokens; a cancel stops after the current step (Cancelled, nothing written); past
     max_seconds training ends after the current step, as a normal finish
  6. the same held-out numbers after training
  7. save: checkpoint, tokenizer and pairwise_dpo.json (config and summary) into a dot-named
     temporary folder beside output_dir, renamed into place only when complete

TRL cuts a pair longer than max_length (keeping its start) rather than dropping it, so every
judgment is trained on. No Django; torch, transformers, trl and datasets are imported inside
functions.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pairwise.files.atomic import move_into_place, scratch_dir
from pairwise.progress import Cancelled, Reporter
from rewardmodel.training.options import (
    add_arguments,
    bf16_switch,
    checkpointing_switch,
    config_problems,
    given,
    grad_clip,
    learning_rate,
    log_every,
    lr_schedule,
    option,
    options_of,
    time_budget,
    warmup,
)
from rewardmodel.training.progress import (
    StepEvents,
    before_after,
    heldout_check,
    run_in_shell,
    trainer_callback_for,
    training_summary,
)

CONFIG_FILE = "pairwise_dpo.json"
# TRL 1.12's DPO losses that need nothing but preference pairs.
LOSS_TYPES = (
    "sigmoid",
    "hinge",
    "ipo",
    "robust",
    "bco_pair",
    "sppo_hard",
    "nca_pair",
    "apo_zero",
    "apo_down",
)

# TRL's log keys → the names the run page charts (the same names: TRL's are already clear).
METRIC_NAMES = {
    key: key
    for key in (
        "loss",
        "rewards/chosen",
        "rewards/rejected",
        "rewards/margins",
        "rewards/accuracies",
        "logps/chosen",
        "logps/rejected",
        "learning_rate",
        "grad_norm",
        "num_tokens",
    )
}
# Held-out numbers measured before and after training, by TRL's evaluation key.
HELDOUT = {"eval_loss": "loss", "eval_rewards/accuracies": "accuracy", "eval_rewards/margins": "margin"}


# --------------------------------------------------------------------------------------------
# 1. config
# --------------------------------------------------------------------------------------------


@dataclass
class DpoConfig:
    model_dir: str  # the starting policy; TRL's frozen copy of it is the reference
    output_dir: str  # must not exist yet
    pairs: list[dict[str, Any]]  # {"prompt", "chosen", "rejected"} rows
    heldout: list[dict[str, Any]] = field(default_factory=list)  # measured before and after, not trained on
    beta: float = option(
        0.1, "how far from the starting policy the preferences may pull it (DPO's beta)", above=0, form=True
    )
    loss_type: str = option("sigmoid", "TRL's DPO loss (sigmoid: the paper's)", choices=LOSS_TYPES)
    label_smoothing: float = option(0.0, "share of labels taken as flipped (cDPO); 0: off", low=0, below=0.5)
    epochs: float = option(1.0, "passes over the training pairs", above=0, form=True)
    lr: float = learning_rate(1e-6)
    lr_scheduler: str = lr_schedule()
    warmup_steps: int = warmup()
    batch_size: int = option(8, "pairs per optimizer step", low=1, form=True)
    max_length: int = option(
        512,
        "tokens, prompt and answer together; a longer pair is cut at the end, not dropped",
        low=16,
        form=True,
    )
    max_grad_norm: float = grad_clip()
    precompute_ref: bool = option(
        True,
        "score the pairs with the reference once before training (one forward pass each, less memory after)",
    )
    logging_steps: int = log_every(1)
    eval_batch_size: int = option(16, "pairs per held-out evaluation step", low=1)
    seed: int = option(0, "seed of the data order and dropout")
    gradient_checkpointing: bool = checkpointing_switch()
    bf16: bool | None = bf16_switch()
    max_seconds: float | None = time_budget()
    device: str | None = None  # None: cuda when available, else cpu

    def option_rules(self) -> list[str]:
        """The rules between options: none (each option's bounds say it all)."""
        return []

    def validate(self) -> None:
        problems = config_problems(self) + self.option_rules()
        if problems:
            raise ValueError("; ".join(problems) + ".")
        if not self.pairs:
            raise ValueError("No preference pairs to train on.")
        for i, row in enumerate([*self.pairs, *self.heldout]):
            as_preference(row, i)

    def describe(self) -> dict[str, Any]:
        """The config as JSON for the run record and the checkpoint (pairs as counts)."""
        data = asdict(self)
        data["pairs"] = len(self.pairs)
        data["heldout"] = len(self.heldout)
        return data


@dataclass
class DpoResult:
    output_dir: str
    steps: int
    wall_seconds: float
    device: str
    history: list[dict[str, Any]]  # every logged step's metrics, with "step"
    examples_seen: int  # pairs fed to the model, epochs counted
    tokens_seen: int
    summary: dict[str, Any]


# --------------------------------------------------------------------------------------------
# 2. data
# --------------------------------------------------------------------------------------------


def _turns(value: Any, role: str) -> list[dict[str, str]]:
    if isinstance(value, str):
        return [{"role": role, "content": value}]
    return [{"role": str(m.get("role", "")), "content": str(m.get("content", ""))} for m in value or []]


def as_preference(row: dict[str, Any], index: int = 0) -> dict[str, Any]:
    """{"prompt": turns, "chosen": [assistant turn(s)], "rejected": [...]} from a preference row
    (text or chat messages); ValueError when it is not one."""
    prompt = _turns(row.get("prompt"), "user")
    chosen, rejected = _turns(row.get("chosen"), "assistant"), _turns(row.get("rejected"), "assistant")
    where = row.get("comparison_id", index)
    if not prompt or not chosen or not rejected:
        raise ValueError(f"Pair {where} needs a prompt, a chosen and a rejected answer.")
    if chosen == rejected:
        raise ValueError(f"Pair {where}: the chosen and rejected answers are the same.")
    return {"prompt": prompt, "chosen": chosen, "rejected": rejected}


# --------------------------------------------------------------------------------------------
# train
# --------------------------------------------------------------------------------------------


def dpo_trainer_args(config: DpoConfig, *, device: str, use_bf16: bool, trainer_dir: Path) -> Any:
    """TRL's DPOConfig for this config (the trainer writes only scratch files to `trainer_dir`)."""
    from trl import DPOConfig

    from rewardmodel.training.devices import trainer_kwargs

    return DPOConfig(
        output_dir=str(trainer_dir),
        num_train_epochs=config.epochs,
        learning_rate=config.lr,
        lr_scheduler_type=config.lr_scheduler,
        warmup_steps=config.warmup_steps,
        max_grad_norm=config.max_grad_norm,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.eval_batch_size,
        gradient_accumulation_steps=1,
        beta=config.beta,
        loss_type=[config.loss_type],
        label_smoothing=config.label_smoothing,
        max_length=config.max_length,
        precompute_ref_log_probs=config.precompute_ref,
        logging_steps=config.logging_steps,
        eval_strategy="no",  # the held-out numbers are measured before and after, below
        **trainer_kwargs(
            DPOConfig,
            device=device,
            bf16=use_bf16,
            seed=config.seed,
            gradient_checkpointing=config.gradient_checkpointing,
        ),
    )


def train_dpo(config: DpoConfig, reporter: Reporter) -> DpoResult:
    """Train a policy on the pairs; write it to `config.output_dir`. Raises Cancelled when the
    reporter asked to stop (nothing is written then), ValueError for a bad config."""
    config.validate()
    output_dir = Path(config.output_dir)
    if output_dir.exists():
        raise ValueError(f"{output_dir} already exists; choose another output folder.")
    if not Path(config.model_dir, "config.json").is_file():
        raise ValueError(f"model_dir {config.model_dir}: no config.json (not a model folder).")

    # ---- imports and setup ------------------------------------------------------------------------
    import torch
    from datasets import Dataset
    from datasets.utils.logging import disable_progress_bar
    from transformers import AutoModelForCausalLM, PrinterCallback, set_seed
    from trl import DPOTrainer

    from rewardmodel.training.base_model import load_tokenizer
    from rewardmodel.training.devices import bf16_supported, pick_device

    started = time.monotonic()
    disable_progress_bar()  # datasets' map bars; the reporter shows progress
    device = pick_device(config.device)
    set_seed(config.seed)

    # ---- data and model ---------------------------------------------------------------------------
    train_rows = [as_preference(row, i) for i, row in enumerate(config.pairs)]
    heldout_rows = [as_preference(row, i) for i, row in enumerate(config.heldout)]
    tokenizer = load_tokenizer(config.model_dir)
    use_bf16 = config.bf16 if config.bf16 is not None else bf16_supported(device)
    model = AutoModelForCausalLM.from_pretrained(config.model_dir, dtype=torch.float32)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id

    events = StepEvents(reporter, names=METRIC_NAMES, max_seconds=config.max_seconds)
    heldout_log: list[dict[str, Any]] = []

    def run_heldout(trainer: Any, step: int, when: str) -> None:
        if heldout_rows:
            heldout_log.append(heldout_check(trainer, reporter, keys=HELDOUT, step=step, when=when))

    # The checkpoint is written beside the target, then renamed into place.
    with scratch_dir(output_dir.parent, prefix=f".{output_dir.name}-") as work:
        reporter.progress(
            0, 0, "scoring the pairs with the reference" if config.precompute_ref else "tokenizing"
        )
        trainer = DPOTrainer(
            model=model,
            args=dpo_trainer_args(config, device=device, use_bf16=use_bf16, trainer_dir=work / "trainer"),
            train_dataset=Dataset.from_list(train_rows),
            eval_dataset=Dataset.from_list(heldout_rows) if heldout_rows else None,
            processing_class=tokenizer,
            callbacks=[trainer_callback_for(events)],
        )
        trainer.remove_callback(PrinterCallback)  # disable_tqdm adds it; the reporter shows progress

        # ---- held-out numbers before, train, held-out numbers after ------------------------------
        run_heldout(trainer, 0, "before")
        if reporter.should_stop():
            raise Cancelled("stopped before training")
        trainer.train()
        if events.cancelled:
            raise Cancelled(f"stopped at step {trainer.state.global_step} of {trainer.state.max_steps}")
        steps_done = trainer.state.global_step
        run_heldout(trainer, steps_done, "after")

        # ---- save: write beside the target, then rename into place -------------------------------
        final = work / "model"
        trainer.save_model(str(final))
        tokenizer.save_pretrained(str(final))
        wall = time.monotonic() - started
        summary = training_summary(events.history, steps=steps_done, wall_seconds=wall, device=device)
        summary.update(
            {
                "pairs": len(train_rows),
                "heldout_pairs": len(heldout_rows),
                "epochs": round(trainer.state.epoch or 0, 3),
                "beta": config.beta,
                "stopped_by_time_budget": events.out_of_time,
            }
        )
        before_after(summary, heldout_log)
        (final / CONFIG_FILE).write_text(
            json.dumps({"config": config.describe(), "summary": summary}, indent=2, default=str)
        )
        move_into_place(final, output_dir)

    return DpoResult(
        output_dir=str(output_dir),
        steps=steps_done,
        wall_seconds=wall,
        device=device,
        history=events.history,
        examples_seen=round(len(train_rows) * (trainer.state.epoch or 0)),
        tokens_seen=events.tokens,
        summary=summary,
    )


# --------------------------------------------------------------------------------------------
# command line (no Django): the same trainer from a shell
# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    from pairwise.files.pairs import read_pairs

    parser = argparse.ArgumentParser(
        prog="python -m rewardmodel.training.dpo",
        description="DPO with TRL's DPOTrainer (see the module docstring).",
    )
    parser.add_argument("--model", required=True, help="starting policy folder")
    parser.add_argument("--pairs", required=True, help="TRL or Anthropic HH pairs, JSONL (plain or gzipped)")
    parser.add_argument("--heldout", help="held-out pairs, measured before and after")
    parser.add_argument("--out", required=True, help="output folder (must not exist)")
    parser.add_argument("--device", help="cuda, cpu, ... (default: cuda when available)")
    add_arguments(parser, options_of(DpoConfig))
    args = parser.parse_args(argv)
    try:
        config = DpoConfig(
            model_dir=args.model,
            output_dir=args.out,
            pairs=read_pairs(args.pairs),
            heldout=read_pairs(args.heldout) if args.heldout else [],
            device=args.device,
            **given(args, options_of(DpoConfig)),
        )
        config.validate()
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return run_in_shell(train_dpo, config, "DPO")


if __name__ == "__main__":
    raise SystemExit(main())
