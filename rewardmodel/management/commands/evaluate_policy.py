"""A registered policy measured on a project's prompts: accuracy and format rate on verifiable prompts
(rules), and with --reward-model the mean reward-model score, mean length and KL to the base of its
greedy responses (any project)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from annotate.management.projects import project_named
from pairwise.errors import PairwiseError
from rewardmodel.evaluation.rm_scoring import policy_rm_evaluate
from rewardmodel.evaluation.rules import policy_evaluate
from rewardmodel.registry.artifacts import artifact_resolve
from rewardmodel.registry.prompts import verifiable_prompts
from rewardmodel.training.verifiable import R1_SYSTEM


class Command(BaseCommand):
    help = (
        "Measure a registered model (base or policy) on a project's prompts with reference answers: "
        "accuracy (the final answer) and format rate (the R1 <think>/<answer> template). Greedy with "
        "--samples 1; with K > 1, K sampled completions per prompt and their mean accuracy. The same "
        "code scores a GRPO run's held-out checks, so base and trained policies compare. With "
        "--reward-model R, also the mean score R gives greedy responses, their mean length and the KL to "
        "the base model (the same code as a PPO run's held-out checks); on a project without reference "
        "answers only that part runs."
    )
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--model", required=True, help="registered model name or id")
        parser.add_argument("--project", required=True, help="project name")
        parser.add_argument("--split", default="heldout", choices=["heldout", "train", "all"])
        parser.add_argument("--samples", type=int, default=1, help="completions per prompt (1: greedy)")
        parser.add_argument("--limit", type=int, help="at most N prompts (in id order)")
        parser.add_argument("--tags", default="", help="only prompts with all these tags, e.g. level:easy")
        parser.add_argument("--max-new-tokens", type=int, default=96)
        parser.add_argument("--temperature", type=float, default=0.8, help="with --samples > 1")
        parser.add_argument("--batch-size", type=int, default=16)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--system-prompt", help="system turn of the template (default: DeepSeek-R1's)")
        parser.add_argument("--user-template", help="user turn, with {question} (default: {question})")
        parser.add_argument("--show", type=int, default=3, help="print this many completions")
        parser.add_argument("--reward-model", help="also score greedy responses with this reward model")
        parser.add_argument(
            "--reference",
            help="KL is measured to this model (default: the base model the policy descends from)",
        )
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args, **opts):
        project = project_named(opts["project"])
        template = None
        if opts["system_prompt"] is not None or opts["user_template"] is not None:
            template = {
                "system": R1_SYSTEM if opts["system_prompt"] is None else opts["system_prompt"],
                "user": opts["user_template"] or "{question}",
            }
        from tqdm import tqdm

        bar = tqdm(total=0, desc="evaluating", unit="prompt", disable=opts["json"])

        def on_batch(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        split = None if opts["split"] == "all" else opts["split"]
        tags = tuple(t.strip() for t in opts["tags"].split(",") if t.strip())
        result = rm_result = reference = None
        try:
            model = artifact_resolve(opts["model"])
            reward_model = artifact_resolve(opts["reward_model"]) if opts["reward_model"] else None
            if reward_model is None or verifiable_prompts(project=project, split=split, tags=tags):
                result = policy_evaluate(
                    model=model,
                    project=project,
                    split=split,
                    tags=tags,
                    samples=opts["samples"],
                    limit=opts["limit"],
                    template=template,
                    max_new_tokens=opts["max_new_tokens"],
                    temperature=opts["temperature"],
                    batch_size=opts["batch_size"],
                    seed=opts["seed"],
                    on_batch=on_batch,
                )
            if reward_model is not None:
                rm_result, reference = policy_rm_evaluate(
                    model=model,
                    project=project,
                    reward_model=reward_model,
                    reference=artifact_resolve(opts["reference"]) if opts["reference"] else None,
                    split=split,
                    tags=tags,
                    limit=opts["limit"],
                    max_new_tokens=opts["max_new_tokens"],
                    batch_size=opts["batch_size"],
                    on_batch=on_batch,
                )
        except PairwiseError as exc:
            raise CommandError(exc.message) from None
        finally:
            bar.close()
        if opts["json"]:
            data = {"model": model.name, "project": project.name, **(result.as_dict() if result else {})}
            if rm_result is not None:
                data["reward_model"] = {
                    "name": reward_model.name,
                    "reference": reference.name,
                    **rm_result.as_dict(),
                }
            self.stdout.write(json.dumps(data))
            return
        if result is not None:
            decoding = "greedy" if opts["samples"] == 1 else f"{opts['samples']} samples per prompt"
            self.stdout.write(
                f"{model.name} on {result.n_prompts} {opts['split']} prompts of {project.name} ({decoding}): "
                f"accuracy {result.accuracy:.3f}, format rate {result.format_rate:.3f}, "
                f"mean length {result.mean_length:.1f} tokens."
            )
            for item in result.items[: opts["show"]]:
                self.stdout.write(
                    f"  Q: {item['question']} (answer {item['answer']}) -> {item['completions'][0][:200]!r}"
                )
        if rm_result is not None:
            corr = rm_result.length_score_corr
            self.stdout.write(
                f"{model.name} scored by {reward_model.name} on {rm_result.n_prompts} {opts['split']} prompts "
                f"(greedy): mean score {rm_result.mean_score:.3f}, mean length {rm_result.mean_length:.1f} tokens, "
                f"KL to {reference.name} {rm_result.kl:.3f}, length-score correlation "
                f"{'n/a' if corr is None else f'{corr:.2f}'}."
            )
            for item in rm_result.items[: opts["show"]]:
                self.stdout.write(
                    f"  Q: {item['question'][:100]!r} -> {item['response'][:200]!r} ({item['score']:.3f})"
                )
