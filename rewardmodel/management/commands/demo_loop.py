"""python manage.py demo_loop [--quick] [--sync] [--seed S] [--again]: the whole loop on the demo
project (rewardmodel.demo.loop), queued for a worker, or here with --sync."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from pairwise.errors import PairwiseError
from rewardmodel.demo.loop import STEPS, demo_loop_create, demo_loop_enqueue, demo_loop_execute
from rewardmodel.models import DemoLoop, JobStatus
from rewardmodel.registry.artifacts import artifact_resolve


class Command(BaseCommand):
    help = (
        "The whole loop on the demo project as linked jobs: SmolLM2 answers, simulated labelers "
        "(marked), a reward model, SFT then PPO, arithmetic cold-start SFT then GRPO, an arena and the "
        "comparison report. Queued on the `training` queue once (a second call shows the first; "
        "--again queues another); --sync runs it here. About 25 minutes on a 2-core CPU, --quick under 10."
    )

    def add_arguments(self, parser):
        parser.add_argument("--quick", action="store_true", help="small budgets (the CI smoke test)")
        parser.add_argument("--sync", action="store_true", help="run here, step by step, with progress bars")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--again", action="store_true", help="queue a new loop even if one exists")
        parser.add_argument("--base-model", help="starting model of every road (default: SmolLM2)")

    def handle(self, *args, **opts):
        existing = DemoLoop.objects.first()
        if existing is not None and not (opts["sync"] or opts["again"]):
            self.stdout.write(
                f"Demo loop #{existing.pk} exists ({existing.status}, created {existing.created_at:%Y-%m-%d %H:%M}); "
                "not queuing another (--again does). Watch it on the home page as the manager."
            )
            return
        try:
            base = artifact_resolve(opts["base_model"]) if opts["base_model"] else None
            loop = demo_loop_create(quick=opts["quick"], seed=opts["seed"], base_model=base)
        except PairwiseError as exc:
            raise CommandError(exc.message) from None
        if not opts["sync"]:
            demo_loop_enqueue(loop)
            self.stdout.write(
                f"Demo loop #{loop.pk} queued ({len(STEPS)} steps, task {loop.task_id}). A worker runs it: "
                "celery -A pairwise worker -Q default,training --pool solo. Watch it on the home page "
                "(log in as the manager)."
            )
            return

        from pairwise.progress import TqdmReporter

        started = time.monotonic()

        def on_step(name: str, what: str) -> None:
            self.stdout.write(f"[{time.monotonic() - started:6.0f} s] {name}: {what}")

        loop = demo_loop_execute(loop_id=loop.pk, reporter_factory=TqdmReporter, on_step=on_step)
        if loop.status != JobStatus.SUCCEEDED:
            raise CommandError(f"Demo loop #{loop.pk} {loop.status}: {loop.error}")
        report = next(s for s in loop.steps if s["name"] == "report")
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo loop #{loop.pk} finished in {loop.wall_seconds:.0f} s. Report: {report.get('path')}"
                + (f" (/reports/{report['report_id']}/)" if report.get("report_id") else "")
            )
        )
