"""Train a policy on a project, recorded as training runs: SFT on demonstrations (--algo sft), GRPO
on rule-based rewards (--algo grpo), PPO against a reward model trained on people's judgments
(--algo ppo); GRPO and PPO can start with an SFT run (--cold-start N) as two linked runs.

One small handler per algorithm checks its options and creates the run(s); the shared tail
enqueues them or, with --sync, executes them in order here, and reports each."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from annotate.management.projects import project_named
from pairwise.errors import PairwiseError
from rewardmodel.models import JobStatus, TrainingRun
from rewardmodel.registry.artifacts import artifact_resolve
from rewardmodel.runs.kinds.grpo import grpo_run_start
from rewardmodel.runs.kinds.ppo import ppo_run_start
from rewardmodel.runs.kinds.sft import SOURCES, sft_run_start
from rewardmodel.runs.services import run_enqueue, run_execute
from rewardmodel.training.rule_rewards import REWARDS
from rewardmodel.training.verifiable import R1_SYSTEM

ALGOS = ("sft", "grpo", "ppo")
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
# command-line option -> SFT option (SftConfig field, or a run key)
SFT_OPTIONS = {
    "source": "source",
    "teacher": "teacher",
    "epochs": "epochs",
    "lr": "lr",
    "batch_size": "batch_size",
    "max_length": "max_length",
    "seed": "seed",
    "name": "output_name",
}
# command-line option -> PPO option (PpoConfig field, or a run key)
PPO_OPTIONS = {
    "episodes": "episodes",
    "batch_size": "batch_size",
    "mini_batches": "mini_batches",
    "ppo_epochs": "ppo_epochs",
    "kl_coef": "kl_coef",
    "response_length": "response_length",
    "temperature": "temperature",
    "lr": "lr",
    "missing_eos_penalty": "missing_eos_penalty",
    "whiten_rewards": "whiten_rewards",
    "eval_every": "eval_every",
    "heldout_limit": "heldout_limit",
    "max_minutes": "max_seconds",
    "seed": "seed",
    "name": "output_name",
}
# Options of the cold-start SFT run before GRPO or PPO (the rest of the command line is theirs).
COLD_START_OPTIONS = ("epochs", "max_length")
SFT_ONLY = ("source", "teacher", "epochs", "max_length")


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


class Command(BaseCommand):
    help = (
        "Fine-tune a policy, recorded as training runs. --algo sft: supervised fine-tuning on "
        "demonstrations (reference answers, a teacher's responses, or the chosen side of judgments). "
        "--algo grpo: DeepSeek-R1-style GRPO on rule-based rewards over the project's prompts with "
        "reference answers (make_arithmetic, import_data --format gsm8k); --cold-start N first runs SFT "
        "on N reference demonstrations and starts GRPO from its result. Queued on the Celery `training` "
        "queue by default; --sync trains in this process with a progress bar. --algo ppo --reward-model R: "
        "PPO (TRL) against a reward model trained on the project's judgments, from --policy (frozen copy "
        "as the KL reference; value model from R); --cold-start N first runs SFT on N demonstrations "
        "(--source, default judgments: the chosen sides)."
    )
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--algo", default="grpo", choices=ALGOS, help="sft, grpo (default) or ppo")
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
            "--batch-size",
            type=int,
            help="grpo: completions per step, a multiple of --num-generations (32); sft: demonstrations "
            "per step (8)",
        )
        parser.add_argument("--steps", type=int, help="optimizer steps (50)")
        parser.add_argument("--lr", type=float, help="learning rate (2e-5)")
        parser.add_argument(
            "--source",
            choices=SOURCES,
            help="sft: where the demonstrations come from (reference: reference answers in the R1 "
            "template; responses: a --teacher model's; judgments: the chosen sides). Default reference",
        )
        parser.add_argument(
            "--teacher", help="sft --source responses: the model whose responses to learn from"
        )
        parser.add_argument("--epochs", type=float, help="sft (and the cold start): epochs (2)")
        parser.add_argument(
            "--max-length", type=int, help="sft (and the cold start): tokens per demonstration (512)"
        )
        parser.add_argument(
            "--cold-start",
            type=int,
            metavar="N",
            help="grpo: first an SFT run on up to N reference demonstrations, then GRPO from its result",
        )
        parser.add_argument("--reward-model", help="ppo: the reward model to optimise against (name or id)")
        parser.add_argument("--episodes", type=int, help="ppo: sampled responses in all (256)")
        parser.add_argument("--mini-batches", type=int, help="ppo: optimizer steps per PPO epoch (1)")
        parser.add_argument("--ppo-epochs", type=int, help="ppo: passes over each batch (4)")
        parser.add_argument("--kl-coef", type=float, help="ppo: KL penalty coefficient (0.05)")
        parser.add_argument("--response-length", type=int, help="ppo: tokens per sampled response (64)")
        parser.add_argument(
            "--missing-eos-penalty", type=float, help="ppo: subtracted from a response that never ended (1.0)"
        )
        parser.add_argument(
            "--whiten-rewards", action="store_true", default=None, help="ppo: whiten rewards per batch"
        )
        parser.add_argument(
            "--max-minutes", type=float, help="ppo: time budget; ends after the current update"
        )
        parser.add_argument("--beta", type=float, help="grpo: KL coefficient (0)")
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
        parser.add_argument("--name", help="name of the resulting policy (default <algo>-<project>-run<id>)")
        parser.add_argument("--sync", action="store_true", help="train in this process with a progress bar")

    def handle(self, *args, **opts):
        project = project_named(opts["project"])
        handler = {"sft": self._sft, "grpo": self._grpo, "ppo": self._ppo}[opts["algo"]]
        try:
            policy = artifact_resolve(opts["policy"] or settings.PAIRWISE_DEFAULT_BASE_MODEL)
            runs = handler(project, policy, opts)
        except PairwiseError as exc:
            raise CommandError(exc.message) from None
        self._run(runs, sync=opts["sync"])

    # ---- one handler per algorithm: check, create the run(s), say what they will do ---------------

    @staticmethod
    def _template(opts) -> dict[str, str] | None:
        if opts["system_prompt"] is None and opts["user_template"] is None:
            return None
        return {
            "system": R1_SYSTEM if opts["system_prompt"] is None else opts["system_prompt"],
            "user": opts["user_template"] or "{question}",
        }

    @staticmethod
    def _tags(opts) -> list[str]:
        return [t.strip() for t in opts["tags"].split(",") if t.strip()]

    def _sft(self, project, policy, opts) -> list[TrainingRun]:
        if opts["cold_start"] is not None:
            raise CommandError("--cold-start is for --algo grpo (it runs SFT first, then GRPO).")
        options = {key: opts[arg] for arg, key in SFT_OPTIONS.items() if opts.get(arg) is not None}
        if self._tags(opts):
            options["tags"] = self._tags(opts)
        if self._template(opts) is not None:
            options["template"] = self._template(opts)
        run = sft_run_start(project=project, policy=policy, options=options)
        self._describe_sft(run, policy.name)
        return [run]

    def _grpo(self, project, policy, opts) -> list[TrainingRun]:
        given = [f"--{name.replace('_', '-')}" for name in SFT_ONLY if opts.get(name) is not None]
        if opts["cold_start"] is None and given:
            raise CommandError(f"{', '.join(given)}: for --algo sft or --cold-start only.")
        if opts["cold_start"] is not None and {"--source", "--teacher"} & set(given):
            raise CommandError(
                "--cold-start trains on reference answers; --source and --teacher are for --algo sft."
            )
        options = {key: opts[arg] for arg, key in GRPO_OPTIONS.items() if opts.get(arg) is not None}
        tags, template = self._tags(opts), self._template(opts)
        if tags:
            options["tags"] = tags
        if template is not None:
            options["template"] = template
        runs: list[TrainingRun] = []
        if opts["cold_start"] is not None:
            # The cold start sees the prompts exactly as GRPO will: the same tags and template.
            sft_options = {
                "source": "reference",
                "limit": opts["cold_start"],
                "tags": tags,
                "template": template,
            }
            sft_options.update({k: opts[k] for k in COLD_START_OPTIONS if opts.get(k) is not None})
            with transaction.atomic():  # both runs or neither
                sft_run = sft_run_start(project=project, policy=policy, options=sft_options)
                run = grpo_run_start(project=project, policy=policy, options=options, starts_after=sft_run)
            self._describe_sft(sft_run, policy.name)
            runs.append(sft_run)
            start = f"the result of run #{sft_run.pk} (SFT)"
        else:
            run = grpo_run_start(project=project, policy=policy, options=options)
            start = policy.name
        snap, cfg = run.snapshot, run.config
        self.stdout.write(
            f"Run #{run.pk}: GRPO on {start} with {snap.n_examples} training and {snap.n_eval_examples} "
            f"held-out prompts (snapshot {snap.content_hash[:12]}); rewards {','.join(cfg['rewards'])}, "
            f"{cfg['steps']} steps of {cfg['batch_size']} completions ({cfg['num_generations']} per prompt), "
            f"lr {cfg['lr']}, beta {cfg['beta']}, temperature {cfg['temperature']}."
        )
        return [*runs, run]

    def _ppo(self, project, policy, opts) -> list[TrainingRun]:
        if not opts["reward_model"]:
            raise CommandError("--algo ppo needs --reward-model R (train one with train_reward_model).")
        given = [
            f"--{n.replace('_', '-')}"
            for n in ("steps", "beta", "num_generations", "max_completion_length")
            if opts.get(n) is not None
        ]
        if given:
            raise CommandError(f"{', '.join(given)}: for --algo grpo; PPO counts --episodes.")
        reward_model = artifact_resolve(opts["reward_model"])
        options = {key: opts[arg] for arg, key in PPO_OPTIONS.items() if opts.get(arg) is not None}
        if "max_seconds" in options:
            options["max_seconds"] = options["max_seconds"] * 60
        if self._tags(opts):
            options["tags"] = self._tags(opts)
        runs: list[TrainingRun] = []
        start = policy.name
        with transaction.atomic():  # both runs or neither
            sft_run = None
            if opts["cold_start"] is not None:
                sft_options = {"source": opts["source"] or "judgments", "limit": opts["cold_start"]}
                if opts["teacher"]:
                    sft_options["teacher"] = opts["teacher"]
                sft_options.update({k: opts[k] for k in COLD_START_OPTIONS if opts.get(k) is not None})
                sft_run = sft_run_start(project=project, policy=policy, options=sft_options)
                runs.append(sft_run)
                start = f"the result of run #{sft_run.pk} (SFT)"
            run = ppo_run_start(
                project=project,
                policy=policy,
                reward_model=reward_model,
                options=options,
                starts_after=sft_run,
            )
        if sft_run is not None:
            self._describe_sft(sft_run, policy.name)
        snap, cfg = run.snapshot, run.config
        self.stdout.write(
            f"Run #{run.pk}: PPO on {start} against {reward_model.name} with {snap.n_examples} training and "
            f"{snap.n_eval_examples} held-out prompts (snapshot {snap.content_hash[:12]}); {cfg['episodes']} "
            f"episodes in batches of {cfg['batch_size']} ({cfg['mini_batches']} mini-batches, {cfg['ppo_epochs']} "
            f"PPO epochs), kl_coef {cfg['kl_coef']}, {cfg['response_length']}-token responses at temperature "
            f"{cfg['temperature']}, lr {cfg['lr']}."
        )
        return [*runs, run]

    def _describe_sft(self, run: TrainingRun, start: str) -> None:
        snap, cfg = run.snapshot, run.config
        source = cfg["source"] + (f" by {cfg['teacher']}" if cfg.get("teacher") else "")
        self.stdout.write(
            f"Run #{run.pk}: SFT on {start} with {snap.n_examples} training and {snap.n_eval_examples} "
            f"held-out demonstrations from {source} (snapshot {snap.content_hash[:12]}); {cfg['epochs']} "
            f"epochs of {cfg['batch_size']}, lr {cfg['lr']}, max length {cfg['max_length']}."
        )

    # ---- the shared tail: enqueue, or run here in order, and report ------------------------------

    def _run(self, runs: list[TrainingRun], *, sync: bool) -> None:
        if not sync:
            for run in runs:
                run_enqueue(run)
                waits = f", waits for run #{run.starts_after_id}" if run.starts_after_id else ""
                self.stdout.write(
                    f"Run #{run.pk} queued on the `training` queue (task {run.task_id}{waits})."
                )
            self.stdout.write(
                "A worker runs them: celery -A pairwise worker -Q training --pool solo. "
                f"Watch at /runs/{runs[0].pk}/."
            )
            return

        from rewardmodel.training.progress import TqdmReporter

        for run in runs:
            bar = TqdmReporter(f"{run.get_kind_display()} run #{run.pk}")
            try:
                run = run_execute(run_id=run.pk, reporter=bar)
            finally:
                bar.close()
            if run.status == JobStatus.CANCELLED:
                raise CommandError(f"Run #{run.pk} was cancelled: {run.status_message}")
            if run.status != JobStatus.SUCCEEDED:
                raise CommandError(f"Run #{run.pk} failed: {run.error}")
            self.stdout.write(
                f"Succeeded in {run.wall_seconds:.1f} s on {run.device}: run #{run.pk}, "
                f"{run.summary.get('steps', run.summary.get('updates'))} steps. Model: {run.output_model.name} ({run.output_model.path})."
            )
            reports = {
                TrainingRun.Kind.SFT: self._report_sft,
                TrainingRun.Kind.GRPO: self._report_grpo,
                TrainingRun.Kind.PPO: self._report_ppo,
            }
            reports[run.kind](run.summary)

    @staticmethod
    def _num(s: dict, key: str) -> str:
        value = s.get(key)
        return "n/a" if value is None else f"{value:.3f}"

    def _report_sft(self, s: dict) -> None:
        num = self._num
        self.stdout.write(
            f"  loss: {num(s, 'first/loss')} (first steps) -> {num(s, 'last/loss')} (last steps); "
            f"token accuracy {num(s, 'first/mean_token_accuracy')} -> {num(s, 'last/mean_token_accuracy')}"
        )
        if "heldout/loss_before" in s:
            self.stdout.write(
                f"  held-out loss ({s.get('heldout_examples')} demonstrations): "
                f"{num(s, 'heldout/loss_before')} -> {num(s, 'heldout/loss_after')}; token accuracy "
                f"{num(s, 'heldout/mean_token_accuracy_before')} -> {num(s, 'heldout/mean_token_accuracy_after')}"
            )

    def _report_grpo(self, s: dict) -> None:
        num = self._num
        for key in sorted(k[len("last/") :] for k in s if k.startswith("last/")):
            if key.startswith("reward/") or key in ("format_rate", "kl", "completion_length"):
                self.stdout.write(
                    f"  {key}: {num(s, 'first/' + key)} (first steps) -> {num(s, 'last/' + key)} (last steps)"
                )
        if "heldout/accuracy_before" in s:
            self.stdout.write(
                f"  held-out accuracy (greedy, {s.get('heldout_prompts')} prompts): "
                f"{num(s, 'heldout/accuracy_before')} -> {num(s, 'heldout/accuracy_after')}; format rate "
                f"{num(s, 'heldout/format_rate_before')} -> {num(s, 'heldout/format_rate_after')}"
            )
        for sample in (s.get("samples") or [])[:2]:
            self.stdout.write("  sample: " + sample.replace("\n", "\n          "))

    def _report_ppo(self, s: dict) -> None:
        num = self._num
        for key in ("score", "kl", "rlhf_reward", "response_length", "entropy"):
            self.stdout.write(
                f"  {key}: {num(s, 'first/' + key)} (first updates) -> {num(s, 'last/' + key)} (last updates)"
            )
        if "heldout/score_before" in s:
            self.stdout.write(
                f"  held-out (greedy, {s.get('heldout_prompts')} prompts): RM score {num(s, 'heldout/score_before')}"
                f" -> {num(s, 'heldout/score_after')}; length {num(s, 'heldout/length_before')} -> "
                f"{num(s, 'heldout/length_after')} tokens; KL to the start {num(s, 'heldout/kl_after')}"
            )
        hacking = s.get("reward_hacking") or {}
        if hacking.get("flagged"):
            self.stdout.write(self.style.WARNING("  possible reward hacking: " + hacking["evidence"]))
        for sample in (s.get("samples") or [])[:2]:
            self.stdout.write("  sample: " + sample.replace("\n", "\n          "))
