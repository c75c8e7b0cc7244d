"""Gold items: comparisons whose right answer a manager knows.

`Comparison.gold_choice` is in STORED order: "A" means response_a is the better one, "B"
response_b, whatever side the labeler saw it on. A judgment is right when its winner (the stored
response it preferred) matches, or when it picked the same tie / both-bad answer. It is never
compared with the shown choice, which depends on the random left/right order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from django.db.models import QuerySet

from annotate.models import Choice, Comparison, Project
from annotate.quality.stats import wilson
from pairwise.errors import PairwiseError


def wilson_interval(successes: int, n: int, *, confidence: float = 0.95) -> tuple[float, float] | None:
    """Wilson score interval for a proportion (equal to scipy's binomtest(...).proportion_ci(
    method="wilson"); annotate.quality.stats computes it for many labelers at once)."""
    if n <= 0:
        return None
    lo, hi = wilson(np.array([successes]), np.array([n]), confidence)
    return float(lo[0]), float(hi[0])


@dataclass(frozen=True)
class GoldAccuracy:
    answered: int
    correct: int
    accuracy: float | None
    ci: tuple[float, float] | None
    flagged: bool  # under the project's threshold after at least gold_min_items answers
    clearly_under: bool  # even the interval's upper end is under the threshold

    def as_dict(self) -> dict:
        return {
            "answered": self.answered,
            "correct": self.correct,
            "accuracy": self.accuracy,
            "ci": list(self.ci) if self.ci else None,
            "flagged": self.flagged,
            "clearly_under": self.clearly_under,
        }


def gold_accuracy_of(*, answered: int, correct: int, project: Project) -> GoldAccuracy:
    accuracy = correct / answered if answered else None
    ci = wilson_interval(correct, answered)
    threshold = project.gold_accuracy_threshold
    flagged = answered >= max(project.gold_min_items, 1) and accuracy is not None and accuracy < threshold
    clearly_under = flagged and ci is not None and ci[1] < threshold
    return GoldAccuracy(answered, correct, accuracy, ci, flagged, clearly_under)


def gold_counts(
    labeler_index: np.ndarray, outcome: np.ndarray, gold: np.ndarray, n_labelers: int
) -> tuple[np.ndarray, np.ndarray]:
    """(answered, correct) per labeler index over judgments of gold items that have an answer."""
    has_answer = gold >= 0
    answered = np.bincount(labeler_index[has_answer], minlength=n_labelers)
    right = has_answer & (outcome == gold)
    correct = np.bincount(labeler_index[right], minlength=n_labelers)
    return answered, correct


# --- marking gold (managers) ----------------------------------------------------------------------


def _check_answer(answer: str) -> None:
    if answer not in Choice.values:
        raise PairwiseError(
            f"The gold answer must be one of {', '.join(Choice.values)} "
            f"(A means response_a, B response_b); got {answer!r}."
        )


def comparisons_mark_gold(*, comparisons: QuerySet[Comparison], answer: str) -> int:
    """Make comparisons gold items with their right answer, in STORED order ("A" = response_a).

    From then on they are served at the project's gold rate, to every labeler once, and exports
    leave them out (with the judgments they already have). Returns how many were marked.
    """
    _check_answer(answer)
    return comparisons.update(is_gold=True, gold_choice=answer, is_open=False)


def comparisons_unmark_gold(*, comparisons: QuerySet[Comparison]) -> int:
    """Turn gold items back into ordinary comparisons."""
    return comparisons.update(
        is_gold=False, gold_choice="", is_open=Comparison.open_expression(is_gold=False)
    )


def gold_comparison_for_manager(*, project: Project, comparison_id: int | str) -> Comparison:
    """The project's comparison with that id, or an error a manager can act on."""
    try:
        return Comparison.objects.select_related("prompt", "response_a", "response_b").get(
            pk=int(comparison_id), project=project
        )
    except (Comparison.DoesNotExist, ValueError, TypeError):
        raise PairwiseError(f"Project {project.name!r} has no comparison {comparison_id!r}.") from None
