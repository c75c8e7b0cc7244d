"""Train a policy on a project, recorded as training runs: SFT on demonstrations (--algo sft), GRPO on
rule-based rewards (--algo grpo), PPO against a reward model trained on people's judgments (--algo
ppo), DPO straight from the judgments (--algo dpo); a kind that takes one can start with an SFT run
(--cold-start N) as two linked runs.

Every flag comes from the kinds (rewardmodel.runs.kinds, through rewardmodel.runs.cli); this command
only resolves the models, starts the runs and queues them or, with --sync, runs them here in order."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from annotate.management.projects import project_named
from pairwise.errors import PairwiseError
from rewardmodel.registry.artifacts import artifact_resolve
from rewardmodel.runs.cli import add_run_arguments, run_and_report, split_options
from rewardmodel.runs.kinds import KINDS
from rewardmodel.runs.services import runs_start

POLICY_KINDS = [kind for kind in KINDS.values() if kind.command == "train_policy"]


class Command(BaseCommand):
    help = (
        "Fine-tune a policy, recorded as training runs. --algo sft: supervised fine-tuning on "
        "demonstrations (reference answers, a teacher's responses, or the chosen side of judgments). "
        "--algo grpo: DeepSeek-R1-style GRPO on rule-based rewards over the project's prompts with "
        "reference answers (make_arithmetic, import_data --format gsm8k). --algo ppo --reward-model R: PPO "
        "(TRL) against a reward model trained on the project's judgments. --algo dpo: DPO (TRL) on the "
        "project's majority-vote pairs, no reward model. --cold-start N first runs SFT on N demonstrations "
        "and starts the run from its result. Queued on the Celery `training` queue by default; --sync "
        "trains in this process with a progress bar."
    )
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument(
            "--algo", default="grpo", choices=[k.name for k in POLICY_KINDS], help="the kind of run (grpo)"
        )
        parser.add_argument("--project", required=True, help="project name")
        parser.add_argument(
            "--policy",
            default=None,
            help=f"starting model, name or id (default {settings.PAIRWISE_DEFAULT_BASE_MODEL})",
        )
        add_run_arguments(parser, POLICY_KINDS)
        parser.add_argument("--sync", action="store_true", help="train in this process with a progress bar")

    def handle(self, *args, **opts):
        kind = KINDS[opts["algo"]]
        project = project_named(opts["project"])
        options, cold, stray = split_options(opts, kind, POLICY_KINDS)
        if stray:
            raise CommandError("; ".join(stray) + ".")
        try:
            policy = artifact_resolve(opts["policy"] or settings.PAIRWISE_DEFAULT_BASE_MODEL)
            inputs = {}
            for spec in {s.name: s for k in POLICY_KINDS for s in k.inputs}.values():
                given = opts.get(spec.name)
                if spec in kind.inputs and not given:
                    raise CommandError(f"--algo {kind.name} needs {spec.flag} ({spec.help}).")
                if given and spec not in kind.inputs:
                    raise CommandError(f"{spec.flag}: not for --algo {kind.name}.")
                if given:
                    inputs[spec.name] = artifact_resolve(given)
            runs = runs_start(
                kind=kind,
                project=project,
                start=policy,
                options=options,
                inputs=inputs,
                cold_start=opts.get("cold_start"),
                cold_start_options=cold,
            )
        except PairwiseError as exc:
            raise CommandError(exc.message) from None
        run_and_report(self, runs, start=policy.name, sync=opts["sync"])
