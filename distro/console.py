"""Where output goes: one stdout console for the report, one stderr console for the rest.

Progress is drawn on stderr by rich's own refresh thread, which reads the plain
counters of ``distro.progress.Progress``; the pipeline never waits for the screen.

Whatever a table holds is untrusted: a DID may carry rich markup, HTML, escape
sequences or bidi overrides. It reaches a console only through ``literal``:
a ``Text`` (never markup) whose control characters are shown as escapes.
"""

from __future__ import annotations

import sys
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console, RenderableType
from rich.live import Live
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress as Bars,
    ProgressColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from distro.progress import Progress

stdout = Console(highlight=False)
stderr = Console(stderr=True, highlight=False)


# Characters shown as escapes on a console: controls (Cc: ESC, newline, ...), format
# characters (Cf: bidi marks and overrides, zero-width ones), lone surrogates (Cs), and
# the line and paragraph separators (Zl, Zp) that some terminals break lines at.
ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_SHORT_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str) -> str:
    """*text* with every character of ``ESCAPED_CATEGORIES`` written as a Python-style escape.

    ESC becomes ``\\x1b``, a newline ``\\n``, U+202E ``\\u202e``; a backslash is
    doubled, so an escape always means one character and the text can be read
    back. Valid DIDs hold neither backslashes nor controls: they show unchanged.
    """
    if text.isprintable() and "\\" not in text:
        return text  # the common case, checked in C
    return "".join(_escape(char) for char in text)


def _escape(char: str) -> str:
    short = _SHORT_ESCAPES.get(char)
    if short is not None:
        return short
    if unicodedata.category(char) not in ESCAPED_CATEGORIES:
        return char  # printable, or harmless (a non-breaking space, private use)
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def literal(text: str, style: str = "") -> Text:
    """*text* to print as it is, in *style*: no markup read in it, control characters escaped."""
    return Text(printable(text), style=style)


def error_line(message: str, *, label: str = "Error") -> Text:
    """The one line an error is shown as: ``Error:`` (or *label*) and *message*, literally."""
    return Text.assemble((f"{label}: ", "bold red"), printable(message))


def note_line(message: str) -> Text:
    """The one line a notice is shown as: ``Note:`` and *message*, literally."""
    return Text.assemble(("Note: ", "bold yellow"), printable(message))


def write_stdout(data: bytes) -> None:
    """Write *data* to stdout as it is, past rich: machine-readable output such as ``--json``."""
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def write_json(document: bytes) -> None:
    """Write the JSON *document* to stdout, safe to land on a terminal and still exact.

    orjson escapes only characters below U+0020; DEL, the C1 controls, bidi
    overrides and the rest of ``ESCAPED_CATEGORIES`` would reach a terminal raw.
    As ``\\u`` escapes they decode to the very same strings.
    """
    text = document.decode()
    if not text.isascii():
        document = "".join(map(_json_escape, text)).encode()
    write_stdout(document)


def _json_escape(char: str) -> str:
    code = ord(char)
    # Below DEL, only the document's own line breaks are left raw: orjson escaped the rest.
    if code < 0x7F or unicodedata.category(char) not in ESCAPED_CATEGORIES:
        return char
    if code > 0xFFFF:  # JSON spells these as a UTF-16 surrogate pair
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def _bars(*extra: ProgressColumn, auto_refresh: bool = True) -> Bars:
    """Progress bars on stderr in distro's column set, with *extra* columns before the time."""
    return Bars(
        TextColumn("{task.description:<18}"),
        BarColumn(bar_width=30),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        *extra,
        TimeElapsedColumn(),
        console=stderr,
        auto_refresh=auto_refresh,
    )


class _ProgressView:
    """Renders the counters as two bars: scanning rows, counting spaces."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        # Refreshed by the Live display that shows it, not by a thread of its own.
        self._bars = _bars(TextColumn("{task.fields[detail]}"), auto_refresh=False)
        self._scan = self._bars.add_task("Scanning consumers", total=None, detail="")
        self._count = self._bars.add_task("Counting uploads", total=None, detail="")

    def __rich__(self) -> RenderableType:
        p = self._progress
        scan_rate = self._bars.tasks[self._scan].speed or 0.0
        count_rate = self._bars.tasks[self._count].speed or 0.0
        self._bars.update(
            self._scan,
            completed=p.rows_scanned,
            detail=f"rows · {p.segments_done}/{p.segments} segments · {scan_rate:,.0f} rows/s",
        )
        self._bars.update(
            self._count,
            completed=p.spaces_counted,
            total=p.spaces_to_count if p.scan_finished else None,
            detail=f"spaces · {p.uploads_counted:,} uploads · {count_rate:,.0f} spaces/s",
        )
        return self._bars.get_renderable()


@contextmanager
def show_progress(progress: Progress, *, enabled: bool) -> Iterator[None]:
    """Draw *progress* on stderr while the block runs, when *enabled* and on a terminal."""
    if not (enabled and stderr.is_terminal):
        yield
        return
    with Live(_ProgressView(progress), console=stderr, refresh_per_second=8, transient=False):
        yield


@contextmanager
def counter(description: str, *, total: int, enabled: bool) -> Iterator[Callable[[int], None]]:
    """Yield an ``advance(n)`` callback drawn as a bar on stderr when *enabled* on a terminal."""
    if not (enabled and stderr.is_terminal):
        yield lambda n: None
        return
    bars = _bars()
    task = bars.add_task(description, total=total)
    with bars:
        yield lambda n: bars.advance(task, n)
