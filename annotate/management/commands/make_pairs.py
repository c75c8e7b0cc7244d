"""python manage.py make_pairs --project NAME [--strategy all|sample|models] [--per-prompt N]
[--models X [Y ...]] [--priority P] [--seed S] [--split S] [--dry-run]"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from annotate.management.projects import project_named
from annotate.models import Prompt
from annotate.pair_strategies import STRATEGIES, comparisons_make, pairs_summary
from pairwise.errors import PairwiseError


class Command(BaseCommand):
    help = (
        "Turn responses into comparisons. all: every pair per prompt; sample: up to --per-prompt random "
        "pairs per prompt (seeded); models: --models X Y, X's responses against Y's on the same prompt "
        "(--per-prompt pairs per prompt, 0 for all). Identical texts are never paired; rerunning adds only "
        "pairs that are missing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True)
        parser.add_argument("--strategy", choices=tuple(STRATEGIES), default="all")
        parser.add_argument(
            "--per-prompt", type=int, default=None, help="sample: default 3; models: default 1."
        )
        parser.add_argument(
            "--models",
            nargs="+",
            default=[],
            help="Model names (Response.model_name) to use; two for 'models'.",
        )
        parser.add_argument("--priority", type=int, default=0, help="Priority of the new comparisons.")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--split", choices=Prompt.Split.values, default="")
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be created; write nothing."
        )

    def handle(self, *args, **o):
        project = project_named(o["project"])
        try:
            outcome = comparisons_make(
                project=project,
                strategy=o["strategy"],
                per_prompt=o["per_prompt"],
                models=o["models"],
                seed=o["seed"],
                priority=o["priority"],
                split=o["split"],
                dry_run=o["dry_run"],
            )
        except PairwiseError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(self.style.SUCCESS(pairs_summary(outcome, dry_run=o["dry_run"]) + "."))
