"""Comparisons made in bulk for the simulated labelers' tests (a thousand through the factories one
by one would take longer than the simulation itself)."""

from __future__ import annotations

import random

from annotate.models import Comparison, Project, Prompt, Response, content_hash


def bulk_comparisons(
    project: Project, n: int, *, seed: int = 0, reference: str = "", texts=None
) -> list[Comparison]:
    """n comparisons, one prompt each. By default the two responses differ in length and which
    stored side is longer is random; `texts(i)` may give (a, b) instead."""
    rng = random.Random(seed)
    prompts = Prompt.objects.bulk_create(
        Prompt(
            project=project,
            messages=[{"role": "user", "content": f"Question {i} of {project.name}?"}],
            reference_answer=reference,
            content_hash=content_hash(project.name, i),
        )
        for i in range(n)
    )
    pairs = []
    for i in range(n):
        if texts is not None:
            pairs.append(texts(i))
            continue
        short, long = "s" * rng.randint(5, 40), "l" * rng.randint(41, 80)
        pairs.append((short, long) if rng.random() < 0.5 else (long, short))
    responses = Response.objects.bulk_create(
        Response(prompt=prompt, text=text, model_name=name, content_hash=content_hash(text))
        for prompt, pair in zip(prompts, pairs, strict=True)
        for name, text in zip(("model-a", "model-b"), pair, strict=True)
    )
    return Comparison.objects.bulk_create(
        Comparison(
            project=project, prompt=prompt, response_a=responses[2 * i], response_b=responses[2 * i + 1]
        )
        for i, prompt in enumerate(prompts)
    )
