"""python manage.py simulate_labelers --project NAME --oracle reward:R|rule|length [--agreement 0.726]
[--judgments N] [--labelers 5] [--seed S] [--ties tie|coin]: see rewardmodel/evaluation/simulated_labelers.py."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from annotate.management.projects import project_named
from pairwise.errors import PairwiseError
from rewardmodel.evaluation.simulated_labelers import (
    DEFAULT_AGREEMENT,
    TIES,
    flip_probability,
    labelers_simulate,
    open_slots,
    oracle_for,
)


class Command(BaseCommand):
    # System checks import every URL module (DRF, the schema generator): seconds a simulation does
    # not need; `manage.py check` still runs them.
    requires_system_checks: list = []
    help = (
        "Simulated labelers (accounts sim-<project>-N in the `simulated` group) judge a project's "
        "comparisons through the same services as people, following an oracle (a reward model, the "
        "reference-answer rule, or length) with noise set so that two of them agree at --agreement. "
        "Their judgments are stored as source 'simulated'."
    )

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True, help="Project name.")
        parser.add_argument(
            "--oracle",
            required=True,
            help="reward:NAME_OR_ID (a registered reward model), rule (reference answers) or length.",
        )
        parser.add_argument(
            "--agreement",
            type=float,
            default=DEFAULT_AGREEMENT,
            help=f"Pairwise agreement between two simulated labelers, 0.5-1 (default {DEFAULT_AGREEMENT}, "
            "InstructGPT's inter-labeler agreement).",
        )
        parser.add_argument("--judgments", type=int, help="Stop after this many (default: until none left).")
        parser.add_argument("--labelers", type=int, default=5, help="Simulated accounts (default 5).")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--ties",
            choices=TIES,
            default="tie",
            help="When the oracle has no preference: answer tie (default) or pick a side by coin.",
        )
        parser.add_argument("--batch-size", type=int, default=16, help="Reward-model scoring batch.")

    def handle(self, *args, **opts):
        project = project_named(opts["project"])
        if opts["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        try:
            p = flip_probability(opts["agreement"])  # checked before a model is loaded
            oracle = oracle_for(opts["oracle"], project=project, batch_size=opts["batch_size"])
            total = opts["judgments"] or open_slots(project=project)
            from tqdm import tqdm

            with tqdm(total=total, desc=f"simulated judgments ({oracle.name})", unit="j") as bar:
                result = labelers_simulate(
                    project=project,
                    oracle=oracle,
                    agreement=opts["agreement"],
                    judgments=opts["judgments"],
                    labelers=opts["labelers"],
                    seed=opts["seed"],
                    ties=opts["ties"],
                    on_judgment=lambda: bar.update(1),
                )
        except PairwiseError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(
            f"Recorded {result.judgments} simulated judgments in {project.name!r} with the {oracle.name} "
            f"oracle: flip probability {p:.4f} (target agreement {opts['agreement']}), "
            f"{result.flipped} flipped, {result.no_preference} without an oracle preference "
            f"({'coin flips' if opts['ties'] == 'coin' else 'ties'})."
        )
        self.stdout.write("  " + ", ".join(f"{name}: {n}" for name, n in result.by_labeler.items()))
        self.stdout.write(f"  seconds on task: {result.seconds_from}")
        if result.exhausted:
            self.stdout.write("  Stopped: nothing left for the simulated labelers to judge.")
