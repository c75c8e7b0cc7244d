"""What the trainers add to pairwise.progress: a transformers callback that reports to a Reporter,
and the summaries of a run's logged steps. Trainers report through pairwise.progress.Reporter (the
run's side writes its metrics timeline to the database; the command line shows a bar) and raise
pairwise.progress.Cancelled when it asks them to stop.
"""

from __future__ import annotations

import math
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
