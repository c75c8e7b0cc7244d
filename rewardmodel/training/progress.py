"""What the trainers add to pairwise.progress: a transformers callback that reports to a Reporter,
and the summaries of a run's logged steps. Trainers report through pairwise.progress.Reporter (the
run's side writes its metrics timeline to the database; the command line shows a bar) and raise
pairwise.progress.Cancelled when it asks them to stop.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

from pairwise.progress import Reporter


def trainer_callback(reporter: Reporter) -> Any:
    """A transformers TrainerCallback that forwards logs/progress to `reporter` and honours cancel."""
    from transformers import TrainerCallback

    class _ReporterCallback(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            reporter.progress(state.global_step, state.max_steps)
            if reporter.should_stop():
                control.should_training_stop = True
                state.pairwise_cancelled = True
            return control

        def on_prediction_step(self, args, state, control, **kwargs):
            # Evaluation has no step ends; report anyway so a listener's heartbeat keeps going.
            reporter.progress(state.global_step, state.max_steps)
            return control

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs:
                numeric = {k: v for k, v in logs.items() if isinstance(v, int | float)}
                reporter.log(state.global_step, numeric)
            return control

    return _ReporterCallback()


def trainer_callback_for(events: object) -> Any:
    """A transformers TrainerCallback that passes each event `events` has a method for (on_log,
    on_step_end, ...) to that method. `events` is a plain object defined at module level: the
    trainers keep their per-event logic there, and transformers is imported only here, when needed."""
    from transformers import TrainerCallback

    callback = TrainerCallback()
    for name in dir(TrainerCallback):
        if name.startswith("on_") and callable(getattr(events, name, None)):
            setattr(callback, name, getattr(events, name))
    return callback


class StepEvents:
    """The events of a supervised trainer's loop (SFT, DPO), for trainer_callback_for: progress and
    the cancel flag at every step end, the time budget (past `max_seconds` training ends after the
    current step, a normal finish), and each logged step's metrics under the names the run page
    charts (`names`: TRL's key -> ours). The end-of-training summary and evaluations are not steps."""

    def __init__(self, reporter: Reporter, *, names: Mapping[str, str], max_seconds: float | None) -> None:
        self.reporter, self.names, self.max_seconds = reporter, names, max_seconds
        self.history: list[dict[str, Any]] = []  # every logged step's metrics, with "step"
        self.cancelled = self.out_of_time = False
        self.tokens = 0
        self._started = 0.0

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        self._started = time.monotonic()
        self.reporter.progress(0, state.max_steps, "training")
        return control

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        self.reporter.progress(state.global_step, state.max_steps, "training")
        if self.reporter.should_stop():
            self.cancelled = control.should_training_stop = True
        elif self.max_seconds and time.monotonic() - self._started > self.max_seconds:
            self.out_of_time = control.should_training_stop = True
        return control

    def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None, **kwargs: Any) -> Any:
        if not logs or "train_runtime" in logs or any(k.startswith("eval_") for k in logs):
            return control
        metrics = {
            self.names[k]: v
            for k, v in logs.items()
            if k in self.names and isinstance(v, int | float) and not isinstance(v, bool)
        }
        if "num_tokens" in metrics:
            self.tokens = int(metrics["num_tokens"])
        if metrics:
            self.history.append({"step": state.global_step, **metrics})
            self.reporter.log(state.global_step, metrics)
        return control


def heldout_check(
    trainer: Any, reporter: Reporter, *, keys: Mapping[str, str], step: int, when: str
) -> dict[str, Any]:
    """The trainer's evaluation on its held-out set, reported as heldout/<name> for each of `keys`
    (TRL's eval key -> our name); returns the point."""
    reporter.progress(step, trainer.state.max_steps or 0, f"held-out {when} training")
    result = trainer.evaluate()
    point = {f"heldout/{name}": result.get(key) for key, name in keys.items()}
    reporter.log(step, point)
    return point


def before_after(summary: dict[str, Any], points: list[dict[str, Any]]) -> None:
    """heldout/<name>_before and _after in a summary, from the first and last held-out points."""
    if points:
        for key in points[0]:
            summary[f"{key}_before"] = points[0][key]
            summary[f"{key}_after"] = points[-1][key]


def mean_finite(values: list[Any]) -> float | None:
    """The mean of the finite numbers in `values` (None, NaN and infinities left out), or None."""
    numbers = [v for v in values if isinstance(v, int | float) and math.isfinite(v)]
    return sum(numbers) / len(numbers) if numbers else None


def first_last_summary(history: list[dict[str, Any]]) -> dict[str, float | None]:
    """first/<key> and last/<key>: each logged metric's mean over the first and the last few
    steps (a quarter of the run, 1 to 5 steps), the numbers a run's summary starts from."""
    window = max(1, min(5, len(history) // 4 or 1))
    keys = sorted({k for row in history for k in row if k != "step"})
    summary: dict[str, float | None] = {}
    for key in keys:
        summary[f"first/{key}"] = mean_finite([row.get(key) for row in history[:window]])
        summary[f"last/{key}"] = mean_finite([row.get(key) for row in history[-window:]])
    return summary


def training_summary(
    history: list[dict[str, Any]], *, steps: int, wall_seconds: float, device: str, steps_key: str = "steps"
) -> dict[str, Any]:
    """A run's final numbers: steps done (under `steps_key`), wall time, device, and the training
    metrics of the first and last steps (first_last_summary). Trainers add their held-out numbers."""
    summary: dict[str, Any] = {steps_key: steps, "wall_seconds": round(wall_seconds, 1), "device": device}
    summary.update(first_last_summary(history))
    return summary


def run_in_shell(train: Any, config: Any, title: str) -> int:
    """A trainer's `main()` tail: train with a progress bar, print the summary as JSON, exit 0."""
    import json

    from pairwise.progress import TqdmReporter

    reporter = TqdmReporter(title)
    try:
        result = train(config, reporter)
    finally:
        reporter.close()
    print(json.dumps(result.summary, indent=2, default=str))
    return 0
