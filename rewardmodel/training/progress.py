"""How training code reports while it runs, without knowing who listens.

Trainers take a `Reporter`: the Django side passes one that writes the run's metrics timeline,
heartbeat and progress to the database and reads the cancel flag; the command line passes a tqdm
bar; tests pass a `ListReporter`. A trainer calls `log()` with the metrics of a step, `progress()`
as it goes, and stops cleanly (raising `Cancelled`) when `should_stop()` turns true.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol


class Cancelled(Exception):
    """Raised by a trainer that stopped because its reporter asked it to."""


class Reporter(Protocol):
    def log(self, step: int, metrics: dict[str, Any]) -> None: ...

    def progress(self, done: int, total: int, message: str = "") -> None: ...

    def should_stop(self) -> bool: ...


@dataclass
class ListReporter:
    """Keeps everything in memory (tests, plain scripts). `stop_after` simulates a cancel."""

    logs: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    stop_after: int | None = None
    last_progress: tuple[int, int] = (0, 0)

    def log(self, step: int, metrics: dict[str, Any]) -> None:
        self.logs.append((step, dict(metrics)))

    def progress(self, done: int, total: int, message: str = "") -> None:
        self.last_progress = (done, total)

    def should_stop(self) -> bool:
        return self.stop_after is not None and self.last_progress[0] >= self.stop_after


class TqdmReporter:
    """A progress bar on the command line; metrics go to the bar's postfix."""

    def __init__(self, description: str = "training") -> None:
        from tqdm import tqdm

        self._bar = tqdm(total=0, desc=description, unit="step", dynamic_ncols=True)

    def log(self, step: int, metrics: dict[str, Any]) -> None:
        shown = {k: round(v, 4) for k, v in metrics.items() if isinstance(v, int | float)}
        self._bar.set_postfix(dict(list(shown.items())[:4]), refresh=False)

    def progress(self, done: int, total: int, message: str = "") -> None:
        if total and self._bar.total != total:
            self._bar.total = total
        self._bar.n = done
        if message:
            self._bar.set_description_str(message, refresh=False)
        self._bar.refresh()

    def should_stop(self) -> bool:
        return False

    def close(self) -> None:
        self._bar.close()


class FanoutReporter:
    """Passes everything to several reporters (a tqdm bar and the database); stops if any asks."""

    def __init__(self, *reporters: Reporter) -> None:
        self.reporters = reporters

    def log(self, step: int, metrics: dict[str, Any]) -> None:
        for reporter in self.reporters:
            reporter.log(step, metrics)

    def progress(self, done: int, total: int, message: str = "") -> None:
        for reporter in self.reporters:
            reporter.progress(done, total, message)

    def should_stop(self) -> bool:
        # Ask every reporter (no short-circuit): each may need its periodic check.
        return any([reporter.should_stop() for reporter in self.reporters])


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
