"""Where output goes: one stdout console for the report, one stderr console for the rest.

Progress is drawn on stderr by rich's own refresh thread, which reads the plain
counters of ``distro.progress.Progress``; the pipeline never waits for the screen.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console, RenderableType
from rich.live import Live
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.progress import Progress as Bars

from distro.progress import Progress

stdout = Console(highlight=False)
stderr = Console(stderr=True, highlight=False)


def write_stdout(data: bytes) -> None:
    """Write *data* to stdout as it is, past rich: machine-readable output such as ``--json``."""
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


class _ProgressView:
    """Renders the counters as two bars: scanning rows, counting spaces."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._bars = Bars(
            TextColumn("{task.description:<18}"),
            BarColumn(bar_width=30),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=stderr,
            auto_refresh=False,
        )
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
    bars = Bars(
        TextColumn("{task.description:<18}"),
        BarColumn(bar_width=30),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=stderr,
    )
    task = bars.add_task(description, total=total)
    with bars:
        yield lambda n: bars.advance(task, n)
