"""The report as one self-contained HTML page: the terminal's rendering, no outside request."""

from __future__ import annotations

import html
import io
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console, RenderableType

from distro.errors import Fix, OutputError
from distro.files import atomic_write
from distro.render.analysis import render
from distro.render.parts import show
from distro.views.analysis import Summary

HTML_WIDTH = 110  # columns of the recorded console: wide enough for every table

HTML_PAGE = """<!DOCTYPE html>
<html>
<head>
<meta charset="UTF-8">
<title>{title}</title>
<style>
{{stylesheet}}
body {{{{
    color: {{foreground}};
    background-color: {{background}};
}}}}
</style>
</head>
<body>
    <pre style="font-family:Menlo,'DejaVu Sans Mono',consolas,'Courier New',monospace"><code style="font-family:inherit">{{code}}</code></pre>
</body>
</html>
"""


def save_html(summary: Summary, path: Path) -> None:
    """Render the report of *summary* as it looks on a terminal and save it as HTML at *path*."""
    recorder = _recorder()
    render(recorder, summary)
    _save(recorder, f"distro report, {summary.generated_at}", path)


def save_parts_html(parts: Sequence[RenderableType], title: str, path: Path) -> None:
    """Save *parts* as they look on a terminal as an HTML page at *path*, titled *title*."""
    recorder = _recorder()
    show(recorder, parts)
    _save(recorder, title, path)


def _recorder() -> Console:
    return Console(
        record=True,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
        width=HTML_WIDTH,
        highlight=False,
    )


def _save(recorder: Console, title: str, path: Path) -> None:
    heading = html.escape(title)
    page = recorder.export_html(code_format=HTML_PAGE.format(title=heading), inline_styles=True)
    try:
        atomic_write(path, page.encode())
    except OSError as exc:
        raise OutputError(
            f"cannot write the HTML report to {path} ({exc.strerror})", fix=Fix.REPORT_HTML
        ) from None
