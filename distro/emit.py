"""The instance files the migration fleet reads, written as one all-or-nothing set.

A set of files cannot be renamed into place in one step, so the set is
committed through a small journal: every new file is first written and
fsynced under a staged name, then the journal naming the renames (and the
files of an older, larger plan to delete) is written atomically. Once the
journal exists the new set is decided; applying it is idempotent, and any
later run finishes an interrupted one before doing anything else. A run killed
before the journal leaves the previous set untouched.

The manifest, ``distribution.json``, is part of the same set: it records what
the plan was made from, its totals, and each instance file's SHA-256, so
``distro verify`` can tell whether the files are still the ones written.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import orjson

from distro.balance import InstancePlan, Plan
from distro.errors import OutputError
from distro.files import Folder, atomic_write, prepared, sync_dir, write_synced
from distro.settings import CountSettings, Throughput

JOURNAL_NAME = ".distro-commit.json"
INSTANCE_FILE = re.compile(r"instance-\d+-customers\.json")
STAGED_SUFFIX = ".staged"
MANIFEST_NAME = "distribution.json"
MANIFEST_FORMAT = 1


@dataclass(frozen=True, slots=True)
class PlanParameters:
    """What a plan was made from, as the manifest records it."""

    settings: CountSettings
    throughput: Throughput
    split_large_customers: bool


def instance_files_in(directory: Path) -> list[Path]:
    """The instance files a plan left in *directory* (none if it is not a folder)."""
    if not directory.is_dir():
        return []
    return [p for p in directory.iterdir() if INSTANCE_FILE.fullmatch(p.name)]


def instance_file_name(instance_id: int) -> str:
    """The name the migration runner looks for on instance *instance_id*."""
    return f"instance-{instance_id}-customers.json"


def instance_document(
    instance: InstancePlan, created_at: str, *, split: bool = False, shards: bool = False
) -> dict[str, Any]:
    """The JSON object of one instance file, with exactly the runner's keys.

    With *split* (large customers split space by space) it also has ``spaceAssignments``:
    the spaces of split customers this instance migrates, by customer. Their
    uploads and spaces are in the estimates; the customers are not in
    ``customers``. With *shards* (counted), ``estimatedShards`` follows
    ``estimatedSpaces``: the estimates stay together, before the lists.
    """
    document: dict[str, Any] = {
        "instanceId": instance.instance_id,
        "totalCustomers": len(instance.customers),
        "estimatedUploads": instance.uploads,
        "estimatedSpaces": instance.spaces,
    }
    if shards:
        document["estimatedShards"] = instance.shards
    document["customers"] = [c.customer for c in instance.customers]
    if split:
        document["spaceAssignments"] = instance.space_assignments
    document["createdAt"] = created_at
    return document


def manifest_document(
    plan: Plan, files: Mapping[str, bytes], parameters: PlanParameters, created_at: str
) -> dict[str, Any]:
    """The manifest of *plan*, whose instance files hold *files* (name -> bytes)."""
    settings, tables = parameters.settings, parameters.settings.tables
    split_spaces = [len(i.split_spaces) for i in plan.instances]
    return {
        "distroManifest": MANIFEST_FORMAT,
        "createdAt": created_at,
        "parameters": {
            "instances": len(plan.instances),
            "workersPerInstance": parameters.throughput.workers_per_instance,
            "uploadsPerMinute": parameters.throughput.uploads_per_minute,
            "minUploads": settings.min_uploads,
            "filter": list(settings.customer_filter.include),
            "skip": list(settings.customer_filter.skip),
            "splitLargeCustomers": parameters.split_large_customers,
            **_shard_parameters(plan, parameters),
        },
        "tables": {"consumer": tables.consumer, "upload": tables.upload, "region": tables.region},
        "totals": {
            "customers": sum(len(i.customers) for i in plan.instances) + len(plan.split_customers),
            "uploads": plan.total_uploads,
            "spaces": sum(i.spaces for i in plan.instances),
            "splitCustomers": len(plan.split_customers),
            "splitSpaces": sum(split_spaces),
            **_shard_totals(plan),
        },
        "balance": {"lowerBound": plan.lower_bound, "makespan": plan.makespan},
        "files": [
            {
                "name": instance_file_name(i.instance_id),
                "customers": len(i.customers),
                "splitSpaces": spaces,
                "sha256": hashlib.sha256(files[instance_file_name(i.instance_id)]).hexdigest(),
            }
            for i, spaces in zip(plan.instances, split_spaces, strict=True)
        ],
    }


def _shard_parameters(plan: Plan, parameters: PlanParameters) -> dict[str, Any]:
    """The unit balanced and the rate of shards, only when shards were counted."""
    if not plan.counted_shards:
        return {}
    rate = replace(parameters.throughput, unit="shards").per_minute
    return {"balanceBy": plan.unit, "shardsPerMinute": rate}


def _shard_totals(plan: Plan) -> dict[str, int]:
    """The manifest's shard totals, only when counted (a manifest without them is unchanged)."""
    if not plan.counted_shards:
        return {}
    return {
        "shards": sum(i.shards for i in plan.instances),
        "shardRefs": sum(i.shard_refs for i in plan.instances),
    }


def write_plan(
    folder: Path | Folder,
    plan: Plan,
    *,
    created_at: str,
    parameters: PlanParameters | None = None,
) -> list[Path]:
    """Write one file per instance of *plan* into *folder*, replacing any older set.

    With *parameters*, the manifest is written in the same commit; without, an
    older manifest is removed with the files it described. Returns the
    instance files. An ``OSError`` (a full disk) becomes an ``OutputError``:
    before the journal, the staged files are removed and the old set stays;
    after it, the new set is decided and the next run finishes the commit.
    """
    directory = prepared(folder)
    files = _documents(plan, created_at, parameters)
    try:
        recover(directory)
        journal = _stage(directory, files)
    except OSError as exc:
        if (directory / JOURNAL_NAME).exists():
            raise _unfinished(directory, exc) from None
        _discard_staged(directory, files)
        raise OutputError(
            f"cannot write the instance files in {directory}/ ({_cause(exc)}): the previous "
            "files are unchanged; free some space, then run the same command again"
        ) from None
    try:
        _apply(directory, journal)
    except OSError as exc:
        raise _unfinished(directory, exc) from None
    return [directory / name for name in journal["rename"] if name != MANIFEST_NAME]


def _documents(plan: Plan, created_at: str, parameters: PlanParameters | None) -> dict[str, bytes]:
    """The bytes of every file of the set, by name, the manifest (if any) last."""
    files = {
        instance_file_name(i.instance_id): _json(
            instance_document(i, created_at, split=plan.split_large, shards=plan.counted_shards)
        )
        for i in sorted(plan.instances, key=lambda i: instance_file_name(i.instance_id))
    }
    if parameters is not None:
        # Renamed last, so a reader that sees the new manifest sees the new files.
        files[MANIFEST_NAME] = _json(manifest_document(plan, files, parameters, created_at))
    return files


def _stage(directory: Path, files: Mapping[str, bytes]) -> dict[str, list[str]]:
    """Write *files* under staged names, then the journal that decides the commit."""
    for name, data in files.items():
        write_synced(directory / (name + STAGED_SUFFIX), data)
    stale = sorted(p.name for p in directory.iterdir() if _is_plan_file(p.name))
    journal = {"rename": list(files), "remove": [n for n in stale if n not in files]}
    atomic_write(directory / JOURNAL_NAME, orjson.dumps(journal))
    return journal


def _discard_staged(directory: Path, files: Mapping[str, bytes]) -> None:
    """Remove what a failed attempt staged, so it does not hold the space it took."""
    for name in files:
        with contextlib.suppress(OSError):
            (directory / (name + STAGED_SUFFIX)).unlink(missing_ok=True)


def _unfinished(directory: Path, exc: OSError) -> OutputError:
    return OutputError(
        f"cannot finish writing the instance files in {directory}/ ({_cause(exc)}): the new "
        f"set is decided in {JOURNAL_NAME}; free some space, then run the same command again "
        "to finish it"
    )


def _cause(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _json(document: Mapping[str, Any]) -> bytes:
    return orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"


def _is_plan_file(name: str) -> bool:
    return name == MANIFEST_NAME or INSTANCE_FILE.fullmatch(name) is not None


def recover(directory: Path) -> None:
    """Finish a commit a killed run decided on, or drop the staged files of one it did not.

    The journal is only ever written whole (temp file, fsync, rename), so one
    that is not what ``write_plan`` writes (torn JSON, another shape, a name that
    is not a plan file, such as ``../x``) means tampering or a damaged disk. It
    is not applied and not discarded: a half-applied commit may be behind it,
    and only a person can tell, so it is refused with ``OutputError``.
    """
    journal_path = directory / JOURNAL_NAME
    if journal_path.exists():
        _apply(directory, _read_journal(journal_path))
    for leftover in directory.glob("*" + STAGED_SUFFIX):
        leftover.unlink()
    for leftover in directory.glob(".*.tmp-*"):  # an atomic_write that a kill cut short
        leftover.unlink()


def _read_journal(path: Path) -> dict[str, list[str]]:
    try:
        journal = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError:
        raise _damaged(path, "not JSON") from None
    if not isinstance(journal, dict) or sorted(journal) != ["remove", "rename"]:
        raise _damaged(path, "not a commit journal")
    rename, remove = journal["rename"], journal["remove"]
    for names in (rename, remove):
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise _damaged(path, "not a commit journal")
        for name in names:
            if not _is_plan_file(name):
                raise _damaged(path, f"{name!r} is not a plan file")
    if set(rename) & set(remove):
        raise _damaged(path, "it would remove a file it installs")
    return journal


def _damaged(path: Path, why: str) -> OutputError:
    return OutputError(
        f"{path} is damaged ({why}), so the commit it records cannot be finished safely: "
        "delete it and any *.staged file next to it, then run the same command again"
    )


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
