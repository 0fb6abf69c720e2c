"""The instance files the migration fleet reads, written as one all-or-nothing set.

A set of files cannot be renamed into place in one step, so the set is
committed through a small journal: every new file is first written and
fsynced under a staged name, then the journal naming the renames (and the
files of an older, larger plan to delete) is written atomically. Once the
journal exists the new set is decided; applying it is idempotent, and any
later run finishes an interrupted one before doing anything else. A run killed
before the journal leaves the previous set untouched.

The manifest, ``distribution-<env>.json``, is part of the same set: it records
what the plan was made from, its totals, and each file's SHA-256, so ``distro
verify`` can tell whether the files are still the ones written. Every name
carries the environment, as the runner's own file names do, so a staging plan
and a production plan can share a folder without touching each other.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import orjson

from distro.balance import InstancePlan, Plan
from distro.errors import OutputError
from distro.files import STAGED_SUFFIX, PlanFolder, atomic_write, sync_dir, write_synced
from distro.settings import DEFAULT_ENV, CountSettings, Throughput

MANIFEST_FORMAT = 1


@dataclass(frozen=True, slots=True)
class PlanParameters:
    """What a plan was made from, as the manifest records it."""

    settings: CountSettings
    throughput: Throughput
    split_large_customers: bool


def spaces_list(instance: InstancePlan) -> bytes:
    """One space DID per line, the spaces of *instance*'s split customers, for a shell loop.

    Today's runner skips ``spaceAssignments``; ``migrate.js --space`` migrates
    one space, so a ``while read`` loop over this file runs the split part.
    """
    spaces = [s for assigned in instance.space_assignments.values() for s in assigned]
    return "".join(f"{space}\n" for space in spaces).encode()


def instance_document(
    instance: InstancePlan,
    created_at: str,
    *,
    split: bool = False,
    env: str = DEFAULT_ENV,
    shards: bool = False,
) -> dict[str, Any]:
    """The JSON object of one instance file, with exactly the runner's keys.

    With *split* (large customers split space by space) it also has ``spaceAssignments``:
    the spaces of split customers this instance migrates, by customer. Their
    uploads and spaces are in the estimates; the customers are not in
    ``customers``. The keys are the runner's, in its order, *env* as ``environment``.
    With *shards* (counted), ``estimatedShards`` follows ``estimatedSpaces``: the
    estimates stay together, before the lists.
    """
    document: dict[str, Any] = {
        "instanceId": instance.instance_id,
        "environment": env,
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
    plan: Plan,
    files: Mapping[str, bytes],
    parameters: PlanParameters,
    created_at: str,
    folder: PlanFolder,
) -> dict[str, Any]:
    """The manifest of *plan* in *folder*, whose files hold *files* (name -> bytes)."""
    settings, tables = parameters.settings, parameters.settings.tables
    split_spaces = [len(i.split_spaces) for i in plan.instances]
    return {
        "distroManifest": MANIFEST_FORMAT,
        "environment": folder.env,
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
            **_host_parameters(plan, parameters.throughput),
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
                "name": folder.instance_file_name(i.instance_id),
                "customers": len(i.customers),
                "splitSpaces": spaces,
                "sha256": _sha256(files[folder.instance_file_name(i.instance_id)]),
                **_machine(i, parameters.throughput),
            }
            for i, spaces in zip(plan.instances, split_spaces, strict=True)
        ],
        "spaceLists": [
            {"name": name, "sha256": _sha256(files[name])}
            for name in (folder.spaces_file_name(i.instance_id) for i in plan.instances)
            if name in files
        ],
        # Which file lists each whole customer: verify names a customer a file lost.
        "assignments": dict(
            sorted(
                (c.customer, folder.instance_file_name(i.instance_id))
                for i in plan.instances
                for c in i.customers
            )
        ),
    }


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _shard_parameters(plan: Plan, parameters: PlanParameters) -> dict[str, Any]:
    """The unit balanced and the rate of shards, only when shards were counted."""
    if not plan.counted_shards:
        return {}
    rate = replace(parameters.throughput, unit="shards").per_minute
    return {"balanceBy": plan.unit, "shardsPerMinute": rate}


def _host_parameters(plan: Plan, throughput: Throughput) -> dict[str, int]:
    """The machines and the runners on each, only with --runners-per-host."""
    if throughput.runners_per_host is None:
        return {}
    machines = len(plan.instances) // throughput.per_host
    return {"machines": machines, "runnersPerHost": throughput.runners_per_host}


def _machine(instance: InstancePlan, throughput: Throughput) -> dict[str, int]:
    """The machine that runs *instance*'s file, only with --runners-per-host."""
    if throughput.runners_per_host is None:
        return {}
    return {"machine": throughput.machine_of(instance.instance_id)}


def _shard_totals(plan: Plan) -> dict[str, int]:
    """The manifest's shard totals, only when counted (a manifest without them is unchanged)."""
    if not plan.counted_shards:
        return {}
    return {
        "shards": sum(i.shards for i in plan.instances),
        "shardRefs": sum(i.shard_refs for i in plan.instances),
    }


def write_plan(
    folder: PlanFolder,
    plan: Plan,
    *,
    created_at: str,
    parameters: PlanParameters | None = None,
) -> list[Path]:
    """Write one file per instance of *plan* into *folder*, replacing its environment's older set.

    A split plan also gets, per instance, its list of split spaces
    (``PlanFolder.spaces_file_name``). Files of other environments are never touched.
    With *parameters*, the manifest is written in the same commit; without, an
    older manifest is removed with the files it described. Returns the
    instance files. An ``OSError`` (a full disk) becomes an ``OutputError``:
    before the journal, the staged files are removed and the old set stays;
    after it, the new set is decided and the next run finishes the commit.
    """
    directory = folder.prepared()
    files = _documents(plan, created_at, parameters, folder)
    try:
        recover(folder)
        journal = _stage(folder, files)
    except OSError as exc:
        if folder.journal.exists():
            raise _unfinished(folder, exc) from None
        _discard_staged(directory, files)
        raise OutputError(
            f"cannot write the instance files in {directory}/ ({_cause(exc)}): the previous "
            "files are unchanged; free some space, then run the same command again"
        ) from None
    try:
        _apply(folder, journal)
    except OSError as exc:
        raise _unfinished(folder, exc) from None
    instance_file = folder.instance_pattern
    return [directory / name for name in journal["rename"] if instance_file.fullmatch(name)]


def _documents(
    plan: Plan, created_at: str, parameters: PlanParameters | None, folder: PlanFolder
) -> dict[str, bytes]:
    """The bytes of every file of the set, by name, the manifest (if any) last."""
    files: dict[str, bytes] = {}
    for i in sorted(plan.instances, key=lambda i: folder.instance_file_name(i.instance_id)):
        document = instance_document(
            i, created_at, split=plan.split_large, env=folder.env, shards=plan.counted_shards
        )
        files[folder.instance_file_name(i.instance_id)] = _json(document)
        if plan.split_large:
            files[folder.spaces_file_name(i.instance_id)] = spaces_list(i)
    if parameters is not None:
        # Renamed last, so a reader that sees the new manifest sees the new files.
        manifest = manifest_document(plan, files, parameters, created_at, folder)
        files[folder.manifest_name] = _json(manifest)
    return files


def _stage(folder: PlanFolder, files: Mapping[str, bytes]) -> dict[str, list[str]]:
    """Write *files* under staged names, then the journal that decides the commit."""
    directory = folder.path
    for name, data in files.items():
        write_synced(directory / (name + STAGED_SUFFIX), data)
    stale = sorted(p.name for p in directory.iterdir() if folder.is_plan_file(p.name))
    journal = {"rename": list(files), "remove": [n for n in stale if n not in files]}
    atomic_write(folder.journal, orjson.dumps(journal))
    return journal


def _discard_staged(directory: Path, files: Mapping[str, bytes]) -> None:
    """Remove what a failed attempt staged, so it does not hold the space it took."""
    for name in files:
        with contextlib.suppress(OSError):
            (directory / (name + STAGED_SUFFIX)).unlink(missing_ok=True)


def _unfinished(folder: PlanFolder, exc: OSError) -> OutputError:
    return OutputError(
        f"cannot finish writing the instance files in {folder.path}/ ({_cause(exc)}): the new "
        f"set is decided in {folder.journal_name}; free some space, then run the same command "
        "again to finish it"
    )


def _cause(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _json(document: Mapping[str, Any]) -> bytes:
    return orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"


def recover(folder: PlanFolder) -> None:
    """Finish a commit a killed run decided on, or drop the staged files of one it did not.

    The journal is only ever written whole (temp file, fsync, rename), so one
    that is not what ``write_plan`` writes (torn JSON, another shape, a name that
    is not a plan file, such as ``../x``) means tampering or a damaged disk. It
    is not applied and not discarded: a half-applied commit may be behind it,
    and only a person can tell, so it is refused with ``OutputError``.
    """
    directory = folder.path
    if folder.journal.exists():
        _apply(folder, _read_journal(folder))
    # Only this environment's: another's staged files may belong to its own pending journal.
    for leftover in directory.glob("*" + STAGED_SUFFIX):
        if not folder.is_plan_file(leftover.name.removesuffix(STAGED_SUFFIX)):
            continue
        leftover.unlink()
    for leftover in directory.glob(".*.tmp-*"):  # an atomic_write that a kill cut short
        leftover.unlink()


def _read_journal(folder: PlanFolder) -> dict[str, list[str]]:
    path = folder.journal
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
            if not folder.is_plan_file(name):
                raise _damaged(path, f"{name!r} is not a plan file")
    if set(rename) & set(remove):
        raise _damaged(path, "it would remove a file it installs")
    return journal


def _damaged(path: Path, why: str) -> OutputError:
    return OutputError(
        f"{path} is damaged ({why}), so the commit it records cannot be finished safely: "
        "delete it and any *.staged file next to it, then run the same command again"
    )


def _apply(folder: PlanFolder, journal: dict[str, list[str]]) -> None:
    directory = folder.path
    for name in journal["rename"]:
        staged = directory / (name + STAGED_SUFFIX)
        if staged.exists():  # absent when an interrupted commit had already moved it
            os.replace(staged, directory / name)
    for name in journal["remove"]:
        (directory / name).unlink(missing_ok=True)
    sync_dir(directory)
    folder.journal.unlink()
    sync_dir(directory)
