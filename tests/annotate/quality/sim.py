"""Simulated labelers with known behaviour, written straight into the database.

Judgments are built the way judgment_record stores them (shown choice + side order -> winner), but
in bulk: the quality code reads stored rows, and a few hundred judgments through the lease
machinery would only slow the tests down. tests/annotate/quality/test_exclusion_export.py goes through the real
services once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from annotate.models import Choice, Comparison, Judgment, SideOrder

START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)  # a Monday


def shown_to_winner(comparison: Comparison, side_order: str, shown: str) -> int | None:
    if shown not in (Choice.A, Choice.B):
        return None
    left_is_a = side_order == SideOrder.AB
    return comparison.response_a_id if (shown == Choice.A) == left_is_a else comparison.response_b_id


def outcome_to_shown(outcome: str, side_order: str) -> str:
    """The shown choice that expresses a canonical outcome under a side order."""
    if outcome in ("tie", "both_bad"):
        return outcome
    left_is_a = side_order == SideOrder.AB
    return Choice.A if (outcome == "response_a") == left_is_a else Choice.B


@dataclass
class Behaviour:
    kind: str  # accurate | random | left | fast
    seconds: float = 30.0


def decide(kind: str, truth: str, rng: random.Random, side_order: str) -> str:
    """The SHOWN choice this kind of labeler makes."""
    if kind == "left":
        return Choice.A
    if kind == "random":
        return rng.choice([Choice.A, Choice.B, Choice.TIE, Choice.BOTH_BAD])
    # accurate and fast labelers read the pair: right 90 % of the time.
    outcome = truth if rng.random() < 0.9 else rng.choice(["response_a", "response_b", "tie", "both_bad"])
    return outcome_to_shown(outcome, side_order)


def simulate(
    comparisons: list[Comparison],
    labelers: dict,  # user -> kind
    truths: dict[int, str],
    *,
    seed: int = 7,
    days: int = 10,
) -> list[Judgment]:
    """Every labeler judges every comparison, in their own random order, spread over `days`."""
    rng = random.Random(seed)
    rows = []
    for user, kind in labelers.items():
        order = comparisons[:]
        rng.shuffle(order)
        step = timedelta(days=days) / max(len(order), 1)
        for n, comparison in enumerate(order):
            side = rng.choice([SideOrder.AB, SideOrder.BA])
            shown = decide(kind, truths[comparison.pk], rng, side)
            seconds = rng.uniform(1.5, 4.0) if kind == "fast" else rng.lognormvariate(3.4, 0.3)
            rows.append(
                Judgment(
                    comparison=comparison,
                    labeler=user,
                    choice=shown,
                    side_order=side,
                    winner_id=shown_to_winner(comparison, side, shown),
                    seconds_on_task=seconds,
                    client_id=f"sim-{user.pk}-{comparison.pk}",
                    created_at=START + n * step + timedelta(seconds=user.pk),
                )
            )
    return Judgment.objects.bulk_create(rows)
