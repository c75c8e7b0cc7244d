"""Train a reward model on a project's preferences: queued for a worker, or here with --sync.

Every flag comes from the reward kind (rewardmodel.runs.kinds.reward, through rewardmodel.runs.cli)."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from annotate.management.projects import project_named
from pairwise.errors import PairwiseError
from rewardmodel.registry.artifacts import artifact_resolve
from rewardmodel.runs.cli import add_run_arguments, run_and_report, split_options
from rewardmodel.runs.kinds import KINDS
from rewardmodel.runs.services import runs_start

KIND = KINDS["reward"]


class Command(BaseCommand):
    # System checks import every URL module (DRF, the schema generator): seconds that a
    # training or scoring job does not need; `manage.py check` still runs them.
    requires_system_checks: list = []
    help = (
        "Freeze a snapshot of a project's preference pairs and train a reward model on it (TRL "
        "RewardTrainer). By default the run is queued on the Celery `training` queue; --sync trains "
        "in this process with a progress bar."
    )

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True, help="project name")
        parser.add_argument(
            "--base",
            default=None,
            help=f"registered model name or id (default {settings.PAIRWISE_DEFAULT_BASE_MODEL})",
        )
        add_run_arguments(parser, [KIND])
        parser.add_argument("--sync", action="store_true", help="train in this process with a progress bar")

    def handle(self, *args, **opts):
        project = project_named(opts["project"])
        options, _, _ = split_options(opts, KIND, [KIND])
        try:
            base = artifact_resolve(opts["base"] or settings.PAIRWISE_DEFAULT_BASE_MODEL)
            runs = runs_start(kind=KIND, project=project, start=base, options=options)
        except PairwiseError as exc:
            raise CommandError(exc.message) from None
        run_and_report(self, runs, start=base.name, sync=opts["sync"])
