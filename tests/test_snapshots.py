"""The looks status keeps: a torn or foreign line is skipped, the file stays bounded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from distro import snapshots
from distro.files import PlanFolder
from distro.views.status import Snapshot

AT = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def look(minutes: int) -> Snapshot:
    return Snapshot(AT + timedelta(minutes=minutes), {"1": (minutes * 10, AT)})


def test_a_torn_or_foreign_line_is_skipped(tmp_path: Path) -> None:
    folder = PlanFolder(tmp_path)
    snapshots.keep_look(folder, look(0), [])
    snapshots.keep_look(folder, look(1), [look(0)])
    with folder.status_snapshots.open("ab") as file:
        file.write(b'{"at": "not a time"}\n[1, 2]\n{"at": "2026-12-04T12:02:00.000Z", "instan')
    assert snapshots.read_looks(folder) == [look(0), look(1)]
    snapshots.keep_look(folder, look(3), [look(0), look(1)])  # after the torn line: its own
    assert snapshots.read_looks(folder) == [look(0), look(1), look(3)]


def test_the_looks_stay_bounded(tmp_path: Path) -> None:
    folder = PlanFolder(tmp_path)
    kept: list[Snapshot] = []
    near = snapshots.MAX_LOOKS - 2
    for minute in range(near):  # appended one by one, as the looks before would have
        snapshots.keep_look(folder, look(minute), kept)
        kept.append(look(minute))
    assert snapshots.read_looks(folder) == kept
    for minute in range(near, snapshots.MAX_LOOKS + 5):  # across the bound, read back each time
        snapshots.keep_look(folder, look(minute), kept)
        kept = snapshots.read_looks(folder)
        assert len(kept) <= snapshots.MAX_LOOKS
    assert kept[-1] == look(snapshots.MAX_LOOKS + 4)
    assert len(kept) < snapshots.MAX_LOOKS


def test_a_folder_that_cannot_take_a_look_fails_nothing(tmp_path: Path) -> None:
    missing = PlanFolder(tmp_path / "gone")
    snapshots.keep_look(missing, look(0), [])  # no folder: the look is lost, nothing raised
    assert snapshots.read_looks(missing) == []
