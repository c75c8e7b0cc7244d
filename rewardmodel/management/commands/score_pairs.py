"""Pairwise accuracy and mean margin of a reward model on a TRL or HH pairs file."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from pairwise.errors import PairwiseError
from rewardmodel.registry.artifacts import artifact_resolve


class Command(BaseCommand):
    # System checks import every URL module (DRF, the schema generator): seconds that a
    # training or scoring job does not need; `manage.py check` still runs them.
    requires_system_checks: list = []
    help = (
        "Score preference pairs with a reward model and print pairwise accuracy (share of pairs whose "
        "chosen answer scores higher) and the mean margin. FILE is JSONL in TRL's prompt/chosen/rejected "
        "format (text or chat messages) or Anthropic HH's chosen/rejected transcripts."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="pairs file (JSONL, gzipped or not)")
        parser.add_argument("--model", required=True, help="registered reward model (name or id) or a folder")
        parser.add_argument("--format", choices=["auto", "trl", "hh"], default="auto")
        parser.add_argument("--batch-size", type=int, default=8)
        parser.add_argument("--max-length", type=int, help="cut longer sequences from the left")
        parser.add_argument("--skip-invalid", action="store_true", help="leave out malformed rows")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args, **opts):
        from django.conf import settings

        from pairwise.files.jsonl import ReadLimits
        from pairwise.files.pairs import PairFormatError, read_pairs
        from rewardmodel.training.scoring import NotARewardModel, check_reward_model, score_pairs

        if opts["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        folder = Path(opts["model"])
        if folder.is_dir():
            model_dir, label = folder, str(folder)
        else:
            try:
                artifact = artifact_resolve(opts["model"])
            except PairwiseError as exc:
                raise CommandError(exc.message) from None
            model_dir, label = Path(artifact.path), artifact.name
        try:
            check_reward_model(model_dir)  # before reading a large file
            pairs = read_pairs(
                opts["file"],
                fmt=opts["format"],
                skip_invalid=opts["skip_invalid"],
                limits=ReadLimits.from_settings(settings),
            )
            if not pairs:
                raise CommandError(f"{opts['file']} holds no pairs.")
            result = score_pairs(
                model_dir, pairs, batch_size=opts["batch_size"], max_length=opts["max_length"]
            )
        except (PairFormatError, NotARewardModel) as exc:
            raise CommandError(str(exc)) from None
        if opts["json"]:
            self.stdout.write(json.dumps({"model": label, "file": opts["file"], **result.as_dict()}))
            return
        self.stdout.write(
            f"{result.n_pairs} pairs scored by {label}: accuracy {result.accuracy:.4f}, "
            f"mean margin {result.mean_margin:.4f}"
            + (f" ({result.n_truncated} sequences cut to fit)" if result.n_truncated else "")
            + f", {result.wall_seconds:.1f} s"
        )
