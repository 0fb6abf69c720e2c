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

from distro.files import STAGED_SUFFIX, PlanFolder
from distro.settings import ENVIRONMENTS
from distro.written import has_plan, host_problems, is_count, read_instance, read_manifest


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
    manifest, problem = read_manifest(folder)
    if manifest is None:
        return [*problems, problem]
    seen = _Seen()
    listed = [entry["name"] for entry in manifest["files"]]
    problems += _names(manifest, listed, folder)
    problems += host_problems(manifest)
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
    manifest, problem = read_manifest(folder)
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


def _names(manifest: Mapping[str, Any], listed: list[str], folder: PlanFolder) -> list[str]:
    instances = manifest["parameters"].get("instances")
    expected = (
        [folder.instance_file_name(n) for n in range(1, instances + 1)]
        if is_count(instances)
        else []
    )
    if listed != expected:
        return [
            f"{folder.manifest_name} lists {len(listed)} files for {instances} instances: "
            f"expected {', '.join(expected) or 'none'}"
        ]
    return []


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
    document, problem = read_instance(name, data)
    if document is None:
        seen.unread += 1
        return [*problems, problem]
    problems += _check_document(name, document, entry, folder)
    _record(name, document, seen)
    return problems


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
