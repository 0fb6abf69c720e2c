"""Charts as inline SVG text: bars, columns, progress, a time axis and a line over time.

Each function returns one ``<svg>`` element as a string, sized by its
``viewBox`` so the page scales it. Every mark carries its numbers twice: in a
``<title>`` (what a screen reader and a hover say) and in ``data-`` attributes
(what a test reads); the page puts the same numbers in a table beside it.
Every text from the data goes through ``text``: escaped for HTML and with
control characters made visible, so a DID holding markup stays a string.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from distro.console import printable
from distro.views.status import State

WIDTH = 720
ROW = 22  # height of one bar's row
LABEL = 150  # width kept for the labels on the left
INK, MUTED, MARK, LINE = "#3b6ea5", "#b8c4d0", "#c0392b", "#2c3e50"


def text(value: object) -> str:
    """*value* as text safe inside HTML and SVG: control characters visible, markup escaped."""
    return html.escape(printable(str(value)), quote=True)


def number(value: float) -> str:
    """A number as the charts and tables print it: whole numbers with separators."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}"


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar: its *label*, its *value*, and whether it is the one to notice."""

    label: str
    value: float
    marked: bool = False
    note: str = ""  # said after the value in its title


def _svg(height: float, body: list[str], title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height:.0f}" '
        f'role="img" class="chart"><title>{text(title)}</title>{"".join(body)}</svg>'
    )


def _title(label: str, value: float, note: str = "") -> str:
    tail = f" ({text(note)})" if note else ""
    return f"<title>{text(label)}: {number(value)}{tail}</title>"


def bars(
    rows: Sequence[Bar], *, title: str, line: float | None = None, line_label: str = ""
) -> str:
    """Horizontal bars, one per row, with a vertical *line* across them (a bound) if given."""
    top = max([r.value for r in rows] + [line or 0, 1])
    span = WIDTH - LABEL - 80
    body = []
    for n, row in enumerate(rows):
        y, w = 8 + n * ROW, span * row.value / top
        fill = MARK if row.marked else INK
        body.append(
            f'<g class="bar" data-label="{text(row.label)}" data-value="{row.value:g}">'
            f"{_title(row.label, row.value, row.note)}"
            f'<text x="{LABEL - 6}" y="{y + 15}" text-anchor="end">{text(row.label)}</text>'
            f'<rect x="{LABEL}" y="{y + 3}" width="{w:.1f}" height="{ROW - 6}" fill="{fill}"/>'
            f'<text x="{LABEL + w + 4:.1f}" y="{y + 15}">{number(row.value)}</text></g>'
        )
    height = 16 + len(rows) * ROW
    if line is not None:
        x = LABEL + span * line / top
        body.append(
            f'<g class="line" data-value="{line:g}">{_title(line_label, line)}'
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="2" y2="{height - 2}" stroke="{MARK}" '
            f'stroke-dasharray="4 3" stroke-width="2"/></g>'
        )
    return _svg(height, body, title)


def columns(rows: Sequence[Bar], *, title: str) -> str:
    """Vertical columns over labelled buckets, heights on a log scale (counts span decades)."""
    height, base, gap = 220, 190, 8
    width = (WIDTH - 20) / max(len(rows), 1)
    top = math.log10(max([r.value for r in rows] + [1]) + 1)
    body = []
    for n, row in enumerate(rows):
        h = (base - 20) * math.log10(row.value + 1) / top if row.value else 0
        x = 10 + n * width
        fill = MARK if row.marked else INK
        body.append(
            f'<g class="column" data-label="{text(row.label)}" data-value="{row.value:g}">'
            f"{_title(row.label, row.value, row.note)}"
            f'<rect x="{x + gap / 2:.1f}" y="{base - h:.1f}" width="{width - gap:.1f}" '
            f'height="{h:.1f}" fill="{fill}"/>'
            f'<text x="{x + width / 2:.1f}" y="{base - h - 4:.1f}" text-anchor="middle">'
            f"{number(row.value)}</text>"
            f'<text x="{x + width / 2:.1f}" y="{base + 16}" text-anchor="middle">'
            f"{text(row.label)}</text></g>"
        )
    return _svg(height, body, title)


@dataclass(frozen=True, slots=True)
class Progress:
    """Done out of *total* for *label*, in *state*."""

    label: str
    done: int
    total: int
    state: str
    note: str = ""


# Bars by the state of what they show (an instance's: ``views.status.State``).
STATE_FILL: dict[str, str] = {State.STALLED: MARK, State.FINISHED: "#27ae60"}


def progress(rows: Sequence[Progress], *, title: str) -> str:
    """One bar per row: the total as a pale track, the part done over it, coloured by state."""
    span = WIDTH - LABEL - 200
    body = []
    for n, row in enumerate(rows):
        y = 8 + n * ROW
        share = row.done / row.total if row.total else 1.0
        fill = STATE_FILL.get(row.state, INK)
        note = f"{row.state}{', ' + row.note if row.note else ''}"
        body.append(
            f'<g class="progress" data-label="{text(row.label)}" data-done="{row.done}" '
            f'data-total="{row.total}" data-state="{text(row.state)}">'
            f"<title>{text(row.label)}: {number(row.done)} of {number(row.total)} uploads "
            f"({text(note)})</title>"
            f'<text x="{LABEL - 6}" y="{y + 15}" text-anchor="end">{text(row.label)}</text>'
            f'<rect x="{LABEL}" y="{y + 3}" width="{span}" height="{ROW - 6}" fill="{MUTED}"/>'
            f'<rect x="{LABEL}" y="{y + 3}" width="{span * min(share, 1.0):.1f}" '
            f'height="{ROW - 6}" fill="{fill}"/>'
            f'<text x="{LABEL + span + 6}" y="{y + 15}">{share:.0%} {text(note)}</text></g>'
        )
    return _svg(16 + len(rows) * ROW, body, title)


@dataclass(frozen=True, slots=True)
class Moment:
    """A labelled moment on a time axis; *marked*: the one to notice (the slowest)."""

    label: str
    at: datetime
    marked: bool = False


def timeline(moments: Sequence[Moment], *, now: datetime, title: str) -> str:
    """The *moments* on one time axis from *now*, each a dot on its own row."""
    last = max([m.at for m in moments] + [now])
    seconds = max((last - now).total_seconds(), 1.0)
    span = WIDTH - LABEL - 160
    body = []
    height = 30 + len(moments) * ROW
    body.append(
        f'<line x1="{LABEL}" x2="{LABEL + span}" y1="{height - 14}" y2="{height - 14}" '
        f'stroke="{LINE}"/><text x="{LABEL}" y="{height - 2}">now</text>'
    )
    for n, moment in enumerate(moments):
        y = 8 + n * ROW
        x = LABEL + span * max((moment.at - now).total_seconds(), 0) / seconds
        fill = MARK if moment.marked else INK
        when = f"{moment.at:%Y-%m-%d %H:%M} UTC"
        body.append(
            f'<g class="moment" data-label="{text(moment.label)}" '
            f'data-at="{moment.at.timestamp():.0f}" data-marked="{str(moment.marked).lower()}">'
            f"<title>{text(moment.label)}: {when}{' (the slowest)' if moment.marked else ''}"
            f'</title><text x="{LABEL - 6}" y="{y + 15}" text-anchor="end">{text(moment.label)}'
            f'</text><line x1="{LABEL}" x2="{x:.1f}" y1="{y + 11}" y2="{y + 11}" '
            f'stroke="{MUTED}"/><circle cx="{x:.1f}" cy="{y + 11}" r="6" fill="{fill}"/>'
            f'<text x="{x + 10:.1f}" y="{y + 15}">{when}</text></g>'
        )
    return _svg(height, body, title)


def over_time(
    points: Sequence[tuple[datetime, float]],
    *,
    projection: Sequence[tuple[datetime, float]] = (),
    title: str,
) -> str:
    """A line of *points* over time, and the *projection* after it, dashed."""
    every = [*points, *projection]
    if not every:
        return _svg(40, ['<text x="10" y="24">nothing measured yet</text>'], title)
    start, end = min(t for t, _ in every), max(t for t, _ in every)
    seconds = max((end - start).total_seconds(), 1.0)
    top = max([v for _, v in every] + [1.0])
    left, height, base = 80, 220, 190

    def place(at: datetime, value: float) -> tuple[float, float]:
        x = left + (WIDTH - left - 20) * (at - start).total_seconds() / seconds
        return x, base - (base - 20) * value / top

    def xy(at: datetime, value: float) -> str:
        x, y = place(at, value)
        return f"{x:.1f},{y:.1f}"

    body = [
        f'<line x1="{left}" x2="{WIDTH - 20}" y1="{base}" y2="{base}" stroke="{LINE}"/>',
        f'<text x="{left - 6}" y="24" text-anchor="end">{number(top)}</text>',
        f'<text x="{left - 6}" y="{base}" text-anchor="end">0</text>',
        f'<text x="{left}" y="{base + 18}">{start:%Y-%m-%d %H:%M}</text>',
        f'<text x="{WIDTH - 20}" y="{base + 18}" text-anchor="end">{end:%Y-%m-%d %H:%M} UTC</text>',
    ]
    if points:
        body.append(
            f'<polyline class="measured" fill="none" stroke="{INK}" stroke-width="2" '
            f'points="{" ".join(xy(t, v) for t, v in points)}"/>'
        )
        for t, v in points:
            x, y = place(t, v)
            body.append(
                f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{INK}" '
                f'data-at="{t.timestamp():.0f}" data-value="{v:g}">'
                f"<title>{t:%Y-%m-%d %H:%M} UTC: {number(v)}</title></circle>"
            )
    if projection:
        body.append(
            f'<polyline class="projection" fill="none" stroke="{MARK}" stroke-width="2" '
            f'stroke-dasharray="6 4" points="{" ".join(xy(t, v) for t, v in projection)}">'
            f"<title>projected: {number(projection[-1][1])} at "
            f"{projection[-1][0]:%Y-%m-%d %H:%M} UTC</title></polyline>"
        )
    return _svg(height + 10, body, title)
