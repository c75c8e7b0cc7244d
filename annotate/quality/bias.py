"""Position bias, same-choice streaks and too-fast judgments, each with its evidence.

Every function works on whole columns (numpy arrays, one entry per judgment) with labelers given
as dense indices 0..n_labelers-1, and returns one dict per labeler index. Flags use a Bonferroni
correction over the labelers tested, so a project with many honest labelers does not flag one by
chance.
"""

from __future__ import annotations

import math

import numpy as np

from annotate.quality import SHOWN
from annotate.quality.stats import binom_test_half, wilson

# Position bias: flag when the binomial test is significant after Bonferroni AND the share of
# left choices is at least this far from one half (with thousands of judgments a 52 % share is
# "significant" yet harmless).
POSITION_P = 0.01
POSITION_MIN_EFFECT = 0.10
# Streaks: flag a run whose chance (see _run_p_value) is under STREAK_P / n_labelers.
STREAK_P = 0.01
STREAK_MIN_LENGTH = 5
# Speed: a judgment is "fast" under FAST_FACTOR x the project's median seconds; flag a labeler
# with at least FAST_MIN judgments and FAST_SHARE of their timed judgments fast.
FAST_FACTOR = 0.25
FAST_SHARE = 0.20
FAST_MIN = 5
EXAMPLES = 5


def _order_by(group: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Indices sorting by (group, value), ties kept in input order. Two stable sorts: the second
    on small integers, which numpy does with a radix sort (np.lexsort is several times slower)."""
    by_value = np.argsort(value, kind="stable")
    small = group.astype(np.int32 if group.max(initial=0) >= 2**15 else np.int16)
    return by_value[np.argsort(small[by_value], kind="stable")]


def position_bias(labeler: np.ndarray, shown: np.ndarray, n_labelers: int) -> list[dict]:
    """Share of left (A) choices among decisive (A or B) choices, tested against 1/2 (the
    binomial test of scipy.stats.binomtest, vectorized) with a Wilson interval.

    The left/right order is randomized per assignment, so an honest labeler's decisive choices
    fall left half the time whatever they prefer.
    """
    left = np.bincount(labeler[shown == 0], minlength=n_labelers)
    right = np.bincount(labeler[shown == 1], minlength=n_labelers)
    n = left + right
    tested = max(int(np.count_nonzero(n)), 1)
    p_values = binom_test_half(left, n)
    lo, hi = wilson(left, n)
    out = []
    for i in range(n_labelers):
        if n[i] == 0:
            out.append(
                {"left": 0, "right": 0, "share_left": None, "ci": None, "p_value": None, "flagged": False}
            )
            continue
        share = float(left[i]) / float(n[i])
        p = float(p_values[i])
        out.append(
            {
                "left": int(left[i]),
                "right": int(right[i]),
                "share_left": share,
                "ci": [float(lo[i]), float(hi[i])],
                "p_value": p,
                "flagged": p < POSITION_P / tested and abs(share - 0.5) >= POSITION_MIN_EFFECT,
            }
        )
    return out


def _run_p_value(length: int, n: int, p: float) -> float:
    """Approximate chance of a run of at least `length` equal outcomes somewhere in `n` trials
    that each give that outcome with probability `p` (Poisson clumping: expected number of runs
    starting at a position, p^L (1 + (n - L)(1 - p)))."""
    if p >= 1.0:
        return 1.0
    mu = (p**length) * (1 + max(n - length, 0) * (1 - p))
    return float(-math.expm1(-mu))


def streaks(
    labeler: np.ndarray, shown: np.ndarray, created: np.ndarray, ids: np.ndarray, n_labelers: int
) -> list[dict]:
    """Each labeler's longest run of one shown choice, in the order they judged.

    The chance of a run is taken against what an honest labeler with the same mix of answers
    would produce: decisive answers fall left or right at random (the order is randomized), so
    A and B each get half the labeler's decisive share; tie and both bad keep their own share.
    The most surprising of the four longest runs is reported.
    """
    if len(labeler) == 0:
        return [_no_streak() for _ in range(n_labelers)]
    order = _order_by(labeler, created)
    lab, sh, ts, jid = labeler[order], shown[order], created[order], ids[order]
    breaks = np.flatnonzero((lab[1:] != lab[:-1]) | (sh[1:] != sh[:-1])) + 1
    starts = np.concatenate(([0], breaks))
    lengths = np.diff(np.concatenate((starts, [len(lab)])))
    run_lab, run_choice = lab[starts], sh[starts]
    # Longest run per (labeler, choice), then the first run of each key that reaches it.
    key = run_lab.astype(np.int64) * 4 + run_choice
    top = np.zeros(n_labelers * 4, np.int64)
    np.maximum.at(top, key, lengths)
    reaching = np.flatnonzero(lengths == top[key])
    _, first = np.unique(key[reaching], return_index=True)
    best_runs = reaching[first]

    totals = np.bincount(labeler, minlength=n_labelers)
    per_choice = np.bincount(labeler.astype(np.int64) * 4 + shown, minlength=n_labelers * 4).reshape(-1, 4)
    tested = max(int(np.count_nonzero(totals)), 1)
    longest = np.zeros(n_labelers, np.int64)
    np.maximum.at(longest, run_lab[best_runs], lengths[best_runs])
    out = [_no_streak() for _ in range(n_labelers)]
    best_p = np.full(n_labelers, np.inf)
    for r in best_runs:
        i, c, length = int(run_lab[r]), int(run_choice[r]), int(lengths[r])
        n = int(totals[i])
        decisive = per_choice[i, 0] + per_choice[i, 1]
        p_choice = float(decisive / (2 * n) if c in (0, 1) else per_choice[i, c] / n)
        p_value = _run_p_value(length, n, p_choice)
        if p_value > best_p[i] or (p_value == best_p[i] and length <= out[i]["length"]):
            continue
        best_p[i] = p_value
        s, e = starts[r], starts[r] + length - 1
        out[i] = {
            "longest": int(longest[i]),
            "choice": SHOWN[c],
            "length": length,
            "expected_share": p_choice,
            "p_value": p_value,
            "first_judgment": int(jid[s]),
            "last_judgment": int(jid[e]),
            "started": float(ts[s]),
            "ended": float(ts[e]),
            "flagged": length >= STREAK_MIN_LENGTH and p_value < STREAK_P / tested,
        }
    return out


def _no_streak() -> dict:
    return {"longest": 0, "choice": None, "length": 0, "p_value": None, "flagged": False}


def project_median_seconds(seconds: np.ndarray) -> float | None:
    timed = seconds[np.isfinite(seconds)]
    return float(np.median(timed)) if len(timed) else None


def speed(
    labeler: np.ndarray,
    seconds: np.ndarray,
    ids: np.ndarray,
    comparisons: np.ndarray,
    n_labelers: int,
    project_median: float | None,
) -> list[dict]:
    """Median seconds per labeler and their judgments under FAST_FACTOR x the project median,
    with the fastest few as examples."""
    timed = np.isfinite(seconds)
    lab, sec, jid, cmp_ = labeler[timed], seconds[timed], ids[timed], comparisons[timed]
    order = _order_by(lab, sec)
    lab, sec, jid, cmp_ = lab[order], sec[order], jid[order], cmp_[order]
    counts = np.bincount(lab, minlength=n_labelers)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    threshold = FAST_FACTOR * project_median if project_median else None
    out = []
    for i in range(n_labelers):
        c, s = int(counts[i]), int(starts[i])
        if c == 0:
            out.append(
                {"timed": 0, "median": None, "fast": 0, "share_fast": None, "examples": [], "flagged": False}
            )
            continue
        # Sorted by seconds within the labeler, so the median is the middle and fast ones come first.
        median = float((sec[s + (c - 1) // 2] + sec[s + c // 2]) / 2)
        fast = int(np.searchsorted(sec[s : s + c], threshold)) if threshold else 0
        examples = [
            {"judgment": int(jid[k]), "comparison": int(cmp_[k]), "seconds": float(sec[k])}
            for k in range(s, s + min(fast, EXAMPLES))
        ]
        out.append(
            {
                "timed": c,
                "median": median,
                "fast": fast,
                "share_fast": fast / c,
                "examples": examples,
                "flagged": fast >= FAST_MIN and fast / c >= FAST_SHARE,
            }
        )
    return out
