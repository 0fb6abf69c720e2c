"""``distro verify``: do the instance files still match the manifest written with them?

Each check adds one line naming the file and what is wrong; an empty list
means the folder holds exactly the plan ``distro generate`` committed. It
reads only: an interrupted commit is reported, not finished (the next
``generate`` finishes it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from distro.emit import MANIFEST_FORMAT
from distro.files import STAGED_SUFFIX, PlanFolder
from distro.settings import ENVIRONMENTS


@dataclass(slots=True)
class _Seen:
    """What the instance files assign, to find anything assigned twice."""

    customers: dict[str, list[str]] = field(default_factory=dict)  # DID -> files listing it
    split: dict[str, list[str]] = field(default_factory=dict)  # DID -> files with its spaces
    spaces: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (DID, space) -> files
    listed_spaces: dict[str, list[str]] = field(default_factory=dict)  # space -> lists naming it
    uploads: list[int] = field(default_factory=list)  # estimatedUploads, per file read
    shards: list[int] = field(default_factory=list)  # estimatedShards, per file holding it
    spaces_with_uploads: int = 0
    unread: int = 0  # files missing or unreadable: the totals cannot be checked then
    read: set[str] = field(default_factory=set)  # the instance files read


@dataclass(frozen=True, slots=True)
class Verification:
    """What ``distro verify`` found: the *problems*, one line each, or the plan *described*."""

    problems: tuple[str, ...]
    described: str


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
    manifest, _ = _read_manifest(folder) if folder.manifest.is_file() else (None, "")
    if manifest is None:
        return None
    instances = []
    for entry in manifest["files"]:
        path = folder.path / entry["name"]
        document, _ = (
            _read_instance(entry["name"], path.read_bytes()) if path.is_file() else (None, "")
        )
        if document is None or not _is_count(document.get("instanceId")):
            return None
        instances.append(
            PlannedInstance(
                document["instanceId"], tuple(document["customers"]), document["estimatedUploads"]
            )
        )
    parameters = manifest["parameters"]
    workers, rate = parameters.get("workersPerInstance"), parameters.get("uploadsPerMinute")
    if not _is_count(workers) or not isinstance(rate, int | float) or _hosts(manifest):
        return None
    return WrittenPlan(tuple(instances), workers, float(rate), parameters.get("runnersPerHost"))


def has_plan(folder: PlanFolder) -> bool:
    """Whether *folder* holds a plan of its environment: its manifest or a commit of one."""
    return folder.manifest.is_file() or folder.journal.exists()


def no_plan_line(folder: PlanFolder) -> str:
    """The one line saying *folder* holds no plan of its environment, and which it does hold."""
    where = folder.path
    if not where.is_dir():
        state = "does not exist" if not where.exists() else "is not a folder"
        return f"{where} {state}, so it holds no plan: verify the folder generate wrote the plan to"
    others = [
        name for name in ENVIRONMENTS if name != folder.env and has_plan(PlanFolder(where, name))
    ]
    elsewhere = (
        f"it holds a plan for {', '.join(others)} (add --env {others[0]})"
        if others
        else "run distro generate first"
    )
    return f"{where}/ holds no {folder.env} plan ({folder.manifest_name} is missing): {elsewhere}"


def verify_plan(folder: PlanFolder) -> list[str]:
    """Every problem with the plan in *folder*, one line each; [] when all is well.

    A folder without a plan of its environment is not a set of problems: check
    ``has_plan`` first (``no_plan_line`` says so in one line).
    """
    if not has_plan(folder):
        return [no_plan_line(folder)]
    problems = _leftovers(folder)
    manifest, problem = _read_manifest(folder)
    if manifest is None:
        return [*problems, problem]
    seen = _Seen()
    listed = [entry["name"] for entry in manifest["files"]]
    problems += _names(manifest, listed, folder)
    problems += _hosts(manifest)
    problems += _strays(folder, listed)
    for entry in manifest["files"]:
        problems += _check_file(folder, entry, seen)
    problems += _duplicates(seen)
    problems += _assignments(manifest, seen)
    if not seen.unread:
        problems += _totals(manifest, seen, folder)
    if manifest["parameters"].get("splitLargeCustomers") is True:
        problems += _space_lists(folder, manifest, seen)
    return problems


def mismatch_line(folder: PlanFolder, problems: list[str]) -> str:
    """The one line closing a failed verification of the plan in *folder* with *problems*."""
    return (
        f"{len(problems)} problem(s): the files in {folder.path}/ do not match "
        f"{folder.manifest_name}"
    )


def describe_plan(folder: PlanFolder) -> str:
    """One line saying what the verified plan in *folder* holds."""
    manifest, problem = _read_manifest(folder)
    if manifest is None:
        return problem
    totals, parameters = manifest["totals"], manifest["parameters"]
    hosts = (
        f" ({parameters['machines']} machines x {parameters['runnersPerHost']} runners)"
        if "runnersPerHost" in parameters
        else ""
    )
    return (
        f"{len(manifest['files'])} instance files{hosts} in {folder.path}/ match "
        f"{folder.manifest_name}: "
        f"{totals.get('customers', 0):,} customers, {totals.get('uploads', 0):,} uploads, "
        f"every customer assigned once"
    )


def _leftovers(folder: PlanFolder) -> list[str]:
    problems = []
    if folder.journal.exists():
        problems.append(
            f"{folder.journal_name}: a commit was interrupted; run distro generate again to "
            "finish it"
        )
    for staged in sorted(folder.path.glob(f"*-{folder.env}.*" + STAGED_SUFFIX)):
        problems.append(f"{staged.name}: a staged file of an unfinished write")
    return problems


def _read_manifest(folder: PlanFolder) -> tuple[dict[str, Any] | None, str]:
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
        and _is_count(f.get("customers"))
        and _is_count(f.get("splitSpaces"))
        for f in files
    )


def _is_count(value: Any) -> bool:
    return type(value) is int and value >= 0


def _names(manifest: Mapping[str, Any], listed: list[str], folder: PlanFolder) -> list[str]:
    instances = manifest["parameters"].get("instances")
    expected = (
        [folder.instance_file_name(n) for n in range(1, instances + 1)]
        if _is_count(instances)
        else []
    )
    if listed != expected:
        return [
            f"{folder.manifest_name} lists {len(listed)} files for {instances} instances: "
            f"expected {', '.join(expected) or 'none'}"
        ]
    return []


def _hosts(manifest: Mapping[str, Any]) -> list[str]:
    """What is wrong with the manifest's grouping of files by machine, if it has one."""
    parameters = manifest["parameters"]
    if "runnersPerHost" not in parameters:
        return []
    runners, machines = parameters["runnersPerHost"], parameters.get("machines")
    if not _is_count(runners) or not runners or not _is_count(machines):
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


def _strays(folder: PlanFolder, listed: Iterable[str]) -> list[str]:
    known = set(listed)
    pattern = folder.instance_pattern
    return [
        f"{p.name} is not in {folder.manifest_name}: a stray file the fleet would read"
        for p in sorted(folder.path.iterdir())
        if pattern.fullmatch(p.name) and p.name not in known
    ]


def _check_file(folder: PlanFolder, entry: Mapping[str, Any], seen: _Seen) -> list[str]:
    name = entry["name"]
    path = folder.path / name
    if not path.is_file():
        seen.unread += 1
        return [f"{name} is missing"]
    data = path.read_bytes()
    problems = []
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        problems.append(
            f"{name}: SHA-256 differs from {folder.manifest_name}: the file was changed"
        )
    document, problem = _read_instance(name, data)
    if document is None:
        seen.unread += 1
        return [*problems, problem]
    problems += _check_document(name, document, entry, folder)
    _record(name, document, seen)
    return problems


def _read_instance(name: str, data: bytes) -> tuple[dict[str, Any] | None, str]:
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None, f"{name} is not JSON"
    valid = (
        isinstance(document, dict)
        and isinstance(document.get("customers"), list)
        and all(isinstance(c, str) for c in document["customers"])
        and all(_is_count(document.get(k)) for k in ("totalCustomers", "estimatedUploads"))
        and _is_count(document.get("estimatedSpaces"))
        and _is_count(document.get("estimatedShards", 0))
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


def _check_document(
    name: str, document: Mapping[str, Any], entry: Mapping[str, Any], folder: PlanFolder
) -> list[str]:
    problems = []
    env = folder.env
    if document.get("environment") != env:
        problems.append(f"{name}: environment is {document.get('environment')!r}, not {env!r}")
    manifest = folder.manifest_name
    number = int(name.split("-")[1])
    if document.get("instanceId") != number:
        problems.append(f"{name}: instanceId is {document.get('instanceId')!r}, not {number}")
    customers = len(document["customers"])
    if document["totalCustomers"] != customers:
        problems.append(
            f"{name}: totalCustomers is {document['totalCustomers']} but {customers} are listed"
        )
    if entry["customers"] != customers:
        problems.append(
            f"{name}: lists {customers} customers, {manifest} says {entry['customers']}"
        )
    spaces = sum(len(s) for s in document.get("spaceAssignments", {}).values())
    if entry["splitSpaces"] != spaces:
        problems.append(
            f"{name}: assigns {spaces} split spaces, {manifest} says {entry['splitSpaces']}"
        )
    return problems


def _record(name: str, document: Mapping[str, Any], seen: _Seen) -> None:
    seen.read.add(name)
    for customer in document["customers"]:
        seen.customers.setdefault(customer, []).append(name)
    for customer, spaces in document.get("spaceAssignments", {}).items():
        seen.split.setdefault(customer, []).append(name)
        for space in spaces:
            seen.spaces.setdefault((customer, space), []).append(name)
    seen.uploads.append(document["estimatedUploads"])
    seen.spaces_with_uploads += document["estimatedSpaces"]
    if "estimatedShards" in document:
        seen.shards.append(document["estimatedShards"])


def _assignments(manifest: Mapping[str, Any], seen: _Seen) -> list[str]:
    """Each customer in the file the manifest plans it in, by name (manifests that record it)."""
    planned = manifest.get("assignments")
    if not isinstance(planned, dict):
        return []  # a manifest from before distro recorded them
    problems = []
    for customer, name in planned.items():
        files = seen.customers.get(customer, [])
        if name in files:
            continue
        if files:
            problems.append(
                f"{customer} is listed in {', '.join(files)}, but the manifest plans it in {name}"
            )
        elif name in seen.read:  # an unreadable file is a problem of its own, said already
            problems.append(f"{customer} is missing from {name}: the manifest plans it there")
    problems += [
        f"{files[0]} lists {customer}, which the manifest does not plan"
        for customer, files in sorted(seen.customers.items())
        # A split customer listed whole is said by _duplicates.
        if customer not in planned and customer not in seen.split
    ]
    return problems


def _duplicates(seen: _Seen) -> list[str]:
    problems = [
        f"{customer} is assigned {len(files)} times ({', '.join(files)})"
        for customer, files in sorted(seen.customers.items())
        if len(files) > 1
    ]
    problems += [
        f"{customer} is listed whole ({', '.join(seen.customers[customer])}) and split"
        f" ({', '.join(files)})"
        for customer, files in sorted(seen.split.items())
        if customer in seen.customers
    ]
    problems += [
        f"space {space} of {customer} is assigned {len(files)} times ({', '.join(files)})"
        for (customer, space), files in sorted(seen.spaces.items())
        if len(files) > 1
    ]
    return problems


def _totals(manifest: Mapping[str, Any], seen: _Seen, folder: PlanFolder) -> list[str]:
    totals, balance = manifest["totals"], manifest["balance"]
    # The makespan is in the unit the plan balanced: uploads, or (--balance-by shards) shards.
    by_shards = manifest["parameters"].get("balanceBy") == "shards"
    found = {
        ("totals", "customers"): len(seen.customers.keys() | seen.split.keys()),
        ("totals", "uploads"): sum(seen.uploads),
        ("totals", "spaces"): seen.spaces_with_uploads,
        ("totals", "splitCustomers"): len(seen.split),
        ("totals", "splitSpaces"): len(seen.spaces),
        ("balance", "makespan"): max(seen.shards if by_shards else seen.uploads, default=0),
    }
    if "shards" in totals:  # only a plan made with shards counted has them
        found["totals", "shards"] = sum(seen.shards)
    sections = {"totals": totals, "balance": balance}
    return [
        f"{section}.{key}: {folder.manifest_name} says {sections[section].get(key)!r}, "
        f"the files add up to {value}"
        for (section, key), value in found.items()
        if sections[section].get(key) != value
    ]


def _space_lists(folder: PlanFolder, manifest: Mapping[str, Any], seen: _Seen) -> list[str]:
    """Each split space in exactly one instance's list, the one whose file assigns it.

    Today's runner migrates split customers only through these lists, so a
    space missing from every list would never be migrated.
    """
    problems: list[str] = []
    sealed = {
        e.get("name"): e.get("sha256")
        for e in manifest.get("spaceLists", [])
        if isinstance(e, dict)
    }
    for number in range(1, len(manifest["files"]) + 1):
        name = folder.spaces_file_name(number)
        path = folder.path / name
        if not path.is_file():
            problems.append(
                f"{name} is missing: the split spaces of instance {number} would not run"
            )
            continue
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != sealed.get(name):
            problems.append(
                f"{name}: SHA-256 differs from {folder.manifest_name}: the file was changed"
            )
        for space in data.decode("utf-8", "replace").split():
            seen.listed_spaces.setdefault(space, []).append(name)
    pattern = folder.spaces_pattern
    problems += [
        f"{p.name} is not in {folder.manifest_name}: a stray list of spaces"
        for p in sorted(folder.path.iterdir())
        if pattern.fullmatch(p.name) and p.name not in sealed
    ]
    return problems + _listed_once(seen)


def _listed_once(seen: _Seen) -> list[str]:
    problems = []
    for (customer, space), files in sorted(seen.spaces.items()):
        lists = seen.listed_spaces.get(space, [])
        expected = [
            name.replace("-customers-", "-spaces-").replace(".json", ".txt") for name in files
        ]
        if not lists:
            problems.append(f"space {space} of {customer} is in no instance's list of spaces")
        elif len(lists) > 1:
            problems.append(
                f"space {space} of {customer} is in {len(lists)} lists of spaces ({', '.join(lists)})"
            )
        elif lists != expected[:1]:
            problems.append(
                f"space {space} of {customer} is in {lists[0]}, but {files[0]} assigns it"
            )
    split_spaces = {space for _, space in seen.spaces}
    problems += [
        f"space {space} is in {', '.join(lists)} but no instance file assigns it"
        for space, lists in sorted(seen.listed_spaces.items())
        if space not in split_spaces
    ]
    return problems
