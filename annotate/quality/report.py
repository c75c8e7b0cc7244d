"""The quality report of a project: one function computes it, one stores it.

What counts (the "pool"): human judgments of labelers who are not excluded, on ordinary (non-gold)
comparisons. Agreement figures use the pool only. Per-labeler rows are given for everyone who
judged, excluded labelers included (compared against the pool), so a manager can see why someone
was excluded and take it back. Gold accuracy uses gold items; bias and speed use every judgment a
labeler made (gold items look like any other comparison to them).

Simulated labelers (manage.py simulate_labelers) count like people everywhere here; the totals,
the agreement and each labeler's row say how many judgments were simulated.

Time windows: a comparison belongs to the window (UTC day or ISO week) of its last counted
judgment, the moment its agreement became known; so no pair of judgments is split across windows.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

import numpy as np
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from annotate.models import Project, QualitySnapshot
from annotate.quality import bias
from annotate.quality.agreement import agreement_of, dense_index, leave_one_out, unit_value_counts
from annotate.quality.data import JudgmentColumns, judgment_columns
from annotate.quality.exclusion import exclusions_active
from annotate.quality.gold import gold_accuracy_of, gold_counts
from annotate.quality.stored import snapshot_store
from pairwise.errors import PairwiseError

WINDOWS = ("auto", "day", "week")
DAY = 86400.0


def _iso(ts: float | None) -> str | None:
    if ts is None or not math.isfinite(ts):
        return None
    return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="seconds")


def _json_safe(value):
    """NaN and infinities are not JSON (PostgreSQL's jsonb refuses them): store None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return _json_safe(value.item())
    return value


def _window_of(created: np.ndarray, window: str) -> tuple[str, np.ndarray]:
    """Window index per timestamp, and the window kind chosen."""
    if window not in WINDOWS:
        raise PairwiseError(f"window must be one of {', '.join(WINDOWS)}; got {window!r}.")
    if window == "auto":
        span = float(created.max() - created.min()) if len(created) else 0.0
        window = "day" if span <= 60 * DAY else "week"
    days = np.floor(created / DAY)
    if window == "day":
        return window, days.astype(np.int64)
    # 1970-01-01 was a Thursday: shift by 3 days so weeks start on Monday (ISO).
    return window, np.floor((days + 3) / 7).astype(np.int64)


def _window_start(index: int, window: str) -> float:
    return index * DAY if window == "day" else (index * 7 - 3) * DAY


def _agreement_windows(
    cols: JudgmentColumns,
    unit_index: np.ndarray,
    pool_counts: np.ndarray,
    in_pool: np.ndarray,
    *,
    window: str,
    n_bootstrap: int,
    rng: np.random.Generator,
) -> tuple[str, list[dict]]:
    if not in_pool.any():
        return ("day" if window == "auto" else window), []
    last = np.full(len(pool_counts), -np.inf)
    np.maximum.at(last, unit_index[in_pool], cols.created[in_pool])
    has = np.isfinite(last)
    window, idx = _window_of(last[has], window)
    counts = pool_counts[has]
    out = []
    for w in np.unique(idx):
        agreement = agreement_of(counts[idx == w], n_bootstrap=n_bootstrap, rng=rng, point_alpha="patterns")
        out.append({"start": _iso(_window_start(int(w), window)), **agreement.as_dict()})
    return window, out


def quality_report_compute(
    *, project: Project, window: str = "auto", n_bootstrap: int = 1000, seed: int = 0
) -> dict:
    """Every quality figure of the project as plain JSON-ready data (see the module docstring
    for what counts where). Deterministic for a given seed."""
    if window not in WINDOWS:
        raise PairwiseError(f"window must be one of {', '.join(WINDOWS)}; got {window!r}.")
    if n_bootstrap < 0:
        raise PairwiseError("n_bootstrap cannot be negative.")
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    cols = judgment_columns(project=project)
    exclusions = exclusions_active(project=project)
    labeler_ids, lab = dense_index(cols.labeler)
    n_lab = len(labeler_ids)
    in_pool_all = ~np.isin(labeler_ids, list(exclusions))[lab]

    # Agreement over ordinary comparisons.
    regular = ~cols.is_gold
    reg = cols.take(regular)
    reg_pool = in_pool_all[regular]
    _, unit_index, pool_counts = unit_value_counts(
        reg.comparison, reg.outcome, weights=reg_pool.astype(float)
    )
    overall = agreement_of(pool_counts, n_bootstrap=n_bootstrap, rng=rng)
    # Of the judgments behind the agreement figures (pairable comparisons), the simulated ones.
    _, _, simulated_counts = unit_value_counts(
        reg.comparison, reg.outcome, weights=(reg_pool & reg.simulated).astype(float)
    )
    simulated_in_agreement = int(simulated_counts[pool_counts.sum(axis=1) >= 2].sum())
    window, windows = _agreement_windows(
        reg, unit_index, pool_counts, reg_pool, window=window, n_bootstrap=n_bootstrap, rng=rng
    )
    loo = leave_one_out(unit_index, reg.outcome, pool_counts, reg_pool)
    reg_lab = lab[regular]
    loo_n = np.bincount(reg_lab[loo.decided], minlength=n_lab)
    loo_agree = np.bincount(reg_lab[loo.agrees], minlength=n_lab)

    # Gold, bias and speed.
    answered, correct = gold_counts(lab, cols.outcome, cols.gold, n_lab)
    positions = bias.position_bias(lab, cols.shown, n_lab)
    runs = bias.streaks(lab, cols.shown, cols.created, cols.id, n_lab)
    project_median = bias.project_median_seconds(cols.seconds[in_pool_all])
    speeds = bias.speed(lab, cols.seconds, cols.id, cols.comparison, n_lab, project_median)
    judged = np.bincount(lab, minlength=n_lab)
    simulated = np.bincount(lab[cols.simulated], minlength=n_lab)
    gold_judged = np.bincount(lab[cols.is_gold], minlength=n_lab)

    names = dict(get_user_model().objects.filter(pk__in=labeler_ids.tolist()).values_list("pk", "username"))
    labelers = []
    for i, uid in enumerate(labeler_ids.tolist()):
        gold = gold_accuracy_of(answered=int(answered[i]), correct=int(correct[i]), project=project)
        streak = dict(runs[i])
        for key in ("started", "ended"):
            if key in streak:
                streak[key] = _iso(streak[key])
        row = {
            "id": uid,
            "username": names.get(uid, f"user {uid}"),
            "excluded": uid in exclusions,
            "simulated": bool(simulated[i]),
            "judgments": int(judged[i]),
            "gold_judgments": int(gold_judged[i]),
            "median_seconds": speeds[i]["median"],
            "loo": {
                "compared": int(loo_n[i]),
                "agreed": int(loo_agree[i]),
                "rate": float(loo_agree[i] / loo_n[i]) if loo_n[i] else None,
            },
            "gold": gold.as_dict(),
            "position": positions[i],
            "streak": streak,
            "speed": speeds[i],
        }
        row["flags"] = [
            name
            for name, flagged in (
                ("gold", gold.flagged),
                ("position", positions[i]["flagged"]),
                ("streak", streak["flagged"]),
                ("speed", speeds[i]["flagged"]),
            )
            if flagged
        ]
        labelers.append(row)
    labelers.sort(key=lambda r: (not r["flags"], r["username"]))

    report = {
        "project": {
            "id": project.pk,
            "name": project.name,
            "gold_min_items": project.gold_min_items,
            "gold_accuracy_threshold": project.gold_accuracy_threshold,
        },
        "params": {"window": window, "n_bootstrap": n_bootstrap, "seed": seed},
        "thresholds": {
            "fast_factor": bias.FAST_FACTOR,
            "fast_seconds": bias.FAST_FACTOR * project_median if project_median else None,
            "fast_share": bias.FAST_SHARE,
            "position_p": bias.POSITION_P,
            "position_min_effect": bias.POSITION_MIN_EFFECT,
            "streak_p": bias.STREAK_P,
        },
        "totals": {
            "judgments": len(cols),
            "counted_judgments": int(pool_counts.sum()),
            "gold_judgments": int(cols.is_gold.sum()),
            "simulated_judgments": int(cols.simulated.sum()),
            "labelers": n_lab,
            "simulated_labelers": int(np.count_nonzero(simulated)),
            "excluded_labelers": sorted(exclusions),
            "median_seconds": project_median,
        },
        "agreement": {**overall.as_dict(), "simulated_judgments": simulated_in_agreement},
        "windows": windows,
        "labelers": labelers,
        "computed_at": timezone.now().isoformat(timespec="seconds"),
        "seconds": time.perf_counter() - started,
    }
    return _json_safe(report)


def quality_report_refresh(
    *,
    project: Project,
    by: AbstractBaseUser | None = None,
    window: str = "auto",
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> QualitySnapshot:
    """Compute the quality report and store it (what the page's recompute button runs)."""
    params = {"window": window, "n_bootstrap": n_bootstrap, "seed": seed}
    data = quality_report_compute(project=project, **params)
    return snapshot_store(project=project, kind=QualitySnapshot.Kind.QUALITY, data=data, params=params, by=by)
