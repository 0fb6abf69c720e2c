"""Crash-safe file writes: a reader sees the old bytes or the new, never a mix.

Also the output folder's lock: one run at a time may use a folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from distro.errors import OutputError, OutputLocked

LOCK_NAME = ".distro.lock"


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


@dataclass(frozen=True, slots=True)
class Folder:
    """An output folder this run has checked (created, writable) and locked: probed once."""

    path: Path


def prepared(directory: Path | Folder) -> Path:
    """The path of *directory*: a ``Folder`` as it is, a plain path once checked (``ensure_output_dir``)."""
    if isinstance(directory, Folder):
        return directory.path
    ensure_output_dir(directory)
    return directory


def ensure_output_dir(directory: Path) -> None:
    """Create *directory* if needed and check distro can write there."""
    if directory.exists() and not directory.is_dir():
        raise OutputError(f"output directory {directory} is a file", fix="output_dir")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot create output directory {directory} ({exc.strerror})", fix="output_dir"
        ) from None
    # Try it rather than ask os.access: root passes every permission check, yet
    # still cannot write to a read-only file system such as /proc.
    probe = directory / f".distro-probe.tmp-{os.getpid()}"
    try:
        write_synced(probe, b"")
        probe.unlink()
    except OSError as exc:
        raise OutputError(
            f"output directory {directory} is not writable ({exc.strerror})", fix="output_dir"
        ) from None


@contextlib.contextmanager
def output_lock(directory: Path) -> Iterator[Folder]:
    """Hold *directory*'s lock for the ``with`` block, or raise ``OutputLocked`` at once.

    The folder is checked first, and the block gets it as a ``Folder``, which
    the checkpoint and the commit take without probing it again.

    An ``flock`` on ``.distro.lock``, not a file whose existence is the lock:
    the kernel drops it when the holder dies, so a killed run never blocks the
    next. The file stays in place: unlinking it could let a run that had
    opened it lock an orphan while a third run locks a new file of that name.
    The holder writes its process id into it for the message of the others.
    """
    ensure_output_dir(directory)
    path = directory / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise OutputError(
            f"cannot open the lock file {path} ({exc.strerror}): check its permissions"
        ) from None
    try:
        _lock(fd, path, directory)
        yield Folder(directory)
    finally:
        os.close(fd)  # releases the lock


def _lock(fd: int, path: Path, directory: Path) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(fd)
        who = f" (process {holder})" if holder else ""
        raise OutputLocked(
            f"another distro run{who} is using {directory}/: wait for it to finish",
            fix="locked",
        ) from None
    except OSError as exc:
        raise OutputError(
            f"cannot lock {path} ({exc.strerror}): use a folder on a local disk"
        ) from None
    # The id only makes the others' message clearer; the lock holds without it.
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        write_all(fd, f"{os.getpid()}\n".encode())


def _holder(fd: int) -> str:
    """The process id the lock's holder wrote, or "" if it has not written it yet."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return ""
    return text if text.isdigit() else ""
