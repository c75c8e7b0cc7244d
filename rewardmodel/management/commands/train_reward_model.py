"""Train a reward model on a project's preferences: queued for a worker, or here with --sync."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from annotate.management.projects import project_named
from pairwise.errors import PairwiseError
from rewardmodel.models import JobStatus
from rewardmodel.registry.artifacts import artifact_resolve
from rewardmodel.runs.kinds.reward import reward_run_start
from rewardmodel.runs.services import run_enqueue, run_execute

# command-line option -> trainer option (RewardConfig field)
OPTIONS = {
    "epochs": "epochs",
    "lr": "lr",
    "batch_size": "batch_size",
    "max_length": "max_length",
    "grad_accum": "grad_accum",
    "warmup_steps": "warmup_steps",
    "max_steps": "max_steps",
    "logging_steps": "logging_steps",
    "eval_steps": "eval_steps",
    "seed": "seed",
    "name": "output_name",
}


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
        parser.add_argument("--epochs", type=float)
        parser.add_argument("--lr", type=float, help="learning rate (default 1e-5)")
        parser.add_argument("--batch-size", type=int, help="pairs per step (default 4 on CPU, 16 on GPU)")
        parser.add_argument(
            "--max-length", type=int, help="tokens; longer pairs are left out (256 CPU, 1024 GPU)"
        )
        parser.add_argument("--grad-accum", type=int)
        parser.add_argument("--warmup-steps", type=int)
        parser.add_argument("--max-steps", type=int, help="stop after this many steps (overrides --epochs)")
        parser.add_argument("--logging-steps", type=int)
        parser.add_argument("--eval-steps", type=int, help="also evaluate every N steps while training")
        parser.add_argument("--seed", type=int)
        parser.add_argument(
            "--eval-fraction", type=float, default=0.1, help="share of prompts held out (0.1)"
        )
        parser.add_argument("--min-agreement", type=float, default=0.0, help="drop pairs with less agreement")
        parser.add_argument("--keep-ties", action="store_true", help="train ties as mirrored pairs")
        parser.add_argument(
            "--no-simulated",
            action="store_true",
            help="leave out judgments by simulated labelers (manage.py simulate_labelers)",
        )
        parser.add_argument("--name", help="name of the resulting model (default reward-<project>-run<id>)")
        parser.add_argument("--sync", action="store_true", help="train in this process with a progress bar")

    def handle(self, *args, **opts):
        project = project_named(opts["project"])
        options = {key: opts[arg] for arg, key in OPTIONS.items() if opts.get(arg) is not None}
        try:
            base = artifact_resolve(opts["base"] or settings.PAIRWISE_DEFAULT_BASE_MODEL)
            run = reward_run_start(
                project=project,
                base_model=base,
                options=options,
                eval_fraction=opts["eval_fraction"],
                min_agreement=opts["min_agreement"],
                keep_ties=opts["keep_ties"],
                include_simulated=not opts["no_simulated"],
            )
        except PairwiseError as exc:
            raise CommandError(exc.message) from None
        snap = run.snapshot
        simulated = snap.filters.get("simulated_judgments", 0)
        left_out = "" if snap.filters.get("include_simulated", True) else ", simulated ones left out"
        self.stdout.write(
            f"Run #{run.pk}: {base.name} on {snap.n_examples} training and {snap.n_eval_examples} eval pairs "
            f"({snap.n_judgments} judgments, {simulated} simulated{left_out}, by {snap.n_labelers} labelers; "
            f"snapshot {snap.content_hash[:12]})."
        )
        if not opts["sync"]:
            run_enqueue(run)
            self.stdout.write(
                f"Queued on the `training` queue (task {run.task_id}). A worker runs it: "
                "celery -A pairwise worker -Q training --pool solo. Watch it at /runs/%d/." % run.pk
            )
            return

        from rewardmodel.training.progress import TqdmReporter

        bar = TqdmReporter(f"reward run #{run.pk}")
        try:
            run = run_execute(run_id=run.pk, reporter=bar)
        finally:
            bar.close()
        if run.status == JobStatus.SUCCEEDED:
            s = run.summary
            acc = "n/a" if s.get("eval_accuracy") is None else f"{s['eval_accuracy']:.3f}"
            margin = "n/a" if s.get("eval_margin") is None else f"{s['eval_margin']:.3f}"
            self.stdout.write(
                f"Succeeded in {run.wall_seconds:.1f} s on {run.device}: eval accuracy {acc}, "
                f"mean margin {margin} on {s.get('eval_pairs', 0)} pairs. Model: {run.output_model.name} "
                f"({run.output_model.path})."
            )
            return
        if run.status == JobStatus.CANCELLED:
            raise CommandError(f"Run #{run.pk} was cancelled.")
        raise CommandError(f"Run #{run.pk} failed: {run.error}")
