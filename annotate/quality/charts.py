"""Turn a stored snapshot into what the templates show: table rows and SVG charts.

Only cheap work belongs here (it runs on every page view): no queries, no statistics.
"""

from __future__ import annotations

from annotate.quality import svg

BARS_SHOWN = 40


def _date(iso: str | None) -> str:
    return (iso or "")[:10]


def quality_context(data: dict, exclusions: dict) -> dict:
    windows = data.get("windows", [])
    alpha_chart = svg.line_chart(
        [(_date(w["start"]), w["alpha"], *(w["alpha_ci"] or (None, None))) for w in windows],
        title="Krippendorff's alpha per window (band: 95 % bootstrap interval)",
        y_label="alpha",
    )
    raw_chart = svg.line_chart(
        [(_date(w["start"]), w["raw"], *(w["raw_ci"] or (None, None))) for w in windows],
        title="Raw pairwise agreement per window (band: 95 % bootstrap interval)",
        y_label="agreement",
    )
    labelers = data.get("labelers", [])
    thresholds = data.get("thresholds", {})
    project = data.get("project", {})
    scatter = svg.scatter(
        [
            svg.Point(
                x=row["median_seconds"],
                y=row["gold"]["accuracy"],
                label=row["username"],
                y_lo=(row["gold"]["ci"] or [None, None])[0],
                y_hi=(row["gold"]["ci"] or [None, None])[1],
                flagged=bool(row["flags"]),
            )
            for row in labelers
            if row["gold"]["accuracy"] is not None and row["median_seconds"] is not None
        ],
        title="Gold accuracy (Wilson 95 %) against median seconds per judgment; red: flagged",
        x_label="median seconds",
        y_label="gold accuracy",
        y_line=project.get("gold_accuracy_threshold"),
        x_line=thresholds.get("fast_seconds"),
    )
    biased = sorted(
        (row for row in labelers if row["position"]["share_left"] is not None),
        key=lambda row: -abs(row["position"]["share_left"] - 0.5),
    )
    position_chart = svg.bars(
        [
            svg.Bar(
                label=row["username"],
                value=row["position"]["share_left"],
                lo=(row["position"]["ci"] or [None, None])[0],
                hi=(row["position"]["ci"] or [None, None])[1],
                flagged=row["position"]["flagged"],
                note=f"{row['position']['left']} left / {row['position']['right']} right, p = {row['position']['p_value']:.2g}",
            )
            for row in biased[:BARS_SHOWN]
        ],
        title="Share of left (A) choices among A/B choices; 0.5 is unbiased; red: flagged",
        x_label="share of left choices",
        reference=0.5,
    )
    rows = [dict(row, exclusion=exclusions.get(row["id"])) for row in labelers]
    return {
        "report": data,
        "rows": rows,
        "alpha_chart": alpha_chart,
        "raw_chart": raw_chart,
        "scatter_chart": scatter,
        "position_chart": position_chart,
        "bars_truncated": max(len(biased) - BARS_SHOWN, 0),
    }


def _cell_style(rate: float | None) -> str:
    """Red below one half, blue above, white at one half."""
    if rate is None:
        return "background:#f4f4f4"
    t = abs(rate - 0.5) * 2
    if rate >= 0.5:
        r, g, b = (int(255 - t * (255 - c)) for c in (66, 133, 244))
    else:
        r, g, b = (int(255 - t * (255 - c)) for c in (229, 62, 62))
    return f"background:rgb({r},{g},{b})"


def leaderboard_context(data: dict) -> dict:
    rows = data.get("sources", [])
    forest = svg.intervals(
        [(row["source"], row["elo"], *(row["elo_ci"] or (None, None))) for row in rows],
        title="Bradley-Terry rating (Elo scale) with 95 % bootstrap intervals",
        x_label="rating",
    )
    matrix = data.get("matrix", {"sources": [], "win_rate": [], "games": []})
    cells = [
        {
            "source": source,
            "cells": [
                {"rate": rate, "games": games, "style": _cell_style(rate), "self": i == j}
                for j, (rate, games) in enumerate(zip(matrix["win_rate"][i], matrix["games"][i], strict=True))
            ],
        }
        for i, source in enumerate(matrix["sources"])
    ]
    return {
        "board": data,
        "rows": rows,
        "forest_chart": forest,
        "matrix_sources": matrix["sources"],
        "matrix_rows": cells,
    }
