"""python manage.py make_pairs --project NAME [--strategy all|sample|models] [--per-prompt N]
[--models X [Y ...]] [--priority P] [--seed S] [--split S] [--dry-run]"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from annotate.management.projects import project_named
from annotate.models import Prompt
from annotate.pair_strategies import comparisons_pair_models, comparisons_pair_sampled
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
        parser.add_argument("--strategy", choices=("all", "sample", "models"), default="all")
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
        common = {"project": project, "priority": o["priority"], "split": o["split"], "dry_run": o["dry_run"]}
        try:
            if o["strategy"] == "models":
                if len(o["models"]) != 2:
                    raise CommandError("--strategy models needs exactly two names: --models X Y")
                per_prompt = 1 if o["per_prompt"] is None else (o["per_prompt"] or None)
                outcome = comparisons_pair_models(
                    model_a=o["models"][0],
                    model_b=o["models"][1],
                    per_prompt=per_prompt,
                    seed=o["seed"],
                    **common,
                )
            else:
                per_prompt = None if o["strategy"] == "all" else (o["per_prompt"] or 3)
                outcome = comparisons_pair_sampled(
                    per_prompt=per_prompt, seed=o["seed"], models=o["models"], **common
                )
        except PairwiseError as exc:
            raise CommandError(exc.message) from None
        verb = "would create" if o["dry_run"] else "created"
        self.stdout.write(
            self.style.SUCCESS(
                f"{verb} {outcome.created} comparisons over {outcome.prompts} prompts "
                f"({outcome.existing} pairs existed, {outcome.identical_skipped} identical-text pairs skipped)."
            )
        )
