"""Train a reward model on preference pairs with TRL's RewardTrainer.

    python -m rewardmodel.training.reward --config cfg.json
    accelerate launch -m rewardmodel.training.reward --config cfg.json       # one process per GPU

cfg.json holds the fields of `RewardConfig` below, e.g.

    {"model_dir": "var/models/smollm2-135m-instruct", "train_file": "train.jsonl",
     "eval_file": "eval.jsonl", "output_dir": "var/models/my-reward", "epochs": 1, "lr": 1e-5}

The same `train_reward(config, reporter)` runs from this command line, from a Celery worker
(rewardmodel.runs.services, which records the run) and from tests. Steps, top to bottom:

  1. config: fill in CPU or GPU defaults, check everything before any heavy work
  2. data: read the pairs (TRL or HH files), tokenize them as TRL does, and fit each pair into
     max_length (training.truncation: the context's end and the answers kept, nothing dropped)
  3. model: the base checkpoint with a one-output sequence-classification head
  4. train: TRL RewardTrainer (Bradley-Terry loss), metrics and progress go to the reporter
  5. evaluate: pairwise accuracy and mean margin on the eval pairs (scoring.score_pairs_with)
  6. save: checkpoint, tokenizer and this config into a temporary folder, renamed into place
     only when complete, so a crash never leaves a half-written checkpoint at output_dir

No Django; torch, transformers, trl and datasets are imported inside functions.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pairwise.files.atomic import move_into_place, partial_dir
from pairwise.files.pairs import FORMATS
from pairwise.progress import Cancelled, ListReporter, Reporter, TqdmReporter
from rewardmodel.training.devices import bf16_supported, checkpointing_kwargs, describe_device, has_gpu
from rewardmodel.training.options import (
    add_arguments,
    bf16_switch,
    checkpointing_switch,
    config_problems,
    given,
    learning_rate,
    log_every,
    lr_schedule,
    option,
    options_of,
    warmup,
)
from rewardmodel.training.progress import trainer_callback

CONFIG_FILE = "reward_config.json"
RESULT_FILE = "training_result.json"

# Defaults that depend on the hardware; a field left at None takes the value for the device.
CPU_DEFAULTS = {"batch_size": 4, "max_length": 256, "bf16": False}
GPU_DEFAULTS = {"batch_size": 16, "max_length": 1024, "bf16": True}


# --------------------------------------------------------------------------------------------
# 1. config
# --------------------------------------------------------------------------------------------


@dataclass
class RewardConfig:
    # what to train on, and where the result goes (set by the caller, not options)
    model_dir: str  # base checkpoint (causal LM or reward model) with its tokenizer
    train_file: str  # TRL or HH pairs (JSONL)
    output_dir: str  # must not exist yet
    eval_file: str | None = None
    data_format: str = "auto"  # auto | trl | hh
    # optimisation
    epochs: float = option(1.0, "passes over the training pairs", above=0, form=True)
    max_steps: int = option(-1, "stop after this many steps, overriding epochs (-1: off)")
    lr: float = learning_rate(1e-5)
    batch_size: int | None = option(
        None, "pairs per device and step (empty: 4 on CPU, 16 on GPU)", low=1, form=True
    )
    grad_accum: int = option(1, "steps whose gradients add up before each update", low=1)
    max_length: int | None = option(
        None,
        "tokens; a longer pair is cut to fit, not left out (empty: 256 on CPU, 1024 on GPU)",
        low=16,
        form=True,
    )
    warmup_steps: int = warmup()
    weight_decay: float = option(0.0, "AdamW weight decay", low=0)
    lr_scheduler: str = lr_schedule()
    center_rewards_coefficient: float | None = option(
        None, "pulls the rewards towards zero, e.g. 0.01 (empty: off)", low=0
    )
    gradient_checkpointing: bool = checkpointing_switch()
    bf16: bool | None = bf16_switch()
    seed: int = option(0, "seed of the new score head and the data order")
    # reporting
    logging_steps: int = log_every(5)
    eval_steps: int | None = option(
        None, "also evaluate every N steps while training (empty: at the end only)", low=1
    )
    eval_batch_size: int | None = option(None, "pairs per evaluation step (empty: 2 x batch size)", low=1)
    extra: dict[str, Any] = field(default_factory=dict)  # free-form notes saved with the config

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RewardConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"Unknown reward config keys: {', '.join(unknown)}.")
        return cls(**data)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def resolved(self, *, gpu: bool | None = None) -> RewardConfig:
        """A copy with every None default filled in for this machine (CPU or GPU)."""
        if gpu is None:
            gpu = has_gpu()
        defaults = dict(GPU_DEFAULTS if gpu else CPU_DEFAULTS)
        if gpu and not bf16_supported("cuda"):
            defaults["bf16"] = False
        values = {k: (defaults[k] if getattr(self, k) is None else getattr(self, k)) for k in defaults}
        cfg = dataclasses.replace(self, **values)
        if cfg.eval_batch_size is None:
            cfg.eval_batch_size = 2 * cfg.batch_size
        return cfg

    def problems(self) -> list[str]:
        """Everything wrong with this config, as messages a person can act on (empty when fine)."""
        out = []
        if not Path(self.model_dir, "config.json").is_file():
            out.append(f"model_dir {self.model_dir}: no config.json (not a model folder)")
        for name in ("train_file", "eval_file"):
            value = getattr(self, name)
            if value and not Path(value).is_file():
                out.append(f"{name} {value}: no such file")
        if Path(self.output_dir).exists():
            out.append(f"output_dir {self.output_dir} already exists; pick a new folder")
        return out + self.option_problems()

    def option_problems(self) -> list[str]:
        """Problems with the training options alone (no paths checked): each option's type and
        bounds (training.options), then the rules between them."""
        out = config_problems(self)
        if self.data_format not in FORMATS:
            out.append(f"data_format must be one of {', '.join(FORMATS)}; got {self.data_format!r}")
        return out or self.option_rules()

    def option_rules(self) -> list[str]:
        """The rules between options: none (each option's bounds say it all)."""
        return []

    def validate(self) -> None:
        problems = self.problems()
        if problems:
            raise ValueError("Invalid reward config: " + "; ".join(problems) + ".")


@dataclass
class RewardResult:
    output_dir: str
    device: str
    wall_seconds: float
    train_seconds: float
    steps: int
    train_pairs: int  # pairs trained on: every one
    truncated_pairs: int  # training pairs cut to fit max_length (training.truncation), none left out
    eval_pairs: int
    eval_accuracy: float | None
    eval_margin: float | None
    examples_seen: int  # pairs fed to the model, epochs counted
    tokens_seen: int  # non-padding tokens, chosen and rejected together
    metrics: dict[str, Any] = field(default_factory=dict)  # TRL's final training metrics

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def fitted_rows(pairs: list, tokenizer: Any, max_length: int) -> tuple[list[dict[str, Any]], int]:
    """TRL's tokenized rows (chosen_ids, rejected_ids) for these pairs, each fitted into max_length
    (training.truncation.pair_fit), and how many had to be cut."""
    from rewardmodel.training.scoring import sequence_ids, trl_row
    from rewardmodel.training.truncation import pair_fit

    rows, cut = [], 0
    for pair in pairs:
        row = trl_row(pair, tokenizer)
        chosen, rejected, was_cut = pair_fit(
            sequence_ids(tokenizer, row["prompt"], row["chosen"]),
            sequence_ids(tokenizer, row["prompt"], row["rejected"]),
            max_length=max_length,
        )
        rows.append({"chosen_ids": chosen, "rejected_ids": rejected})
        cut += was_cut
    return rows, cut


# --------------------------------------------------------------------------------------------
# train_reward
# --------------------------------------------------------------------------------------------


def train_reward(config: RewardConfig, reporter: Reporter | None = None) -> RewardResult:
    """Train, evaluate and save a reward model; raises Cancelled if the reporter asks to stop.

    On any failure the partial output is removed and output_dir is left absent.
    """
    import torch
    from accelerate import PartialState
    from datasets import Dataset
    from datasets.utils.logging import disable_progress_bar
    from transformers import AutoModelForSequenceClassification, PrinterCallback, set_seed
    from trl import RewardConfig as TRLRewardConfig
    from trl import RewardTrainer
    from trl.trainer.reward_trainer import suppress_seqcls_warning

    from pairwise.files.pairs import read_pairs
    from rewardmodel.training.base_model import load_tokenizer
    from rewardmodel.training.scoring import score_pairs_with

    started = time.perf_counter()
    disable_progress_bar()  # datasets' map/filter bars; the reporter shows progress
    reporter = reporter or ListReporter()
    state = PartialState()
    cfg = config.resolved()
    cfg.validate()
    output_dir = Path(cfg.output_dir).resolve()
    # Not a random temporary name: every process of an `accelerate launch` must agree on it.
    partial = partial_dir(output_dir)
    if state.is_main_process:
        shutil.rmtree(partial, ignore_errors=True)  # left by a killed earlier attempt
    state.wait_for_everyone()

    try:
        # ----------------------------------------------------------------------------------
        # 2. data
        # ----------------------------------------------------------------------------------
        reporter.progress(0, 0, "reading pairs")
        tokenizer = load_tokenizer(cfg.model_dir)
        train_pairs = read_pairs(cfg.train_file, fmt=cfg.data_format)
        eval_pairs = read_pairs(cfg.eval_file, fmt=cfg.data_format) if cfg.eval_file else []
        if not train_pairs:
            raise ValueError(f"{cfg.train_file} holds no pairs.")
        # Tokenized here, as TRL would, and fitted into max_length rather than left out by TRL.
        train_rows, truncated = fitted_rows(train_pairs, tokenizer, cfg.max_length)
        train_dataset = Dataset.from_list(train_rows)
        eval_dataset = (
            Dataset.from_list(fitted_rows(eval_pairs, tokenizer, cfg.max_length)[0]) if eval_pairs else None
        )

        # ----------------------------------------------------------------------------------
        # 3. model: seeded first, so the new reward head starts the same way every time
        # ----------------------------------------------------------------------------------
        reporter.progress(0, 0, "loading model")
        set_seed(cfg.seed)
        with suppress_seqcls_warning():  # "score.weight newly initialized" is expected here
            model = AutoModelForSequenceClassification.from_pretrained(
                cfg.model_dir, num_labels=1, dtype=torch.float32
            )
        model.config.pad_token_id = tokenizer.pad_token_id  # the head reads the last non-pad token

        # ----------------------------------------------------------------------------------
        # 4. train
        # ----------------------------------------------------------------------------------
        evaluate_during = bool(cfg.eval_steps and eval_dataset is not None)
        args = TRLRewardConfig(
            output_dir=str(partial),
            num_train_epochs=cfg.epochs,
            max_steps=cfg.max_steps,
            learning_rate=cfg.lr,
            per_device_train_batch_size=cfg.batch_size,
            per_device_eval_batch_size=cfg.eval_batch_size,
            gradient_accumulation_steps=cfg.grad_accum,
            max_length=cfg.max_length,
            warmup_steps=cfg.warmup_steps,
            weight_decay=cfg.weight_decay,
            lr_scheduler_type=cfg.lr_scheduler,
            center_rewards_coefficient=cfg.center_rewards_coefficient,
            bf16=cfg.bf16,
            seed=cfg.seed,
            logging_steps=cfg.logging_steps,
            eval_strategy="steps" if evaluate_during else "no",
            eval_steps=cfg.eval_steps if evaluate_during else None,
            save_strategy="no",  # one checkpoint, written below when training is complete
            report_to="none",
            disable_tqdm=True,  # the reporter shows progress
            dataloader_pin_memory=has_gpu(),
            **checkpointing_kwargs(TRLRewardConfig, cfg.gradient_checkpointing),
        )
        reporter.progress(0, 0, "tokenizing")
        trainer = RewardTrainer(
            model=model,
            args=args,
            train_dataset=train_dataset,
            eval_dataset=eval_dataset if evaluate_during else None,
            processing_class=tokenizer,
            callbacks=[trainer_callback(reporter)],
        )
        trainer.remove_callback(PrinterCallback)  # it prints every log dict; the reporter has them
        kept = len(trainer.train_dataset)  # every pair: none is over max_length once fitted
        if reporter.should_stop():
            raise Cancelled("cancelled before training")
        reporter.progress(0, 0, "training")
        train_started = time.perf_counter()
        output = trainer.train()
        train_seconds = time.perf_counter() - train_started
        if getattr(trainer.state, "pairwise_cancelled", False):
            raise Cancelled(f"cancelled at step {trainer.state.global_step}")

        # ----------------------------------------------------------------------------------
        # 5. evaluate: every held-out pair, none left out for length
        # ----------------------------------------------------------------------------------
        accuracy = margin = None
        if eval_pairs and state.is_main_process:
            reporter.progress(trainer.state.global_step, trainer.state.max_steps, "evaluating")
            scored = score_pairs_with(trainer.model, tokenizer, eval_pairs, batch_size=cfg.eval_batch_size)
            accuracy, margin = scored.accuracy, scored.mean_margin
            reporter.log(
                trainer.state.global_step,
                {"eval_accuracy": accuracy, "eval_margin": margin, "eval_pairs": scored.n_pairs},
            )

        # ----------------------------------------------------------------------------------
        # 6. save: into the partial folder, then one rename
        # ----------------------------------------------------------------------------------
        steps = trainer.state.global_step
        examples = steps * cfg.batch_size * cfg.grad_accum * state.num_processes
        if cfg.max_steps <= 0:  # the last batch of an epoch may be short
            examples = min(examples, math.ceil(kept * cfg.epochs))
        result = RewardResult(
            output_dir=str(output_dir),
            device=describe_device(),
            wall_seconds=0.0,
            train_seconds=round(train_seconds, 3),
            steps=steps,
            train_pairs=kept,
            truncated_pairs=truncated,
            eval_pairs=len(eval_pairs),
            eval_accuracy=accuracy,
            eval_margin=margin,
            examples_seen=int(examples),
            tokens_seen=int(getattr(trainer, "_total_train_tokens", 0)),
            metrics={k: v for k, v in output.metrics.items() if isinstance(v, int | float)},
        )
        reporter.progress(steps, trainer.state.max_steps, "saving")
        trainer.save_model(str(partial))  # weights + tokenizer, main process only
        state.wait_for_everyone()
        if state.is_main_process:
            result.wall_seconds = round(time.perf_counter() - started, 3)
            (partial / CONFIG_FILE).write_text(json.dumps(cfg.as_dict(), indent=2))
            (partial / RESULT_FILE).write_text(json.dumps(result.as_dict(), indent=2))
            move_into_place(partial, output_dir)
        state.wait_for_everyone()
        return result
    except BaseException:
        if state.is_main_process:
            shutil.rmtree(partial, ignore_errors=True)
        raise


# --------------------------------------------------------------------------------------------
# command line (and `accelerate launch -m rewardmodel.training.reward`)
# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rewardmodel.training.reward",
        description="Train a reward model with TRL's RewardTrainer (see the module docstring). Flags "
        "override the --config file's values.",
    )
    parser.add_argument("--config", help="JSON file with RewardConfig fields")
    parser.add_argument("--model", help="base checkpoint folder (model_dir)")
    parser.add_argument("--train-file", help="TRL or HH pairs, JSONL (plain or gzipped)")
    parser.add_argument("--eval-file", help="held-out pairs")
    parser.add_argument("--out", help="output folder (output_dir; must not exist)")
    parser.add_argument("--data-format", choices=FORMATS, help="auto (default), trl or hh")
    add_arguments(parser, options_of(RewardConfig))
    args = parser.parse_args(argv)
    paths = {"model_dir": args.model, "train_file": args.train_file, "eval_file": args.eval_file}
    paths.update(output_dir=args.out, data_format=args.data_format)
    try:
        data = json.loads(Path(args.config).read_text()) if args.config else {}
        data.update({k: v for k, v in paths.items() if v is not None})
        data.update(given(args, options_of(RewardConfig)))
        missing = [k for k in ("model_dir", "train_file", "output_dir") if not data.get(k)]
        if missing:
            raise ValueError(
                f"give --config, or --model, --train-file and --out (missing {', '.join(missing)})"
            )
        cfg = RewardConfig.from_dict(data)
        cfg.validate()
    except (OSError, ValueError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    from accelerate import PartialState

    main_process = PartialState().is_main_process
    reporter: Any = TqdmReporter("reward model") if main_process else ListReporter()
    try:
        result = train_reward(cfg, reporter)
    finally:
        if main_process:
            reporter.close()
    if main_process:
        print(json.dumps(result.as_dict(), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
