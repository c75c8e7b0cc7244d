"""Train a policy with reinforcement learning on a project's prompts: GRPO on rule-based rewards
(accuracy, format) now; PPO against a reward model is the other road and plugs in here later."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from annotate.errors import PairwiseError
from annotate.models import Project
from rewardmodel.grpo_runs import grpo_run_start
from rewardmodel.models import JobStatus
from rewardmodel.registry import artifact_resolve
from rewardmodel.runs import run_enqueue, run_execute
from rewardmodel.training.rewards import REWARDS
from rewardmodel.training.verifiable import R1_SYSTEM

ALGOS = ("grpo", "ppo")
# command-line option -> GRPO option (GrpoConfig field, or a run key)
GRPO_OPTIONS = {
    "rewards": "rewards",
    "reward_weights": "reward_weights",
    "num_generations": "num_generations",
    "batch_size": "batch_size",
    "steps": "steps",
    "lr": "lr",
    "beta": "beta",
    "max_completion_length": "max_completion_length",
    "temperature": "temperature",
    "top_k": "top_k",
    "eval_every": "eval_every",
    "heldout_limit": "heldout_limit",
    "seed": "seed",
    "name": "output_name",
}


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


class Command(BaseCommand):
    help = (
        "Fine-tune a policy with reinforcement learning, recorded as a training run. --algo grpo: "
        "DeepSeek-R1-style GRPO on rule-based rewards over the project's prompts with reference "
        "answers (make_arithmetic, import_data --format gsm8k). Queued on the Celery `training` queue "
        "by default; --sync trains in this process with a progress bar."
    )
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--algo", default="grpo", choices=ALGOS, help="grpo (ppo: not available yet)")
        parser.add_argument(
            "--policy",
            default=None,
            help=f"starting model, name or id (default {settings.PAIRWISE_DEFAULT_BASE_MODEL})",
        )
        parser.add_argument("--project", required=True, help="project name")
        parser.add_argument(
            "--rewards",
            default="accuracy,format",
            help=f"comma-separated, from {', '.join(REWARDS)} (default accuracy,format)",
        )
        parser.add_argument("--reward-weights", type=_floats, help="comma-separated, one per reward")
        parser.add_argument("--num-generations", type=int, help="completions per prompt (8)")
        parser.add_argument(
            "--batch-size", type=int, help="completions per step, a multiple of --num-generations (32)"
        )
        parser.add_argument("--steps", type=int, help="optimizer steps (50)")
        parser.add_argument("--lr", type=float, help="learning rate (2e-5)")
        parser.add_argument("--beta", type=float, help="KL coefficient (0)")
        parser.add_argument("--max-completion-length", type=int, help="tokens per completion (96)")
        parser.add_argument("--temperature", type=float, help="sampling temperature (0.8)")
        parser.add_argument("--top-k", type=int, help="sample from the k most likely tokens (0: off)")
        parser.add_argument(
            "--eval-every", type=int, help="held-out accuracy every N steps (10; 0: ends only)"
        )
        parser.add_argument("--heldout-limit", type=int, help="evaluate on at most N held-out prompts")
        parser.add_argument("--tags", default="", help="only prompts with all these tags, e.g. level:easy")
        parser.add_argument("--system-prompt", help="system turn of the template (default: DeepSeek-R1's)")
        parser.add_argument("--user-template", help="user turn, with {question} (default: {question})")
        parser.add_argument("--seed", type=int)
        parser.add_argument("--name", help="name of the resulting policy (default grpo-<project>-run<id>)")
        parser.add_argument("--sync", action="store_true", help="train in this process with a progress bar")

    def handle(self, *args, **opts):
        if opts["algo"] == "ppo":
            raise CommandError(
                "ppo is not available yet: train_policy runs --algo grpo (rule-based rewards) for now."
            )
        project = Project.objects.filter(name=opts["project"]).first()
        if project is None:
            known = ", ".join(Project.objects.values_list("name", flat=True)[:20]) or "none yet"
            raise CommandError(f"No project named {opts['project']!r}. Known: {known}.")
        options = {key: opts[arg] for arg, key in GRPO_OPTIONS.items() if opts.get(arg) is not None}
        tags = [t.strip() for t in opts["tags"].split(",") if t.strip()]
        if tags:
            options["tags"] = tags
        if opts["system_prompt"] is not None or opts["user_template"] is not None:
            options["template"] = {
                "system": R1_SYSTEM if opts["system_prompt"] is None else opts["system_prompt"],
                "user": opts["user_template"] or "{question}",
            }
        try:
            policy = artifact_resolve(opts["policy"] or settings.PAIRWISE_DEFAULT_BASE_MODEL)
            run = grpo_run_start(project=project, policy=policy, options=options)
        except PairwiseError as exc:
            raise CommandError(exc.message) from None
        snap, cfg = run.snapshot, run.config
        self.stdout.write(
            f"Run #{run.pk}: GRPO on {policy.name} with {snap.n_examples} training and {snap.n_eval_examples} "
            f"held-out prompts (snapshot {snap.content_hash[:12]}); rewards {','.join(cfg['rewards'])}, "
            f"{cfg['steps']} steps of {cfg['batch_size']} completions ({cfg['num_generations']} per prompt), "
            f"lr {cfg['lr']}, beta {cfg['beta']}, temperature {cfg['temperature']}."
        )
        if not opts["sync"]:
            run_enqueue(run)
            self.stdout.write(
                f"Queued on the `training` queue (task {run.task_id}). A worker runs it: "
                f"celery -A pairwise worker -Q training --pool solo. Watch it at /runs/{run.pk}/."
            )
            return

        from rewardmodel.training.progress import TqdmReporter

        bar = TqdmReporter(f"GRPO run #{run.pk}")
        try:
            run = run_execute(run_id=run.pk, reporter=bar)
        finally:
            bar.close()
        if run.status == JobStatus.SUCCEEDED:
            self._report(run)
            return
        if run.status == JobStatus.CANCELLED:
            raise CommandError(f"Run #{run.pk} was cancelled.")
        raise CommandError(f"Run #{run.pk} failed: {run.error}")

    def _report(self, run) -> None:
        s = run.summary

        def num(key: str) -> str:
            value = s.get(key)
            return "n/a" if value is None else f"{value:.3f}"

        self.stdout.write(
            f"Succeeded in {run.wall_seconds:.1f} s on {run.device}: {s.get('steps')} steps. "
            f"Model: {run.output_model.name} ({run.output_model.path})."
        )
        for key in sorted(k[len("last/") :] for k in s if k.startswith("last/")):
            if key.startswith("reward/") or key in ("format_rate", "kl", "completion_length"):
                self.stdout.write(
                    f"  {key}: {num('first/' + key)} (first steps) -> {num('last/' + key)} (last steps)"
                )
        if "heldout/accuracy_before" in s:
            self.stdout.write(
                f"  held-out accuracy (greedy, {s.get('heldout_prompts')} prompts): "
                f"{num('heldout/accuracy_before')} -> {num('heldout/accuracy_after')}; format rate "
                f"{num('heldout/format_rate_before')} -> {num('heldout/format_rate_after')}"
            )
        for sample in (s.get("samples") or [])[:2]:
            self.stdout.write("  sample: " + sample.replace("\n", "\n          "))
