"""Build comparisons from the responses a project has. One strategy so far: all pairs."""

from __future__ import annotations

from itertools import combinations

from django.db import transaction

from .models import Comparison, Project, Response


@transaction.atomic
def comparisons_build_all_pairs(*, project: Project, priority: int = 0) -> int:
    """Create a comparison for every unordered pair of responses to the same prompt.

    Pairs that already exist, in either order, are left alone, so running it again creates
    nothing. response_a is the response with the smaller content hash (as imports do).
    Returns how many comparisons were created.
    """
    existing = {
        frozenset(pair)
        for pair in Comparison.objects.filter(project=project).values_list("response_a_id", "response_b_id")
    }
    by_prompt: dict[int, list[tuple[str, int]]] = {}
    for prompt_id, digest, response_id in (
        Response.objects.filter(prompt__project=project)
        .order_by("prompt_id", "content_hash")
        .values_list("prompt_id", "content_hash", "id")
    ):
        by_prompt.setdefault(prompt_id, []).append((digest, response_id))
    new = [
        Comparison(project=project, prompt_id=prompt_id, response_a_id=a, response_b_id=b, priority=priority)
        for prompt_id, responses in by_prompt.items()
        for (_, a), (_, b) in combinations(responses, 2)
        if frozenset((a, b)) not in existing
    ]
    Comparison.objects.bulk_create(new, batch_size=1000)
    return len(new)
