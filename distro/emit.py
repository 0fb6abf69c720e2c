"""The instance files the migration fleet reads, written as one all-or-nothing set.

A set of files cannot be renamed into place in one step, so the set is
committed through a small journal: every new file is first written and
fsynced under a staged name, then the journal naming the renames (and the
files of an older, larger plan to delete) is written atomically. Once the
journal exists the new set is decided; applying it is idempotent, and any
later run finishes an interrupted one before doing anything else. A run killed
before the journal leaves the previous set untouched.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from distro.balance import InstancePlan, Plan
from distro.files import atomic_write, ensure_output_dir, sync_dir, write_synced

JOURNAL_NAME = ".distro-commit.json"
INSTANCE_FILE = re.compile(r"instance-\d+-customers\.json")
STAGED_SUFFIX = ".staged"


def instance_file_name(instance_id: int) -> str:
    """The name the migration runner looks for on instance *instance_id*."""
    return f"instance-{instance_id}-customers.json"


def timestamp(moment: datetime | None = None) -> str:
    """ISO-8601 in UTC with milliseconds, as the runner's other files use."""
    moment = moment or datetime.now(UTC)
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def instance_document(instance: InstancePlan, created_at: str) -> dict[str, Any]:
    """The JSON object of one instance file, with exactly the runner's keys."""
    return {
        "instanceId": instance.instance_id,
        "totalCustomers": len(instance.customers),
        "estimatedUploads": instance.uploads,
        "estimatedSpaces": instance.spaces,
        "customers": [c.customer for c in instance.customers],
        "createdAt": created_at,
    }


def write_plan(directory: Path, plan: Plan, *, created_at: str) -> list[Path]:
    """Write one file per instance of *plan* into *directory*, replacing any older set."""
    ensure_output_dir(directory)
    recover(directory)
    files = {
        instance_file_name(i.instance_id): orjson.dumps(
            instance_document(i, created_at), option=orjson.OPT_INDENT_2
        )
        + b"\n"
        for i in plan.instances
    }
    for name, data in files.items():
        write_synced(directory / (name + STAGED_SUFFIX), data)
    stale = sorted(p.name for p in directory.iterdir() if INSTANCE_FILE.fullmatch(p.name))
    journal = {"rename": sorted(files), "remove": [n for n in stale if n not in files]}
    atomic_write(directory / JOURNAL_NAME, orjson.dumps(journal))
    _apply(directory, journal)
    return [directory / name for name in files]


def recover(directory: Path) -> None:
    """Finish a commit a killed run decided on, or drop the staged files of one it did not."""
    journal_path = directory / JOURNAL_NAME
    if journal_path.exists():
        _apply(directory, orjson.loads(journal_path.read_bytes()))
    for leftover in directory.glob("*" + STAGED_SUFFIX):
        leftover.unlink()


def _apply(directory: Path, journal: dict[str, list[str]]) -> None:
    for name in journal["rename"]:
        staged = directory / (name + STAGED_SUFFIX)
        if staged.exists():  # absent when an interrupted commit had already moved it
            os.replace(staged, directory / name)
    for name in journal["remove"]:
        (directory / name).unlink(missing_ok=True)
    sync_dir(directory)
    (directory / JOURNAL_NAME).unlink()
    sync_dir(directory)
