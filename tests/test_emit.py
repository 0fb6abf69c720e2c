"""The instance files: exact documents, an all-or-nothing set, recovery after a crash."""

from __future__ import annotations

import errno
import hashlib
import os
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
from helpers import (
    JOURNAL_NAME,
    MANIFEST_NAME,
    RUNNER_KEYS,
    STAGED_SUFFIX,
    instance_file_name,
    spaces_of,
)

from distro import emit
from distro.balance import CustomerLoad, InstancePlan, Plan, balance
from distro.emit import PlanParameters, instance_document, manifest_document, recover, write_plan
from distro.errors import OutputError
from distro.files import PlanFolder, atomic_write
from distro.flags import with_flags
from distro.settings import CountSettings, CustomerFilter, Tables, Throughput, timestamp

CREATED = "2026-11-29T16:00:00.000Z"
LATER = "2026-11-30T09:15:42.123Z"

CUSTOMERS = [
    CustomerLoad("did:mailto:example.org:alice", 7_000_000, 50_000),
    CustomerLoad("did:mailto:gmail.com:bob", 405_764, 1_357),
    CustomerLoad("did:mailto:a.org:carol", 3_000_000, 20),
    CustomerLoad("did:mailto:b.org:dave", 2_500_000, 10),
    CustomerLoad("did:mailto:c.org:erin", 1_000, 1),
]


def names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def documents(directory: Path) -> dict[str, dict[str, object]]:
    return {
        p.name: orjson.loads(p.read_bytes())
        for p in sorted(directory.iterdir())
        if re.fullmatch(r"instance-\d+-customers-staging\.json", p.name)
    }


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_instance_file_name() -> None:
    assert instance_file_name(1) == "instance-1-customers-staging.json"
    assert instance_file_name(12) == "instance-12-customers-staging.json"


def test_instance_document_has_exactly_the_runner_keys() -> None:
    instance = InstancePlan(
        1,
        (
            CustomerLoad("did:mailto:example.org:alice", 7_000_000, 50_000),
            CustomerLoad("did:mailto:gmail.com:bob", 405_764, 1_357),
        ),
    )
    document = instance_document(instance, CREATED)
    assert list(document) == RUNNER_KEYS
    assert document == {
        "instanceId": 1,
        "environment": "staging",
        "totalCustomers": 2,
        "estimatedUploads": 7_405_764,
        "estimatedSpaces": 51_357,
        "customers": ["did:mailto:example.org:alice", "did:mailto:gmail.com:bob"],
        "createdAt": CREATED,
    }


def test_instance_document_of_an_empty_instance() -> None:
    assert instance_document(InstancePlan(4, ()), CREATED) == {
        "instanceId": 4,
        "environment": "staging",
        "totalCustomers": 0,
        "estimatedUploads": 0,
        "estimatedSpaces": 0,
        "customers": [],
        "createdAt": CREATED,
    }


def test_write_plan_writes_one_file_per_instance(tmp_path: Path) -> None:
    # order: alice 7M, carol 3M, dave 2.5M, bob 405764, erin 1000
    # alice -> 1; carol -> 2; dave -> 3; bob -> 3 (2,905,764); erin -> 3 (2,906,764)
    plan = balance(CUSTOMERS, 3)
    written = write_plan(PlanFolder(tmp_path), plan, created_at=CREATED)
    assert written == [tmp_path / instance_file_name(n) for n in (1, 2, 3)]
    assert names(tmp_path) == [instance_file_name(n) for n in (1, 2, 3)]
    assert documents(tmp_path) == {
        "instance-1-customers-staging.json": {
            "instanceId": 1,
            "environment": "staging",
            "totalCustomers": 1,
            "estimatedUploads": 7_000_000,
            "estimatedSpaces": 50_000,
            "customers": ["did:mailto:example.org:alice"],
            "createdAt": CREATED,
        },
        "instance-2-customers-staging.json": {
            "instanceId": 2,
            "environment": "staging",
            "totalCustomers": 1,
            "estimatedUploads": 3_000_000,
            "estimatedSpaces": 20,
            "customers": ["did:mailto:a.org:carol"],
            "createdAt": CREATED,
        },
        "instance-3-customers-staging.json": {
            "instanceId": 3,
            "environment": "staging",
            "totalCustomers": 3,
            "estimatedUploads": 2_906_764,
            "estimatedSpaces": 1_368,
            "customers": [
                "did:mailto:b.org:dave",
                "did:mailto:gmail.com:bob",
                "did:mailto:c.org:erin",
            ],
            "createdAt": CREATED,
        },
    }


def test_the_file_bytes_are_indented_json_with_a_final_newline(tmp_path: Path) -> None:
    plan = Plan((InstancePlan(1, (CustomerLoad("did:a", 2, 1),)),), 2, None)
    write_plan(PlanFolder(tmp_path), plan, created_at=CREATED)
    assert (tmp_path / "instance-1-customers-staging.json").read_bytes() == (
        b"{\n"
        b'  "instanceId": 1,\n'
        b'  "environment": "staging",\n'
        b'  "totalCustomers": 1,\n'
        b'  "estimatedUploads": 2,\n'
        b'  "estimatedSpaces": 1,\n'
        b'  "customers": [\n'
        b'    "did:a"\n'
        b"  ],\n"
        b'  "createdAt": "2026-11-29T16:00:00.000Z"\n'
        b"}\n"
    )


def test_a_smaller_plan_removes_the_stale_files_of_a_larger_one(tmp_path: Path) -> None:
    (tmp_path / "counting-checkpoint-staging.json").write_bytes(b"keep me\n")
    (tmp_path / "notes.txt").write_bytes(b"keep me too\n")
    write_plan(PlanFolder(tmp_path), balance(CUSTOMERS, 5), created_at=CREATED)
    assert names(tmp_path) == [
        "counting-checkpoint-staging.json",
        *(instance_file_name(n) for n in (1, 2, 3, 4, 5)),
        "notes.txt",
    ]
    write_plan(PlanFolder(tmp_path), balance(CUSTOMERS, 3), created_at=LATER)
    assert names(tmp_path) == [
        "counting-checkpoint-staging.json",
        *(instance_file_name(n) for n in (1, 2, 3)),
        "notes.txt",
    ]
    assert {d["instanceId"] for d in documents(tmp_path).values()} == {1, 2, 3}
    assert {d["createdAt"] for d in documents(tmp_path).values()} == {LATER}
    assert (tmp_path / "counting-checkpoint-staging.json").read_bytes() == b"keep me\n"
    assert (tmp_path / "notes.txt").read_bytes() == b"keep me too\n"


def test_a_larger_plan_replaces_a_smaller_one(tmp_path: Path) -> None:
    write_plan(PlanFolder(tmp_path), balance(CUSTOMERS, 2), created_at=CREATED)
    write_plan(PlanFolder(tmp_path), balance(CUSTOMERS, 4), created_at=LATER)
    assert names(tmp_path) == [instance_file_name(n) for n in (1, 2, 3, 4)]
    assert [d["totalCustomers"] for d in documents(tmp_path).values()] == [1, 1, 1, 2]


def test_the_same_plan_gives_the_same_bytes_apart_from_created_at(tmp_path: Path) -> None:
    first, second, third = tmp_path / "1", tmp_path / "2", tmp_path / "3"
    write_plan(PlanFolder(first), balance(CUSTOMERS, 3), created_at=CREATED)
    write_plan(PlanFolder(second), balance(reversed(CUSTOMERS), 3), created_at=CREATED)
    write_plan(PlanFolder(third), balance(CUSTOMERS, 3), created_at=LATER)
    assert snapshot(first) == snapshot(second)
    later = snapshot(third)
    assert later != snapshot(first)
    assert {
        name: data.replace(LATER.encode(), CREATED.encode()) for name, data in later.items()
    } == snapshot(first)


def test_rewriting_in_place_gives_the_same_bytes(tmp_path: Path) -> None:
    write_plan(PlanFolder(tmp_path), balance(CUSTOMERS, 3), created_at=CREATED)
    before = snapshot(tmp_path)
    write_plan(PlanFolder(tmp_path), balance(CUSTOMERS, 3), created_at=CREATED)
    assert snapshot(tmp_path) == before


def test_an_output_directory_that_is_a_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "state"
    target.write_bytes(b"x")
    with pytest.raises(OutputError, match=r"is a file$") as caught:
        write_plan(PlanFolder(target), balance(CUSTOMERS, 2), created_at=CREATED)
    assert with_flags(caught.value).endswith("is a file: pass another --output-dir")


def test_the_output_directory_is_created(tmp_path: Path) -> None:
    directory = tmp_path / "deep" / "migration-state"
    write_plan(PlanFolder(directory), balance(CUSTOMERS, 2), created_at=CREATED)
    assert names(directory) == [instance_file_name(1), instance_file_name(2)]


# --- crashes -------------------------------------------------------------------------------


def unfinished_message(directory: Path, cause: str) -> str:
    return (
        f"cannot finish writing the instance files in {directory}/ ({cause}): the new set is "
        f"decided in {JOURNAL_NAME}; free some space, then run the same command again to finish it"
    )


def staged_bytes(instance: InstancePlan, created_at: str) -> bytes:
    return orjson.dumps(instance_document(instance, created_at), option=orjson.OPT_INDENT_2) + b"\n"


def test_a_crash_before_the_journal_leaves_the_old_set(tmp_path: Path) -> None:
    write_plan(PlanFolder(tmp_path), balance(CUSTOMERS, 5), created_at=CREATED)
    old = snapshot(tmp_path)
    for instance in balance(CUSTOMERS, 3).instances:
        name = instance_file_name(instance.instance_id) + STAGED_SUFFIX
        (tmp_path / name).write_bytes(staged_bytes(instance, LATER))

    recover(PlanFolder(tmp_path))

    assert snapshot(tmp_path) == old


def test_a_crash_after_the_journal_finishes_the_new_set(tmp_path: Path) -> None:
    write_plan(PlanFolder(tmp_path), balance(CUSTOMERS, 5), created_at=CREATED)
    new_plan = balance(CUSTOMERS, 3)
    new = {instance_file_name(i.instance_id): staged_bytes(i, LATER) for i in new_plan.instances}
    # instance 1 was already renamed when the run died; 2 and 3 are still staged
    (tmp_path / "instance-1-customers-staging.json").write_bytes(
        new["instance-1-customers-staging.json"]
    )
    for name in ("instance-2-customers-staging.json", "instance-3-customers-staging.json"):
        (tmp_path / (name + STAGED_SUFFIX)).write_bytes(new[name])
    journal = {
        "rename": sorted(new),
        "remove": ["instance-4-customers-staging.json", "instance-5-customers-staging.json"],
    }
    (tmp_path / JOURNAL_NAME).write_bytes(orjson.dumps(journal))

    recover(PlanFolder(tmp_path))

    assert snapshot(tmp_path) == new


def test_a_crash_after_the_first_rename_is_finished_by_recover(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_plan(PlanFolder(tmp_path), balance(CUSTOMERS, 5), created_at=CREATED)
    old = snapshot(tmp_path)
    real_replace = os.replace
    renames: list[str] = []

    def dying_replace(source: os.PathLike[str], target: os.PathLike[str]) -> None:
        if str(source).endswith(STAGED_SUFFIX):
            if renames:
                raise OSError("killed")
            renames.append(Path(target).name)
        real_replace(source, target)

    monkeypatch.setattr("distro.emit.os.replace", dying_replace)
    with pytest.raises(OutputError) as failed:
        write_plan(PlanFolder(tmp_path), balance(CUSTOMERS, 3), created_at=LATER)
    monkeypatch.undo()
    assert str(failed.value) == unfinished_message(tmp_path, "killed")

    # the state a killed run leaves: journal decided, one file moved, the rest staged
    assert renames == ["instance-1-customers-staging.json"]
    assert names(tmp_path) == [
        JOURNAL_NAME,
        "instance-1-customers-staging.json",
        "instance-2-customers-staging.json",
        "instance-2-customers-staging.json.staged",
        "instance-3-customers-staging.json",
        "instance-3-customers-staging.json.staged",
        "instance-4-customers-staging.json",
        "instance-5-customers-staging.json",
    ]
    assert (tmp_path / "instance-2-customers-staging.json").read_bytes() == old[
        "instance-2-customers-staging.json"
    ]

    recover(PlanFolder(tmp_path))

    expected = tmp_path.parent / "expected"
    write_plan(PlanFolder(expected), balance(CUSTOMERS, 3), created_at=LATER)
    assert snapshot(tmp_path) == snapshot(expected)
    assert names(tmp_path) == [instance_file_name(n) for n in (1, 2, 3)]


def test_the_next_write_finishes_an_interrupted_commit_first(tmp_path: Path) -> None:
    write_plan(PlanFolder(tmp_path), balance(CUSTOMERS, 5), created_at=CREATED)
    (tmp_path / ("instance-1-customers-staging.json" + STAGED_SUFFIX)).write_bytes(b"{}\n")
    journal = {
        "rename": ["instance-1-customers-staging.json"],
        "remove": ["instance-5-customers-staging.json"],
    }
    (tmp_path / JOURNAL_NAME).write_bytes(orjson.dumps(journal))

    write_plan(PlanFolder(tmp_path), balance(CUSTOMERS, 2), created_at=LATER)

    assert names(tmp_path) == [instance_file_name(1), instance_file_name(2)]
    assert {d["createdAt"] for d in documents(tmp_path).values()} == {LATER}


def test_recover_in_a_clean_directory_changes_nothing(tmp_path: Path) -> None:
    write_plan(PlanFolder(tmp_path), balance(CUSTOMERS, 2), created_at=CREATED)
    before = snapshot(tmp_path)
    recover(PlanFolder(tmp_path))
    assert snapshot(tmp_path) == before


# --- a full disk ----------------------------------------------------------------------------

NO_SPACE = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def unchanged_message(directory: Path) -> str:
    return (
        f"cannot write the instance files in {directory}/ (No space left on device): the previous "
        "files are unchanged; free some space, then run the same command again"
    )


def fail_at_call(monkeypatch: pytest.MonkeyPatch, function: str, failing: int) -> list[int]:
    """Make ``os.<function>`` raise ENOSPC at its *failing*-th call; returns the call counter."""
    real = getattr(os, function)
    calls = [0]

    def failing_call(*args: Any) -> Any:
        calls[0] += 1
        if calls[0] == failing:
            raise NO_SPACE
        return real(*args)

    monkeypatch.setattr(f"distro.files.os.{function}", failing_call)
    return calls


# Three staged files and the journal: one os.write each, all before the commit is decided.
@pytest.mark.parametrize("failing", [1, 2, 3, 4])
def test_a_full_disk_before_the_journal_keeps_the_old_set_and_no_staged_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: int
) -> None:
    write_plan(
        PlanFolder(tmp_path), balance(CUSTOMERS, 5), created_at=CREATED, parameters=PARAMETERS
    )
    old = snapshot(tmp_path)
    calls = fail_at_call(monkeypatch, "write", failing)
    with pytest.raises(OutputError) as failed:
        write_plan(
            PlanFolder(tmp_path), balance(CUSTOMERS, 2), created_at=LATER, parameters=PARAMETERS
        )
    monkeypatch.undo()
    assert calls[0] == failing  # nothing written after the failure
    assert str(failed.value) == unchanged_message(tmp_path)
    assert snapshot(tmp_path) == old  # no staged file, no temp file, no journal


def test_a_full_disk_at_the_journal_rename_keeps_the_old_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_plan(PlanFolder(tmp_path), balance(CUSTOMERS, 5), created_at=CREATED)
    old = snapshot(tmp_path)
    fail_at_call(monkeypatch, "replace", 1)  # the journal's rename is the first
    with pytest.raises(OutputError) as failed:
        write_plan(PlanFolder(tmp_path), balance(CUSTOMERS, 3), created_at=LATER)
    monkeypatch.undo()
    assert str(failed.value) == unchanged_message(tmp_path)
    assert snapshot(tmp_path) == old


def test_a_failed_rename_after_the_journal_is_one_error_and_the_next_write_finishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_plan(PlanFolder(tmp_path), balance(CUSTOMERS, 5), created_at=CREATED)
    real_replace = os.replace
    moved: list[str] = []

    def failing_replace(source: os.PathLike[str], target: os.PathLike[str]) -> None:
        if str(source).endswith(STAGED_SUFFIX) and moved:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        moved.append(Path(target).name)
        real_replace(source, target)

    monkeypatch.setattr("distro.emit.os.replace", failing_replace)
    with pytest.raises(OutputError) as failed:
        write_plan(PlanFolder(tmp_path), balance(CUSTOMERS, 3), created_at=LATER)
    monkeypatch.undo()
    assert str(failed.value) == unfinished_message(tmp_path, "Input/output error")
    assert (tmp_path / JOURNAL_NAME).exists()  # decided: the staged files are kept for it

    write_plan(PlanFolder(tmp_path), balance(CUSTOMERS, 3), created_at=LATER)
    expected = tmp_path.parent / "expected"
    write_plan(PlanFolder(expected), balance(CUSTOMERS, 3), created_at=LATER)
    assert snapshot(tmp_path) == snapshot(expected)


def test_a_partial_atomic_write_is_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fail_at_call(monkeypatch, "fsync", 1)  # the data went out, then the disk failed
    with pytest.raises(OSError, match="No space left on device"):
        atomic_write(tmp_path / "state.json", b"{}")
    monkeypatch.undo()
    assert names(tmp_path) == []


# --- a damaged journal -----------------------------------------------------------------------

DAMAGED = [
    (b'{"rename": ["instance-1-customers-staging.json"], "remo', "not JSON"),
    (b"[]", "not a commit journal"),
    (b'{"rename": ["instance-1-customers-staging.json"]}', "not a commit journal"),
    (b'{"rename": "instance-1-customers-staging.json", "remove": []}', "not a commit journal"),
    (b'{"rename": [1], "remove": []}', "not a commit journal"),
    (b'{"rename": ["../victim"], "remove": []}', "'../victim' is not a plan file"),
    (b'{"rename": [], "remove": ["../victim"]}', "'../victim' is not a plan file"),
    (b'{"rename": ["notes.txt"], "remove": []}', "'notes.txt' is not a plan file"),
    (
        b'{"rename": ["instance-1-customers-staging.json"], "remove": ["instance-1-customers-staging.json"]}',
        "it would remove a file it installs",
    ),
]


def damaged_message(directory: Path, why: str) -> str:
    return (
        f"{directory / JOURNAL_NAME} is damaged ({why}), so the commit it records cannot be "
        "finished safely: delete it and any *.staged file next to it, then run the same command "
        "again"
    )


@pytest.mark.parametrize(("journal", "why"), DAMAGED)
def test_a_damaged_journal_is_refused_and_nothing_is_touched(
    tmp_path: Path, journal: bytes, why: str
) -> None:
    folder = tmp_path / "state"
    write_plan(PlanFolder(folder), balance(CUSTOMERS, 5), created_at=CREATED)
    (folder / ("instance-1-customers-staging.json" + STAGED_SUFFIX)).write_bytes(b"{}\n")
    (folder / ("victim" + STAGED_SUFFIX)).write_bytes(b"outside the plan\n")
    (tmp_path / "victim").write_bytes(b"outside the folder\n")
    (folder / JOURNAL_NAME).write_bytes(journal)
    before = snapshot(folder)

    with pytest.raises(OutputError) as failed:
        recover(PlanFolder(folder))

    assert str(failed.value) == damaged_message(folder, why)
    assert snapshot(folder) == before
    assert (tmp_path / "victim").read_bytes() == b"outside the folder\n"


def test_write_plan_refuses_a_damaged_journal_before_staging_anything(tmp_path: Path) -> None:
    write_plan(PlanFolder(tmp_path), balance(CUSTOMERS, 5), created_at=CREATED)
    (tmp_path / JOURNAL_NAME).write_bytes(b'{"rename": ["../x"], "remove": []}')
    before = snapshot(tmp_path)
    with pytest.raises(OutputError) as failed:
        write_plan(PlanFolder(tmp_path), balance(CUSTOMERS, 3), created_at=LATER)
    assert str(failed.value) == damaged_message(tmp_path, "'../x' is not a plan file")
    assert snapshot(tmp_path) == before


# --- the manifest ----------------------------------------------------------------------------

PARAMETERS = PlanParameters(
    CountSettings(
        Tables("prod-w3infra-consumer", "prod-w3infra-upload", "us-west-2"),
        customer_filter=CustomerFilter(include=("example.org",)),
        min_uploads=5,
    ),
    Throughput(15, 30.0),
    split_large_customers=False,
)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_manifest_describes_the_plan_and_its_files(tmp_path: Path) -> None:
    # the plan of test_write_plan_writes_one_file_per_instance
    written = write_plan(
        PlanFolder(tmp_path), balance(CUSTOMERS, 3), created_at=CREATED, parameters=PARAMETERS
    )
    assert written == [tmp_path / instance_file_name(n) for n in (1, 2, 3)]
    assert names(tmp_path) == [MANIFEST_NAME, *(instance_file_name(n) for n in (1, 2, 3))]
    manifest = orjson.loads((tmp_path / MANIFEST_NAME).read_bytes())
    assert manifest == {
        "distroManifest": 1,
        "environment": "staging",
        "createdAt": CREATED,
        "parameters": {
            "instances": 3,
            "workersPerInstance": 15,
            "uploadsPerMinute": 30.0,
            "minUploads": 5,
            "filter": ["example.org"],
            "skip": [
                "did:mailto:mailslurp.biz",
                "did:mailto:mailslurp.com",
                "did:mailto:mailslurp.net",
            ],
            "splitLargeCustomers": False,
        },
        "tables": {
            "consumer": "prod-w3infra-consumer",
            "upload": "prod-w3infra-upload",
            "region": "us-west-2",
        },
        "totals": {
            "customers": 5,
            "uploads": 12_906_764,
            "spaces": 51_388,
            "splitCustomers": 0,
            "splitSpaces": 0,
        },
        "balance": {"lowerBound": 7_000_000, "makespan": 7_000_000},
        "files": [
            {
                "name": instance_file_name(n),
                "customers": customers,
                "splitSpaces": 0,
                "sha256": sha256(tmp_path / instance_file_name(n)),
            }
            for n, customers in ((1, 1), (2, 1), (3, 3))
        ],
        "spaceLists": [],
        # Each whole customer's file, by DID: verify names a customer a file lost.
        "assignments": {
            "did:mailto:a.org:carol": instance_file_name(2),
            "did:mailto:b.org:dave": instance_file_name(3),
            "did:mailto:c.org:erin": instance_file_name(3),
            "did:mailto:example.org:alice": instance_file_name(1),
            "did:mailto:gmail.com:bob": instance_file_name(3),
        },
    }
    assert (tmp_path / MANIFEST_NAME).read_bytes().endswith(b"}\n")


def test_the_manifest_document_hashes_the_bytes_it_is_given() -> None:
    plan = balance(CUSTOMERS[:1], 1)
    document = manifest_document(
        plan,
        {"instance-1-customers-staging.json": b"abc"},
        PARAMETERS,
        created_at=CREATED,
        folder=PlanFolder(Path("anywhere")),
    )
    assert document["files"] == [
        {
            "name": "instance-1-customers-staging.json",
            "customers": 1,
            "splitSpaces": 0,
            "sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        }
    ]


def test_the_manifest_is_committed_with_the_files_and_renamed_last(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journals: list[dict[str, list[str]]] = []
    real_apply = emit._apply

    def spy(folder: PlanFolder, journal: dict[str, list[str]]) -> None:
        journals.append(journal)
        real_apply(folder, journal)

    monkeypatch.setattr(emit, "_apply", spy)
    write_plan(
        PlanFolder(tmp_path), balance(CUSTOMERS, 5), created_at=CREATED, parameters=PARAMETERS
    )
    write_plan(PlanFolder(tmp_path), balance(CUSTOMERS, 2), created_at=LATER, parameters=PARAMETERS)
    assert journals == [
        {"rename": [*(instance_file_name(n) for n in range(1, 6)), MANIFEST_NAME], "remove": []},
        {
            "rename": [instance_file_name(1), instance_file_name(2), MANIFEST_NAME],
            "remove": [instance_file_name(n) for n in (3, 4, 5)],
        },
    ]


def test_a_plan_without_parameters_removes_an_older_manifest(tmp_path: Path) -> None:
    write_plan(
        PlanFolder(tmp_path), balance(CUSTOMERS, 3), created_at=CREATED, parameters=PARAMETERS
    )
    write_plan(PlanFolder(tmp_path), balance(CUSTOMERS, 2), created_at=LATER)
    assert names(tmp_path) == [instance_file_name(1), instance_file_name(2)]


def test_a_crash_before_the_journal_keeps_the_old_manifest(tmp_path: Path) -> None:
    write_plan(
        PlanFolder(tmp_path), balance(CUSTOMERS, 5), created_at=CREATED, parameters=PARAMETERS
    )
    old = snapshot(tmp_path)
    (tmp_path / (MANIFEST_NAME + STAGED_SUFFIX)).write_bytes(b"{}")
    (tmp_path / (instance_file_name(1) + STAGED_SUFFIX)).write_bytes(b"{}")
    recover(PlanFolder(tmp_path))
    assert snapshot(tmp_path) == old


def test_a_crash_after_the_journal_installs_the_new_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_plan(
        PlanFolder(tmp_path), balance(CUSTOMERS, 5), created_at=CREATED, parameters=PARAMETERS
    )
    real_replace = os.replace

    def dying_replace(source: os.PathLike[str], target: os.PathLike[str]) -> None:
        if Path(target).name == MANIFEST_NAME:
            raise OSError("killed")
        real_replace(source, target)

    monkeypatch.setattr("distro.emit.os.replace", dying_replace)
    with pytest.raises(OutputError) as failed:
        write_plan(
            PlanFolder(tmp_path), balance(CUSTOMERS, 3), created_at=LATER, parameters=PARAMETERS
        )
    monkeypatch.undo()
    assert str(failed.value) == unfinished_message(tmp_path, "killed")
    # the new files are in place, the old manifest still names five: the journal decides
    assert (tmp_path / JOURNAL_NAME).exists()
    recover(PlanFolder(tmp_path))
    expected = tmp_path.parent / "expected"
    write_plan(PlanFolder(expected), balance(CUSTOMERS, 3), created_at=LATER, parameters=PARAMETERS)
    assert snapshot(tmp_path) == snapshot(expected)


def test_split_files_carry_space_assignments_only_with_the_flag(tmp_path: Path) -> None:
    split = spaces_of(
        {"did:mailto:example.org:alice": {"did:key:a": 4_000_000, "did:key:b": 3_000_000}}
    )
    plan = balance(CUSTOMERS, 3, split=split)
    assert plan.split_customers == ("did:mailto:example.org:alice",)
    write_plan(PlanFolder(tmp_path), plan, created_at=CREATED, parameters=PARAMETERS)
    assignments = [
        orjson.loads((tmp_path / instance_file_name(n)).read_bytes())["spaceAssignments"]
        for n in (1, 2, 3)
    ]
    assert sorted(s for a in assignments for spaces in a.values() for s in spaces) == [
        "did:key:a",
        "did:key:b",
    ]
    manifest = orjson.loads((tmp_path / MANIFEST_NAME).read_bytes())
    assert manifest["totals"]["splitCustomers"] == 1
    assert manifest["totals"]["splitSpaces"] == 2
    assert manifest["totals"]["customers"] == 5
    assert [f["splitSpaces"] for f in manifest["files"]] == [
        sum(len(spaces) for spaces in a.values()) for a in assignments
    ]


# --- timestamp -----------------------------------------------------------------------------


def test_timestamp_format() -> None:
    assert timestamp(datetime(2026, 11, 29, 16, 0, 0, tzinfo=UTC)) == CREATED


def test_timestamp_keeps_milliseconds_and_truncates_the_rest() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, 123_999, tzinfo=UTC)
    assert timestamp(moment) == "2026-01-02T03:04:05.123Z"
    assert timestamp(moment.replace(microsecond=7_000)) == "2026-01-02T03:04:05.007Z"


def test_timestamp_converts_to_utc() -> None:
    moment = datetime(2026, 11, 29, 18, 0, 0, 500_000, tzinfo=timezone(timedelta(hours=2)))
    assert timestamp(moment) == "2026-11-29T16:00:00.500Z"
    west = datetime(2026, 11, 29, 20, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert timestamp(west) == "2026-11-30T01:30:00.000Z"


def test_timestamp_defaults_to_now() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    value = timestamp()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", value)
    parsed = datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert before <= parsed <= datetime.now(UTC)
