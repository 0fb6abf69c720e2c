"""Everything distro shows, drawn with rich: one module per view, over shared parts.

``analysis``, ``replan``, ``verification`` and ``comparison`` show what a
command returned: the report (or its JSON) on stdout, and on stderr what the
run wrote, apart from the report. The console decides plain or rich.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.live import Live

from distro.console import literal, stderr, stdout, write_json
from distro.errors import Stopped
from distro.options import ReportOptions, StatusOptions
from distro.render.analysis import render, render_outputs
from distro.render.parts import show
from distro.render.replan import render_replan, render_replan_outputs
from distro.render.status import status_parts
from distro.verify import Verification
from distro.views.analysis import Summary, to_json
from distro.views.replan import ReplanSummary, replan_json
from distro.views.status import FleetStatus
from distro.views.status_json import status_json
from distro.views.steps import kept_demo_commands

if TYPE_CHECKING:
    from pathlib import Path

    from distro.check import Comparison
    from distro.files import PlanFolder
    from distro.options import Connection


def analysis(summary: Summary, options: ReportOptions | None = None) -> None:
    """Show *summary* as *options* ask: the report (or JSON) on stdout, the HTML page, and
    what the run wrote on stderr, apart from the report."""
    options = options or ReportOptions()
    if options.html is not None:
        from distro.render.html import save_html  # noqa: PLC0415 - drawing loads only when asked

        save_html(summary, options.html)
    if options.json_output:
        write_json(to_json(summary))
    else:
        render(stdout, summary)
    render_outputs(stderr, summary)


def replan(summary: ReplanSummary, *, json_output: bool = False) -> None:
    """Show the replan *summary* (or its JSON) on stdout, and what it wrote on stderr."""
    if json_output:
        write_json(replan_json(summary))
    else:
        render_replan(stdout, summary)
    render_replan_outputs(stderr, summary)


def verification(found: Verification) -> None:
    """Show what ``distro verify`` found: each problem (DIDs literally), or the OK line."""
    for problem in found.problems:
        stdout.print(literal(problem), soft_wrap=True)
    if not found.problems:
        stdout.print(literal(f"OK: {found.described}", style="green"), soft_wrap=True)


def comparison(compared: Comparison) -> None:
    """Show the OK line of a ``distro check`` whose two paths agree."""
    stdout.print(literal(f"OK: {compared.describe()}", style="green"), soft_wrap=True)


def kept(
    connection: Connection,
    tables: tuple[str, str],
    instances: int,
    folder: PlanFolder,
) -> None:
    """How to point distro at the database a demo kept running, with its *connection*, the
    runner's two *tables* and the *instances* of its last plan (stderr: the session)."""
    tracking_table, progress_table = tables
    commands = kept_demo_commands(
        connection,
        folder,
        tracking_table=tracking_table,
        progress_table=progress_table,
        instances=instances,
    )
    lines = [
        f"DynamoDB Local keeps running at {connection.tables.endpoint_url}, seeded with "
        "the demo's tables; Ctrl-C stops it. In another terminal (it takes any keys, but "
        "the SDK wants some):",
        "  export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local",
        *(f"  {command}" for command in commands),
    ]
    for line in lines:
        stderr.print(literal(line), soft_wrap=True)


def metrics(path: Path, env: str, view: FleetStatus | None) -> None:
    """Write *view*'s metrics for Prometheus at *path* (None: the tables could not be read)."""
    from distro.render.prometheus import write_metrics  # noqa: PLC0415 - only when asked

    write_metrics(path, env, view)


def _status_look(view: FleetStatus, options: StatusOptions) -> list[RenderableType]:
    """The report of one look, as *options* narrow it, after writing what a look writes
    besides: the HTML page (with it) and the metrics."""
    parts = status_parts(
        view, instance=options.instance, customer=options.customer, failed=options.failed
    )
    if options.html is not None:
        from distro.render.html import save_status_html  # noqa: PLC0415 - only when asked

        save_status_html(view, parts, options.html, refresh=options.watch)
    if options.prometheus is not None:
        metrics(options.prometheus, view.env, view)
    return parts


def check(line: str, view: FleetStatus | None, options: StatusOptions) -> None:
    """``status --check``: the one line, after the page and the metrics a look writes (only
    the metrics, saying so, when the tables could not be read: *view* None)."""
    if view is not None:
        _status_look(view, options)
    elif options.prometheus is not None:
        metrics(options.prometheus, options.folder.env, None)
    stdout.print(literal(line), soft_wrap=True)  # DIDs and errors quoted as they are


def status(view: FleetStatus, options: StatusOptions) -> None:
    """Show *view* as *options* ask: the report or its JSON on stdout, the HTML page and
    the metrics."""
    parts = _status_look(view, options)
    if options.json_output:
        write_json(status_json(view, customer=options.customer))
    else:
        show(stdout, parts)
    if options.html is not None:
        stderr.print(literal(f"Saved the status as HTML to {options.html}"), soft_wrap=True)


def watch(look: Callable[[], FleetStatus], options: StatusOptions) -> None:
    """Show a fresh look every ``options.watch`` seconds, in place, until Ctrl-C."""
    assert options.watch is not None
    with Live(console=stdout, auto_refresh=False, transient=False) as live:
        try:
            while True:
                live.update(Group(*_status_look(look(), options)), refresh=True)
                time.sleep(options.watch)
        except (KeyboardInterrupt, Stopped):
            return  # Ctrl-C is how a watch ends
