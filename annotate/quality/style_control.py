"""Style-controlled Bradley-Terry ratings, as Chatbot Arena does since August 2024
(https://lmsys.org/blog/2024-08-28-style-control/). Numbers only: no Django here.

A judge who prefers longer or more formatted answers makes a verbose model look strong. Style
control fits Bradley-Terry as a logistic regression whose inputs are the two sources' indicators
(+1 for the source of response A, -1 for B's) plus style covariates, the differences

    (x_a - x_b) / (x_a + x_b)          (0 when both are 0)

for x = length in characters, markdown headers, list items and bold spans (code blocks removed
first). The source coefficients are then the ratings "at equal style"; the style coefficients say
how much style moved the judges. Covariates are scaled to unit standard deviation but not centred:
a difference must change sign when A and B swap, and the model has no intercept to absorb a shift.

The fit needs one row per comparison (each comparison's lengths differ, so the distinct-pattern
trick of the raw leaderboard does not apply): a weighted logistic log-likelihood over the
comparisons, with a win of A weighted by A's wins plus half the ties and a win of B likewise (ties
as half wins, two weighted rows folded into one), minimised by L-BFGS with a small L2 penalty so a
source that never won keeps a finite rating. Intervals: 95 % percentile bootstrap over comparisons,
each resample refitted from the full fit. The leaderboard over 50,000 comparisons with 200
resamples took 18 s on a busy two-core machine (4 s of it reading the texts), against 0.3 s
without style control; it grows linearly, and `STYLE_MAX_COMPARISONS` bounds what it attempts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import minimize
from scipy.special import expit

from pairwise.errors import PairwiseError

STYLE_FEATURES = ("length", "headers", "list_items", "bold")
STYLE_L2 = (
    0.01  # a Gaussian prior of sd 10 on every coefficient: nothing for real data, finite for a never-winner
)
STYLE_MAX_COMPARISONS = 100_000  # per-comparison rows and one L-BFGS fit per resample; beyond this, skipped

_CODE = re.compile(r"```.*?```", re.DOTALL)
_HEADER = re.compile(r"^#{1,6}\s", re.MULTILINE)
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s", re.MULTILINE)
_BOLD = re.compile(r"\*\*[^*\n]+\*\*|__[^_\n]+__")


def style_counts(text: str) -> tuple[int, int, int, int]:
    """(characters, markdown headers, list items, bold spans) of a response, in STYLE_FEATURES order."""
    prose = _CODE.sub("", text) if "```" in text else text
    return (len(text), len(_HEADER.findall(prose)), len(_LIST_ITEM.findall(prose)), len(_BOLD.findall(prose)))


def style_differences(counts_a: ArrayLike, counts_b: ArrayLike) -> np.ndarray:
    """Normalised differences (a - b) / (a + b), 0 where both are 0; N x F from two N x F counts."""
    a, b = np.asarray(counts_a, dtype=float), np.asarray(counts_b, dtype=float)
    total = a + b
    return np.divide(a - b, total, out=np.zeros_like(total), where=total > 0)


@dataclass(frozen=True)
class StyleGames:
    """One row per comparison: sources i (response A) and j (B), weighted wins, style differences."""

    sources: list[str]
    i: np.ndarray
    j: np.ndarray
    wins_i: np.ndarray  # A's wins + half the ties
    wins_j: np.ndarray
    differences: np.ndarray  # N x F, unscaled

    @classmethod
    def build(
        cls,
        sources: list[str],
        i: ArrayLike,
        j: ArrayLike,
        wins_i: ArrayLike,
        wins_j: ArrayLike,
        ties: ArrayLike,
        counts_a: ArrayLike,
        counts_b: ArrayLike,
    ) -> StyleGames:
        """From parallel per-comparison sequences; counts are N x F style_counts of A and of B."""
        ties = np.asarray(ties, dtype=float)
        return cls(
            sources,
            np.asarray(i, dtype=np.int64),
            np.asarray(j, dtype=np.int64),
            np.asarray(wins_i, dtype=float) + 0.5 * ties,
            np.asarray(wins_j, dtype=float) + 0.5 * ties,
            style_differences(counts_a, counts_b),
        )


def _fit(
    i: np.ndarray,
    j: np.ndarray,
    z: np.ndarray,
    w1: np.ndarray,
    w0: np.ndarray,
    n_sources: int,
    initial: np.ndarray,
) -> np.ndarray:
    """[source strengths (mean zero), style coefficients] maximising the penalised likelihood."""
    total = w1 + w0

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        theta, beta = params[:n_sources], params[n_sources:]
        eta = theta[i] - theta[j] + z @ beta  # log-odds that A wins
        # w1 * softplus(-eta) + w0 * softplus(eta), with softplus(-x) = softplus(x) - x: one log-exp.
        # Sums of products, not `@`: OpenBLAS's threaded ddot took 16 ms for 50,000 rows on a busy
        # two-core machine, 100 times the plain sum.
        nll = float(np.sum(total * np.logaddexp(0.0, eta) - w1 * eta))
        g = total * expit(eta) - w1  # d nll / d eta
        grad = (
            np.concatenate((np.bincount(i, g, n_sources) - np.bincount(j, g, n_sources), z.T @ g))
            + STYLE_L2 * params
        )
        return nll + 0.5 * STYLE_L2 * float(np.sum(params * params)), grad

    result = minimize(loss, initial, jac=True, method="L-BFGS-B", options={"maxiter": 500, "gtol": 1e-7})
    if not np.all(np.isfinite(result.x)):
        raise PairwiseError(f"The style-controlled fit did not converge: {result.message}")
    params = result.x.copy()
    params[:n_sources] -= params[:n_sources].mean()
    return params


def style_controlled_from_games(games: StyleGames, *, n_bootstrap: int, rng: np.random.Generator) -> dict:
    """Style-controlled strengths with bootstrap intervals, and the fitted style coefficients.

    Coefficients are log-odds of winning per standard deviation of each normalised difference
    (`scale` holds those deviations, to turn them back into per-unit effects).
    """
    s, n = len(games.sources), len(games.i)
    scale = games.differences.std(axis=0) if n else np.zeros(len(STYLE_FEATURES))
    varies = scale > 0
    z = np.divide(games.differences, scale, out=np.zeros_like(games.differences), where=varies)
    start = np.zeros(s + z.shape[1])
    params = _fit(games.i, games.j, z, games.wins_i, games.wins_j, s, start)
    ci = None
    if n_bootstrap > 0:
        draws = rng.multinomial(n, np.full(n, 1 / n), size=n_bootstrap).astype(float)
        boot = np.array(
            [_fit(games.i, games.j, z, games.wins_i * c, games.wins_j * c, s, params) for c in draws]
        )
        ci = np.percentile(boot, [2.5, 97.5], axis=0)
    theta, beta = params[:s], params[s:]
    order = np.argsort(-theta, kind="stable")
    sources = [
        {
            "rank": rank,
            "source": games.sources[k],
            "strength": float(theta[k]),
            "ci": [float(ci[0, k]), float(ci[1, k])] if ci is not None else None,
        }
        for rank, k in enumerate(order, start=1)
    ]
    coefficients = {
        name: {
            "value": float(beta[f]) if varies[f] else None,  # a constant covariate has no effect to fit
            "ci": [float(ci[0, s + f]), float(ci[1, s + f])] if ci is not None and varies[f] else None,
            "scale": float(scale[f]),
        }
        for f, name in enumerate(STYLE_FEATURES)
    }
    return {
        "sources": sources,
        "coefficients": coefficients,
        "features": list(STYLE_FEATURES),
        "length_unit": "characters",
        "l2": STYLE_L2,
        "comparisons": n,
    }
