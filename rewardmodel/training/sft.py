"""Supervised fine-tuning on demonstrations with TRL's SFTTrainer: the first step of both roads
(before PPO against a reward model, and DeepSeek-R1's "cold start" before GRPO).

    python -m rewardmodel.training.sft --config cfg.json

cfg.json holds the fields of `SftConfig` below, e.g.

    {"model_dir": "var/models/smollm2-135m-instruct", "output_dir": "var/models/smollm2-sft-1",
     "demonstrations": [{"prompt": [{"role": "user", "content": "What's 2 plus 3?"}],
                         "completion": [{"role": "assistant", "content": "5"}]}, ...],
     "heldout": [...], "epochs": 2, "lr": 2e-5}

or from Python (a Celery worker through rewardmodel.runs.kinds.sft, a test):

    from rewardmodel.training.sft import SftConfig, train_sft
    result = train_sft(SftConfig(model_dir=..., output_dir=..., demonstrations=[...]), ListReporter())

A demonstration is TRL's conversational prompt/completion form: `prompt` the turns before the
answer (system, user, ...), `completion` one assistant turn. `{"messages": [...]}` whose last turn
is the assistant's is accepted too and split the same way. The loss is on the completion only
(TRL's completion_only_loss: the prompt's tokens are masked), the chat template's end-of-turn
token included, so the model also learns to stop. SmolLM2's template has no {% generation %}
markers, so TRL's assistant_only_loss would not work on it; prompt/completion needs none.

Steps, top to bottom:

  1. config: check everything before any heavy work
  2. data: demonstrations into TRL's prompt/completion form
  3. model: the starting checkpoint, pad/eos set as generation expects (<|im_end|> for SmolLM2)
  4. held-out loss before training (mean loss on the held-out demonstrations' completions)
  5. train: per logged step the reporter gets loss, mean_token_accuracy, learning_rate, grad_norm,
     entropy and num_tokens; a cancel stops after the current step (Cancelled, nothing written);
     past max_seconds training ends after the current step, as a normal finish
  6. held-out loss after training: "SFT lowers the loss on its demonstrations"
  7. save: checkpoint, tokenizer and pairwise_sft.json (config and summary) into a dot-named
     temporary folder beside output_dir, renamed into place only when complete

No Django; torch, transformers, trl and datasets are imported inside functions.
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

CONFIG_FILE = "pairwise_sft.json"
LOSS_TYPES = ("nll", "chunked_nll", "dft")

# TRL's log keys → the names the run page charts.
METRIC_NAMES = {
    "loss": "loss",
    "mean_token_accuracy": "mean_token_accuracy",
    "learning_rate": "learning_rate",
    "grad_norm": "grad_norm",
    "entropy": "entropy",
    "num_tokens": "num_tokens",
}
# The held-out numbers measured before and after training, by TRL's evaluation key.
HELDOUT = {"eval_loss": "loss", "eval_mean_token_accuracy": "mean_token_accuracy"}


# --------------------------------------------------------------------------------------------
# 1. config
# --------------------------------------------------------------------------------------------


@dataclass
class SftConfig:
    model_dir: str
    output_dir: str  # must not exist yet
    demonstrations: list[dict[str, Any]]  # {"prompt", "completion"} or {"messages"}, see above
    heldout: list[dict[str, Any]] = field(default_factory=list)  # loss before and after, not trained on
    epochs: float = option(2.0, "passes over the demonstrations", above=0, form=True)
    lr: float = learning_rate(2e-5)
    lr_scheduler: str = lr_schedule()
    warmup_steps: int = warmup()
    batch_size: int = option(8, "demonstrations per optimizer step", low=1, form=True)
    max_length: int = option(
        512, "tokens, prompt and answer together; longer ones are cut at the end", low=16, form=True
    )
    max_grad_norm: float = grad_clip()
    # TRL's default is "chunked_nll" (the logits computed in chunks: less memory for big
    # vocabularies and long sequences); plain "nll" took half the time per step on CPU with our
    # small models, whose full logits fit easily.
    loss_type: str = option("nll", "TRL's SFT loss", choices=LOSS_TYPES)
    logging_steps: int = log_every(1)
    eval_batch_size: int = option(16, "demonstrations per held-out loss step", low=1)
    seed: int = option(0, "seed of the data order and dropout")
    gradient_checkpointing: bool = checkpointing_switch()
    bf16: bool | None = bf16_switch()
    # Wall-clock budget for the training loop: past it, training ends after the current step
    # (a normal finish: the held-out loss is measured and the checkpoint saved).
    max_seconds: float | None = time_budget()
    device: str | None = None  # None: cuda when available, else cpu

    def option_rules(self) -> list[str]:
        """The rules between options: none (each option's bounds say it all)."""
        return []

    def validate(self) -> None:
        problems = config_problems(self) + self.option_rules()
        if problems:
            raise ValueError("; ".join(problems) + ".")
        if not self.demonstrations:
            raise ValueError("No demonstrations to train on.")
        for i, item in enumerate([*self.demonstrations, *self.heldout]):
            as_prompt_completion(item, i)

    def describe(self) -> dict[str, Any]:
        """The config as JSON for the run record and the checkpoint (demonstrations as counts)."""
        data = asdict(self)
        data["demonstrations"] = len(self.demonstrations)
        data["heldout"] = len(self.heldout)
        return data


@dataclass
class SftResult:
    output_dir: str
    steps: int
    wall_seconds: float
    device: str
    history: list[dict[str, Any]]  # every logged step's metrics, with "step"
    examples_seen: int  # demonstrations fed to the model, epochs counted
    tokens_seen: int
    summary: dict[str, Any]


# --------------------------------------------------------------------------------------------
# 2. data
# --------------------------------------------------------------------------------------------


def as_prompt_completion(item: dict[str, Any], index: int = 0) -> dict[str, Any]:
    """{"prompt": turns, "completion": [assistant turn]} from either accepted form; ValueError if neither."""
    if "messages" in item and "prompt" not in item:
        messages = list(item["messages"] or [])
        prompt, completion = messages[:-1], messages[-1:]
    else:
        prompt, completion = list(item.get("prompt") or []), list(item.get("completion") or [])
    if not prompt or len(completion) != 1 or completion[0].get("role") != "assistant":
        raise ValueError(
            f"Demonstration {item.get('id', index)} must be a conversation ending in one assistant turn."
        )
    if not str(completion[0].get("content", "")).strip():
        raise ValueError(f"Demonstration {item.get('id', index)} has an empty answer.")
    clean = [{"role": str(m.get("role", "")), "content": str(m.get("content", ""))} for m in prompt]
    return {"prompt": clean, "completion": [{"role": "assistant", "content": str(completion[0]["content"])}]}


# --------------------------------------------------------------------------------------------
# train
# --------------------------------------------------------------------------------------------


def sft_trainer_args(config: SftConfig, *, device: str, use_bf16: bool, trainer_dir: Path) -> Any:
    """TRL's SFTConfig for this config (the trainer writes only scratch files to `trainer_dir`)."""
    from trl import SFTConfig

    from rewardmodel.training.devices import trainer_kwargs

    return SFTConfig(
        output_dir=str(trainer_dir),
        num_train_epochs=config.epochs,
        learning_rate=config.lr,
        lr_scheduler_type=config.lr_scheduler,
        warmup_steps=config.warmup_steps,
        max_grad_norm=config.max_grad_norm,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.eval_batch_size,
        gradient_accumulation_steps=1,
        max_length=config.max_length,
        completion_only_loss=True,
        loss_type=config.loss_type,
        packing=False,
        logging_steps=config.logging_steps,
        eval_strategy="no",  # the held-out loss is measured before and after, below
        **trainer_kwargs(
            SFTConfig,
            device=device,
            bf16=use_bf16,
            seed=config.seed,
            gradient_checkpointing=config.gradient_checkpointing,
        ),
    )


def train_sft(config: SftConfig, reporter: Reporter) -> SftResult:
    """Fine-tune on the demonstrations; write the policy to `config.output_dir`. Raises Cancelled
    when the reporter asked to stop (nothing is written then), ValueError for a bad config."""
    config.validate()
    output_dir = Path(config.output_dir)
    if output_dir.exists():
        raise ValueError(f"{output_dir} already exists; choose another output folder.")
    if not Path(config.model_dir, "config.json").is_file():
        raise ValueError(f"model_dir {config.model_dir}: no config.json (not a model folder).")

    # ---- imports and setup ------------------------------------------------------------------------
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, PrinterCallback, set_seed
    from trl import SFTTrainer

    from rewardmodel.training.base_model import load_tokenizer
    from rewardmodel.training.devices import bf16_supported, pick_device

    started = time.monotonic()
    device = pick_device(config.device)
    set_seed(config.seed)

    # ---- data ------------------------------------------------------------------------------------
    train_rows = [as_prompt_completion(d, i) for i, d in enumerate(config.demonstrations)]
    heldout_rows = [as_prompt_completion(d, i) for i, d in enumerate(config.heldout)]

    # ---- model -----------------------------------------------------------------------------------
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
        trainer = SFTTrainer(
            model=model,
            args=sft_trainer_args(config, device=device, use_bf16=use_bf16, trainer_dir=work / "trainer"),
            train_dataset=Dataset.from_list(train_rows),
            eval_dataset=Dataset.from_list(heldout_rows) if heldout_rows else None,
            processing_class=tokenizer,
            callbacks=[trainer_callback_for(events)],
        )
        trainer.remove_callback(PrinterCallback)  # disable_tqdm adds it; the reporter shows progress

        # ---- held-out loss before, train, held-out loss after ----------------------------------
        run_heldout(trainer, 0, "before")
        if reporter.should_stop():
            raise Cancelled("stopped before training")
        trainer.train()
        if events.cancelled:
            raise Cancelled(f"stopped at step {trainer.state.global_step} of {trainer.state.max_steps}")
        steps_done = trainer.state.global_step
        run_heldout(trainer, steps_done, "after")

        # ---- save: write beside the target, then rename into place -----------------------------
        final = work / "model"
        trainer.save_model(str(final))
        tokenizer.save_pretrained(str(final))
        wall = time.monotonic() - started
        summary = training_summary(events.history, steps=steps_done, wall_seconds=wall, device=device)
        examples_seen = round(len(train_rows) * (trainer.state.epoch or 0))
        summary.update(
            {
                "examples": len(train_rows),
                "heldout_examples": len(heldout_rows),
                "epochs": round(trainer.state.epoch or 0, 3),
                "stopped_by_time_budget": events.out_of_time,
            }
        )
        before_after(summary, heldout_log)
        (final / CONFIG_FILE).write_text(
            json.dumps({"config": config.describe(), "summary": summary}, indent=2, default=str)
        )
        move_into_place(final, output_dir)

    return SftResult(
        output_dir=str(output_dir),
        steps=steps_done,
        wall_seconds=wall,
        device=device,
        history=events.history,
        examples_seen=examples_seen,
        tokens_seen=events.tokens,
        summary=summary,
    )


# --------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    from pairwise.files.jsonl import read_records

    parser = argparse.ArgumentParser(
        prog="python -m rewardmodel.training.sft",
        description="Supervised fine-tuning with TRL's SFTTrainer (see the module docstring). Flags "
        "override the --config file's values.",
    )
    parser.add_argument("--config", help="JSON file with SftConfig fields")
    parser.add_argument("--model", help="starting checkpoint folder (model_dir)")
    parser.add_argument("--demonstrations", help="JSONL of {prompt, completion} or {messages}")
    parser.add_argument("--heldout", help="JSONL of held-out demonstrations")
    parser.add_argument("--out", help="output folder (output_dir; must not exist)")
    add_arguments(parser, options_of(SftConfig))
    args = parser.parse_args(argv)
    try:
        data = json.loads(Path(args.config).read_text()) if args.config else {}
        if args.model:
            data["model_dir"] = args.model
        if args.out:
            data["output_dir"] = args.out
        if args.demonstrations:
            data["demonstrations"] = read_records(args.demonstrations)
        if args.heldout:
            data["heldout"] = read_records(args.heldout)
        data.update(given(args, options_of(SftConfig)))
        cfg = SftConfig(**data)
        cfg.validate()
    except (OSError, ValueError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return run_in_shell(train_sft, cfg, "SFT")


if __name__ == "__main__":
    raise SystemExit(main())
