"""Vectorized versions of two scipy tests, for hundreds of labelers at once.

scipy.stats.binomtest does the same arithmetic one labeler at a time at a few milliseconds each
(it searches the distribution for the two-sided tail), which is most of a report's time with
a few hundred labelers. Both functions are tested equal to binomtest (tests/annotate/quality/test_stats.py).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import binom, norm


def binom_test_half(k: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Two-sided p-value of k successes in n trials against p = 1/2.

    The distribution is symmetric, so the two-sided p-value (the total probability of outcomes
    no likelier than k, as binomtest defines it) is twice the smaller tail, capped at 1.
    """
    k, n = np.asarray(k, dtype=np.float64), np.asarray(n, dtype=np.float64)
    tail = np.minimum(binom.cdf(k, n, 0.5), binom.sf(k - 1, n, 0.5))
    return np.where(n > 0, np.minimum(1.0, 2.0 * tail), np.nan)


def wilson(k: np.ndarray, n: np.ndarray, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval (lower, upper) for k successes in n trials; NaN where n = 0."""
    k, n = np.asarray(k, dtype=np.float64), np.asarray(n, dtype=np.float64)
    z = norm.ppf(0.5 + confidence / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 2 * (n + z * z)
        centre = (2 * n * p + z * z) / denom
        half = z * np.sqrt(z * z + 4 * n * p * (1 - p)) / denom
        lo, hi = np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)
    empty = n <= 0
    return np.where(empty, np.nan, lo), np.where(empty, np.nan, hi)
