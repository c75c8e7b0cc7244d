"""Bradley-Terry leaderboard of response sources (models, checkpoints) compared in a project.

A response's source is its registered model's name (Response.model -> ModelArtifact.name), else
its free `model_name` label. Every counted judgment of a comparison between two different sources
is one game: a win for the preferred response, half a win each way for a tie or "both bad"
(Chatbot Arena counts both-bad as a tie too). Gold items and excluded labelers' judgments are left
out; imported (external) judgments count.

Strengths are the maximum-likelihood Bradley-Terry parameters from `choix` (iterative Luce
spectral ranking on the dense matrix of wins, which accepts the half wins directly), with a
small regularizer so a source that never won keeps a finite strength. Intervals are 95 %
percentile bootstrap intervals from resampling comparisons (each with all its judgments). As in
the agreement module, a comparison enters the fit only through (its pair of sources, its win
counts), so a resample is a multinomial draw over those distinct patterns: exact, and fast for
a million judgments.

Beside the raw ratings, `style_controlled` holds ratings fitted with style covariates (length and
markdown differences, annotate/quality/style_control.py). That fit needs one row per comparison
and each response's text, so it runs up to STYLE_MAX_COMPARISONS comparisons and is skipped (with
the reason) beyond.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass

import choix
import numpy as np
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.utils import timezone

from annotate.models import Comparison, Judgment, LabelerExclusion, Project, QualitySnapshot, Response
from annotate.quality.stored import snapshot_store
from annotate.quality.style_control import (
    STYLE_FEATURES,
    STYLE_MAX_COMPARISONS,
    StyleGames,
    style_controlled_from_games,
    style_counts,
)
from pairwise.errors import PairwiseError
from rewardmodel.models import ModelArtifact

BT_ALPHA = 0.01  # choix's regularizer: a weak pull toward equal strengths
ELO_SCALE = 400 / math.log(10)  # strength difference of 1 = odds e:1; shown on the familiar Elo scale
ELO_BASE = 1000
UNNAMED = "(unnamed)"


@dataclass(frozen=True)
class GamePatterns:
    """Distinct (source i, source j, i wins, j wins, ties) rows and how many comparisons have each."""

    sources: list[str]
    i: np.ndarray
    j: np.ndarray
    wins_i: np.ndarray
    wins_j: np.ndarray
    ties: np.ndarray
    counts: np.ndarray

    def win_matrices(self, weights: np.ndarray) -> np.ndarray:
        """Win matrices (B x S x S, ties as half wins) for pattern weights B x P."""
        s = len(self.sources)
        contrib = np.zeros((len(self.counts), s * s))
        rows = np.arange(len(self.counts))
        contrib[rows, self.i * s + self.j] += self.wins_i + 0.5 * self.ties
        contrib[rows, self.j * s + self.i] += self.wins_j + 0.5 * self.ties
        return (weights @ contrib).reshape(-1, s, s)


def patterns_from_games(
    sources: list[str],
    i: Iterable[int],
    j: Iterable[int],
    wins_i: Iterable[float],
    wins_j: Iterable[float],
    ties: Iterable[float],
    counts: Iterable[int],
) -> GamePatterns:
    """Game patterns from parallel sequences (rows of the SQL aggregate, or synthetic data)."""
    ints = [np.asarray(x, dtype=np.int64) for x in (i, j)]
    floats = [np.asarray(x, dtype=np.float64) for x in (wins_i, wins_j, ties, counts)]
    return GamePatterns(sources, *ints, *floats)


def bradley_terry(wins: np.ndarray, initial: np.ndarray | None = None) -> np.ndarray:
    """ML strengths (mean zero) from a win matrix: wins[i, j] = (half) wins of i over j."""
    try:
        return choix.ilsr_pairwise_dense(wins, alpha=BT_ALPHA, initial_params=initial, max_iter=1000)
    except RuntimeError as exc:  # choix did not converge
        raise PairwiseError(f"The Bradley-Terry fit did not converge: {exc}") from exc


def leaderboard_from_patterns(patterns: GamePatterns, *, n_bootstrap: int, rng: np.random.Generator) -> dict:
    """Strengths, intervals, win rates and game counts from game patterns."""
    sources, s = patterns.sources, len(patterns.sources)
    n_comparisons = int(patterns.counts.sum())
    if s < 2 or n_comparisons == 0:
        return {"sources": [], "matrix": {"sources": [], "win_rate": [], "games": []}, "comparisons": 0}
    wins = patterns.win_matrices(patterns.counts[None, :])[0]
    games = wins + wins.T
    theta = bradley_terry(wins)
    ci = None
    if n_bootstrap > 0:
        draws = rng.multinomial(n_comparisons, patterns.counts / n_comparisons, size=n_bootstrap)
        boot = np.array([bradley_terry(w, initial=theta) for w in patterns.win_matrices(draws.astype(float))])
        ci = np.percentile(boot, [2.5, 97.5], axis=0)
    order = np.argsort(-theta, kind="stable")
    rows = []
    for rank, k in enumerate(order, start=1):
        n_games = float(games[k].sum())
        rows.append(
            {
                "rank": rank,
                "source": sources[k],
                "strength": float(theta[k]),
                "ci": [float(ci[0, k]), float(ci[1, k])] if ci is not None else None,
                "elo": ELO_BASE + ELO_SCALE * float(theta[k]),
                "elo_ci": [ELO_BASE + ELO_SCALE * float(ci[0, k]), ELO_BASE + ELO_SCALE * float(ci[1, k])]
                if ci is not None
                else None,
                "games": n_games,
                "wins": float(wins[k].sum()),
                "win_rate": float(wins[k].sum() / n_games) if n_games else None,
            }
        )
    ranked = [sources[k] for k in order]
    win_rate = [[float(wins[a, b] / games[a, b]) if games[a, b] else None for b in order] for a in order]
    return {
        "sources": rows,
        "matrix": {
            "sources": ranked,
            "win_rate": win_rate,  # row source's (half) wins over column source / games between them
            "games": [[float(games[a, b]) for b in order] for a in order],
        },
        "comparisons": n_comparisons,
    }


def _elo(strength: float) -> float:
    return ELO_BASE + ELO_SCALE * strength


def _game_sql(vendor: str, n_excluded: int, *, per_comparison: bool = False) -> str:
    """Games per (sources, win counts) pattern, or with `per_comparison` one row per comparison
    with its two response ids: (source a, source b, a wins, b wins, ties[, count | a id, b id])."""
    j, c, r, m = (
        Judgment._meta.db_table,
        Comparison._meta.db_table,
        Response._meta.db_table,
        ModelArtifact._meta.db_table,
    )
    unnamed = f"'{UNNAMED}'"
    not_gold = "NOT c.is_gold" if vendor == "postgresql" else "c.is_gold = 0"
    # Excluded labelers as a literal list: an anti-join against the exclusion table costs a
    # probe per judgment, and most projects exclude nobody.
    excluded = (
        f"AND (j.labeler_id IS NULL OR j.labeler_id NOT IN ({', '.join(['%s'] * n_excluded)}))"
        if n_excluded
        else ""
    )
    ids = ", c.response_a_id, c.response_b_id" if per_comparison else ""
    inner = f"""
            SELECT COALESCE(ma.name, NULLIF(ra.model_name, ''), {unnamed}) AS sa,
                   COALESCE(mb.name, NULLIF(rb.model_name, ''), {unnamed}) AS sb,
                   SUM(CASE WHEN j.winner_id = c.response_a_id THEN 1 ELSE 0 END) AS wa,
                   SUM(CASE WHEN j.winner_id = c.response_b_id THEN 1 ELSE 0 END) AS wb,
                   SUM(CASE WHEN j.winner_id IS NULL THEN 1 ELSE 0 END) AS t{ids}
            FROM {j} j
            JOIN {c} c ON c.id = j.comparison_id
            JOIN {r} ra ON ra.id = c.response_a_id
            JOIN {r} rb ON rb.id = c.response_b_id
            LEFT JOIN {m} ma ON ma.id = ra.model_id
            LEFT JOIN {m} mb ON mb.id = rb.model_id
            WHERE c.project_id = %s AND {not_gold} {excluded}
            GROUP BY c.id, ma.name, ra.model_name, mb.name, rb.model_name{ids}
    """
    if per_comparison:
        return inner
    return f"""
        SELECT sa, sb, wa, wb, t, COUNT(*) FROM ({inner}) per_comparison
        GROUP BY sa, sb, wa, wb, t
    """


def _game_rows(project: Project, *, per_comparison: bool = False) -> list[tuple]:
    """Rows of _game_sql for the project without gold items and excluded labelers' judgments."""
    excluded = sorted(
        LabelerExclusion.objects.filter(project=project, lifted_at__isnull=True).values_list(
            "labeler_id", flat=True
        )
    )
    sql = _game_sql(connection.vendor, len(excluded), per_comparison=per_comparison)
    with connection.cursor() as cursor:
        cursor.execute(sql, [project.pk, *excluded])
        return [r for r in cursor.fetchall() if r[0] != r[1]]  # same-source pairs say nothing


def game_patterns(*, project: Project, sources: list[str] | None = None) -> tuple[GamePatterns, list[str]]:
    """The project's games as patterns, restricted to `sources` if given; also every source seen."""
    rows = _game_rows(project)
    seen = sorted({r[0] for r in rows} | {r[1] for r in rows})
    if sources is not None:
        unknown = sorted(set(sources) - set(seen))
        if unknown:
            raise PairwiseError(
                f"No compared responses from {', '.join(unknown)} in {project.name}; "
                f"sources seen: {', '.join(seen) or 'none'}."
            )
        wanted = set(sources)
        rows = [r for r in rows if r[0] in wanted and r[1] in wanted]
    names = sorted({r[0] for r in rows} | {r[1] for r in rows})
    index = {name: k for k, name in enumerate(names)}
    patterns = patterns_from_games(
        names,
        [index[r[0]] for r in rows],
        [index[r[1]] for r in rows],
        [r[2] for r in rows],
        [r[3] for r in rows],
        [r[4] for r in rows],
        [r[5] for r in rows],
    )
    return patterns, seen


def _style_counts(response_ids: Iterable[int]) -> dict[int, tuple[int, int, int, int]]:
    ids = sorted(set(response_ids))
    counts = {}
    for start in range(0, len(ids), 2000):  # texts a chunk at a time: never all in memory at once
        for pk, text in Response.objects.filter(pk__in=ids[start : start + 2000]).values_list("id", "text"):
            counts[pk] = style_counts(text)
    return counts


def _style_skipped(n_comparisons: int) -> dict:
    return {
        "skipped": f"{n_comparisons} comparisons; style control fits at most {STYLE_MAX_COMPARISONS} "
        "(one row per comparison)."
    }


def style_controlled_compute(
    *, project: Project, sources: list[str], n_bootstrap: int, rng: np.random.Generator
) -> dict:
    """Style-controlled ratings over the project's comparisons between `sources` (per comparison)."""
    wanted = set(sources)
    rows = [r for r in _game_rows(project, per_comparison=True) if r[0] in wanted and r[1] in wanted]
    if len(rows) > STYLE_MAX_COMPARISONS:
        return _style_skipped(len(rows))
    counts = _style_counts([r[5] for r in rows] + [r[6] for r in rows])
    index = {name: k for k, name in enumerate(sources)}
    games = StyleGames.build(
        sources,
        [index[r[0]] for r in rows],
        [index[r[1]] for r in rows],
        [r[2] for r in rows],
        [r[3] for r in rows],
        [r[4] for r in rows],
        np.array([counts[r[5]] for r in rows], dtype=float).reshape(-1, len(STYLE_FEATURES)),
        np.array([counts[r[6]] for r in rows], dtype=float).reshape(-1, len(STYLE_FEATURES)),
    )
    result = style_controlled_from_games(games, n_bootstrap=n_bootstrap, rng=rng)
    for row in result["sources"]:
        row["elo"] = _elo(row["strength"])
        row["elo_ci"] = [_elo(x) for x in row["ci"]] if row["ci"] else None
    return result


def leaderboard_compute(
    *,
    project: Project,
    sources: list[str] | None = None,
    n_bootstrap: int = 200,
    seed: int = 0,
    style: bool = True,
) -> dict:
    """Bradley-Terry leaderboard for the project's response sources (all, or `sources`).

    Kept general on purpose: arena comparisons of trained policies are ordinary comparisons whose
    responses name their model, so they rank here too. `style` adds the style-controlled ratings
    ("style_controlled"; None when not asked for or when there are no games).
    """
    started = time.perf_counter()
    if sources is not None and len(set(sources)) < 2:
        raise PairwiseError("A leaderboard needs at least two sources.")
    patterns, seen = game_patterns(project=project, sources=sources)
    rng = np.random.default_rng(seed)
    result = leaderboard_from_patterns(patterns, n_bootstrap=n_bootstrap, rng=rng)
    styled = None
    if style and result["sources"]:
        if result["comparisons"] > STYLE_MAX_COMPARISONS:  # known without reading a text
            styled = _style_skipped(result["comparisons"])
        else:
            styled = style_controlled_compute(
                project=project, sources=patterns.sources, n_bootstrap=n_bootstrap, rng=rng
            )
    return {
        "project": {"id": project.pk, "name": project.name},
        "params": {"sources": sources, "n_bootstrap": n_bootstrap, "seed": seed, "alpha": BT_ALPHA},
        "sources_seen": seen,
        **result,
        "style_controlled": styled,
        "computed_at": timezone.now().isoformat(timespec="seconds"),
        "seconds": time.perf_counter() - started,
    }


def leaderboard_refresh(
    *,
    project: Project,
    by: AbstractBaseUser | None = None,
    sources: list[str] | None = None,
    n_bootstrap: int = 200,
    seed: int = 0,
    style: bool = True,
) -> QualitySnapshot:
    """Compute the leaderboard and store it (the page's recompute button)."""
    params = {"sources": sources, "n_bootstrap": n_bootstrap, "seed": seed, "style": style}
    data = leaderboard_compute(project=project, **params)
    return snapshot_store(
        project=project, kind=QualitySnapshot.Kind.LEADERBOARD, data=data, params=params, by=by
    )
