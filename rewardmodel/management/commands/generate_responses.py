"""python manage.py generate_responses --project NAME --model M [--per-prompt K] [--temperature T]
[--top-p P] [--max-new-tokens N] [--seed S] [--batch-size B] [--split S] [--device D]

Resumable: samples that exist for this model and these parameters are skipped, and responses are
written one batch per transaction, so Ctrl-C (or a crash) loses at most the batch in flight.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from annotate.management.projects import project_named
from annotate.models import Prompt
from pairwise.errors import PairwiseError
from rewardmodel.generation.responses import GenerationOptions, responses_generate
from rewardmodel.registry.artifacts import artifact_resolve

DEFAULTS = GenerationOptions()


class Command(BaseCommand):
    help = "Sample responses for a project's prompts with a registered model (skips samples that exist)."

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True, help="Project name.")
        parser.add_argument("--model", required=True, help="Registered model name or id.")
        parser.add_argument("--per-prompt", type=int, default=DEFAULTS.per_prompt)
        parser.add_argument("--temperature", type=float, default=DEFAULTS.temperature, help="0 = greedy.")
        parser.add_argument("--top-p", type=float, default=DEFAULTS.top_p)
        parser.add_argument("--max-new-tokens", type=int, default=DEFAULTS.max_new_tokens)
        parser.add_argument("--seed", type=int, default=DEFAULTS.seed)
        parser.add_argument(
            "--batch-size", type=int, default=DEFAULTS.batch_size, help="Rows per forward pass."
        )
        parser.add_argument(
            "--split", choices=Prompt.Split.values, default="", help="Only prompts of this split."
        )
        parser.add_argument("--device", default="", help="cpu, cuda, cuda:1 ... (default: cuda if present).")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args, **o):
        project = project_named(o["project"])
        options = GenerationOptions(
            per_prompt=o["per_prompt"],
            temperature=o["temperature"],
            top_p=o["top_p"],
            max_new_tokens=o["max_new_tokens"],
            seed=o["seed"],
            batch_size=o["batch_size"],
            split=o["split"],
            device=o["device"],
        )
        bar = None
        if not o["no_progress"]:
            from tqdm import tqdm

            bar = tqdm(total=0, unit="sample", desc="generating", dynamic_ncols=True)

        def progress(done: int, total: int, message: str) -> None:
            if bar is not None:
                bar.total, bar.n = total, done
                bar.set_postfix_str(message, refresh=False)
                bar.refresh()

        try:
            model = artifact_resolve(o["model"])
            outcome = responses_generate(project=project, model=model, options=options, on_progress=progress)
        except PairwiseError as exc:
            raise CommandError(exc.message) from None
        except KeyboardInterrupt:
            raise CommandError(
                "Interrupted: whole batches are saved; run the same command again to continue."
            ) from None
        finally:
            if bar is not None:
                bar.close()
        rate = f" at {outcome.tokens_per_second:.0f} tokens/s on {outcome.device}" if outcome.seconds else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"{outcome.created} new responses{rate}; {outcome.already_done} of {outcome.samples} samples "
                f"for {outcome.prompts} prompts existed already."
            )
        )
