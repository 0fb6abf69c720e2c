"""The reports as self-contained HTML pages: charts in inline SVG, their numbers in tables.

One file, nothing fetched: the styles are in the page, the charts are SVG
text (``distro.render.svg``), and a Content-Security-Policy forbids every
outside request, so a page opens from a laptop after ``scp``, offline. Below
the charts, the terminal's report as it looks at 110 columns. Every text from
the tables is escaped (``svg.text``). The page is written atomically; with
*refresh* (``status --watch``) it reloads itself, so it can be left open.

This module, and the drawing it imports, load only when a page is written.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from rich.console import Console, RenderableType

from distro.errors import Fix, OutputError
from distro.files import atomic_write
from distro.render.analysis import render
from distro.render.parts import show
from distro.render.svg import (
    Bar,
    Moment,
    Progress,
    bars,
    columns,
    number,
    over_time,
    progress,
    text as esc,
    timeline,
)
from distro.views.analysis import PlanSummary, Summary
from distro.views.status import FleetStatus, State

HTML_WIDTH = 110  # columns of the recorded console: wide enough for every table

STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2733;
       background: #fbfcfd; margin: 0 auto; max-width: 1180px; padding: 1.2em 2em 3em; }
h1 { font-size: 1.5em; margin-bottom: 0.1em; } h2 { font-size: 1.15em; margin-top: 1.8em; }
.meta { color: #5b6b7b; margin-top: 0; }
.pair { display: flex; flex-wrap: wrap; gap: 1.5em; align-items: flex-start; }
.pair > figure { flex: 3 1 520px; margin: 0; } .pair > table { flex: 1 1 280px; }
svg.chart { width: 100%; height: auto; font-size: 12px; fill: #1d2733; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 0.2em 0.7em; border-bottom: 1px solid #dde3ea; text-align: right;
         white-space: nowrap; }
th { background: #eef2f6; } td.text, th.text { text-align: left; }
table[data-name=top] td.text, table[data-name=stalled] td.text { white-space: normal;
         word-break: break-all; }
tr.marked td { color: #c0392b; font-weight: 600; }
details { margin-top: 2em; } pre { font-size: 12px; overflow-x: auto; }
"""
# No script, font, image or style from anywhere: the page works offline, and injected
# markup could not fetch anything either.
POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _page(title: str, body: list[str], terminal: str, refresh: float | None) -> bytes:
    reload = f'<meta http-equiv="refresh" content="{refresh:g}">' if refresh else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">{reload}'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>"
        f"{''.join(body)}"
        f"<details><summary>The report as the terminal shows it</summary>{terminal}</details>"
        "</body></html>\n"
    ).encode()


def _table(
    headings: Sequence[str],
    rows: Sequence[Sequence[object]],
    *,
    name: str,
    text_columns: int = 1,
    marked: Sequence[bool] = (),
) -> str:
    """A table of *rows*; the first *text_columns* columns are text, the rest numbers."""

    def cell(n: int, value: object) -> str:
        kind = "text" if n < text_columns else "number"
        shown = number(value) if isinstance(value, int | float) else esc(value)
        data = f' data-value="{value:g}"' if isinstance(value, int | float) else ""
        return f'<td class="{kind}"{data}>{shown}</td>'

    head = "".join(
        f'<th class="{"text" if n < text_columns else ""}">{esc(h)}</th>'
        for n, h in enumerate(headings)
    )
    body = "".join(
        f'<tr class="{"marked" if n < len(marked) and marked[n] else ""}">'
        f"{''.join(cell(k, v) for k, v in enumerate(row))}</tr>"
        for n, row in enumerate(rows)
    )
    return f'<table data-name="{esc(name)}"><tr>{head}</tr>{body}</table>'


def _pair(heading: str, chart: str, table: str) -> str:
    return f'<h2>{esc(heading)}</h2><div class="pair"><figure>{chart}</figure>{table}</div>'


def _terminal(draw: Callable[[Console], None]) -> str:
    recorder = Console(
        record=True,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
        width=HTML_WIDTH,
        highlight=False,
    )
    draw(recorder)
    return recorder.export_html(inline_styles=True, code_format="<pre><code>{code}</code></pre>")


def _write(page: bytes, path: Path) -> None:
    try:
        atomic_write(path, page)
    except OSError as exc:
        raise OutputError(
            f"cannot write the HTML report to {path} ({exc.strerror})", fix=Fix.REPORT_HTML
        ) from None


# --- analyze and generate ----------------------------------------------------------------------


def analysis_page(summary: Summary) -> bytes:
    """The page of an analyze or generate report."""
    totals = summary.totals
    body = [
        "<h1>distro report</h1>",
        f'<p class="meta">Made {esc(summary.generated_at)}: {totals.customers:,} customers, '
        f"{totals.uploads:,} uploads, {totals.spaces:,} spaces.</p>",
    ]
    if summary.plan is not None:
        body.append(_load(summary.plan))
    body.append(_sizes(summary))
    body.append(_estimates(summary))
    top = summary.top_customers
    if top:
        body.append(
            "<h2>Largest customers</h2>"
            + _table(
                ("Customer", "Uploads", "Spaces", "Share"),
                # One format for every share, as the terminal shows it: 41.5%, 100.0%.
                [(c.customer, c.uploads, c.spaces, f"{c.share:.1%}") for c in top],
                name="top",
            )
        )
    return _page(
        f"distro report, {summary.generated_at}",
        body,
        _terminal(lambda console: render(console, summary)),
        None,
    )


def _load(plan: PlanSummary) -> str:
    # Bars and bound in the one unit the plan balanced (uploads, or shards), labelled.
    unit = plan.unit
    rows = [Bar(f"instance {i.instance_id}", i.load) for i in plan.instances]
    chart = bars(
        rows,
        title=f"{unit.capitalize()} per instance, and the lower bound no plan can beat",
        line=plan.lower_bound,
        line_label=f"lower bound ({unit})",
    )
    table = _table(
        ("Instance", "Customers", unit.capitalize(), "Hours"),
        [(str(i.instance_id), i.customers, i.load, round(i.hours, 2)) for i in plan.instances]
        + [("lower bound", "", round(plan.lower_bound), "")],
        name="instances",
    )
    return _pair("Load per instance", chart, table)


def _sizes(summary: Summary) -> str:
    # The buckets are by uploads: the largest customer's is found by its uploads, whatever
    # unit the plan balanced.
    largest = (
        summary.plan.whale.customer_uploads
        if summary.plan is not None and summary.plan.whale is not None
        else max((c.uploads for c in summary.top_customers), default=None)
    )
    whale = (
        summary.plan.whale.customer
        if summary.plan is not None and summary.plan.whale is not None
        else (summary.top_customers[0].customer if summary.top_customers else "")
    )
    marked = [
        largest is not None
        and b.min_uploads <= largest
        and (b.max_uploads is None or largest <= b.max_uploads)
        and largest > 0
        for b in summary.histogram
    ]
    rows = [
        Bar(b.label, b.customers, mark, f"holds {whale}" if mark else "")
        for b, mark in zip(summary.histogram, marked, strict=True)
    ]
    chart = columns(rows, title="Customers by uploads (log-scale buckets); the largest marked")
    table = _table(
        ("Uploads", "Customers", "Their uploads"),
        [(b.label, b.customers, b.uploads) for b in summary.histogram],
        name="sizes",
        marked=marked,
    )
    caption = f"<p>Marked: the bucket of the largest customer, {esc(whale)}.</p>" if whale else ""
    return _pair("Customers by size", chart, table) + caption


def _estimates(summary: Summary) -> str:
    if summary.plan is not None:
        hosts = summary.assumptions.runners_per_host
        rows = [
            (e.workers_per_instance, round(e.critical_path_hours, 2), round(e.fleet_cost_usd, 2))
            for e in summary.plan.estimates
        ]
        heading = "Runners per machine" if hosts else "Workers per instance"
        return "<h2>Time and cost</h2>" + _table(
            (heading, "Critical path (hours)", "Fleet cost (USD)"),
            rows,
            name="estimates",
            text_columns=0,
        )
    return "<h2>Instances needed</h2>" + _table(
        ("Instances", "Max uploads", "Hours", "Fleet cost (USD)"),
        [
            (
                r.instances,
                r.max_uploads,
                round(r.critical_path_hours, 2),
                round(r.fleet_cost_usd, 2),
            )
            for r in summary.sizing
        ],
        name="estimates",
        text_columns=0,
    )


def save_html(summary: Summary, path: Path) -> None:
    """Save the page of *summary* at *path*, atomically."""
    _write(analysis_page(summary), path)


# --- status --------------------------------------------------------------------------------------


def status_page(
    view: FleetStatus, parts: Sequence[RenderableType], *, refresh: float | None = None
) -> bytes:
    """The page of a status look; *parts*: its terminal report; *refresh*: seconds to reload."""
    fleet = view.fleet
    body = [
        f"<h1>Fleet status ({esc(view.env)})</h1>",
        f'<p class="meta">At {view.now:%Y-%m-%d %H:%M} UTC: {fleet.uploads_done:,} of '
        f"{fleet.uploads_total:,} uploads done, {esc(fleet.state)}.</p>",
        _progress(view),
        _finishes(view),
        _remaining(view),
        _failures(view),
        _stalled(view),
    ]
    return _page(
        f"distro status, {view.env}", body, _terminal(lambda console: show(console, parts)), refresh
    )


def _rate(value: float | None) -> object:
    return round(value, 2) if value is not None else "-"


def _progress(view: FleetStatus) -> str:
    rows = [
        Progress(
            f"instance {i.instance}",
            i.uploads_done,
            i.uploads_total,
            i.state,
            f"{i.rate_per_minute:,.1f}/min" if i.rate_per_minute is not None else "",
        )
        for i in view.instances
    ]
    table = _table(
        ("Instance", "State", "Done", "Total", "Rate/min"),
        [
            (i.instance, i.state, i.uploads_done, i.uploads_total, _rate(i.rate_per_minute))
            for i in view.instances
        ],
        name="instances",
        text_columns=2,
        marked=[i.state == State.STALLED for i in view.instances],
    )
    return _pair("Uploads done per instance", progress(rows, title="Done out of planned"), table)


def _finishes(view: FleetStatus) -> str:
    known = [
        (i.instance, i.predicted_finish)
        for i in view.instances
        if i.predicted_finish is not None and i.state != State.FINISHED
    ]
    # The fleet's last instance; when a stalled one makes the fleet's finish unknown,
    # the slowest of those with a finish.
    slowest = view.last_instance or max(known, key=lambda k: k[1], default=("", None))[0]
    moments = [Moment(f"instance {name}", at, name == slowest) for name, at in known]
    chart = timeline(moments, now=view.now, title="Predicted finish per instance")
    table = _table(
        ("Instance", "Predicted finish (UTC)"),
        [(m.label, f"{m.at:%Y-%m-%d %H:%M}") for m in moments],
        name="finishes",
        text_columns=2,
        marked=[m.marked for m in moments],
    )
    return _pair("Predicted finish", chart, table)


HISTORY_SHOWN = 60  # looks drawn and listed, spread evenly over the history kept


def _remaining(view: FleetStatus) -> str:
    total = view.fleet.uploads_total
    history = view.history
    if len(history) > HISTORY_SHOWN:  # evenly spread, the first and the last kept
        step = (len(history) - 1) / (HISTORY_SHOWN - 1)
        history = tuple(history[round(n * step)] for n in range(HISTORY_SHOWN))
    points = [(at, float(total - done)) for at, done in history]
    if len(points) < 2:
        return (
            "<h2>Uploads left</h2><p>One look so far: the chart needs two moments at least a "
            "minute apart. Look again later (distro status keeps each look in the plan "
            "folder).</p>"
        )
    finish = view.fleet.predicted_finish
    projection: list[tuple[datetime, float]] = []
    if points and finish is not None and finish > points[-1][0]:
        projection = [points[-1], (finish, 0.0)]
    chart = over_time(
        points, projection=projection, title="Uploads left over time, and the projection"
    )
    table = _table(
        ("At (UTC)", "Uploads left"),
        [(f"{at:%Y-%m-%d %H:%M}", left) for at, left in points]
        + ([(f"{finish:%Y-%m-%d %H:%M} (projected)", 0)] if projection and finish else []),
        name="remaining",
    )
    return _pair("Uploads left", chart, table)


def _failures(view: FleetStatus) -> str:
    reasons = sorted(view.failures_by_reason.items(), key=lambda kv: (-kv[1], kv[0]))
    if not reasons:
        return "<h2>Failures</h2><p>No upload failed.</p>"
    chart = bars([Bar(r, n) for r, n in reasons], title="Failed uploads by reason")
    table = _table(("Reason", "Failed uploads"), reasons, name="failures")
    return _pair("Failures by reason", chart, table)


def _stalled(view: FleetStatus) -> str:
    if not view.stalled:
        return "<h2>Stalled</h2><p>Nothing is stalled.</p>"
    return "<h2>Stalled</h2>" + _table(
        ("Instance", "Customer", "Space", "Idle (minutes)"),
        [(s.instance, s.customer, s.space, round(s.minutes, 1)) for s in view.stalled],
        name="stalled",
        text_columns=3,
    )


def save_status_html(
    view: FleetStatus, parts: Sequence[RenderableType], path: Path, *, refresh: float | None = None
) -> None:
    """Save the page of *view* at *path*, atomically; *refresh*: seconds between reloads."""
    _write(status_page(view, parts, refresh=refresh), path)
