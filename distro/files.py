"""Crash-safe file writes: a reader sees the old bytes or the new, never a mix.

Also the plan folder: ``PlanFolder`` names every file an environment's plan
keeps there, and its lock lets one run at a time use the folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from distro.errors import Fix, OutputError, OutputLocked
from distro.settings import DEFAULT_ENV

LOCK_NAME = ".distro.lock"
STAGED_SUFFIX = ".staged"


@dataclass(frozen=True, slots=True)
class PlanFolder:
    """The folder at *path* and the name of every file the *env* plan keeps there.

    Every name carries the environment, as the runner's own file names do, so a
    staging plan and a production plan share a folder without touching each
    other; only the lock is the folder's. *checked*: this run has created,
    probed and locked the folder (``output_lock``), so writers need not probe it again.
    """

    path: Path
    env: str = DEFAULT_ENV
    checked: bool = False

    def instance_file_name(self, instance_id: int) -> str:
        """The name ``migrate-instance.js --instance`` *instance_id* opens under ``STORACHA_ENV``."""
        return f"instance-{instance_id}-customers-{self.env}.json"

    def instance_file(self, instance_id: int) -> Path:
        """The file of instance *instance_id*."""
        return self.path / self.instance_file_name(instance_id)

    def spaces_file_name(self, instance_id: int) -> str:
        """The list of split customers' spaces instance *instance_id* migrates one by one."""
        return f"instance-{instance_id}-spaces-{self.env}.txt"

    @property
    def manifest_name(self) -> str:
        """The manifest of the plan: what it was made from, its totals, each file's digest."""
        return f"distribution-{self.env}.json"

    @property
    def manifest(self) -> Path:
        """The manifest's path."""
        return self.path / self.manifest_name

    @property
    def journal_name(self) -> str:
        """The commit journal of the plan, present only while a commit is being applied."""
        return f".distro-commit-{self.env}.json"

    @property
    def journal(self) -> Path:
        """The commit journal's path."""
        return self.path / self.journal_name

    @property
    def checkpoint(self) -> Path:
        """The counting checkpoint: each environment resumes its own."""
        return self.path / f"counting-checkpoint-{self.env}.json"

    @property
    def status_snapshots(self) -> Path:
        """The looks ``distro status`` keeps, to measure rates between them (bounded)."""
        return self.path / f".distro-status-{self.env}.jsonl"

    @property
    def lock(self) -> Path:
        """The folder's lock file, shared by every environment."""
        return self.path / LOCK_NAME

    @property
    def instance_pattern(self) -> re.Pattern[str]:
        """Names of the instance files, any instance number."""
        return re.compile(rf"instance-\d+-customers-{re.escape(self.env)}\.json")

    @property
    def spaces_pattern(self) -> re.Pattern[str]:
        """Names of the split-space lists, any instance number."""
        return re.compile(rf"instance-\d+-spaces-{re.escape(self.env)}\.txt")

    def is_plan_file(self, name: str) -> bool:
        """Whether *name* is one of the plan's files: the manifest, an instance file, a list."""
        return (
            name == self.manifest_name
            or self.instance_pattern.fullmatch(name) is not None
            or self.spaces_pattern.fullmatch(name) is not None
        )

    def instance_files(self) -> list[Path]:
        """The instance files a plan left in the folder (none if it is not a folder)."""
        if not self.path.is_dir():
            return []
        pattern = self.instance_pattern
        return [p for p in self.path.iterdir() if pattern.fullmatch(p.name)]

    def prepared(self) -> Path:
        """The folder's path, created and probed first unless this run has checked it."""
        if not self.checked:
            ensure_output_dir(self.path)
        return self.path


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
        raise OutputError(f"output directory {directory} is a file", fix=Fix.OUTPUT_DIR)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot create output directory {directory} ({exc.strerror})", fix=Fix.OUTPUT_DIR
        ) from None
    # Try it rather than ask os.access: root passes every permission check, yet
    # still cannot write to a read-only file system such as /proc.
    probe = directory / f".distro-probe.tmp-{os.getpid()}"
    try:
        write_synced(probe, b"")
        probe.unlink()
    except OSError as exc:
        raise OutputError(
            f"output directory {directory} is not writable ({exc.strerror})", fix=Fix.OUTPUT_DIR
        ) from None


@contextlib.contextmanager
def output_lock(folder: PlanFolder) -> Iterator[PlanFolder]:
    """Hold *folder*'s lock for the ``with`` block, or raise ``OutputLocked`` at once.

    The folder is checked first, and the block gets it marked *checked*, which
    the checkpoint and the commit take without probing it again.

    An ``flock`` on ``.distro.lock``, not a file whose existence is the lock:
    the kernel drops it when the holder dies, so a killed run never blocks the
    next. The file stays in place: unlinking it could let a run that had
    opened it lock an orphan while a third run locks a new file of that name.
    The holder writes its process id into it for the message of the others.
    """
    directory = folder.path
    ensure_output_dir(directory)
    path = folder.lock
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise OutputError(
            f"cannot open the lock file {path} ({exc.strerror}): check its permissions"
        ) from None
    try:
        _lock(fd, path, directory)
        yield replace(folder, checked=True)
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
            fix=Fix.LOCKED,
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


def check_html_path(path: Path) -> None:
    """Fail early, in one line, if the HTML report cannot be written at *path*."""
    check_file_path(path, "the HTML report", Fix.REPORT_HTML_PATH)


def check_file_path(path: Path, what: str, fix: Fix) -> None:
    """Fail early, in one line naming *what* and *fix*, if a file cannot be written at *path*."""
    folder = path.parent
    if path.is_dir():
        problem = "it is a directory"
    elif not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        problem = f"{folder}/ is not a writable directory"
    else:
        return
    raise OutputError(f"cannot write {what} to {path}: {problem}", fix=fix)
