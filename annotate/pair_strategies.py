"""Turn a project's responses into comparisons: every pair, a seeded sample of pairs, model X
against model Y on the same prompt, or every pair of a given set of responses per prompt (an
arena's answers). Blind model comparisons: labelers never see model names.

Rules every strategy keeps:
- a comparison is an unordered pair, stored with response_a the response with the smaller
  content hash (as imports do), so whoever creates a pair first, (b, a) meets
  the same row as (a, b) and the unique constraint keeps one even when two runs race; pairs
  stored the other way round by older code are recognised too;
- two responses with the same text (after trimming whitespace) are never paired;
- running a strategy again creates nothing new unless new responses arrived; the sampled
  strategies count the pairs a prompt already has, so "up to N per prompt" holds across runs;
- new comparisons get the given priority (higher is served first); existing ones keep theirs.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations, product

from django.db import transaction

from annotate.models import Comparison, Project, Prompt, Response
from pairwise.errors import PairwiseError


@dataclass
class PairsOutcome:
    prompts: int = 0  # prompts that had at least two responses to pair
    created: int = 0
    existing: int = 0  # candidate pairs that were already comparisons
    identical_skipped: int = 0


@dataclass(frozen=True)
class _Resp:
    id: int
    prompt_id: int
    text: str
    model_name: str
    content_hash: str


Pair = tuple[int, int]


def _ordered(x: _Resp, y: _Resp) -> Pair:
    """(response_a id, response_b id): the smaller content hash first."""
    return (x.id, y.id) if x.content_hash < y.content_hash else (y.id, x.id)


def _responses(
    project: Project, *, models: Sequence[str], split: str, ids: Collection[int] | None = None
) -> dict[int, list[_Resp]]:
    if split and split not in Prompt.Split.values:
        raise PairwiseError(f"split must be one of {', '.join(Prompt.Split.values)}.")
    rows = Response.objects.filter(prompt__project=project)
    if ids is not None:
        rows = rows.filter(pk__in=list(ids))
    if split:
        rows = rows.filter(prompt__split=split)
    if models:
        present = set(rows.filter(model_name__in=models).values_list("model_name", flat=True).distinct())
        missing = [m for m in models if m not in present]
        if missing:
            raise PairwiseError(f"Project {project.name!r} has no responses from {', '.join(missing)}.")
        rows = rows.filter(model_name__in=models)
    by_prompt: dict[int, list[_Resp]] = defaultdict(list)
    for row in rows.order_by("prompt_id", "id").values_list(
        "id", "prompt_id", "text", "model_name", "content_hash"
    ):
        by_prompt[row[1]].append(_Resp(*row))
    return by_prompt


def _existing_pairs(project: Project) -> set[frozenset[int]]:
    return {
        frozenset(pair)
        for pair in Comparison.objects.filter(project=project).values_list("response_a_id", "response_b_id")
    }


def _candidates(pairs: Iterable[tuple[_Resp, _Resp]], outcome: PairsOutcome) -> list[Pair]:
    kept = []
    for x, y in pairs:
        if x.text.strip() == y.text.strip():
            outcome.identical_skipped += 1
        else:
            kept.append(_ordered(x, y))
    return sorted(set(kept))


def _choose(
    candidates: list[Pair], existing: set[frozenset[int]], *, limit: int | None, rng: random.Random | None
) -> list[Pair]:
    """The new pairs for one prompt: all missing ones, or enough to reach `limit` pairs in total."""
    missing = [p for p in candidates if frozenset(p) not in existing]
    if limit is None:
        return missing
    room = limit - (len(candidates) - len(missing))
    if room <= 0:
        return []
    return sorted(rng.sample(missing, room)) if room < len(missing) else missing


def _write(project: Project, chosen: dict[int, list[Pair]], *, priority: int, dry_run: bool) -> int:
    rows = [
        Comparison(project=project, prompt_id=prompt_id, response_a_id=a, response_b_id=b, priority=priority)
        for prompt_id, pairs in chosen.items()
        for a, b in pairs
    ]
    if rows and not dry_run:
        with transaction.atomic():
            # A concurrent run may have stored some of these meanwhile: the unique pair keeps one.
            Comparison.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
    return len(rows)


def _run(
    project: Project,
    groups: dict[int, list[Pair]],
    *,
    limit: int | None,
    seed: int,
    priority: int,
    dry_run: bool,
    outcome: PairsOutcome,
) -> PairsOutcome:
    existing = _existing_pairs(project)
    hashes = dict(Prompt.objects.filter(pk__in=list(groups)).values_list("id", "content_hash"))
    chosen: dict[int, list[Pair]] = {}
    for prompt_id, candidates in groups.items():
        if not candidates:
            continue
        outcome.prompts += 1
        outcome.existing += sum(frozenset(p) in existing for p in candidates)
        # Seeded by the prompt's content, not its id: the same data picks the same pairs anywhere.
        rng = random.Random(f"{seed}:{hashes[prompt_id]}") if limit is not None else None
        chosen[prompt_id] = _choose(candidates, existing, limit=limit, rng=rng)
    outcome.created = _write(project, chosen, priority=priority, dry_run=dry_run)
    return outcome


def comparisons_pair_all(
    *, project: Project, models: Sequence[str] = (), priority: int = 0, split: str = "", dry_run: bool = False
) -> PairsOutcome:
    """Every pair of distinct-text responses per prompt (optionally only responses of `models`)."""
    return comparisons_pair_sampled(
        project=project, per_prompt=None, models=models, priority=priority, split=split, dry_run=dry_run
    )


def comparisons_pair_sampled(
    *,
    project: Project,
    per_prompt: int | None,
    seed: int = 0,
    models: Sequence[str] = (),
    priority: int = 0,
    split: str = "",
    dry_run: bool = False,
) -> PairsOutcome:
    """Up to `per_prompt` pairs per prompt, drawn at random (seeded); None means every pair."""
    if per_prompt is not None and per_prompt < 1:
        raise PairwiseError("pairs per prompt must be at least 1.")
    outcome = PairsOutcome()
    groups = {
        prompt_id: _candidates(combinations(responses, 2), outcome)
        for prompt_id, responses in _responses(project, models=models, split=split).items()
    }
    return _run(
        project, groups, limit=per_prompt, seed=seed, priority=priority, dry_run=dry_run, outcome=outcome
    )


def comparisons_pair_models(
    *,
    project: Project,
    model_a: str,
    model_b: str,
    per_prompt: int | None = 1,
    seed: int = 0,
    priority: int = 0,
    split: str = "",
    dry_run: bool = False,
) -> PairsOutcome:
    """Pairs of one `model_a` response against one `model_b` response on the same prompt.

    `per_prompt` pairs per prompt at most (seeded draw), None for every cross pair. Prompts where
    either model has no response are left out.
    """
    if model_a == model_b:
        raise PairwiseError("cross-model pairs need two different models.")
    if per_prompt is not None and per_prompt < 1:
        raise PairwiseError("pairs per prompt must be at least 1.")
    outcome = PairsOutcome()
    groups = {}
    for prompt_id, responses in _responses(project, models=(model_a, model_b), split=split).items():
        xs = [r for r in responses if r.model_name == model_a]
        ys = [r for r in responses if r.model_name == model_b]
        groups[prompt_id] = _candidates(product(xs, ys), outcome)
    return _run(
        project, groups, limit=per_prompt, seed=seed, priority=priority, dry_run=dry_run, outcome=outcome
    )


def comparisons_pair_responses(
    *, project: Project, response_ids: Collection[int], priority: int = 0, dry_run: bool = False
) -> PairsOutcome:
    """Every pair of the given responses that answer the same prompt (an arena: one answer per
    policy per prompt, so every pair of policies on every prompt)."""
    outcome = PairsOutcome()
    groups = {
        prompt_id: _candidates(combinations(responses, 2), outcome)
        for prompt_id, responses in _responses(project, models=(), split="", ids=response_ids).items()
    }
    return _run(project, groups, limit=None, seed=0, priority=priority, dry_run=dry_run, outcome=outcome)


STRATEGIES = {
    "all": "Every pair of answers per prompt",
    "sample": "Up to N random pairs per prompt (seeded)",
    "models": "Model X's answers against model Y's on the same prompt",
}


def comparisons_make(
    *,
    project: Project,
    strategy: str,
    per_prompt: int | None = None,
    models: Sequence[str] = (),
    seed: int = 0,
    priority: int = 0,
    split: str = "",
    dry_run: bool = False,
) -> PairsOutcome:
    """One strategy by name, with make_pairs' defaults: all (optionally only `models`' answers),
    sample (`per_prompt` pairs, default 3), models (`models` = [X, Y]; `per_prompt` pairs per prompt,
    default 1, 0 for every cross pair). What make_pairs, an import's "make pairs" and the console's
    make-pairs job all call."""
    pairs_options_check(strategy=strategy, models=models)
    common = {"project": project, "priority": priority, "split": split, "dry_run": dry_run}
    if strategy == "models":
        return comparisons_pair_models(
            model_a=models[0],
            model_b=models[1],
            per_prompt=1 if per_prompt is None else (per_prompt or None),
            seed=seed,
            **common,
        )
    limit = None if strategy == "all" else (per_prompt or 3)
    return comparisons_pair_sampled(per_prompt=limit, seed=seed, models=models, **common)


def pairs_options_check(*, strategy: str, models: Sequence[str]) -> None:
    if strategy not in STRATEGIES:
        raise PairwiseError(f"strategy must be one of {', '.join(STRATEGIES)}; got {strategy!r}.")
    if strategy == "models" and len(models) != 2:
        raise PairwiseError("The models strategy needs exactly two names: --models X Y.")


def pairs_summary(outcome: PairsOutcome, *, dry_run: bool = False) -> str:
    verb = "would create" if dry_run else "created"
    return (
        f"{verb} {outcome.created} comparisons over {outcome.prompts} prompts "
        f"({outcome.existing} pairs existed, {outcome.identical_skipped} identical-text pairs skipped)"
    )
