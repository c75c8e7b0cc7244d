"""Turn a stored snapshot into what the templates show: table rows and SVG charts.

Only cheap work belongs here (it runs on every page view): no queries, no statistics.
"""

from __future__ import annotations

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

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
    rows = [_display_row(row, exclusions.get(row["id"])) for row in labelers]
    return {
        "report": data,
        "rows": rows,
        "alpha_chart": alpha_chart,
        "raw_chart": raw_chart,
        "scatter_chart": scatter,
        "position_chart": position_chart,
        "bars_truncated": max(len(biased) - BARS_SHOWN, 0),
    }


def _f(value: float | None, digits: int) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _display_row(row: dict, exclusion) -> dict:
    """Pre-formatted cells: formatting 200 labelers' numbers in Python is several times faster
    than template filters (floatformat goes through Decimal), and the page has a 300 ms budget.
    The template still escapes every string."""
    loo, gold, pos, streak, speed = row["loo"], row["gold"], row["position"], row["streak"], row["speed"]
    return {
        "id": row["id"],
        "username": row["username"],
        "flags": row["flags"],
        "excluded_then": row["excluded"],
        "exclusion": exclusion,
        "judgments": row["judgments"],
        "gold_judgments": row["gold_judgments"],
        "median": _f(row["median_seconds"], 1),
        "loo": _f(loo["rate"], 2),
        "loo_note": f"{loo['agreed']} of {loo['compared']}" if loo["compared"] else "",
        "gold": _f(gold["accuracy"], 2),
        "gold_note": (
            f"{gold['correct']} of {gold['answered']}; {gold['ci'][0]:.2f}–{gold['ci'][1]:.2f}"
            if gold["ci"]
            else ""
        ),
        "left": _f(pos["share_left"], 2),
        "left_note": f"{pos['left']} L / {pos['right']} R; p = {pos['p_value']:.2g}"
        if pos["p_value"] is not None
        else "",
        "streak": streak["longest"],
        "streak_note": (
            f"most unusual: {streak['length']} × {streak['choice']} (judgments {streak['first_judgment']}–{streak['last_judgment']}); "
            f"p = {streak['p_value']:.2g}"
            if streak["choice"]
            else ""
        ),
        "fast": speed["fast"],
        "fast_note": f"of {speed['timed']} ({speed['share_fast']:.2f})" if speed["timed"] else "",
        "fast_examples": [
            f"#{ex['judgment']} on comparison {ex['comparison']}: {ex['seconds']:.1f} s"
            for ex in speed["examples"]
        ],
    }


_ROW = (
    '<tr id="labeler-{id}" class="{cls}"><td>{username}{status}</td>'
    '<td class="num">{judgments}<div class="q-note">{gold_judgments} gold</div></td>'
    '<td class="num">{median}</td>'
    '<td class="num">{loo}<div class="q-note">{loo_note}</div></td>'
    '<td class="num">{gold}<div class="q-note">{gold_note}</div></td>'
    '<td class="num">{left}<div class="q-note">{left_note}</div></td>'
    '<td class="num">{streak}<div class="q-note">{streak_note}</div></td>'
    '<td class="num">{fast}<div class="q-note">{fast_note}{examples}</div></td>'
    "<td>{flags}</td><td>{form}</td></tr>"
)
_EXCLUDE = (
    '<form method="post" action="{url}{id}/exclude/" class="q-exclude">'
    '<input type="hidden" name="csrfmiddlewaretoken" value="{token}">'
    '<input name="reason" required maxlength="2000" placeholder="reason" aria-label="Reason to exclude {username}">'
    '<button type="submit">Exclude</button></form>'
)
_REINSTATE = (
    '<form method="post" action="{url}{id}/reinstate/">'
    '<input type="hidden" name="csrfmiddlewaretoken" value="{token}"><button type="submit">Reinstate</button></form>'
)


def labeler_table_rows(rows: list[dict], *, csrf_token: str, labelers_url: str) -> SafeString:
    """The labeler table's rows as HTML. Built here rather than in the template because a
    project has hundreds of labelers and the template engine spends ~1 ms a row; format_html
    escapes every value all the same."""
    out = []
    for row in rows:
        exclusion = row["exclusion"]
        if exclusion is not None:
            status = format_html(
                '<div class="q-note">excluded {} by {}: {}</div>',
                exclusion.created_at.strftime("%Y-%m-%d"),
                exclusion.excluded_by.get_username(),
                exclusion.reason,
            )
            form = format_html(_REINSTATE, url=labelers_url, id=row["id"], token=csrf_token)
        else:
            status = (
                mark_safe('<div class="q-note">excluded when computed</div>') if row["excluded_then"] else ""
            )
            form = format_html(
                _EXCLUDE, url=labelers_url, id=row["id"], token=csrf_token, username=row["username"]
            )
        flags = format_html_join(" ", '<span class="q-flag">{}</span>', ((f,) for f in row["flags"])) or "–"
        examples = format_html_join("", "<br>{}", ((e,) for e in row["fast_examples"]))
        cls = " ".join(c for c, on in (("q-flagged", row["flags"]), ("q-excluded", exclusion)) if on)
        out.append(
            format_html(
                _ROW,
                cls=cls,
                status=status,
                form=form,
                flags=flags,
                examples=examples,
                **{k: row[k] for k in _ROW_KEYS},
            )
        )
    return mark_safe("".join(out))  # each row came out of format_html


_ROW_KEYS = (
    "id",
    "username",
    "judgments",
    "gold_judgments",
    "median",
    "loo",
    "loo_note",
    "gold",
    "gold_note",
    "left",
    "left_note",
    "streak",
    "streak_note",
    "fast",
    "fast_note",
)


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
    styled = data.get("style_controlled") or {}  # absent in snapshots stored before style control
    styled_by_source = {row["source"]: row for row in styled.get("sources", [])}
    rows = [{**row, "styled": styled_by_source.get(row["source"])} for row in data.get("sources", [])]
    coefficients = [
        {"name": name.replace("_", " "), **c}
        for name, c in styled.get("coefficients", {}).items()
        if c["value"] is not None
    ]
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
        "style": {
            "shown": bool(styled_by_source),
            "coefficients": coefficients,
            "length_unit": styled.get("length_unit", ""),
            "skipped": styled.get("skipped", ""),
        },
        "forest_chart": forest,
        "matrix_sources": matrix["sources"],
        "matrix_rows": cells,
    }
