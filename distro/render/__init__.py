"""Everything distro shows, drawn with rich: one module per view, over shared parts.

``analysis``, ``replan``, ``verification`` and ``comparison`` show what a
command returned: the report (or its JSON) on stdout, and on stderr what the
run wrote, apart from the report. The console decides plain or rich.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from distro.console import literal, stderr, stdout, write_json
from distro.options import ReportOptions
from distro.render.analysis import render, render_outputs
from distro.render.html import save_html
from distro.render.replan import render_replan, render_replan_outputs
from distro.verify import Verification
from distro.views.analysis import Summary, to_json
from distro.views.replan import ReplanSummary, replan_json

if TYPE_CHECKING:
    from distro.check import Comparison


def analysis(summary: Summary, options: ReportOptions | None = None) -> None:
    """Show *summary* as *options* ask: the report (or JSON) on stdout, the HTML page, and
    what the run wrote on stderr, apart from the report."""
    options = options or ReportOptions()
    if options.html is not None:
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
