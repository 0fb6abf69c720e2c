"""Measure one child process: wall time, CPU time (user + system) and peak RSS.

``os.wait4`` returns the resource usage of exactly the child it reaps, so
rounds that run side by side cannot blur into each other the way deltas of
``RUSAGE_CHILDREN`` can (its peak RSS is a maximum over all children ever).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class ChildRun:
    """What one child process cost, and what it printed."""

    argv: tuple[str, ...]
    wall: float  # seconds
    user: float  # CPU seconds
    system: float
    peak_rss: int  # bytes
    returncode: int
    stdout: str
    stderr: str

    @property
    def cpu(self) -> float:
        """CPU seconds, user and system."""
        return self.user + self.system

    def check(self) -> ChildRun:
        """Self, or an error quoting the child's output if it failed."""
        if self.returncode != 0:
            raise RuntimeError(
                f"{' '.join(self.argv)} exited with {self.returncode}:\n"
                f"{self.stderr[-2000:]}{self.stdout[-2000:]}"
            )
        return self


def run_child(
    argv: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> ChildRun:
    """Run *argv* to completion and measure it."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: tell Popen
        out.seek(0)
        err.seek(0)
        return ChildRun(
            argv=tuple(argv),
            wall=wall,
            user=usage.ru_utime,
            system=usage.ru_stime,
            peak_rss=usage.ru_maxrss * 1024,  # Linux reports KiB
            returncode=proc.returncode,
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
        )


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a running process has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime and stime: fields 14 and 15 of stat(5)
    return ticks / os.sysconf("SC_CLK_TCK")


def median(values: Sequence[float]) -> float:
    """The middle value (the mean of the two middle ones for an even count)."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2
