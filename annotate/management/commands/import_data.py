"""python manage.py import_data --project NAME [--create] --format FMT [--skip-invalid] FILE.

FILE is JSONL, gzipped or not; see annotate/importing/parse.py for the formats and the limits.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from annotate.importing.parse import FORMATS, parse_records
from annotate.importing.write import records_write
from annotate.models import Project
from pairwise.errors import PairwiseError


class Command(BaseCommand):
    help = (
        "Import a JSONL file (optionally gzipped) into a project: prompts, prompts with responses, "
        "TRL preference pairs, Anthropic HH transcripts or GSM8K problems. The whole file is "
        "validated first; a bad line rejects it and nothing is written. Re-importing creates no duplicates."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="JSONL or JSONL.gz file.")
        parser.add_argument("--project", required=True, help="Project name.")
        parser.add_argument("--create", action="store_true", help="Create the project if it does not exist.")
        parser.add_argument("--format", required=True, choices=FORMATS, dest="fmt")
        parser.add_argument(
            "--split",
            choices=["train", "heldout"],
            default="train",
            help="Split for new prompts whose line gives none (e.g. heldout for a test set).",
        )
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="Leave out bad lines (listed) instead of rejecting the file.",
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args, **opts):
        path = Path(opts["file"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        name = opts["project"]
        exists = Project.objects.filter(name=name).exists()
        if not exists and not opts["create"]:
            raise CommandError(f"No project named {name!r} (add --create to create it).")
        progress = not opts["no_progress"]
        try:
            # Validate the whole file before anything is written, the new project included.
            parsed = parse_records(
                path, fmt=opts["fmt"], show_progress=progress, skip_invalid=opts["skip_invalid"]
            )
            with transaction.atomic():
                project, created = Project.objects.get_or_create(name=name)
                result = records_write(
                    project=project,
                    parsed=parsed,
                    fmt=opts["fmt"],
                    filename=path.name,
                    default_split=opts["split"],
                    show_progress=progress,
                )
        except PairwiseError as exc:
            raise CommandError(exc.message) from None
        if created:
            self.stdout.write(f"Created project {project.name!r}.")
        if parsed.skipped_invalid:
            more = parsed.skipped_invalid - len(parsed.invalid_lines)
            self.stderr.write(
                f"Skipped {parsed.skipped_invalid} invalid lines:\n  "
                + "\n  ".join(parsed.invalid_lines)
                + (f"\n  ... and {more} more" if more else "")
            )
        self.stdout.write(f"Imported {path.name} into {project.name!r}: {result.summary()}")
