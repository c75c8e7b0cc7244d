"""The kinds of training run: one module here per TrainingRun.Kind choice, named after it, each
defining KIND (a rewardmodel.runs.kind.RunKind). KINDS holds them in the choices' order.

Adding a kind takes its trainer (rewardmodel/training/<kind>.py), its module here and its choice in
TrainingRun.Kind (and the migration Django makes for the choice); the forms, commands, checks,
reproduce commands, ledger and report read the rest from KIND.
"""

from __future__ import annotations

import importlib

from pairwise.errors import PairwiseError
from rewardmodel.models import TrainingRun
from rewardmodel.runs.kind import RunKind


def _load() -> dict[str, RunKind]:
    kinds = {}
    for value in TrainingRun.Kind.values:
        kind = importlib.import_module(f"{__name__}.{value}").KIND
        if kind.name != value:
            raise RuntimeError(f"{__name__}.{value} defines the kind {kind.name!r}")
        kinds[value] = kind
    return kinds


KINDS: dict[str, RunKind] = _load()


def run_kind(name: str) -> RunKind:
    """The kind named `name`, or a PairwiseError that lists the kinds."""
    if name not in KINDS:
        raise PairwiseError(f"No kind of run named {name!r}; known: {', '.join(KINDS)}.")
    return KINDS[name]
