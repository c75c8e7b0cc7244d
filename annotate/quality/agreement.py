"""Agreement between labelers: raw pairwise agreement and Krippendorff's alpha (nominal), with
bootstrap intervals over comparisons, and each labeler's agreement with the leave-one-out majority.

Units are comparisons; values are canonical outcomes (which STORED response won, tie, both bad),
so two labelers who saw the pair in opposite left/right orders but preferred the same response
agree.

The point estimate of alpha comes from the `krippendorff` package (value-counts form: units x
values, which stays small with many labelers). The bootstrap uses one observation about nominal
data: a unit's contribution to the coincidence matrix depends only on its row of value counts,
and with a handful of labelers per comparison there are only a few dozen distinct rows. Resampling
N comparisons with replacement is therefore exactly a multinomial draw over those distinct rows,
so a thousand resamples cost a few small matrix products instead of a thousand passes over a
million judgments. `alpha_from_patterns` is tested equal to the package on resampled data.
"""

from __future__ import annotations

from dataclasses import dataclass

import krippendorff
import numpy as np

N_VALUES = 4  # annotate.quality.OUTCOMES


def dense_index(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct values, index of each value among them): np.unique(return_inverse=True),
    but for database ids (non-negative, not too sparse) through a lookup table, which takes
    milliseconds where sorting a million ids takes most of a second."""
    if len(values) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    top = int(values.max())
    if values.min() < 0 or top > 8 * len(values) + 1_000_000:
        return np.unique(values, return_inverse=True)
    present = np.zeros(top + 1, bool)
    present[values] = True
    lookup = np.cumsum(present) - 1
    return np.flatnonzero(present), lookup[values]


def unit_value_counts(
    units: np.ndarray, values: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(unique units, unit index of each row, value counts N x 4). `weights` (0/1) drops rows
    from the counts while keeping their units in the index."""
    uniq, inv = dense_index(units)
    flat = inv.astype(np.int64) * N_VALUES + values.astype(np.int64)
    counts = np.bincount(flat, weights=weights, minlength=len(uniq) * N_VALUES)
    return uniq, inv, counts.reshape(len(uniq), N_VALUES).astype(np.int64)


def alpha_package(value_counts: np.ndarray) -> float | None:
    """Krippendorff's alpha (nominal) by the `krippendorff` package; None where undefined
    (no comparison judged twice, or every pairable value the same)."""
    pairable = value_counts[value_counts.sum(axis=1) >= 2]
    if len(pairable) == 0 or np.count_nonzero(pairable.sum(axis=0)) < 2:
        return None
    return float(krippendorff.alpha(value_counts=pairable, level_of_measurement="nominal"))


@dataclass(frozen=True)
class Patterns:
    """Distinct value-count rows of the pairable units and how many units have each."""

    rows: np.ndarray  # P x 4
    counts: np.ndarray  # P
    coincidences: np.ndarray  # P x 16: each row's contribution to the coincidence matrix
    agreeing_pairs: np.ndarray  # P: pairs of judgments that agree
    pairs: np.ndarray  # P: pairs of judgments

    @property
    def units(self) -> int:
        return int(self.counts.sum())


def patterns_of(value_counts: np.ndarray) -> Patterns:
    vc = value_counts[value_counts.sum(axis=1) >= 2]
    if len(vc) == 0:
        rows = np.zeros((0, N_VALUES), np.int64)
        counts = np.zeros(0, np.int64)
    else:
        # One integer per row (base = largest count + 1) makes np.unique one-dimensional and fast.
        base = int(vc.max()) + 1
        keys = vc @ (base ** np.arange(N_VALUES, dtype=np.int64))
        _, first, counts = np.unique(keys, return_index=True, return_counts=True)
        rows = vc[first]
    m = rows.sum(axis=1).astype(np.float64)
    outer = rows[:, :, None] * rows[:, None, :] - rows[:, :, None] * np.eye(N_VALUES, dtype=np.int64)
    coincidences = (outer / np.maximum(m - 1, 1)[:, None, None]).reshape(len(rows), N_VALUES * N_VALUES)
    agreeing = (rows * (rows - 1)).sum(axis=1) / 2
    pairs = m * (m - 1) / 2
    return Patterns(rows, counts, coincidences, agreeing.astype(np.float64), pairs)


def _alpha_from_coincidences(o: np.ndarray) -> np.ndarray:
    """Nominal alpha from coincidence matrices (... x 16). NaN where undefined."""
    o = o.reshape(*o.shape[:-1], N_VALUES, N_VALUES)
    n_v = o.sum(axis=-2)
    n = n_v.sum(axis=-1)
    disagree = o.sum(axis=(-2, -1)) - np.trace(o, axis1=-2, axis2=-1)
    expected = n**2 - (n_v**2).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(expected > 0, 1 - (n - 1) * disagree / expected, np.nan)


def alpha_from_patterns(patterns: Patterns, weights: np.ndarray | None = None) -> np.ndarray:
    """Alpha for one weighting of the patterns (weights: P) or many (B x P)."""
    w = patterns.counts if weights is None else weights
    return _alpha_from_coincidences(w @ patterns.coincidences)


@dataclass(frozen=True)
class Agreement:
    units: int  # comparisons with at least two counted judgments
    pairs: int  # pairs of judgments on the same comparison
    judgments: int  # judgments on those comparisons
    raw: float | None  # share of agreeing pairs
    raw_ci: tuple[float, float] | None
    alpha: float | None
    alpha_ci: tuple[float, float] | None

    def as_dict(self) -> dict:
        return {
            "units": self.units,
            "pairs": self.pairs,
            "judgments": self.judgments,
            "raw": self.raw,
            "raw_ci": list(self.raw_ci) if self.raw_ci else None,
            "alpha": self.alpha,
            "alpha_ci": list(self.alpha_ci) if self.alpha_ci else None,
        }


def _interval(samples: np.ndarray) -> tuple[float, float] | None:
    samples = samples[np.isfinite(samples)]
    if len(samples) < 2:
        return None
    lo, hi = np.percentile(samples, [2.5, 97.5])
    return float(lo), float(hi)


def agreement_of(
    value_counts: np.ndarray,
    *,
    n_bootstrap: int = 1000,
    rng: np.random.Generator,
    point_alpha: float | None | str = "package",
) -> Agreement:
    """Raw agreement and alpha over units (value counts N x 4), with 95 % percentile intervals
    from `n_bootstrap` resamples of the units. `point_alpha="package"` asks the krippendorff
    package for the point estimate; windows pass "patterns" (same number, tested) to save time."""
    pats = patterns_of(value_counts)
    if pats.units == 0:
        return Agreement(0, 0, 0, None, None, None, None)
    total_pairs = float(pats.counts @ pats.pairs)
    raw = float(pats.counts @ pats.agreeing_pairs) / total_pairs
    if point_alpha == "package":
        alpha = alpha_package(value_counts)
    else:
        value = float(alpha_from_patterns(pats))
        alpha = value if np.isfinite(value) else None
    raw_ci = alpha_ci = None
    if n_bootstrap > 0 and pats.units >= 2:
        draws = rng.multinomial(pats.units, pats.counts / pats.units, size=n_bootstrap).astype(np.float64)
        raw_ci = _interval((draws @ pats.agreeing_pairs) / (draws @ pats.pairs))
        alpha_ci = _interval(alpha_from_patterns(pats, draws)) if alpha is not None else None
    judgments = int(pats.counts @ pats.rows.sum(axis=1))
    return Agreement(pats.units, int(total_pairs), judgments, raw, raw_ci, alpha, alpha_ci)


@dataclass(frozen=True)
class LooAgreement:
    """Per judgment: was there a strict majority among the OTHER counted judgments of the same
    comparison, and did this judgment match it?"""

    decided: np.ndarray  # bool per judgment
    agrees: np.ndarray  # bool per judgment (False where undecided)


def leave_one_out(
    unit_index: np.ndarray, outcome: np.ndarray, pool_counts: np.ndarray, in_pool: np.ndarray
) -> LooAgreement:
    """`pool_counts` are the value counts of the counted judgments; a judgment in the pool takes
    itself out before looking at the others; one outside it (an excluded labeler) is simply
    compared with the counted judgments."""
    others = pool_counts[unit_index].astype(np.int32)
    rows = np.arange(len(outcome))
    others[rows, outcome] -= in_pool.astype(np.int32)
    top = others.max(axis=1)
    n_top = (others == top[:, None]).sum(axis=1)
    decided = (top > 0) & (n_top == 1)
    agrees = decided & (others[rows, outcome] == top)
    return LooAgreement(decided, agrees)
