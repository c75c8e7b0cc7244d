"""How work reports while it runs, without knowing who listens.

A trainer, a generation job or an import takes a `Reporter`: the job side (rewardmodel.jobs) passes one
that writes progress and a heartbeat to the job's row and reads its cancel flag; the command line
passes a tqdm bar; tests pass a `ListReporter`. The work calls `log()` with the metrics of a step,
`progress()` as it goes, and stops cleanly (raising `Cancelled`) when `should_stop()` turns true.
No Django and no heavy imports here: the trainers in rewardmodel.training use it too.
"""

from __future__ import annotations

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
