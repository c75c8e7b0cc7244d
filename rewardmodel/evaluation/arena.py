"""Arena: policies answer the same held-out prompts greedily; every pair of policies on a prompt
becomes a blind comparison, served to labelers like any other and ranked by the leaderboard.

    arena_create(project=p, policies=[a, b, c], n_prompts=50, split="heldout", seed=0, generate="sync")

Two steps, each resumable:

1. Answers. The prompts are the first `n_prompts` of the split in an order seeded by their content
   (the same seed picks the same prompts wherever the data lives). Each policy answers them with
   temperature 0 (one answer per prompt), through the ordinary generation jobs: one GenerationJob
   per policy that still lacks answers, restricted to the arena's prompts. An answer's identity is
   (model, sampling parameters, sample seed), so answers that exist, from an earlier arena with the
   same prompts and max_new_tokens or an interrupted run, are reused, not generated again.
   `generate="sync"` runs the jobs here, one after the other; `"queue"` sends them to the Celery
   workers and returns; `"skip"` generates nothing.
2. Pairs. Once every policy has answered every prompt: every pair of their answers per prompt,
   through the pair strategies (identical texts never paired; rerunning adds nothing). With
   `"queue"` this waits for a second call with `"skip"` (`make_arena ... --pairs-only`), which
   refuses while answers are missing, so an arena is never half made.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from django.contrib.auth.models import AbstractBaseUser

from annotate.models import Project, Prompt, Response
from annotate.pair_strategies import PairsOutcome, comparisons_pair_responses
from pairwise.errors import PairwiseError
from rewardmodel.generation.responses import (
    GenerationOptions,
    generation_check,
    generation_job_create,
    response_keys,
)
from rewardmodel.jobs.execute import job_execute
from rewardmodel.models import GENERATIVE_KINDS, GenerationJob, JobStatus, ModelArtifact
from rewardmodel.registry.artifacts import artifact_kind_check

Generate = Literal["sync", "queue", "skip"]


@dataclass
class ArenaResult:
    policies: list[str]
    prompts: int
    answers: int  # arena answers that exist now (policies x prompts when complete)
    missing: dict[str, int]  # policy -> prompts it has not answered yet
    jobs: list[GenerationJob] = field(default_factory=list)  # created by this call
    pairs: PairsOutcome | None = None  # None while answers are missing (queued jobs)


def arena_policies_check(policies: Sequence[ModelArtifact]) -> list[ModelArtifact]:
    """At least two distinct generative models (duplicates dropped, order kept)."""
    unique = list({p.pk: p for p in policies}.values())
    if len(unique) < 2:
        raise PairwiseError("An arena needs at least two different policies.")
    for policy in unique:
        artifact_kind_check(policy, GENERATIVE_KINDS, doing="an arena compares the answers of")
    return unique


def arena_prompts(*, project: Project, split: str, n_prompts: int, seed: int) -> list[Prompt]:
    """The arena's prompts: the first `n_prompts` of the split by a seeded hash of their content
    (all of them if the split has fewer), in id order."""
    if n_prompts < 1:
        raise PairwiseError("An arena needs at least one prompt.")
    if split not in Prompt.Split.values:
        raise PairwiseError(f"split must be one of {', '.join(Prompt.Split.values)}.")
    candidates = list(project.prompts.filter(split=split).only("id", "content_hash"))
    if not candidates:
        raise PairwiseError(
            f"Project {project.name!r} has no prompts in the {split} split; import some with "
            f"`manage.py import_data --split {split}`."
        )
    ranked = sorted(candidates, key=lambda p: hashlib.sha256(f"{seed}:{p.content_hash}".encode()).digest())
    chosen = sorted(p.pk for p in ranked[:n_prompts])
    return list(Prompt.objects.filter(pk__in=chosen).order_by("id"))


def arena_options(
    *, prompts: list[Prompt], split: str, max_new_tokens: int, batch_size: int = 8, device: str = ""
) -> GenerationOptions:
    """Greedy, one answer per prompt. The sampling seed stays 0 whatever the arena's seed (which
    only picks prompts): greedy text does not depend on it, and so arenas share answers."""
    return GenerationOptions(
        per_prompt=1,
        temperature=0.0,
        top_p=1.0,
        max_new_tokens=max_new_tokens,
        seed=0,
        batch_size=batch_size,
        split=split,
        device=device,
        prompt_ids=tuple(p.pk for p in prompts),
    )


def _answers(
    project: Project, policies: list[ModelArtifact], options: GenerationOptions, prompts: list[Prompt]
) -> tuple[list[int], dict[str, int]]:
    """Ids of the arena answers that exist, and how many each policy still lacks."""
    ids, missing = [], {}
    for policy in policies:
        keys = [row[0] for row in response_keys(model=policy, options=options, prompts=prompts)]
        found = list(
            Response.objects.filter(prompt__project=project, content_hash__in=keys).values_list(
                "id", flat=True
            )
        )
        ids += found
        missing[policy.name] = len(prompts) - len(found)
    return ids, missing


def arena_create(
    *,
    project: Project,
    policies: Sequence[ModelArtifact],
    n_prompts: int = 50,
    split: str = Prompt.Split.HELDOUT,
    seed: int = 0,
    max_new_tokens: int = 256,
    priority: int = 0,
    generate: Generate = "sync",
    batch_size: int = 8,
    device: str = "",
    user: AbstractBaseUser | None = None,
) -> ArenaResult:
    """Answers (generated, queued or only looked up, per `generate`), then pairs once all exist.

    Raises PairwiseError for bad input, for a generation job that did not succeed (sync; the
    answers it stored are kept, so the same call resumes), and for missing answers with "skip".
    """
    policies = arena_policies_check(policies)
    prompts = arena_prompts(project=project, split=split, n_prompts=n_prompts, seed=seed)
    options = arena_options(
        prompts=prompts, split=split, max_new_tokens=max_new_tokens, batch_size=batch_size, device=device
    )
    names = [p.name for p in policies]
    answer_ids, missing = _answers(project, policies, options, prompts)
    result = ArenaResult(policies=names, prompts=len(prompts), answers=len(answer_ids), missing=missing)
    lacking = [p for p in policies if missing[p.name]]
    if lacking and generate != "skip":
        for policy in lacking:  # every check before the first job, so bad input queues nothing
            generation_check(project=project, model=policy, options=options)
        note = {"arena": {"policies": names, "n_prompts": n_prompts, "seed": seed}}
        for policy in lacking:
            job = generation_job_create(
                project=project,
                model=policy,
                options=options,
                user=user,
                enqueue=generate == "queue",
                note=note,
            )
            if generate == "sync":
                # Interrupted (Ctrl-C), the job records itself cancelled and the interrupt goes on.
                job = job_execute(GenerationJob, pk=job.pk)
                if job.status != JobStatus.SUCCEEDED:
                    raise PairwiseError(
                        f"Generation job #{job.pk} ({policy.name}) {job.status}: "
                        f"{job.error or job.status_message}. "
                        "Answers stored so far are kept; run the same command again to resume."
                    )
            result.jobs.append(job)
        if generate == "queue":
            return result
        answer_ids, result.missing = _answers(project, policies, options, prompts)
        result.answers = len(answer_ids)
    if any(result.missing.values()):
        lacking_text = ", ".join(f"{name} {n}" for name, n in result.missing.items() if n)
        raise PairwiseError(
            f"Not every policy has answered the {len(prompts)} arena prompts yet (missing: {lacking_text}). "
            "Wait for the generation jobs to finish, or generate here with --sync."
        )
    result.pairs = comparisons_pair_responses(project=project, response_ids=answer_ids, priority=priority)
    return result
