"""Small server-rendered SVG charts: no JavaScript, no build step, readable at a glance.

Every piece of text goes through `escape` (labeler names and model names are user data), numbers
are formatted by us, and the result is marked safe only once it is whole. Each chart is an <svg>
with a <title> for screen readers and <title> tooltips on its marks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

FONT = 'font-family="system-ui, sans-serif" font-size="11"'
INK, MUTED, GRID, ACCENT, ALERT, BAND = "#222", "#666", "#e4e4e4", "#2b6cb0", "#c53030", "#bee3f8"


def _n(x: float) -> str:
    return f"{x:.1f}"


def _text(x: float, y: float, s: str, *, anchor: str = "start", fill: str = INK, extra: str = "") -> str:
    return f'<text x="{_n(x)}" y="{_n(y)}" text-anchor="{anchor}" fill="{fill}" {extra}>{escape(s)}</text>'


def _svg(width: int, height: int, title: str, body: list[str]) -> SafeString:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{escape(title)}" {FONT}><title>{escape(title)}</title>'
    )
    return mark_safe(head + "".join(body) + "</svg>")  # every text part was escaped above


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    step = 10 ** math.floor(math.log10((hi - lo) / n))
    for mult in (1, 2, 2.5, 5, 10):
        if (hi - lo) / (step * mult) <= n:
            step *= mult
            break
    first = math.ceil(lo / step) * step
    return [round(first + k * step, 10) for k in range(int((hi - first) / step + 1e-9) + 1)]


@dataclass(frozen=True)
class _Frame:
    """Plot area inside margins, and linear maps from data to pixels."""

    width: int
    height: int
    left: int = 48
    right: int = 16
    top: int = 24
    bottom: int = 36
    x_lo: float = 0.0
    x_hi: float = 1.0
    y_lo: float = 0.0
    y_hi: float = 1.0

    def x(self, v: float) -> float:
        span = (self.x_hi - self.x_lo) or 1.0
        return self.left + (v - self.x_lo) / span * (self.width - self.left - self.right)

    def y(self, v: float) -> float:
        span = (self.y_hi - self.y_lo) or 1.0
        return self.height - self.bottom - (v - self.y_lo) / span * (self.height - self.top - self.bottom)

    def y_axis(self, label: str, fmt: str = "{:.2f}") -> list[str]:
        out = []
        for t in _ticks(self.y_lo, self.y_hi):
            y = self.y(t)
            out.append(
                f'<line x1="{self.left}" x2="{self.width - self.right}" y1="{_n(y)}" y2="{_n(y)}" stroke="{GRID}"/>'
            )
            out.append(_text(self.left - 4, y + 4, fmt.format(t), anchor="end", fill=MUTED))
        out.append(_text(4, 12, label, fill=MUTED))
        return out

    def x_axis(self, label: str, fmt: str = "{:g}") -> list[str]:
        out = []
        base = self.height - self.bottom
        for t in _ticks(self.x_lo, self.x_hi):
            x = self.x(t)
            out.append(f'<line x1="{_n(x)}" x2="{_n(x)}" y1="{self.top}" y2="{base}" stroke="{GRID}"/>')
            out.append(_text(x, base + 14, fmt.format(t), anchor="middle", fill=MUTED))
        out.append(_text(self.width - self.right, self.height - 4, label, anchor="end", fill=MUTED))
        return out


def _empty(width: int, height: int, title: str, message: str) -> SafeString:
    return _svg(width, height, title, [_text(width / 2, height / 2, message, anchor="middle", fill=MUTED)])


def line_chart(
    points: Sequence[tuple[str, float | None, float | None, float | None]],
    *,
    title: str,
    y_label: str,
    width: int = 600,
    height: int = 220,
) -> SafeString:
    """A series over time: (x label, value, interval low, interval high); the interval is a band.
    Points without a value leave a gap."""
    values = [(k, p) for k, p in enumerate(points) if p[1] is not None]
    if not values:
        return _empty(width, height, title, "Not enough overlapping judgments yet.")
    ys = [v for _, p in values for v in (p[1], p[2], p[3]) if v is not None]
    y_lo, y_hi = min(0.0, min(ys)), max(1.0, max(ys))
    frame = _Frame(width, height, x_lo=0, x_hi=max(len(points) - 1, 1), y_lo=y_lo, y_hi=y_hi)
    body = frame.y_axis(y_label)
    body.append(
        f'<line x1="{frame.left}" x2="{width - frame.right}" y1="{_n(frame.y(0))}" y2="{_n(frame.y(0))}" stroke="{MUTED}"/>'
    )
    banded = [(k, p) for k, p in values if p[2] is not None and p[3] is not None]
    if len(banded) > 1:
        upper = " ".join(f"{_n(frame.x(k))},{_n(frame.y(p[3]))}" for k, p in banded)
        lower = " ".join(f"{_n(frame.x(k))},{_n(frame.y(p[2]))}" for k, p in reversed(banded))
        body.append(f'<polygon points="{upper} {lower}" fill="{BAND}" opacity="0.7"/>')
    line = " ".join(f"{_n(frame.x(k))},{_n(frame.y(p[1]))}" for k, p in values)
    body.append(f'<polyline points="{line}" fill="none" stroke="{ACCENT}" stroke-width="2"/>')
    for k, (label, value, lo, hi) in values:
        tip = f"{label}: {value:.3f}" + (
            f" (95 % {lo:.3f} to {hi:.3f})" if lo is not None and hi is not None else ""
        )
        body.append(
            f'<circle cx="{_n(frame.x(k))}" cy="{_n(frame.y(value))}" r="3" fill="{ACCENT}"><title>{escape(tip)}</title></circle>'
        )
    every = max(1, math.ceil(len(points) / 8))  # at most ~8 date labels
    for k in range(0, len(points), every):
        body.append(_text(frame.x(k), height - frame.bottom + 14, points[k][0], anchor="middle", fill=MUTED))
    return _svg(width, height, title, body)


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str
    y_lo: float | None = None
    y_hi: float | None = None
    flagged: bool = False


def scatter(
    points: Sequence[Point],
    *,
    title: str,
    x_label: str,
    y_label: str,
    y_line: float | None = None,
    x_line: float | None = None,
    width: int = 600,
    height: int = 300,
    y_range: tuple[float, float] = (0.0, 1.0),
    x_range: tuple[float, float] | None = None,
    label_all: bool = False,
    x_fmt: str = "{:.1f}",
    empty: str = "No labeler has answered gold items yet.",
) -> SafeString:
    """Points with optional vertical error bars; flagged points in red and labelled (every point
    with `label_all`); optional reference lines (a threshold, a project median). The x axis runs
    from 0 to a little past the largest x unless `x_range` is given."""
    if not points:
        return _empty(width, height, title, empty)
    xs = [p.x for p in points] + ([x_line] if x_line is not None else [])
    x_lo, x_hi = x_range if x_range is not None else (0.0, max(xs) * 1.1 or 1.0)
    frame = _Frame(width, height, x_lo=x_lo, x_hi=x_hi, y_lo=y_range[0], y_hi=y_range[1])
    body = frame.y_axis(y_label) + frame.x_axis(x_label)
    if y_line is not None:
        y = _n(frame.y(y_line))
        body.append(
            f'<line x1="{frame.left}" x2="{width - frame.right}" y1="{y}" y2="{y}" stroke="{ALERT}" stroke-dasharray="4 3"/>'
        )
    if x_line is not None:
        x = _n(frame.x(x_line))
        body.append(
            f'<line x1="{x}" x2="{x}" y1="{frame.top}" y2="{height - frame.bottom}" stroke="{MUTED}" stroke-dasharray="2 3"/>'
        )
    for p in sorted(points, key=lambda p: p.flagged):
        color = ALERT if p.flagged else ACCENT
        cx, cy = frame.x(p.x), frame.y(p.y)
        if p.y_lo is not None and p.y_hi is not None:
            body.append(
                f'<line x1="{_n(cx)}" x2="{_n(cx)}" y1="{_n(frame.y(p.y_lo))}" y2="{_n(frame.y(p.y_hi))}" stroke="{color}" opacity="0.5"/>'
            )
        tip = f"{p.label}: {y_label} {p.y:.2f}, {x_label} {x_fmt.format(p.x)}"
        body.append(
            f'<circle cx="{_n(cx)}" cy="{_n(cy)}" r="4" fill="{color}"><title>{escape(tip)}</title></circle>'
        )
        if p.flagged or label_all:
            body.append(_text(cx + 6, cy - 4, p.label, fill=color))
    return _svg(width, height, title, body)


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    lo: float | None = None
    hi: float | None = None
    flagged: bool = False
    note: str = ""


def bars(
    items: Sequence[Bar],
    *,
    title: str,
    x_label: str,
    reference: float | None = None,
    x_lo: float = 0.0,
    x_hi: float = 1.0,
    width: int = 600,
    row: int = 18,
    label_width: int = 140,
) -> SafeString:
    """Horizontal bars from `reference` (e.g. 0.5 for the share of left choices) to each value, so
    a bias reads as a bar's length and side; whiskers for an interval; flagged bars in red."""
    if not items:
        return _empty(width, 80, title, "Nothing to show yet.")
    height = 30 + row * len(items) + 30
    frame = _Frame(width, height, left=label_width, top=20, bottom=30, x_lo=x_lo, x_hi=x_hi)
    body = frame.x_axis(x_label)
    origin = frame.x(reference if reference is not None else x_lo)
    for k, item in enumerate(items):
        y = frame.top + k * row
        color = ALERT if item.flagged else ACCENT
        x = frame.x(min(max(item.value, x_lo), x_hi))
        body.append(_text(label_width - 6, y + row * 0.7, item.label, anchor="end"))
        tip = f"{item.label}: {item.value:.3f}" + (f" ({item.note})" if item.note else "")
        body.append(
            f'<rect x="{_n(min(origin, x))}" y="{_n(y + 3)}" width="{_n(max(abs(x - origin), 1))}" height="{row - 6}" '
            f'fill="{color}" opacity="0.8"><title>{escape(tip)}</title></rect>'
        )
        if item.lo is not None and item.hi is not None:
            mid = _n(y + row / 2)
            body.append(
                f'<line x1="{_n(frame.x(item.lo))}" x2="{_n(frame.x(item.hi))}" y1="{mid}" y2="{mid}" stroke="{INK}"/>'
            )
    if reference is not None:
        body.append(
            f'<line x1="{_n(origin)}" x2="{_n(origin)}" y1="{frame.top}" y2="{height - frame.bottom}" stroke="{INK}"/>'
        )
    return _svg(width, height, title, body)


def intervals(
    items: Sequence[tuple[str, float, float | None, float | None]],
    *,
    title: str,
    x_label: str,
    width: int = 600,
    row: int = 20,
    label_width: int = 160,
) -> SafeString:
    """A forest plot: one row per item, a dot at the estimate and a line for its interval."""
    if not items:
        return _empty(width, 80, title, "No comparisons between different sources yet.")
    values = [v for _, e, lo, hi in items for v in (e, lo, hi) if v is not None]
    pad = (max(values) - min(values)) * 0.05 or 1.0
    height = 20 + row * len(items) + 34
    frame = _Frame(
        width, height, left=label_width, top=16, bottom=34, x_lo=min(values) - pad, x_hi=max(values) + pad
    )
    body = frame.x_axis(x_label, fmt="{:g}")
    for k, (label, estimate, lo, hi) in enumerate(items):
        y = frame.top + k * row + row / 2
        body.append(_text(label_width - 6, y + 4, label, anchor="end"))
        if lo is not None and hi is not None:
            body.append(
                f'<line x1="{_n(frame.x(lo))}" x2="{_n(frame.x(hi))}" y1="{_n(y)}" y2="{_n(y)}" stroke="{ACCENT}" stroke-width="2"/>'
            )
        tip = f"{label}: {estimate:.0f}" + (
            f" (95 % {lo:.0f} to {hi:.0f})" if lo is not None and hi is not None else ""
        )
        body.append(
            f'<circle cx="{_n(frame.x(estimate))}" cy="{_n(y)}" r="4" fill="{INK}"><title>{escape(tip)}</title></circle>'
        )
    return _svg(width, height, title, body)
