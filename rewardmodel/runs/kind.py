"""What a kind of training run is: one frozen description per trainer, read by everything else.

    from rewardmodel.runs.kinds import KINDS
    kind = KINDS["ppo"]     # RunKind: its trainer config, options, models, snapshot, trainer, charts

A RunKind says, in one place:

- what it trains with: its trainer config dataclass (rewardmodel/training/<kind>.py), whose fields
  declared with training.options.option() carry their help text and bounds, and the options of the
  run itself (`run_options`, a dataclass declared the same way: tags, a held-out limit, where the
  demonstrations come from...);
- what it starts from and takes besides (`starts_from`, `inputs`: PPO's reward model), and what
  it makes (`produces`) on which road of the comparison (`road`);
- how its data is frozen (`snapshot`) and trained (`trainer`), and any check particular to it;
- how its runs are shown: the run page's charts, the report's curve and notes, the command line's
  one-line description and summary.

rewardmodel.runs.kinds.KINDS holds one per module there. From it come the start and every check
(runs.services.run_start), the manager's forms (runs.forms), the management commands' flags
(runs.cli), the commands that reproduce a run (runs.reproduce), the ledger's roads and the report's
curves and notes. No torch here: the trainers import it inside their functions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pairwise.errors import PairwiseError
from pairwise.progress import Reporter
from rewardmodel.models import DatasetSnapshot, ModelArtifact, TrainingRun
from rewardmodel.training.options import Option, option, options_of

ROAD_HUMAN_FEEDBACK, ROAD_RULES, ROAD_SUPERVISED, ROAD_BASE = "human feedback", "rules", "supervised", "base"
ROADS = (ROAD_BASE, ROAD_SUPERVISED, ROAD_HUMAN_FEEDBACK, ROAD_RULES)


@dataclass
class RunOutput:
    """What a trainer hands back: a finished checkpoint folder and what to record about it."""

    model_dir: Path
    summary: dict[str, Any] = field(default_factory=dict)  # final metrics shown on the run page
    device: str = ""
    examples_seen: int = 0
    tokens_seen: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)


class Trainer(Protocol):
    """Trains into `output_dir` (complete or absent: write beside it, rename at the end), reports
    through `reporter`, raises training.progress.Cancelled when `reporter.should_stop()` says so."""

    def __call__(self, *, run: TrainingRun, reporter: Reporter, output_dir: Path) -> RunOutput: ...


@dataclass(frozen=True)
class ModelInput:
    """A registered model a run takes besides the one it starts from; the config keeps its id."""

    name: str  # the config key and the option (reward_model: --reward-model)
    kinds: tuple[str, ...]
    help: str
    parent: bool = True  # a parent of the result: its lineage (and ledger) reach through it

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


@dataclass(frozen=True)
class Chart:
    title: str
    keys: tuple[str, ...]


@dataclass
class Named:
    """The run option every kind has: the name of what it makes."""

    output_name: str | None = option(
        None, "name of the model it produces (default <kind>-<project>-run<id>)", flag="name", form=True
    )


@dataclass(frozen=True)
class RunKind:
    name: str  # TrainingRun.Kind value
    label: str  # "PPO": in messages ("Unknown PPO option(s)")
    title: str  # "PPO against a reward model": the form page's title
    about: str  # what the form page says about it
    config: type  # the trainer's config dataclass; its option() fields are the trainer's options
    run_options: type  # a dataclass of the run's own options, declared with option() too
    starts_from: tuple[str, ...]  # ModelArtifact kinds a run may start from
    produces: str  # ModelArtifact kind of its result
    road: str  # which road of the comparison its results are on (ROADS)
    snapshot: Callable[..., DatasetSnapshot]  # (project=, config=) -> the frozen data it trains on
    trainer: Trainer
    command: str = "train_policy"  # the management command that starts it (train_policy: --algo <name>)
    start_flag: str = "--policy"  # that command's flag for the starting model
    inputs: tuple[ModelInput, ...] = ()
    # Checks particular to the kind, run before its snapshot is made: (project=, start=, inputs=,
    # config=, linked=) -> None or PairwiseError. `linked`: the start stands in for a cold start's result.
    check: Callable[..., None] | None = None
    # The demonstration sources of a --cold-start (an SFT run first, this run from its result), the
    # default first; () when the kind takes none.
    cold_start: tuple[str, ...] = ()
    charts: tuple[Chart, ...] = ()
    curve: tuple[str, str] | None = None  # (metric, label) the report draws for its runs
    steps_key: str = "steps"  # the summary's count of what it did (PPO: updates)
    describe: Callable[[TrainingRun, str], str] | None = None  # one line: what the run will do
    summary_lines: Callable[[dict[str, Any]], list[str]] | None = None  # the command line's result
    notes: Callable[[TrainingRun, ModelArtifact], list[str]] | None = None  # where it stalled (report)
    verdict: Callable[[TrainingRun], dict[str, Any] | None] | None = None  # a warning on its page

    @property
    def trainer_options(self) -> list[Option]:
        return options_of(self.config)

    @property
    def own_options(self) -> list[Option]:
        """The run's own options: the result's name, then the kind's run options."""
        return [*options_of(Named), *options_of(self.run_options)]

    @property
    def options(self) -> list[Option]:
        return [*self.trainer_options, *self.own_options]

    def option(self, name: str) -> Option | None:
        return next((o for o in self.options if o.name == name), None)

    def input(self, name: str) -> ModelInput:
        return next(i for i in self.inputs if i.name == name)

    def trainer_config(self, values: Mapping[str, Any], **run_set: Any) -> Any:
        """The trainer's config for a run: the trainer options among its stored `values` (the rest
        are the run's own options and the ids of its inputs), and what the run sets (paths, data).
        A key that is none of these is an error, not ignored: a stored config was edited by hand."""
        names = {o.name for o in self.trainer_options}
        unknown = sorted(
            set(values) - names - {o.name for o in self.own_options} - {i.name for i in self.inputs}
        )
        if unknown:
            raise ValueError(f"Unknown {self.label} option(s) in the run's config: {', '.join(unknown)}.")
        return self.config(**{k: v for k, v in values.items() if k in names}, **run_set)


def run_input(run: TrainingRun, spec: ModelInput) -> ModelArtifact:
    """A model a run takes besides its start (its id is in the run's config)."""
    model = ModelArtifact.objects.filter(pk=run.config.get(spec.name)).first()
    if model is None:
        raise PairwiseError(
            f"Run #{run.pk}'s {spec.name.replace('_', ' ')} (#{run.config.get(spec.name)}) is gone from the registry."
        )
    return model


# --------------------------------------------------------------------------------------------
# what the kinds' command-line summaries share
# --------------------------------------------------------------------------------------------


def number(summary: Mapping[str, Any], key: str) -> str:
    value = summary.get(key)
    return "n/a" if value is None else f"{value:.3f}"


def first_last_lines(summary: Mapping[str, Any], keys: Sequence[str], unit: str = "steps") -> list[str]:
    """One line per metric: its mean over the first and the last few logged steps."""
    return [
        f"  {key}: {number(summary, 'first/' + key)} (first {unit}) -> {number(summary, 'last/' + key)} (last {unit})"
        for key in keys
    ]


def sample_lines(summary: Mapping[str, Any], n: int = 2) -> list[str]:
    return [
        "  sample: " + sample.replace("\n", "\n          ") for sample in (summary.get("samples") or [])[:n]
    ]
