"""The training commands' command lines, made from the kinds (train_policy, train_reward_model).

    add_run_arguments(parser, kinds)                     # one flag per option, with its help
    options, cold, stray = split_options(opts, kind, kinds, cold_start=True)

Every option of every kind the command starts becomes a flag (training.options); a flag several
kinds share says, where they differ, what it means for each. After parsing, what was typed is
split: the chosen kind's options; with --cold-start, the SFT options the kind does not have
(they go to the cold-start SFT run); and flags of other kinds, which are an error, not ignored.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from rewardmodel.runs.kind import RunKind
from rewardmodel.runs.kinds import KINDS
from rewardmodel.training.options import Option, add_argument, cli_help
from rewardmodel.training.verifiable import add_template_arguments, template_from_args


def _flags(kinds: Sequence[RunKind]) -> dict[str, list[tuple[RunKind, Option]]]:
    by_flag: dict[str, list[tuple[RunKind, Option]]] = {}
    for kind in kinds:
        for opt in kind.options:
            if opt.cli:
                by_flag.setdefault(opt.cli_flag, []).append((kind, opt))
    return by_flag


def add_run_arguments(parser: argparse.ArgumentParser, kinds: Sequence[RunKind]) -> None:
    """Flags for every option of `kinds`, the models they take besides the start, --cold-start
    where one takes it, and the prompt template where one has it."""
    for flag, entries in _flags(kinds).items():
        first = entries[0][1]
        clash = [o for _, o in entries if (o.type, o.item) != (first.type, first.item)]
        if clash:
            raise TypeError(f"{flag} has different types in {', '.join(k.name for k, _ in entries)}")
        helps = {cli_help(o) for _, o in entries}
        if len(kinds) == 1:
            text = cli_help(first)
        elif len(helps) == 1:
            names = "" if len(entries) == len(kinds) else ", ".join(k.name for k, _ in entries) + ": "
            text = names + cli_help(first)
        else:
            text = "; ".join(f"{k.name}: {cli_help(o)}" for k, o in entries)
        if len({o.choices for _, o in entries}) > 1:  # each kind checks its own (runs.checks)
            first = dataclasses.replace(first, choices=())
        add_argument(parser, first, help=text)
    for spec in {spec.name: spec for kind in kinds for spec in kind.inputs}.values():
        takers = ", ".join(k.name for k in kinds if spec in k.inputs)
        parser.add_argument(spec.flag, help=f"{takers}: {spec.help} (name or id)")
    if any(kind.cold_start for kind in kinds):
        takers = ", ".join(k.name for k in kinds if k.cold_start)
        parser.add_argument(
            "--cold-start",
            type=int,
            metavar="N",
            help=f"{takers}: first an SFT run on up to N demonstrations, then this run from its result "
            "(SFT's own flags, such as --epochs or --source, go to it)",
        )
    if any(o.name == "template" for kind in kinds for o in kind.options):
        add_template_arguments(parser)


def split_options(
    opts: Mapping[str, Any], kind: RunKind, kinds: Sequence[RunKind]
) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """What the command line typed, as (the kind's options, the cold start's options, messages
    about flags neither takes). Values are as stored (a time budget in minutes becomes seconds)."""
    cold_start = opts.get("cold_start") is not None
    sft = KINDS["sft"]
    mine = {o.name for o in kind.options}
    options: dict[str, Any] = {}
    cold: dict[str, Any] = {}
    stray: list[str] = []
    for flag, entries in _flags(kinds).items():
        opt = entries[0][1]
        value = opts.get(opt.dest)
        if value is None:
            continue
        if opt.name in mine:
            options[opt.name] = next(o for k, o in entries if k is kind).stored(value)
        elif cold_start and any(k is sft for k, _ in entries):
            cold[opt.name] = next(o for k, o in entries if k is sft).stored(value)
        else:
            takers = [k.name for k, _ in entries]
            also = " or --cold-start" if sft.name in takers and kind.cold_start else ""
            stray.append(f"{flag}: for --algo {', '.join(takers)}{also}, not {kind.name}")
    template = template_from_args(argparse.Namespace(**opts)) if "system_prompt" in opts else None
    if template is not None:
        if "template" in mine:
            options["template"] = template
        elif cold_start and (cold.get("source") or kind.cold_start[0]) == "reference":
            cold["template"] = template
        else:
            stray.append(f"--system-prompt, --user-template: not for --algo {kind.name}")
    return options, cold, stray


def takes_input(kind: RunKind, name: str) -> bool:
    return any(spec.name == name for spec in kind.inputs)


def run_and_report(command: Any, runs: Sequence[Any], *, start: str, sync: bool) -> None:
    """What a training command does once its runs exist: say what each will do, then queue them, or
    (--sync) run them here in order with a progress bar and say how each ended."""
    from django.core.management.base import CommandError

    from rewardmodel.models import JobStatus
    from rewardmodel.runs.services import run_enqueue, runs_execute

    out = command.stdout
    for k, run in enumerate(runs):
        kind = KINDS[run.kind]
        begins = start if k == 0 else f"the result of run #{runs[k - 1].pk} ({KINDS[runs[k - 1].kind].label})"
        if kind.describe is not None:
            out.write(kind.describe(run, begins))
    if not sync:
        for run in runs:
            run_enqueue(run)
            waits = f", waits for run #{run.starts_after_id}" if run.starts_after_id else ""
            out.write(f"Run #{run.pk} queued on the `training` queue (task {run.task_id}{waits}).")
        out.write(
            "A worker runs them: celery -A pairwise worker -Q training --pool solo. "
            f"Watch at /runs/{runs[0].pk}/."
        )
        return

    from pairwise.progress import TqdmReporter

    for run in runs_execute(
        runs, reporter_factory=lambda r: TqdmReporter(f"{r.get_kind_display()} run #{r.pk}")
    ):
        if run.status == JobStatus.CANCELLED:
            raise CommandError(f"Run #{run.pk} was cancelled: {run.status_message}")
        if run.status != JobStatus.SUCCEEDED:
            raise CommandError(f"Run #{run.pk} failed: {run.error}")
        kind = KINDS[run.kind]
        done = run.summary.get(kind.steps_key, run.summary.get("steps"))
        out.write(
            f"Succeeded in {run.wall_seconds:.1f} s on {run.device}: run #{run.pk}, {done} {kind.steps_key}. "
            f"Model: {run.output_model.name} ({run.output_model.path})."
        )
        for line in kind.summary_lines(run.summary) if kind.summary_lines else []:
            out.write(command.style.WARNING(line) if "reward hacking" in line else line)
