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
