"""python manage.py make_arena --project NAME --policies A,B,C [--prompts 50] [--split heldout]
[--seed 0] [--max-new-tokens 256] [--priority 0] [--batch-size 8] [--device D] [--sync | --pairs-only]

Without --sync the generation jobs go to the Celery workers and no pairs are made yet: run the
same command with --pairs-only once the jobs have finished.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from annotate.management.projects import project_named
from annotate.models import Prompt
from pairwise.errors import PairwiseError
from rewardmodel.evaluation.arena import arena_create
from rewardmodel.registry.artifacts import artifact_resolve


class Command(BaseCommand):
    help = (
        "Blind arena: each policy answers the same held-out prompts greedily (one generation job per "
        "policy; answers that exist are reused), then every pair of policies on each prompt becomes a "
        "comparison. --sync generates here and makes the pairs at once. Without it the jobs are queued for "
        "the workers and nothing is paired yet: when they have finished, run the same command with "
        "--pairs-only. The leaderboard ranks the policies from the judgments."
    )

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True, help="Project name.")
        parser.add_argument(
            "--policies", required=True, help="Comma-separated registered model names or ids."
        )
        parser.add_argument("--prompts", type=int, default=50, help="Prompts per arena (seeded sample).")
        parser.add_argument("--split", choices=Prompt.Split.values, default=Prompt.Split.HELDOUT)
        parser.add_argument("--seed", type=int, default=0, help="Picks the prompts (decoding is greedy).")
        parser.add_argument("--max-new-tokens", type=int, default=256)
        parser.add_argument("--priority", type=int, default=0, help="Priority of the new comparisons.")
        parser.add_argument("--batch-size", type=int, default=8, help="Rows per forward pass.")
        parser.add_argument("--device", default="", help="cpu, cuda, cuda:1 ... (default: cuda if present).")
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument(
            "--sync", action="store_true", help="Generate in this process, then make the pairs."
        )
        mode.add_argument(
            "--pairs-only", action="store_true", help="Generate nothing; pair the answers (all must exist)."
        )

    def handle(self, *args, **o):
        project = project_named(o["project"])
        names = [n.strip() for n in o["policies"].split(",") if n.strip()]
        generate = "sync" if o["sync"] else "skip" if o["pairs_only"] else "queue"
        try:
            result = arena_create(
                project=project,
                policies=[artifact_resolve(name) for name in names],
                n_prompts=o["prompts"],
                split=o["split"],
                seed=o["seed"],
                max_new_tokens=o["max_new_tokens"],
                priority=o["priority"],
                generate=generate,
                batch_size=o["batch_size"],
                device=o["device"],
            )
        except PairwiseError as exc:
            raise CommandError(exc.message) from None
        except KeyboardInterrupt:
            raise CommandError(
                "Interrupted: whole batches are saved; run the same command again to continue."
            ) from None
        out = self.stdout.write
        where = f"{result.prompts} {o['split']} prompts"
        for job in result.jobs:
            out(f"Generation job #{job.pk} ({job.model.name}): {job.status}. {job.status_message}".rstrip())
        if result.pairs is None:
            out(
                self.style.WARNING(
                    f"Queued {len(result.jobs)} generation jobs for {where}. When they have finished, run "
                    "the same command with --pairs-only to make the comparisons."
                )
            )
            return
        pairs = result.pairs
        self.stdout.write(
            self.style.SUCCESS(
                f"Arena of {', '.join(result.policies)} on {where}: created {pairs.created} comparisons "
                f"({pairs.existing} existed, {pairs.identical_skipped} pairs of identical answers skipped)."
            )
        )
