"""The plan a folder holds, read back: its manifest, and what the runner reads of each file.

``emit`` writes a plan; this module reads one, strictly (whatever a file holds
is untrusted), for ``status``, ``replan`` and ``verify``. A folder whose files
cannot be read as a plan reads as none: ``distro verify`` says what is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from distro.emit import MANIFEST_FORMAT
from distro.files import PlanFolder


@dataclass(frozen=True, slots=True)
class PlannedInstance:
    """What one instance file of a plan assigns: its *customers* and estimated uploads."""

    instance: int
    customers: tuple[str, ...]
    estimated_uploads: int


@dataclass(frozen=True, slots=True)
class WrittenPlan:
    """The plan in a folder as its files say: each instance, and the rate it assumed."""

    instances: tuple[PlannedInstance, ...]
    workers_per_instance: int
    uploads_per_minute: float
    runners_per_host: int | None = None  # files per machine, when planned with runners per host


def read_plan(folder: PlanFolder) -> WrittenPlan | None:
    """The plan of *folder*'s environment, or None when it has none or it cannot be read.

    Only what the runner reads is trusted here (each file's ``customers`` and
    ``estimatedUploads``); ``distro verify`` says what else is wrong with it.
    """
    manifest, _ = read_manifest(folder) if folder.manifest.is_file() else (None, "")
    if manifest is None:
        return None
    instances = []
    for entry in manifest["files"]:
        path = folder.path / entry["name"]
        document, _ = (
            read_instance(entry["name"], path.read_bytes()) if path.is_file() else (None, "")
        )
        if document is None or not is_count(document.get("instanceId")):
            return None
        instances.append(
            PlannedInstance(
                document["instanceId"], tuple(document["customers"]), document["estimatedUploads"]
            )
        )
    parameters = manifest["parameters"]
    workers, rate = parameters.get("workersPerInstance"), parameters.get("uploadsPerMinute")
    if not is_count(workers) or not isinstance(rate, int | float) or host_problems(manifest):
        return None
    return WrittenPlan(tuple(instances), workers, float(rate), parameters.get("runnersPerHost"))


def has_plan(folder: PlanFolder) -> bool:
    """Whether *folder* holds a plan of its environment: its manifest or a commit of one."""
    return folder.manifest.is_file() or folder.journal.exists()


def read_manifest(folder: PlanFolder) -> tuple[dict[str, Any] | None, str]:
    name, path = folder.manifest_name, folder.manifest
    if not path.is_file():
        return (
            None,
            f"{name} is missing from {folder.path}: run distro generate for the {folder.env} "
            "environment",
        )
    try:
        manifest = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError:
        return None, f"{name} is not JSON"
    if not _is_manifest(manifest):
        return None, f"{name} is not a distro manifest (format {MANIFEST_FORMAT})"
    return manifest, ""


def _is_manifest(manifest: Any) -> bool:
    if not isinstance(manifest, dict) or manifest.get("distroManifest") != MANIFEST_FORMAT:
        return False
    sections = ("parameters", "totals", "balance")
    if not all(isinstance(manifest.get(s), dict) for s in sections):
        return False
    files = manifest.get("files")
    return isinstance(files, list) and all(
        isinstance(f, dict)
        and isinstance(f.get("name"), str)
        and isinstance(f.get("sha256"), str)
        and is_count(f.get("customers"))
        and is_count(f.get("splitSpaces"))
        for f in files
    )


def is_count(value: Any) -> bool:
    return type(value) is int and value >= 0


def host_problems(manifest: Mapping[str, Any]) -> list[str]:
    """What is wrong with the manifest's grouping of files by machine, if it has one."""
    parameters = manifest["parameters"]
    if "runnersPerHost" not in parameters:
        return []
    runners, machines = parameters["runnersPerHost"], parameters.get("machines")
    if not is_count(runners) or not runners or not is_count(machines):
        return ["the manifest's runnersPerHost and machines are not counts"]
    if machines * runners != len(manifest["files"]):
        return [
            f"the manifest groups {len(manifest['files'])} files as {machines} machines x "
            f"{runners} runners"
        ]
    return [
        f"{entry['name']}: on machine {entry.get('machine')!r}, the manifest's grouping "
        f"says {n // runners + 1}"
        for n, entry in enumerate(manifest["files"])
        if entry.get("machine") != n // runners + 1
    ]


def read_instance(name: str, data: bytes) -> tuple[dict[str, Any] | None, str]:
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None, f"{name} is not JSON"
    valid = (
        isinstance(document, dict)
        and isinstance(document.get("customers"), list)
        and all(isinstance(c, str) for c in document["customers"])
        and all(is_count(document.get(k)) for k in ("totalCustomers", "estimatedUploads"))
        and is_count(document.get("estimatedSpaces"))
        and is_count(document.get("estimatedShards", 0))
        and _is_space_assignments(document.get("spaceAssignments", {}))
    )
    if not valid:
        return None, f"{name} is not an instance file (a key is missing or of the wrong type)"
    return document, ""


def _is_space_assignments(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(spaces, list) and all(isinstance(s, str) for s in spaces)
        for spaces in value.values()
    )
