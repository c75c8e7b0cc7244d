"""A model's lineage: its parents, theirs, and so on (ModelArtifact.parents), which the cost ledger
adds up, the report walks for curves and notes, and the reproduce commands replay.

    lineage(ppo_1)       # [ppo_1, sft_1, rm_1, smollm2, ...], each once, nearest first
    lineage_root(ppo_1)  # smollm2: the base model a policy descends from, the KL reference
"""

from __future__ import annotations

from rewardmodel.models import GENERATIVE_KINDS, ModelArtifact


def lineage(model: ModelArtifact) -> list[ModelArtifact]:
    """The model and all its ancestors, each once, nearest first."""
    seen: dict[int, ModelArtifact] = {}
    frontier = [model]
    while frontier:
        current = frontier.pop(0)
        if current.pk in seen:
            continue
        seen[current.pk] = current
        frontier.extend(current.parents.select_related("training_run", "dataset_snapshot").order_by("pk"))
    return list(seen.values())


def lineage_root(model: ModelArtifact) -> ModelArtifact:
    """The base model a policy descends from (through its policy/base parents); itself if none."""
    seen, current = set(), model
    while current.pk not in seen:
        seen.add(current.pk)
        parent = current.parents.filter(kind__in=GENERATIVE_KINDS).order_by("pk").first()
        if parent is None:
            return current
        current = parent
    return current
