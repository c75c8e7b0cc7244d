"""A preference a tiny model can learn in seconds: answers that contain a marker word win."""

from __future__ import annotations

import json
import random
from pathlib import Path

MARKER = "thanks"
WORDS = (
    "apple river stone cloud green quick lamp paper window orange silver music table garden "
    "bread candle forest yellow planet rocket"
).split()


def marker_pairs(n: int, *, seed: int = 0) -> list[dict[str, str]]:
    """n TRL plain-text rows; the chosen answer holds MARKER at a random place, the rejected never.

    Both answers have the same length distribution, so the marker is the only signal.
    """
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        chosen = [rng.choice(WORDS) for _ in range(rng.randint(4, 9))]
        chosen.insert(rng.randint(0, len(chosen)), MARKER)
        rejected = [rng.choice(WORDS) for _ in range(rng.randint(4, 9))]
        # One more word on the rejected side too: the only signal is the marker, not the length.
        rejected.insert(rng.randint(0, len(rejected)), rng.choice(WORDS))
        rows.append(
            {
                "prompt": f"Say something about the {rng.choice(WORDS)} (item {seed}-{i}).",
                "chosen": " ".join(chosen),
                "rejected": " ".join(rejected),
            }
        )
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def judge_marker_pairs(project, n: int, *, labelers=(), seed: int = 0) -> None:
    """n comparisons in `project` built from marker_pairs, each judged for the marker answer by
    every labeler (external votes if none). Which stored side holds the marker is random."""
    from itertools import count

    from annotate.models import Choice, Judgment
    from tests.factories import make_comparison

    rng = random.Random(seed)
    ids = count(1)
    judgments = []
    for row in marker_pairs(n, seed=seed):
        marker_first = rng.random() < 0.5
        a, b = (row["chosen"], row["rejected"]) if marker_first else (row["rejected"], row["chosen"])
        comparison = make_comparison(project, prompt_text=row["prompt"], a=a, b=b)
        winner = comparison.response_a if marker_first else comparison.response_b
        for labeler in labelers or (None,):
            judgments.append(
                Judgment(
                    comparison=comparison,
                    labeler=labeler,
                    source=Judgment.Source.HUMAN if labeler else Judgment.Source.EXTERNAL,
                    choice=Choice.A if marker_first else Choice.B,
                    side_order="AB",
                    winner=winner,
                    client_id=f"marker-{project.pk}-{next(ids)}",
                )
            )
    Judgment.objects.bulk_create(judgments)
