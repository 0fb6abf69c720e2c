"""--split-large-customers: customers above the fair share are planned space by space."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from helpers import (
    DOCUMENT_KEYS,
    LOCK_NAME,
    MANIFEST_NAME,
    RUNNER_KEYS,
    invoke,
    read_plan,
    spaces_of,
    table_args,
)
from test_pipeline import counted

from distro.balance import (
    CustomerLoad,
    InstancePlan,
    balance,
    plan as plan_of,
    split_large_customers,
)
from distro.census import Census
from distro.emit import instance_document, write_plan
from distro.files import PlanFolder
from distro.local.dataset import Dataset
from distro.settings import CountSettings, CustomerFilter, Tables
from distro.tally import SpaceLoad

CREATED = "2026-11-29T16:00:00.000Z"
WHALE = "did:mailto:a.org:whale"
SPLIT = spaces_of({WHALE: {"did:key:s1": 6, "did:key:s2": 5, "did:key:s3": 0}})
LOADS = [
    CustomerLoad(WHALE, 11, 2),
    CustomerLoad("did:mailto:b.org:x", 4, 1),
    CustomerLoad("did:mailto:b.org:y", 3, 1),
]


def space(did: str, uploads: int, customer: str = WHALE) -> SpaceLoad:
    return SpaceLoad(customer, did, uploads)


def whale_spaces(dataset: Dataset, whale: str) -> dict[str, int]:
    return {r.space: dataset.uploads[r.space] for r in dataset.consumer_rows if r.customer == whale}


# --- the balancer ------------------------------------------------------------------------------


def test_only_customers_above_the_fair_share_are_split() -> None:
    units, split = split_large_customers(LOADS, 3, SPLIT)  # fair share 18 / 3 = 6
    assert split == (WHALE,)
    assert units == [
        space("did:key:s1", 6),
        space("did:key:s2", 5),
        space("did:key:s3", 0),
        LOADS[1],
        LOADS[2],
    ]
    # With 1 instance the fair share is 18: nobody is above it.
    assert split_large_customers(LOADS, 1, SPLIT) == (LOADS, ())


def test_a_large_customer_without_space_counts_stays_whole() -> None:
    assert split_large_customers(LOADS, 3, {}) == (LOADS, ())


def test_the_split_plan() -> None:
    # units: s1 6, s2 5, x 4, y 3, s3 0
    # s1 -> 1; s2 -> 2; x -> 3; y -> 3 (7); s3 (no uploads) -> 2, the least loaded
    plan = balance(LOADS, 3, split=SPLIT)
    assert plan.instances == (
        InstancePlan(1, (), (space("did:key:s1", 6),)),
        InstancePlan(2, (), (space("did:key:s2", 5), space("did:key:s3", 0))),
        InstancePlan(3, (LOADS[1], LOADS[2])),
    )
    assert [(i.uploads, i.spaces) for i in plan.instances] == [(6, 1), (5, 1), (7, 2)]
    assert plan.split_large
    assert plan.split_customers == (WHALE,)
    assert plan.largest == space("did:key:s1", 6)
    assert plan.lower_bound == 6.0
    assert plan.makespan == 7
    assert plan.whale is None
    assert plan.instances[1].space_assignments == {WHALE: ["did:key:s2", "did:key:s3"]}
    assert plan.instances[2].space_assignments == {}


def test_without_split_the_whale_sets_the_bound() -> None:
    plan = balance(LOADS, 3)
    assert not plan.split_large
    assert plan.split_customers == ()
    assert plan.whale == LOADS[0]
    assert plan.makespan == 11
    assert plan.saturation == 2  # ceil(18 / 11)


def test_asking_for_a_split_that_finds_nobody_still_marks_the_plan() -> None:
    plan = balance(LOADS, 1, split=SPLIT)
    assert plan.split_large
    assert plan.split_customers == ()
    assert [c.customer for c in plan.instances[0].customers] == [c.customer for c in LOADS]


def test_split_plans_do_not_depend_on_input_order() -> None:
    assert balance(list(reversed(LOADS)), 3, split=SPLIT) == balance(LOADS, 3, split=SPLIT)
    reordered = {WHALE: tuple(reversed(SPLIT[WHALE]))}
    assert balance(LOADS, 3, split=reordered) == balance(LOADS, 3, split=SPLIT)


def test_a_space_that_exceeds_the_fair_share_is_the_whale() -> None:
    loads = [CustomerLoad(WHALE, 100, 2), CustomerLoad("did:mailto:b.org:x", 20, 1)]
    plan = balance(loads, 3, split=spaces_of({WHALE: {"did:key:big": 90, "did:key:small": 10}}))
    assert plan.whale == space("did:key:big", 90)
    assert plan.lower_bound == 90
    assert plan.makespan == 90
    assert plan.saturation == 2  # ceil(120 / 90)


# --- the instance files ----------------------------------------------------------------------


def test_a_split_instance_document() -> None:
    instance = InstancePlan(
        2, (CustomerLoad("did:mailto:b.org:x", 4, 1),), (space("did:key:s2", 5), space("a", 0))
    )
    document = instance_document(instance, CREATED, split=True)
    assert list(document) == [
        "instanceId",
        "environment",
        "totalCustomers",
        "estimatedUploads",
        "estimatedSpaces",
        "customers",
        "spaceAssignments",
        "createdAt",
    ]
    assert document == {
        "instanceId": 2,
        "environment": "staging",
        "totalCustomers": 1,
        "estimatedUploads": 9,
        "estimatedSpaces": 2,
        "customers": ["did:mailto:b.org:x"],
        "spaceAssignments": {WHALE: ["did:key:s2", "a"]},
        "createdAt": CREATED,
    }


def test_the_split_files_bytes(tmp_path: Path) -> None:
    write_plan(PlanFolder(tmp_path), balance(LOADS, 3, split=SPLIT), created_at=CREATED)
    assert (tmp_path / "instance-2-customers-staging.json").read_bytes() == (
        b"{\n"
        b'  "instanceId": 2,\n'
        b'  "environment": "staging",\n'
        b'  "totalCustomers": 0,\n'
        b'  "estimatedUploads": 5,\n'
        b'  "estimatedSpaces": 1,\n'
        b'  "customers": [],\n'
        b'  "spaceAssignments": {\n'
        b'    "did:mailto:a.org:whale": [\n'
        b'      "did:key:s2",\n'
        b'      "did:key:s3"\n'
        b"    ]\n"
        b"  },\n"
        b'  "createdAt": "2026-11-29T16:00:00.000Z"\n'
        b"}\n"
    )
    # With the flag, every file has the key, even with nothing split on it.
    third = orjson.loads((tmp_path / "instance-3-customers-staging.json").read_bytes())
    assert third["spaceAssignments"] == {}


def test_without_the_flag_the_documents_keep_the_runners_keys(tmp_path: Path) -> None:
    write_plan(PlanFolder(tmp_path), balance(LOADS, 3), created_at=CREATED)
    for document in read_plan(tmp_path).values():
        assert list(document) == RUNNER_KEYS


# --- the census keeps the spaces of large customers ---------------------------------------------


def test_census_space_counts() -> None:
    census = Census(CustomerFilter(), keep_space_dids=True)
    rows = [
        ("did:key:a", WHALE),
        ("did:key:b", WHALE),
        ("did:key:a", WHALE),  # a second provider: one space
        ("did:key:c", "did:mailto:b.org:x"),
        ("did:key:c", WHALE),  # shared with x
        ("did:key:d", "did:mailto:b.org:x"),
    ]
    counts = {"did:key:a": 7, "did:key:b": 0, "did:key:c": 2, "did:key:d": 1}
    for did, customer in rows:
        number = census.claim(did, customer)
        if number >= 0:
            census.set_count(number, counts[did])
    census.summarize(0)
    assert census.space_counts({WHALE}) == {WHALE: {"did:key:a": 7, "did:key:b": 0, "did:key:c": 2}}
    assert census.space_counts({"did:mailto:b.org:x", "did:mailto:nobody"}) == {
        "did:mailto:b.org:x": {"did:key:c": 2, "did:key:d": 1}
    }


def test_census_space_counts_needs_the_dids() -> None:
    census = Census(CustomerFilter())
    with pytest.raises(ValueError, match="keep_space_dids"):
        census.space_counts({WHALE})


# --- against DynamoDB Local ------------------------------------------------------------------


@pytest.mark.db
async def test_the_tally_holds_the_spaces_of_customers_above_the_fair_share(
    loaded: tuple[Dataset, Tables], tmp_path: Path
) -> None:
    dataset, tables = loaded
    truth = dataset.truth()
    tally = await counted(CountSettings(tables=tables), tmp_path, split_for=5)
    fair = truth.total_uploads / 5
    large = [c for c, n in truth.uploads_by_customer.items() if n > fair]
    assert len(large) == 1
    assert tally.split_spaces == spaces_of(
        {large[0]: dict(sorted(whale_spaces(dataset, large[0]).items()))}
    )
    assert plan_of(tally, 5, split_large=True).split_customers == (large[0],)


@pytest.mark.db
async def test_without_split_the_tally_keeps_no_spaces(
    loaded: tuple[Dataset, Tables], tmp_path: Path
) -> None:
    tally = await counted(CountSettings(tables=loaded[1]), tmp_path)
    assert tally.split_spaces is None
    assert not plan_of(tally, 5).split_large


@pytest.mark.db
def test_generate_splits_the_whale_across_instances(
    loaded: tuple[Dataset, Tables], tmp_path: Path
) -> None:
    dataset, tables = loaded
    truth = dataset.truth()
    result = invoke(
        "generate",
        "--instances",
        "5",
        "--split-large-customers",
        *table_args(tables),
        "--output-dir",
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    whale = max(truth.uploads_by_customer, key=truth.uploads_by_customer.__getitem__)
    spaces = whale_spaces(dataset, whale)
    assert len(spaces) == 25
    plan = read_plan(tmp_path)
    assert sorted(plan) == [1, 2, 3, 4, 5]
    listed = [c for doc in plan.values() for c in doc["customers"]]
    assert sorted(listed) == sorted(set(truth.uploads_by_customer) - {whale})  # once each
    assigned = [
        (customer, s)
        for doc in plan.values()
        for customer, split in doc["spaceAssignments"].items()
        for s in split
    ]
    assert sorted(assigned) == sorted((whale, s) for s in spaces)  # every space once
    assert len({n for n, doc in plan.items() if doc["spaceAssignments"]}) > 1
    for doc in plan.values():
        assert set(doc) == {*DOCUMENT_KEYS, "spaceAssignments"}
        mine = doc["spaceAssignments"].get(whale, [])
        assert doc["estimatedUploads"] == sum(
            truth.uploads_by_customer[c] for c in doc["customers"]
        ) + sum(spaces[s] for s in mine)
        assert doc["estimatedSpaces"] == sum(
            truth.spaces_with_uploads_by_customer[c] for c in doc["customers"]
        ) + sum(1 for s in mine if spaces[s])
    assert sum(doc["estimatedUploads"] for doc in plan.values()) == truth.total_uploads
    # The largest space (3,000 uploads) is now the bound; the whale alone held 3,781.
    assert max(doc["estimatedUploads"] for doc in plan.values()) == max(spaces.values()) == 3000
    manifest = orjson.loads((tmp_path / MANIFEST_NAME).read_bytes())
    assert manifest["parameters"]["splitLargeCustomers"] is True
    assert manifest["totals"]["splitCustomers"] == 1
    assert manifest["totals"]["splitSpaces"] == 25
    assert manifest["totals"]["customers"] == len(truth.uploads_by_customer)
    text = " ".join(result.stdout.split())  # the report wraps long lines
    assert f"Planned space by space (--split-large-customers): {whale}." in text
    assert f" of {whale} alone holds 3,000 uploads" in text

    verified = invoke("verify", "--output-dir", tmp_path)
    assert verified.returncode == 0, verified.stdout
    assert verified.stdout.startswith("OK: 5 instance files")


@pytest.mark.db
def test_generate_without_split_names_the_whale_and_the_flag(
    loaded: tuple[Dataset, Tables], tmp_path: Path
) -> None:
    dataset, tables = loaded
    truth = dataset.truth()
    result = invoke("generate", "--instances", "5", *table_args(tables), "--output-dir", tmp_path)
    assert result.returncode == 0, result.stderr
    whale, uploads = max(truth.uploads_by_customer.items(), key=lambda item: item[1])
    text = " ".join(result.stdout.split())  # the report wraps long lines
    assert f"{whale} alone holds {uploads:,} uploads" in text
    saturation = -(-truth.total_uploads // uploads)  # ceil
    assert f"From {saturation:,} instances on" in text
    assert "--split-large-customers plans its spaces one by one instead." in text
    for document in read_plan(tmp_path).values():
        assert list(document) == RUNNER_KEYS


@pytest.mark.db
def test_analyze_sizes_with_split(loaded: tuple[Dataset, Tables], tmp_path: Path) -> None:
    dataset, tables = loaded
    truth = dataset.truth()
    out = tmp_path / "state"
    plain = invoke("analyze", "--json", *table_args(tables), "--output-dir", out)
    split = invoke(
        "analyze", "--json", "--split-large-customers", *table_args(tables), "--output-dir", out
    )
    assert plain.returncode == 0, plain.stderr
    assert split.returncode == 0, split.stderr
    whale = max(truth.uploads_by_customer.values())
    largest_space = 3000
    plain_rows = {r["instances"]: r["maxUploads"] for r in orjson.loads(plain.stdout)["sizing"]}
    split_rows = {r["instances"]: r["maxUploads"] for r in orjson.loads(split.stdout)["sizing"]}
    assert plain_rows[20] == whale  # the whale alone sets the finish line
    assert split_rows[20] == largest_space  # split, its largest space does
    assert all(split_rows[n] <= plain_rows[n] for n in plain_rows)
    assert [p.name for p in out.iterdir()] == [LOCK_NAME]  # the lock stays, nothing else


@pytest.mark.db
def test_a_split_plan_lists_each_instances_spaces_for_todays_runner(
    loaded: tuple[Dataset, Tables], tmp_path: Path
) -> None:
    dataset, tables = loaded
    truth = dataset.truth()
    args = [*table_args(tables), "--output-dir", tmp_path, "--split-large-customers"]
    result = invoke("generate", "--instances", "5", *args)
    assert result.returncode == 0, result.stderr
    whale = max(truth.uploads_by_customer, key=truth.uploads_by_customer.__getitem__)
    plan = read_plan(tmp_path)
    lists = {
        n: (tmp_path / f"instance-{n}-spaces-staging.txt").read_text().splitlines()
        for n in range(1, 6)
    }
    for n, doc in plan.items():
        assert lists[n] == doc["spaceAssignments"].get(whale, [])  # one DID a line, same order
    every = [s for spaces in lists.values() for s in spaces]
    assert sorted(every) == sorted(whale_spaces(dataset, whale))  # each space exactly once
    for n, spaces in lists.items():
        if spaces:
            loop = (
                "while read -r space; do STORACHA_ENV=staging node src/migrate.js "
                f'--space "$space" --instance-id {n}; '
                f"done < migration-state/instance-{n}-spaces-staging.txt"
            )
            assert f"  {loop}\n" in result.stdout
    manifest = orjson.loads((tmp_path / MANIFEST_NAME).read_bytes())
    assert [e["name"] for e in manifest["spaceLists"]] == [
        f"instance-{n}-spaces-staging.txt" for n in range(1, 6)
    ]
    assert invoke("verify", "--output-dir", tmp_path).returncode == 0

    (n, spaces), (m, _) = [(n, s) for n, s in lists.items() if s][:2]
    moved = tmp_path / f"instance-{m}-spaces-staging.txt"
    moved.write_text(moved.read_text() + f"{spaces[0]}\n")
    (tmp_path / f"instance-{n}-spaces-staging.txt").write_text(
        "".join(f"{s}\n" for s in spaces[1:])
    )
    checked = invoke("verify", "--output-dir", tmp_path)
    assert checked.returncode == 1
    assert checked.stdout.splitlines() == [
        f"instance-{n}-spaces-staging.txt: SHA-256 differs from distribution-staging.json: "
        "the file was changed",
        f"instance-{m}-spaces-staging.txt: SHA-256 differs from distribution-staging.json: "
        "the file was changed",
        f"space {spaces[0]} of {whale} is in instance-{m}-spaces-staging.txt, but "
        f"instance-{n}-customers-staging.json assigns it",
    ]
