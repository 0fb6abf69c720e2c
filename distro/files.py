"""Crash-safe file writes: a reader sees the old bytes or the new, never a mix."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from distro.errors import OutputError


def atomic_write(path: Path, data: bytes) -> None:
    """Replace *path* with *data*: temp file, fsync, rename, fsync of the folder."""
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write_synced(temp, data)
        os.replace(temp, path)
    except OSError:
        # A disk-full write leaves a partial temp file: do not let it hold the space.
        with contextlib.suppress(OSError):
            temp.unlink(missing_ok=True)
        raise
    sync_dir(path.parent)


def write_synced(path: Path, data: bytes) -> None:
    """Write *data* to a new file at *path* and make it durable before returning."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes) -> None:
    """Write all of *data* to *fd*: a write() may take only part of it."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def sync_dir(directory: Path) -> None:
    """Make a rename or unlink in *directory* durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_output_dir(directory: Path) -> None:
    """Create *directory* if needed and check distro can write there."""
    if directory.exists() and not directory.is_dir():
        raise OutputError(f"output directory {directory} is a file: pass another --output-dir")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot create output directory {directory} ({exc.strerror}): pass another --output-dir"
        ) from None
    # Try it rather than ask os.access: root passes every permission check, yet
    # still cannot write to a read-only file system such as /proc.
    probe = directory / f".distro-probe.tmp-{os.getpid()}"
    try:
        write_synced(probe, b"")
        probe.unlink()
    except OSError as exc:
        raise OutputError(
            f"output directory {directory} is not writable ({exc.strerror}): pass another --output-dir"
        ) from None
