"""Verifiable prompts in a project: create arithmetic ones, select them, freeze them for a run.

    arithmetic_prompts_create(project=p, level="easy", n_train=500, n_heldout=100, seed=0)
    snapshot = prompts_snapshot_create(project=p, tags=["level:easy"])

A verifiable prompt is a Prompt with a reference answer; its split (train / heldout) says whether
GRPO may train on it. The stored prompt is the bare question: the R1 template is applied by the
run, from its config. A prompts snapshot is train.jsonl + eval.jsonl (the held-out prompts) +
snapshot.json under DATA_DIR/snapshots/<hash>/, the folder named by a hash of the two files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from annotate.models import Project, Prompt, content_hash
from pairwise.errors import PairwiseError
from pairwise.files.atomic import scratch_dir
from rewardmodel.models import DatasetSnapshot
from rewardmodel.registry.snapshots import (
    EVAL_FILE,
    TRAIN_FILE,
    read_jsonl,
    snapshot_folder,
    snapshot_folder_store,
    snapshot_record,
    snapshots_dir,
    write_jsonl,
)
from rewardmodel.training.arithmetic import LEVELS, generate_problems

OP_NAMES = {"+": "plus", "-": "minus", "*": "times", "/": "divided"}


@dataclass
class PromptsCreated:
    created: int
    existing: int
    train: int
    heldout: int


def arithmetic_prompts_create(
    *, project: Project, level: str = "easy", n_train: int = 200, n_heldout: int = 50, seed: int = 0
) -> PromptsCreated:
    """Add generated arithmetic problems (question + reference answer) to a project, in one
    transaction. Problems already in the project (same question) are left as they are. Tags:
    "arithmetic", "level:<level>", "op:<plus|minus|times|divided>"."""
    if level not in LEVELS:
        raise PairwiseError(f"Unknown level {level!r}; choose from {', '.join(LEVELS)}.")
    try:
        problems = generate_problems(level=level, n_train=n_train, n_heldout=n_heldout, seed=seed)
    except ValueError as exc:
        raise PairwiseError(str(exc)) from None
    rows = []
    for p in problems:
        messages = [{"role": "user", "content": p.question}]
        rows.append(
            Prompt(
                project=project,
                messages=messages,
                reference_answer=p.answer,
                tags=["arithmetic", f"level:{p.level}", f"op:{OP_NAMES[p.op]}"],
                source=f"arithmetic:{level}:seed{seed}",
                split=Prompt.Split.HELDOUT if p.split == "heldout" else Prompt.Split.TRAIN,
                content_hash=content_hash(messages),
            )
        )
    with transaction.atomic():
        known = set(
            Prompt.objects.filter(
                project=project, content_hash__in=[r.content_hash for r in rows]
            ).values_list("content_hash", flat=True)
        )
        new = [r for r in rows if r.content_hash not in known]
        Prompt.objects.bulk_create(new, batch_size=500)
    return PromptsCreated(
        created=len(new),
        existing=len(rows) - len(new),
        train=sum(r.split == Prompt.Split.TRAIN for r in new),
        heldout=sum(r.split == Prompt.Split.HELDOUT for r in new),
    )


def prompt_tags(value: Any) -> list[str]:
    """A prompt's tags as a list of strings (the JSON field may hold one string, or nothing)."""
    if isinstance(value, str):
        return [value]
    return [str(t) for t in value or []]


def verifiable_prompts(
    *, project: Project, split: str | None = None, tags: Sequence[str] = ()
) -> list[Prompt]:
    """The project's prompts that have a reference answer, in id order; `split` "train",
    "heldout" or None for both; every tag in `tags` must be present."""
    queryset = Prompt.objects.filter(project=project).exclude(reference_answer="").order_by("pk")
    if split is not None:
        if split not in Prompt.Split.values:
            raise PairwiseError(f"split must be one of {', '.join(Prompt.Split.values)}, not {split!r}.")
        queryset = queryset.filter(split=split)
    wanted = set(tags)
    # Tags are a JSON list; filtered here because SQLite has no JSON containment lookup.
    return [p for p in queryset if wanted <= set(prompt_tags(p.tags))]


def prompt_record(prompt: Prompt) -> dict[str, Any]:
    """One line of a prompts snapshot: what a GRPO or PPO run and an evaluation read (GRPO builds
    its chat from `question` and its template; PPO sends `messages` as they are)."""
    return {
        "id": prompt.pk,
        "question": prompt.text,
        "answer": prompt.reference_answer.strip(),
        "messages": prompt.messages,
        "tags": prompt_tags(prompt.tags),
        "split": prompt.split,
    }


def project_prompts(*, project: Project, split: str, tags: Sequence[str] = ()) -> list[Prompt]:
    """All of the project's prompts in a split (with or without a reference answer), in id order."""
    queryset = Prompt.objects.filter(project=project, split=split).order_by("pk")
    wanted = set(tags)
    return [p for p in queryset if wanted <= set(prompt_tags(p.tags))]


def prompts_snapshot_create(
    *, project: Project, tags: Sequence[str] = (), verifiable: bool = True
) -> DatasetSnapshot:
    """Freeze the project's prompts (train and held-out) into files and record them: those with a
    reference answer (GRPO), or all of them (`verifiable=False`: PPO against a reward model).
    No training prompt is an error a person can act on; the same prompts give the same snapshot."""
    select = verifiable_prompts if verifiable else project_prompts
    train = select(project=project, split=Prompt.Split.TRAIN, tags=tags)
    heldout = select(project=project, split=Prompt.Split.HELDOUT, tags=tags)
    if not train:
        having = f" tagged {', '.join(tags)}" if tags else ""
        if not verifiable:
            raise PairwiseError(
                f"Project {project.name!r} has no training prompts{having}. Import some: manage.py "
                "import_data --format prompts (or hh, trl)."
            )
        raise PairwiseError(
            f"Project {project.name!r} has no training prompts{having} with a reference answer. Add some: "
            "manage.py make_arithmetic, or import_data --format gsm8k."
        )
    filters = {"tags": list(tags), "kind": "verifiable prompts" if verifiable else "prompts"}
    manifest = {"project": project.name, "train": len(train), "heldout": len(heldout), **filters}
    with scratch_dir(snapshots_dir(), prefix=".prompts-") as tmp:
        write_jsonl(tmp / TRAIN_FILE, map(prompt_record, train))
        write_jsonl(tmp / EVAL_FILE, map(prompt_record, heldout))
        files_hash, target = snapshot_folder_store(tmp, manifest)
    return snapshot_record(
        project=project,
        kind=DatasetSnapshot.Kind.PROMPTS,
        folder=target,
        files_hash=files_hash,
        filters=filters,
        n_examples=len(train),
        n_eval_examples=len(heldout),
    )


def prompts_snapshot_records(
    snapshot: DatasetSnapshot, *, heldout_limit: int | None = None
) -> tuple[list[dict], list[dict]]:
    """(train records, the first `heldout_limit` held-out records) of a prompts snapshot; an error
    if its files are gone."""
    folder = snapshot_folder(snapshot, DatasetSnapshot.Kind.PROMPTS)
    heldout = read_jsonl(folder / EVAL_FILE) if (folder / EVAL_FILE).is_file() else []
    if heldout_limit is not None:
        heldout = heldout[: int(heldout_limit)]
    return read_jsonl(folder / TRAIN_FILE), heldout
