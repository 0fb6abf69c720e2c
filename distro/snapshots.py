"""The looks ``distro status`` keeps, so that the next look measures recent rates.

One JSON line per look in ``PlanFolder.status_snapshots``: when, and per
instance the uploads its runner's records say were done and their last
update. Appending one line is one ``write`` (O_APPEND), so two looks at once
never tear a line; a torn last line (a kill mid-write) or any line that is not
a look is skipped. The file is bounded: past ``MAX_LOOKS`` lines it is
rewritten atomically with the newest ``KEEP_LOOKS``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from distro.files import PlanFolder, atomic_write, write_all
from distro.settings import timestamp
from distro.views.status import Snapshot

MAX_LOOKS = 1_440  # a day of looks a minute apart, or four hours of --watch 10
KEEP_LOOKS = 720


def read_looks(folder: PlanFolder) -> list[Snapshot]:
    """The looks kept in *folder* for its environment, oldest first (none if unreadable)."""
    try:
        lines = folder.status_snapshots.read_bytes().splitlines()
    except OSError:
        return []
    looks = [_look(line) for line in lines]
    return sorted((look for look in looks if look is not None), key=lambda look: look.at)


def _look(line: bytes) -> Snapshot | None:
    try:
        raw = orjson.loads(line)
        instances = {
            str(name): (int(done), datetime.fromisoformat(str(last).replace("Z", "+00:00")))
            for name, (done, last) in raw["instances"].items()
        }
        return Snapshot(datetime.fromisoformat(raw["at"].replace("Z", "+00:00")), instances)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        return None


def keep_look(folder: PlanFolder, look: Snapshot, kept: Sequence[Snapshot]) -> None:
    """Add *look* to *folder*'s looks (*kept*, as read), trimming the oldest past the bound.

    A folder that cannot take it loses only the next look's recent rate: the
    status itself was already measured, so this never fails the command.
    """
    line = _line(look)
    try:
        if len(kept) + 1 > MAX_LOOKS:
            newest = [*kept[-(KEEP_LOOKS - 1) :], look]
            atomic_write(folder.status_snapshots, b"".join(map(_line, newest)))
            return
        fd = os.open(folder.status_snapshots, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line  # after a line a kill cut short: a line of its own
            write_all(fd, line)
        finally:
            os.close(fd)
    except OSError:
        return


def _line(look: Snapshot) -> bytes:
    document: dict[str, Any] = {
        "at": timestamp(look.at),
        "instances": {
            name: [done, timestamp(last)] for name, (done, last) in look.instances.items()
        },
    }
    return orjson.dumps(document) + b"\n"
