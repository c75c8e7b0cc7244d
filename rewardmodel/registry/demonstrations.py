"""Demonstrations frozen for an SFT run: built from a project, kept as a snapshot.

    snapshot = demonstrations_snapshot_create(project=p, source="reference", limit=64)
    train, heldout = demonstrations_snapshot_records(snapshot)

Where the demonstrations come from (`source`):

- reference: the prompts' reference answers, in the DeepSeek-R1 template (R1's "cold start"
  before GRPO): the system turn of the run's template (R1_SYSTEM by default), and the answer
  `<think>{reasoning}</think><answer>{reference}</answer>`. The reasoning is the worked solution
  when there is one: a GSM8K import keeps it as a response named "gsm8k:reference" (its final
  "#### N" line and its <<48/2=24>> calculator notes are dropped); a generated arithmetic prompt
  gets one line ("12 times 14 is 168."); any other prompt "The answer is {reference}.".
- responses: the responses of one model (`teacher`: a registered model's name, or a Response's
  model_name label such as "hh:chosen"), to the prompts they answer: distillation.
- judgments: the chosen side of every comparison with a clear majority, aggregated by
  annotate.exporting.build.preferences_rows, so the rules of the preference export hold here too
  (gold comparisons, excluded labelers, ties, both-bad and split votes left out).

The prompt's split says where a demonstration goes: train prompts are trained on, held-out
prompts give the held-out loss before and after. A demonstrations snapshot is train.jsonl +
eval.jsonl + snapshot.json under DATA_DIR/snapshots/<hash>/, rows in TRL's conversational
prompt/completion form.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.db.models import Q

from annotate.models import Project, Prompt, Response
from pairwise.errors import PairwiseError
from pairwise.files.atomic import scratch_dir
from rewardmodel.models import DatasetSnapshot
from rewardmodel.registry.prompts import prompt_tags, verifiable_prompts
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
from rewardmodel.training.arithmetic import PHRASINGS
from rewardmodel.training.verifiable import PromptTemplate

SOURCES = ("reference", "responses", "judgments")
GSM8K_REFERENCE = "gsm8k:reference"  # model_name of the worked solutions a GSM8K import keeps

OP_WORDS = {"+": "plus", "-": "minus", "*": "times", "/": "divided by"}
# Every phrasing of a generated arithmetic question as a regex: "What's 12 times 14?" -> (12, *, 14).
_ARITHMETIC = [
    (re.compile(re.escape(p).replace(r"\{a\}", r"(?P<a>-?\d+)").replace(r"\{b\}", r"(?P<b>-?\d+)")), op)
    for op, phrasings in PHRASINGS.items()
    for p in phrasings
]


def _demo(prompt: Prompt, messages: list[dict[str, Any]], answer: str, **extra: Any) -> dict[str, Any]:
    return {
        "prompt": [{"role": str(m.get("role", "")), "content": str(m.get("content", ""))} for m in messages],
        "completion": [{"role": "assistant", "content": answer}],
        "prompt_id": prompt.pk,
        "split": prompt.split,
        **extra,
    }


def worked_solution(question: str, reference: str, gsm8k_solution: str | None = None) -> str:
    """The reasoning of a reference demonstration (see the module docstring).

    >>> worked_solution("What's 12 times 14?", "168")
    '12 times 14 is 168.'
    >>> worked_solution("Subtract 9 from 12.", "3")
    '12 minus 9 is 3.'
    >>> worked_solution("Sold 48/2 = <<48/2=24>>24 clips.\\n#### 24", "24", "Sold 48/2 = <<48/2=24>>24 clips.\\n#### 24")
    'Sold 48/2 = 24 clips.'
    """
    if gsm8k_solution and gsm8k_solution.split("####")[0].strip():
        return re.sub(r"<<[^>]*>>", "", gsm8k_solution.split("####")[0]).strip()
    for pattern, op in _ARITHMETIC:
        match = pattern.fullmatch(question.strip())
        if match:
            return f"{match['a']} {OP_WORDS[op]} {match['b']} is {reference}."
    return f"The answer is {reference}."


def _reference_demos(project: Project, template: PromptTemplate, tags: Sequence[str]) -> list[dict]:
    prompts = verifiable_prompts(project=project, tags=tags)
    solutions: dict[int, str] = {}
    for prompt_id, text in (
        Response.objects.filter(prompt__project=project, model_name=GSM8K_REFERENCE)
        .order_by("-id")
        .values_list("prompt_id", "text")
    ):
        solutions[prompt_id] = text  # the oldest wins
    demos = []
    for prompt in prompts:
        reference = prompt.reference_answer.strip()
        think = worked_solution(prompt.text, reference, solutions.get(prompt.pk))
        answer = f"<think>{think}</think><answer>{reference}</answer>"
        demos.append(_demo(prompt, template.messages(prompt.text), answer))
    return demos


def _tagged(prompt: Prompt, tags: Sequence[str]) -> bool:
    return set(tags) <= set(prompt_tags(prompt.tags))


def _response_demos(project: Project, teacher: str, tags: Sequence[str]) -> list[dict]:
    responses = (
        Response.objects.filter(prompt__project=project)
        .filter(Q(model__name=teacher) | Q(model_name=teacher))
        .exclude(text="")
        .select_related("prompt")
        .order_by("prompt_id", "id")
    )
    demos = [
        _demo(r.prompt, r.prompt.messages, r.text, response_id=r.pk)
        for r in responses
        if _tagged(r.prompt, tags)
    ]
    if not demos and not responses.exists():
        labels = (
            Response.objects.filter(prompt__project=project)
            .exclude(model_name="")
            .order_by("model_name")
            .values_list("model_name", flat=True)
            .distinct()[:20]
        )
        raise PairwiseError(
            f"No responses by {teacher!r} in project {project.name!r}. Models with responses there: "
            f"{', '.join(labels) or 'none'}."
        )
    return demos


def _judgment_demos(project: Project, tags: Sequence[str]) -> tuple[list[dict], dict[str, Any]]:
    from annotate.exporting.build import preferences_rows

    rows, stats = preferences_rows(project=project, conversational=True)
    prompts = Prompt.objects.in_bulk({r["prompt_id"] for r in rows})
    demos, seen = [], set()
    for row in rows:
        prompt, answer = prompts[row["prompt_id"]], row["chosen"][0]["content"]
        if (prompt.pk, answer) in seen or not _tagged(prompt, tags):
            continue  # one response that won several comparisons is one demonstration
        seen.add((prompt.pk, answer))
        demos.append(_demo(prompt, row["prompt"], answer, comparison_id=row["comparison_id"]))
    return demos, stats


def _snapshot_write(train: list[dict], heldout: list[dict], manifest: dict[str, Any]) -> tuple[str, Path]:
    """Write train.jsonl, eval.jsonl and snapshot.json into DATA_DIR/snapshots/<hash of the two
    files>/ (in a temporary folder first, renamed into place); returns (files hash, folder)."""
    with scratch_dir(snapshots_dir(), prefix=".demonstrations-") as tmp:
        write_jsonl(tmp / TRAIN_FILE, train)
        write_jsonl(tmp / EVAL_FILE, heldout)
        files_hash, target = snapshot_folder_store(tmp, manifest)
    return files_hash, target


def demonstrations_snapshot_create(
    *,
    project: Project,
    source: str,
    teacher: str | None = None,
    template: dict[str, str] | None = None,
    tags: Sequence[str] = (),
    limit: int | None = None,
) -> DatasetSnapshot:
    """Build the project's demonstrations from `source`, freeze them and record them. `limit`
    keeps the first N training demonstrations (prompt order); the held-out ones are all kept.
    No training demonstration is an error a person can act on; the same rows give the same files."""
    tags = list(tags)
    having = f" tagged {', '.join(tags)}" if tags else ""
    stats: dict[str, Any] = {}
    if source == "reference":
        try:
            prompt_template = PromptTemplate.from_dict(template)
        except ValueError as exc:
            raise PairwiseError(str(exc)) from None
        demos = _reference_demos(project, prompt_template, tags)
        empty = (
            f"Project {project.name!r} has no training prompts{having} with a reference answer. Add some: "
            "manage.py make_arithmetic, or import_data --format gsm8k."
        )
        filters: dict[str, Any] = {"template": prompt_template.as_dict()}
    elif source == "responses":
        if not teacher:
            raise PairwiseError("Source responses needs a teacher: the model whose responses to learn from.")
        demos = _response_demos(project, teacher, tags)
        empty = f"{teacher!r} answered no training prompts{having} in project {project.name!r}."
        filters = {"teacher": teacher}
    elif source == "judgments":
        demos, stats = _judgment_demos(project, tags)
        empty = (
            f"Project {project.name!r} has no comparisons{having} with a clear winner on training prompts "
            f"({stats['n_judgments']} usable judgments; ties, both-bad and split votes are left out). "
            "Label some comparisons or import preference data (manage.py import_data)."
        )
        filters = {}
    else:
        raise PairwiseError(f"Unknown demonstration source {source!r}; choose from {', '.join(SOURCES)}.")
    train = [d for d in demos if d["split"] == Prompt.Split.TRAIN][:limit]
    heldout = [d for d in demos if d["split"] == Prompt.Split.HELDOUT]
    if not train:
        raise PairwiseError(empty)

    filters = {"kind": "demonstrations", "source": source, **filters, "tags": tags, "limit": limit}
    manifest = {"project": project.name, "train": len(train), "heldout": len(heldout), **filters}
    files_hash, target = _snapshot_write(train, heldout, manifest)
    return snapshot_record(
        project=project,
        kind=DatasetSnapshot.Kind.DEMONSTRATIONS,
        folder=target,
        files_hash=files_hash,
        filters=filters,
        n_examples=len(train),
        n_eval_examples=len(heldout),
        n_judgments=stats.get("n_judgments", 0),
        n_labelers=stats.get("n_labelers", 0),
    )


def demonstrations_snapshot_records(snapshot: DatasetSnapshot) -> tuple[list[dict], list[dict]]:
    """(train rows, held-out rows) of a demonstrations snapshot; an error if its files are gone."""
    folder = snapshot_folder(snapshot, DatasetSnapshot.Kind.DEMONSTRATIONS)
    heldout = read_jsonl(folder / EVAL_FILE) if (folder / EVAL_FILE).is_file() else []
    return read_jsonl(folder / TRAIN_FILE), heldout
