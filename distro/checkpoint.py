"""The counting checkpoint: which spaces are counted already, and their counts.

The file is a journal in JSON Lines: a header line (format, and the tables and
filters it was made with), then one line per flush holding the spaces counted
since the previous one. Appending keeps the cost of a save proportional to
what is new, not to everything counted so far. The header is written
atomically; a flush is one ``write`` followed by ``fsync``. A process killed in
the middle of a flush leaves at most one unterminated last line, which is
dropped on load (those spaces are simply counted again); any other damage is
refused.

Counts are keyed by space DID: the number of uploads is a property of the
space, so a space claimed by two customers is queried once. A resumed journal
is loaded line by line into ``Resumed``, 128-bit fingerprints and counts in
arrays (about 50 bytes a space), not a dict of DID strings (about 250): at
5 million spaces that is the difference between fitting in 1 GB or not.
"""

from __future__ import annotations

import os
from array import array
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson

from distro.census import DidIndex
from distro.errors import CheckpointCorrupt, CheckpointMismatch, Fix, OutputError
from distro.files import PlanFolder, atomic_write, sync_dir, write_all
from distro.settings import SHARD_BUCKETS, CountSettings

FORMAT = 1


def fingerprint(settings: CountSettings) -> dict[str, Any]:
    """What a checkpoint's counts depend on: the database, its tables and the customer filters.

    The endpoint is the one configured (None: the SDK's default for the
    region), without any user name or password in it. ``min_uploads`` is
    left out on purpose: it applies after counting, so it does not change any count.
    """
    tables, filters = settings.tables, settings.customer_filter
    return {
        "consumerTable": tables.consumer,
        "uploadTable": tables.upload,
        "region": tables.region,
        "endpoint": None if tables.endpoint_url is None else redact_url(tables.endpoint_url),
        "skip": sorted(filters.skip),
        "include": sorted(filters.include),
    }


def redact_url(url: str) -> str:
    """*url* without its user information: ``http://user:pass@host`` gives ``http://host``."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=host))


class Resumed:
    """The counts of a resumed journal, found by space DID.

    A ``DidIndex`` numbers the spaces by fingerprint; ``array('q')`` holds
    their counts by number. It cannot list the DIDs back: a resume only ever
    asks about a space the scan has just found.
    """

    def __init__(self, *, shards: bool = False) -> None:
        self._index = DidIndex()
        self._counts = array("q")
        # Shards and shardsRef uploads by number, only for a journal that counted them.
        self._shards = array("q") if shards else None
        self._refs = array("q") if shards else None
        self.histogram = [0] * len(SHARD_BUCKETS) if shards else []  # summed over the lines

    def __len__(self) -> int:
        return len(self._counts)

    def set(self, space: str, count: int, shards: int = 0, refs: int = 0) -> None:
        """Note *count* for *space*; a later count of the same space wins, as in the journal."""
        number = self._index.intern(space)
        if number == len(self._counts):
            self._counts.append(count)
            if self._shards is not None and self._refs is not None:
                self._shards.append(shards)
                self._refs.append(refs)
            return
        self._counts[number] = count
        if self._shards is not None and self._refs is not None:
            self._shards[number] = shards
            self._refs[number] = refs

    def get(self, space: str) -> int | None:
        """The saved count of *space*, or None if it was not counted."""
        number = self._index.find(space)
        return None if number is None else self._counts[number]

    def get_all(self, space: str) -> tuple[int, int, int] | None:
        """The saved uploads, shards and shardsRef uploads of *space* (shards 0 if not counted)."""
        number = self._index.find(space)
        if number is None:
            return None
        if self._shards is None or self._refs is None:
            return self._counts[number], 0, 0
        return self._counts[number], self._shards[number], self._refs[number]


class Checkpoint:
    """An open checkpoint journal at *path*; ``resumed`` holds what earlier runs counted."""

    def __init__(
        self, path: Path, resumed: Resumed, header: bytes | None = None, *, shards: bool = False
    ) -> None:
        self.path = path
        self.resumed = resumed
        self.shards = shards
        # Uploads by shards (``SHARD_BUCKETS``) of every space counted, resumed ones
        # included; each flushed line holds those of its own spaces. Empty without shards.
        self.shard_histogram = list(resumed.histogram) if shards else []
        self._pending_histogram = [0] * len(SHARD_BUCKETS) if shards else []
        self._pending: dict[str, int | list[int]] = {}
        # A new journal is created by its first flush, header and counts in one
        # atomic write: a run that fails before counting anything leaves no
        # checkpoint behind.
        self._header = header

    @classmethod
    def open(cls, folder: PlanFolder, settings: CountSettings, *, restart: bool) -> Checkpoint:
        """Resume *folder*'s checkpoint, or prepare a new one (discarding the old on *restart*).

        *settings* are fingerprinted: a checkpoint made with others is refused.
        """
        folder.prepared()
        path = folder.checkpoint
        if path.is_dir():
            raise CheckpointCorrupt(f"{path} is a directory, not a checkpoint: remove or rename it")
        wanted = fingerprint(settings)
        shards = settings.count_shards
        if path.exists() and not restart:
            return cls(path, _load(path, wanted, shards=shards), shards=shards)
        if restart and path.exists():
            # Discarded now, durably, not at the first flush: a --restart run killed
            # before it saved anything must not leave the old counts to a plain re-run.
            path.unlink()
            sync_dir(path.parent)
        head: dict[str, Any] = {"distroCheckpoint": FORMAT, "fingerprint": wanted}
        if shards:
            # Outside the fingerprint, and only when set: a journal without shards
            # stays byte for byte what it was.
            head["shards"] = True
        header = orjson.dumps(head) + b"\n"
        return cls(path, Resumed(shards=shards), header, shards=shards)

    def forget_resumed(self) -> None:
        """Drop the resumed counts once the scan no longer needs them, to free their memory."""
        self.resumed = Resumed()

    def record(
        self,
        space: str,
        count: int,
        shards: int = 0,
        refs: int = 0,
        histogram: Sequence[int] | None = None,
    ) -> None:
        """Note a counted space; it reaches the disk at the next ``flush``.

        A journal of shards keeps [uploads, shards, shardsRef uploads] per space,
        and the *histogram* of its uploads by shards in the line's sum.
        """
        self._pending[space] = [count, shards, refs] if self.shards else count
        if histogram is not None and self.shards:
            for bucket, uploads in enumerate(histogram):
                self._pending_histogram[bucket] += uploads
                self.shard_histogram[bucket] += uploads

    @property
    def pending(self) -> int:
        """How many counted spaces are not on disk yet."""
        return len(self._pending)

    def flush(self) -> None:
        """Append the pending counts as one durable line. Synchronous, so it survives cancellation."""
        if not self._pending:
            return
        entry: dict[str, Any] = {"counts": self._pending}
        if self.shards:
            entry["histogram"] = self._pending_histogram
        line = orjson.dumps(entry) + b"\n"
        try:
            if self._header is not None:
                atomic_write(self.path, self._header + line)
                self._header = None
            else:
                _append(self.path, line)
        except OSError as exc:
            raise OutputError(
                f"cannot write the checkpoint {self.path} ({exc.strerror})",
                fix=Fix.CHECKPOINT_SPACE,
            ) from None
        self._pending = {}
        self._pending_histogram = [0] * len(SHARD_BUCKETS) if self.shards else []

    def remove(self) -> None:
        """Delete the checkpoint once the run it served has finished."""
        self.path.unlink(missing_ok=True)
        sync_dir(self.path.parent)


def _append(path: Path, line: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        end = os.lseek(fd, 0, os.SEEK_END)
        try:
            write_all(fd, line)
            os.fsync(fd)
        except OSError:
            # A half-written line (disk full, I/O error) must not stay in the
            # middle of the journal, where the next flush would bury it.
            os.ftruncate(fd, end)
            raise
    finally:
        os.close(fd)


def _load(path: Path, wanted: Mapping[str, Any], *, shards: bool = False) -> Resumed:
    # Line by line: at 5 million spaces the journal is some 300 MB, and reading it
    # whole (then splitting it) would cost twice that on top of the counts.
    resumed = Resumed(shards=shards)
    with path.open("rb") as journal:
        header = journal.readline()
        if not header.endswith(b"\n"):
            raise _corrupt(path, "it has no complete header")
        head = _parse(path, header, 1)
        _check_header(path, head, wanted)
        _check_shards(path, head.get("shards", False) is True, wanted=shards)
        end, number = journal.tell(), 1
        for raw in journal:
            if not raw.endswith(b"\n"):
                # An interrupted append: cut it off so the next append starts on a clean line.
                os.truncate(path, end)
                break
            number += 1
            entry = _parse(path, raw, number)
            if shards:
                _add_histogram(path, resumed.histogram, entry, number)
            for space, count in _counts(path, entry, number, shards).items():
                if isinstance(count, list):
                    resumed.set(space, *count)
                else:
                    resumed.set(space, count)
            end += len(raw)
    return resumed


def _check_header(path: Path, header: dict[str, Any], wanted: Mapping[str, Any]) -> None:
    version = header.get("distroCheckpoint")
    if (
        type(version) is not int
        or version != FORMAT
        or not isinstance(header.get("fingerprint"), dict)
    ):
        raise _corrupt(path, "its header is not a distro checkpoint header")
    if header["fingerprint"] != wanted:
        raise CheckpointMismatch(
            f"{path} was made with other tables, endpoint or filters"
            f" ({_diff(header['fingerprint'], wanted)}):"
            " run the same command as before to resume",
            fix=Fix.RESTART,
        )


def _check_shards(path: Path, found: bool, *, wanted: bool) -> None:
    """Refuse a journal whose counts lack the shards this run needs, or hold ones it does not."""
    if found == wanted:
        return
    if wanted:
        why = "it holds upload counts without shard counts, which this run needs"
    else:
        why = "it holds shard counts, which this run does not count"
    raise CheckpointMismatch(
        f"{path} was made by a run that counted other things ({why}):"
        " run the same command as before to resume",
        fix=Fix.RESTART,
    )


def _parse(path: Path, raw: bytes, number: int) -> dict[str, Any]:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise _corrupt(path, f"line {number} is not JSON") from None
    if not isinstance(value, dict):
        raise _corrupt(path, f"line {number} is not a JSON object")
    return value


def _counts(
    path: Path, entry: dict[str, Any], number: int, shards: bool = False
) -> dict[str, int | list[int]]:
    counts = entry.get("counts")
    valid = _valid_shard_count if shards else _valid_count
    if not isinstance(counts, dict) or not all(map(valid, counts.values())):
        raise _corrupt(path, f"line {number} holds no valid counts")
    return counts


def _add_histogram(path: Path, total: list[int], entry: dict[str, Any], number: int) -> None:
    histogram = entry.get("histogram")
    if (
        not isinstance(histogram, list)
        or len(histogram) != len(total)
        or not all(map(_valid_count, histogram))
    ):
        raise _corrupt(path, f"line {number} holds no valid histogram of shards")
    for bucket, uploads in enumerate(histogram):
        total[bucket] += uploads


def _valid_count(value: object) -> bool:
    return type(value) is int and value >= 0


def _valid_shard_count(value: object) -> bool:
    # [uploads, shards, uploads with shardsRef]
    return isinstance(value, list) and len(value) == 3 and all(map(_valid_count, value))


def _diff(found: Mapping[str, Any], wanted: Mapping[str, Any]) -> str:
    keys = sorted(k for k in set(found) | set(wanted) if found.get(k, _ABSENT) != wanted.get(k))
    return ", ".join(f"{k}: {_shown(found, k)} != {_shown(wanted, k)}" for k in keys)


_ABSENT = object()


def _shown(fingerprint: Mapping[str, Any], key: str) -> str:
    # Checkpoints of older versions lack keys added since (such as the endpoint).
    return repr(fingerprint[key]) if key in fingerprint else "not recorded"


def _corrupt(path: Path, why: str) -> CheckpointCorrupt:
    return CheckpointCorrupt(f"{path} cannot be read ({why})", fix=Fix.RESTART_CORRUPT)
