"""Add generated arithmetic problems with reference answers to a project (for rule-based GRPO)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from annotate.management.projects import project_named
from pairwise.errors import PairwiseError
from rewardmodel.registry.prompts import arithmetic_prompts_create
from rewardmodel.training.arithmetic import LEVELS


class Command(BaseCommand):
    help = (
        "Generate arithmetic problems ('What's 12 times 14?') with reference answers into a project. "
        "The held-out split is fixed by each problem's content, not by the draw, so no seed or count "
        "moves a problem between train and held-out. Running it again adds nothing twice."
    )
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True, help="project name")
        parser.add_argument(
            "--create", action="store_true", help="create the project if it does not exist yet"
        )
        levels = "; ".join(f"{name}: {level.description}" for name, level in LEVELS.items())
        parser.add_argument("--level", default="easy", choices=list(LEVELS), help=levels)
        parser.add_argument("--train", type=int, default=200, help="training problems (200)")
        parser.add_argument("--heldout", type=int, default=50, help="held-out problems (50)")
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args, **opts):
        project = project_named(opts["project"], create=opts["create"], create_hint="add --create to make it")
        try:
            result = arithmetic_prompts_create(
                project=project,
                level=opts["level"],
                n_train=opts["train"],
                n_heldout=opts["heldout"],
                seed=opts["seed"],
            )
        except PairwiseError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(
            f"{project.name}: {result.created} new {opts['level']} problems ({result.train} train, "
            f"{result.heldout} held out); {result.existing} were already there."
        )
