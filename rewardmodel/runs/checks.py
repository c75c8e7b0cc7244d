"""The checks every run goes through before it is queued, written once for every kind.

    config = options_clean(kind, {"episodes": 512, "lr": 3e-6})     # PairwiseError says what is wrong
    models_check(kind, start=policy, inputs={"reward_model": rm}, linked=False)

Each message names what to change. Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pairwise.errors import PairwiseError
from rewardmodel.models import ModelArtifact
from rewardmodel.registry.artifacts import artifact_files_check, artifact_kind_check, artifact_name_free
from rewardmodel.runs.kind import RunKind
from rewardmodel.training.options import options_of, problems, with_placeholders


def options_clean(kind: RunKind, options: Mapping[str, Any]) -> dict[str, Any]:
    """A run's options checked now, so a typo never reaches a worker, and returned as the run stores
    them: every trainer option (its default where not given), then the run's own options.

    Checked: every name is an option of the kind; every value has the option's type and lies in its
    bounds (training.options); the rules that tie options together, the trainer's (`option_rules`)
    and the run's (`rules`). A list option may come as comma-separated text. None means "not given"."""
    values = {k: v for k, v in options.items() if v is not None}
    known = {o.name: o for o in kind.options}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise PairwiseError(
            f"Unknown {kind.label} option(s): {', '.join(unknown)}. Known: {', '.join(sorted(known))}."
        )
    for name, value in values.items():
        if known[name].type is list and isinstance(value, str):
            values[name] = [part.strip() for part in value.split(",") if part.strip()]
    found = problems(values, known.values())
    if not found:
        trainer_names = {o.name for o in kind.trainer_options}
        trainer = with_placeholders(kind.config, {k: v for k, v in values.items() if k in trainer_names})
        run_names = {o.name for o in options_of(kind.run_options)}
        own = kind.run_options(**{k: v for k, v in values.items() if k in run_names})
        found = [*trainer.option_rules(), *(own.rules() if hasattr(own, "rules") else [])]
    if found:
        raise PairwiseError(f"Invalid {kind.label} options: " + "; ".join(found) + ".")
    config = {o.name: getattr(trainer, o.name) for o in kind.trainer_options}
    config.update({name: getattr(own, name) for name in run_names if getattr(own, name) is not None})
    if values.get("output_name"):
        config["output_name"] = values["output_name"]
    return config


def models_check(
    kind: RunKind, *, start: ModelArtifact, inputs: Mapping[str, ModelArtifact], linked: bool = False
) -> None:
    """The models can go into a run of `kind`: the start is of a kind it starts from, every input
    is given and of its kind, and all have their files (a linked run's start only stands in for
    the result of the run before it, whose files do not exist yet)."""
    artifact_kind_check(start, kind.starts_from, doing=f"{kind.label} starts from")
    if not linked:
        artifact_files_check(start)
    missing = [i.flag for i in kind.inputs if i.name not in inputs]
    if missing:
        raise PairwiseError(f"{kind.label} needs {', '.join(missing)}: {kind.inputs[0].help}.")
    extra = sorted(set(inputs) - {i.name for i in kind.inputs})
    if extra:
        raise PairwiseError(f"{kind.label} takes no {', '.join(extra)}.")
    for spec in kind.inputs:
        model = inputs[spec.name]
        artifact_kind_check(
            model, spec.kinds, doing=f"{kind.label}'s {spec.name.replace('_', ' ')} must be", hint=spec.help
        )
        artifact_files_check(model)


def name_check(config: Mapping[str, Any]) -> None:
    """The name of the result is free (every kind refuses a taken one before anything is queued)."""
    artifact_name_free(config.get("output_name"))
