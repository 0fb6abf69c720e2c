"""`distro verify`: a fresh plan passes; each kind of damage fails with one line naming it."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest
from helpers import JOURNAL_NAME, MANIFEST_NAME, Result, invoke, read_plan, spaces_of, table_args

from distro.balance import CustomerLoad, balance
from distro.emit import PlanParameters, write_plan
from distro.files import PlanFolder
from distro.local.dataset import Dataset
from distro.settings import CountSettings, Tables, Throughput
from distro.verify import describe_plan, verify_plan

CREATED = "2026-11-29T16:00:00.000Z"
INSTANCES = 5


@pytest.fixture(scope="module")
def generated(loaded: tuple[Dataset, Tables], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of one `distro generate --instances 5` on the session's dataset."""
    _, tables = loaded
    out = tmp_path_factory.mktemp("generated")
    result = invoke("generate", "--instances", INSTANCES, *table_args(tables), "--output-dir", out)
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture
def plan_dir(generated: Path, tmp_path: Path) -> Path:
    """A copy of the generated folder that a test may damage."""
    return Path(shutil.copytree(generated, tmp_path / "plan"))


def verify(directory: Path) -> Result:
    return invoke("verify", "--output-dir", directory)


def assert_fails_with(directory: Path, *expected: str) -> None:
    """`distro verify` exits 1 and prints exactly the *expected* problem lines (as prefixes)."""
    result = verify(directory)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(expected), result.stdout
    for line, start in zip(lines, expected, strict=True):
        assert line.startswith(start), (line, start)
    error = result.stderr.strip().splitlines()
    assert len(error) == 1
    assert error[0].startswith(f"Error: {len(expected)} problem(s): the files in {directory}/")
    assert "Traceback" not in result.stderr


def manifest(directory: Path) -> dict[str, Any]:
    document: dict[str, Any] = orjson.loads((directory / MANIFEST_NAME).read_bytes())
    return document


def rewrite(directory: Path, name: str, document: dict[str, Any], *, reseal: bool) -> None:
    """Replace *name* with *document*; with *reseal*, update its SHA-256 in the manifest too."""
    data = orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"
    (directory / name).write_bytes(data)
    if reseal:
        sealed = manifest(directory)
        entry = next(f for f in sealed["files"] if f["name"] == name)
        entry["sha256"] = hashlib.sha256(data).hexdigest()
        entry["customers"] = len(document["customers"])
        (directory / MANIFEST_NAME).write_bytes(orjson.dumps(sealed, option=orjson.OPT_INDENT_2))


# --- a fresh plan --------------------------------------------------------------------------


@pytest.mark.db
def test_generate_writes_a_manifest_of_the_plan(
    loaded: tuple[Dataset, Tables], generated: Path
) -> None:
    dataset, tables = loaded
    truth = dataset.truth()
    written = manifest(generated)
    plan = read_plan(generated)
    assert list(written) == [
        "distroManifest",
        "environment",
        "createdAt",
        "parameters",
        "tables",
        "totals",
        "balance",
        "files",
        "spaceLists",
        "assignments",
    ]
    assert written["createdAt"] == plan[1]["createdAt"]
    assert written["parameters"] == {
        "instances": 5,
        "workersPerInstance": 10,
        "uploadsPerMinute": 27.0,
        "minUploads": 0,
        "filter": [],
        "skip": [
            "did:mailto:mailslurp.biz",
            "did:mailto:mailslurp.com",
            "did:mailto:mailslurp.net",
        ],
        "splitLargeCustomers": False,
    }
    assert written["tables"] == {
        "consumer": tables.consumer,
        "upload": tables.upload,
        "region": tables.region,
    }
    assert written["totals"] == {
        "customers": len(truth.uploads_by_customer),
        "uploads": truth.total_uploads,
        "spaces": sum(truth.spaces_with_uploads_by_customer.values()),
        "splitCustomers": 0,
        "splitSpaces": 0,
    }
    largest = max(truth.uploads_by_customer.values())
    assert written["balance"] == {
        "lowerBound": max(truth.total_uploads / 5, largest),
        "makespan": max(doc["estimatedUploads"] for doc in plan.values()),
    }
    assert written["files"] == [
        {
            "name": f"instance-{n}-customers-staging.json",
            "customers": len(plan[n]["customers"]),
            "splitSpaces": 0,
            "sha256": hashlib.sha256(
                (generated / f"instance-{n}-customers-staging.json").read_bytes()
            ).hexdigest(),
        }
        for n in range(1, 6)
    ]


@pytest.mark.db
def test_verify_passes_on_a_fresh_generate(loaded: tuple[Dataset, Tables], generated: Path) -> None:
    truth = loaded[0].truth()
    result = verify(generated)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        f"OK: 5 instance files in {generated}/ match {MANIFEST_NAME}: "
        f"{len(truth.uploads_by_customer):,} customers, {truth.total_uploads:,} uploads, "
        "every customer assigned once"
    ]
    assert result.stderr == ""


# --- damage ------------------------------------------------------------------------------


@pytest.mark.db
def test_a_tampered_file_fails(plan_dir: Path) -> None:
    path = plan_dir / "instance-2-customers-staging.json"
    path.write_bytes(path.read_bytes().replace(b'"estimatedUploads": ', b'"estimatedUploads": 1'))
    assert_fails_with(
        plan_dir,
        "instance-2-customers-staging.json: SHA-256 differs from distribution-staging.json: the file was changed",
        "totals.uploads: distribution-staging.json says ",
        "balance.makespan: distribution-staging.json says ",
    )


@pytest.mark.db
def test_a_changed_byte_alone_fails(plan_dir: Path) -> None:
    path = plan_dir / "instance-4-customers-staging.json"
    path.write_bytes(path.read_bytes().replace(b"\n}", b"}"))  # same JSON, other bytes
    assert_fails_with(
        plan_dir,
        "instance-4-customers-staging.json: SHA-256 differs from distribution-staging.json: the file was changed",
    )


@pytest.mark.db
def test_a_missing_file_fails(plan_dir: Path) -> None:
    (plan_dir / "instance-3-customers-staging.json").unlink()
    assert_fails_with(plan_dir, "instance-3-customers-staging.json is missing")


@pytest.mark.db
def test_an_extra_file_fails(plan_dir: Path) -> None:
    shutil.copy(
        plan_dir / "instance-5-customers-staging.json",
        plan_dir / "instance-6-customers-staging.json",
    )
    assert_fails_with(
        plan_dir,
        "instance-6-customers-staging.json is not in distribution-staging.json: a stray file the fleet would read",
    )


@pytest.mark.db
def test_a_customer_listed_twice_fails(plan_dir: Path) -> None:
    plan = read_plan(plan_dir)
    twice = plan[1]["customers"][-1]
    document = plan[2]
    document["customers"].append(twice)
    document["totalCustomers"] += 1
    # Sealed again, so that the duplicate is the only thing wrong.
    rewrite(plan_dir, "instance-2-customers-staging.json", document, reseal=True)
    assert_fails_with(
        plan_dir,
        f"{twice} is assigned 2 times (instance-1-customers-staging.json, instance-2-customers-staging.json)",
    )


@pytest.mark.db
def test_a_customer_removed_from_a_file_is_named(plan_dir: Path) -> None:
    document = read_plan(plan_dir)[2]
    gone = document["customers"].pop(0)
    document["totalCustomers"] -= 1
    rewrite(plan_dir, "instance-2-customers-staging.json", document, reseal=True)
    problems = verify_plan(PlanFolder(plan_dir))
    assert problems[0] == (
        f"{gone} is missing from instance-2-customers-staging.json: the manifest plans it there"
    )
    assert [p.split(":")[0] for p in problems[1:]] == ["totals.customers"]


@pytest.mark.db
def test_a_customer_moved_to_another_file_is_named(plan_dir: Path) -> None:
    plan = read_plan(plan_dir)
    moved = plan[1]["customers"].pop()
    plan[1]["totalCustomers"] -= 1
    plan[2]["customers"].append(moved)
    plan[2]["totalCustomers"] += 1
    rewrite(plan_dir, "instance-1-customers-staging.json", plan[1], reseal=True)
    rewrite(plan_dir, "instance-2-customers-staging.json", plan[2], reseal=True)
    assert verify_plan(PlanFolder(plan_dir)) == [
        f"{moved} is listed in instance-2-customers-staging.json, but the manifest plans it in "
        "instance-1-customers-staging.json"
    ]


@pytest.mark.db
def test_a_customer_listed_twice_in_one_file_fails(plan_dir: Path) -> None:
    document = read_plan(plan_dir)[3]
    twice = document["customers"][0]
    document["customers"].append(twice)
    document["totalCustomers"] += 1
    rewrite(plan_dir, "instance-3-customers-staging.json", document, reseal=True)
    assert_fails_with(
        plan_dir,
        f"{twice} is assigned 2 times (instance-3-customers-staging.json, instance-3-customers-staging.json)",
    )


@pytest.mark.db
def test_a_wrong_total_fails(loaded: tuple[Dataset, Tables], plan_dir: Path) -> None:
    total = loaded[0].truth().total_uploads
    sealed = manifest(plan_dir)
    sealed["totals"]["uploads"] = total + 1
    (plan_dir / MANIFEST_NAME).write_bytes(orjson.dumps(sealed))
    assert_fails_with(
        plan_dir,
        f"totals.uploads: distribution-staging.json says {total + 1}, the files add up to {total}",
    )


@pytest.mark.db
def test_a_wrong_count_in_the_manifest_fails(plan_dir: Path) -> None:
    sealed = manifest(plan_dir)
    listed = sealed["files"][0]["customers"]
    sealed["files"][0]["customers"] = listed + 2
    (plan_dir / MANIFEST_NAME).write_bytes(orjson.dumps(sealed))
    assert_fails_with(
        plan_dir,
        f"instance-1-customers-staging.json: lists {listed} customers, distribution-staging.json says {listed + 2}",
    )


@pytest.mark.db
def test_a_total_customers_that_disagrees_with_the_list_fails(plan_dir: Path) -> None:
    document = read_plan(plan_dir)[5]
    document["totalCustomers"] += 1
    rewrite(plan_dir, "instance-5-customers-staging.json", document, reseal=True)
    assert_fails_with(
        plan_dir,
        f"instance-5-customers-staging.json: totalCustomers is {document['totalCustomers']} but "
        f"{document['totalCustomers'] - 1} are listed",
    )


@pytest.mark.db
def test_a_file_that_is_not_json_fails(plan_dir: Path) -> None:
    (plan_dir / "instance-1-customers-staging.json").write_bytes(b"{not json")
    assert_fails_with(
        plan_dir,
        "instance-1-customers-staging.json: SHA-256 differs from distribution-staging.json",
        "instance-1-customers-staging.json is not JSON",
    )


@pytest.mark.db
def test_an_interrupted_commit_is_reported(plan_dir: Path) -> None:
    (plan_dir / JOURNAL_NAME).write_bytes(b'{"rename": [], "remove": []}')
    (plan_dir / "instance-1-customers-staging.json.staged").write_bytes(b"{}")
    assert_fails_with(
        plan_dir,
        f"{JOURNAL_NAME}: a commit was interrupted; run distro generate again to finish it",
        "instance-1-customers-staging.json.staged: a staged file of an unfinished write",
    )


def assert_holds_no_plan(directory: Path, line: str) -> None:
    """`distro verify` exits 1 with one line saying there is no plan there, and no problem list."""
    result = verify(directory)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout == ""
    assert result.stderr == f"Error: {line}\n"


def test_a_folder_without_a_manifest_holds_no_plan(tmp_path: Path) -> None:
    assert_holds_no_plan(
        tmp_path,
        f"{tmp_path}/ holds no staging plan ({MANIFEST_NAME} is missing): run distro generate first",
    )


def test_a_folder_that_does_not_exist_holds_no_plan(tmp_path: Path) -> None:
    assert_holds_no_plan(
        tmp_path / "nowhere",
        f"{tmp_path / 'nowhere'} does not exist, so it holds no plan: verify the folder generate "
        "wrote the plan to",
    )


def test_a_file_holds_no_plan(tmp_path: Path) -> None:
    (tmp_path / "plan").write_text("not a folder")
    assert_holds_no_plan(
        tmp_path / "plan",
        f"{tmp_path / 'plan'} is not a folder, so it holds no plan: verify the folder generate "
        "wrote the plan to",
    )


def test_a_manifest_that_is_not_one_fails(tmp_path: Path) -> None:
    (tmp_path / MANIFEST_NAME).write_bytes(b'{"distroManifest": 99}')
    assert_fails_with(tmp_path, f"{MANIFEST_NAME} is not a distro manifest (format 1)")
    (tmp_path / MANIFEST_NAME).write_bytes(b"[")
    assert_fails_with(tmp_path, f"{MANIFEST_NAME} is not JSON")


# --- split plans, in process ---------------------------------------------------------------

SPLIT = spaces_of({"did:mailto:a.org:whale": {"did:key:s1": 6, "did:key:s2": 5, "did:key:s3": 0}})
LOADS = [
    CustomerLoad("did:mailto:a.org:whale", 11, 2),
    CustomerLoad("did:mailto:b.org:x", 4, 1),
    CustomerLoad("did:mailto:b.org:y", 3, 1),
]


def parameters(split: bool) -> PlanParameters:
    return PlanParameters(CountSettings(Tables("c", "u", "r")), Throughput(), split)


def test_a_split_plan_verifies(tmp_path: Path) -> None:
    plan = balance(LOADS, 3, split=SPLIT)
    write_plan(PlanFolder(tmp_path), plan, created_at=CREATED, parameters=parameters(True))
    assert verify_plan(PlanFolder(tmp_path)) == []
    assert describe_plan(PlanFolder(tmp_path)) == (
        f"3 instance files in {tmp_path}/ match {MANIFEST_NAME}: 3 customers, 18 uploads, "
        "every customer assigned once"
    )


def test_a_split_space_assigned_twice_fails(tmp_path: Path) -> None:
    plan = balance(LOADS, 3, split=SPLIT)
    write_plan(PlanFolder(tmp_path), plan, created_at=CREATED, parameters=parameters(True))
    documents = read_plan(tmp_path)
    owner = next(n for n, d in documents.items() if "did:key:s1" in str(d["spaceAssignments"]))
    other = next(n for n in documents if n != owner)
    documents[other]["spaceAssignments"].setdefault("did:mailto:a.org:whale", []).append(
        "did:key:s1"
    )
    sealed = manifest(tmp_path)
    sealed["files"][other - 1]["splitSpaces"] += 1
    (tmp_path / MANIFEST_NAME).write_bytes(orjson.dumps(sealed))
    rewrite(tmp_path, f"instance-{other}-customers-staging.json", documents[other], reseal=True)
    assert (owner, other) == (1, 2)
    assert verify_plan(PlanFolder(tmp_path)) == [
        "space did:key:s1 of did:mailto:a.org:whale is assigned 2 times "
        "(instance-1-customers-staging.json, instance-2-customers-staging.json)"
    ]


def test_a_split_customer_also_listed_whole_fails(tmp_path: Path) -> None:
    plan = balance(LOADS, 3, split=SPLIT)
    write_plan(PlanFolder(tmp_path), plan, created_at=CREATED, parameters=parameters(True))
    document = read_plan(tmp_path)[3]
    document["customers"].append("did:mailto:a.org:whale")
    document["totalCustomers"] += 1
    rewrite(tmp_path, "instance-3-customers-staging.json", document, reseal=True)
    assert verify_plan(PlanFolder(tmp_path)) == [
        "did:mailto:a.org:whale is listed whole (instance-3-customers-staging.json) and split "
        "(instance-1-customers-staging.json, instance-2-customers-staging.json)"
    ]


def reseal_list(directory: Path, name: str, text: str) -> None:
    """Rewrite a list of spaces and its SHA-256 in the manifest, as a careful tamperer would."""
    (directory / name).write_text(text)
    sealed = manifest(directory)
    for entry in sealed["spaceLists"]:
        if entry["name"] == name:
            entry["sha256"] = hashlib.sha256(text.encode()).hexdigest()
    (directory / MANIFEST_NAME).write_bytes(orjson.dumps(sealed))


def test_a_split_space_in_no_list_fails(tmp_path: Path) -> None:
    plan = balance(LOADS, 3, split=SPLIT)
    write_plan(PlanFolder(tmp_path), plan, created_at=CREATED, parameters=parameters(True))
    assert (tmp_path / "instance-1-spaces-staging.txt").read_text() == "did:key:s1\n"
    reseal_list(tmp_path, "instance-1-spaces-staging.txt", "")
    assert verify_plan(PlanFolder(tmp_path)) == [
        "space did:key:s1 of did:mailto:a.org:whale is in no instance's list of spaces"
    ]


def test_a_split_space_in_two_lists_fails(tmp_path: Path) -> None:
    plan = balance(LOADS, 3, split=SPLIT)
    write_plan(PlanFolder(tmp_path), plan, created_at=CREATED, parameters=parameters(True))
    second = (tmp_path / "instance-2-spaces-staging.txt").read_text()
    reseal_list(tmp_path, "instance-2-spaces-staging.txt", second + "did:key:s1\n")
    assert verify_plan(PlanFolder(tmp_path)) == [
        "space did:key:s1 of did:mailto:a.org:whale is in 2 lists of spaces "
        "(instance-1-spaces-staging.txt, instance-2-spaces-staging.txt)"
    ]


def test_each_environment_verifies_its_own_plan(tmp_path: Path) -> None:
    plan = balance(LOADS, 2)
    write_plan(
        PlanFolder(tmp_path, "production"), plan, created_at=CREATED, parameters=parameters(False)
    )
    assert verify_plan(PlanFolder(tmp_path, "production")) == []
    assert verify_plan(PlanFolder(tmp_path)) == [
        f"{tmp_path}/ holds no staging plan (distribution-staging.json is missing): it holds a "
        "plan for production (add --env production)"
    ]
    document = read_production(tmp_path, 1)
    document["environment"] = "staging"
    path = tmp_path / "instance-1-customers-production.json"
    path.write_bytes(orjson.dumps(document))
    assert verify_plan(PlanFolder(tmp_path, "production")) == [
        "instance-1-customers-production.json: SHA-256 differs from "
        "distribution-production.json: the file was changed",
        "instance-1-customers-production.json: environment is 'staging', not 'production'",
    ]


def read_production(directory: Path, n: int) -> dict[str, Any]:
    document: dict[str, Any] = orjson.loads(
        (directory / f"instance-{n}-customers-production.json").read_bytes()
    )
    return document
