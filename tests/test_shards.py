"""Counting shards (``--count-shards``): every number equals the dataset's own count."""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import botocore.auth
import orjson
import pytest
from helpers import (
    CHECKPOINT_NAME,
    MANIFEST_NAME,
    RUNNER_KEYS,
    invoke,
    read_plan,
    table_args,
    without_created_at,
)
from hypothesis import assume, given, settings as hypothesis_settings, strategies as st
from test_balance import fine_grained
from test_lean import FIXED_ID, FIXED_TIME, SPACE, Recorder, pages

from distro.balance import plan
from distro.checkpoint import fingerprint
from distro.dynamo.handle import Dynamo, dynamodb_client
from distro.dynamo.lean import LeanReader, lean_reader
from distro.dynamo.reader import CountPage, SdkReader, count_request
from distro.files import PlanFolder
from distro.local.dataset import Dataset
from distro.settings import DEFAULT_POLICY, CountSettings, Tables
from distro.tally import CustomerLoad, SpaceLoad, Tally
from distro.verify import verify_plan

_AFTER_SPACES = RUNNER_KEYS.index("estimatedSpaces") + 1
SHARD_KEYS = [*RUNNER_KEYS[:_AFTER_SPACES], "estimatedShards", *RUNNER_KEYS[_AFTER_SPACES:]]


def test_the_projection_request_names_shards_and_shards_ref_through_placeholders() -> None:
    request = count_request("up", SPACE, None, shards=True)
    assert request == {
        "TableName": "up",
        "KeyConditionExpression": "#space = :space",
        "ExpressionAttributeNames": {
            "#space": "space",
            "#shards": "shards",
            "#shardsRef": "shardsRef",
        },
        "ExpressionAttributeValues": {":space": {"S": SPACE}},
        "ReturnConsumedCapacity": "TOTAL",
        "ProjectionExpression": "#shards, #shardsRef",
    }


async def test_the_lean_projection_request_is_byte_for_byte_the_sdks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: FIXED_TIME)
    monkeypatch.setattr(uuid, "uuid4", lambda: FIXED_ID)
    async with Recorder() as recorder:
        tables = Tables("wire-consumer", "wire-upload", "us-east-2", recorder.url)
        async with dynamodb_client(tables, pool_size=4) as client:
            lean = await lean_reader(Dynamo(client, tables, DEFAULT_POLICY), shards=True)
            assert isinstance(lean, LeanReader)
            await client.query(**count_request(tables.upload, SPACE, None, shards=True))
            page = await lean.count_page(SPACE, None)
        sdk, ours = recorder.seen
    assert ours == sdk
    assert json.loads(ours.body) == count_request(tables.upload, SPACE, None, shards=True)
    # The recorder answers as for a count: no items, so no shards.
    assert page == CountPage(3, None, 0.5, 0, 0, (0,) * 7)


@pytest.mark.db
async def test_every_page_of_shards_equals_the_sdks_and_the_truth(
    loaded: tuple[Dataset, Tables],
) -> None:
    dataset, tables = loaded
    async with dynamodb_client(tables, pool_size=4) as client:
        db = Dynamo(client, tables, DEFAULT_POLICY)
        lean = await lean_reader(db, shards=True)
        assert isinstance(lean, LeanReader)
        sdk = SdkReader(db, shards=True)
        for space in dataset.uploads:
            ours = await pages(lean, space)
            assert ours == await pages(sdk, space)
            assert sum(p.count for p in ours) == dataset.uploads[space]
            assert (
                sum(p.shards for p in ours),
                sum(p.shard_refs for p in ours),
            ) == dataset.shards_of(space)


@pytest.mark.db
def test_every_instance_file_holds_the_true_estimated_shards(
    loaded: tuple[Dataset, Tables], tmp_path: Path
) -> None:
    dataset, tables = loaded
    result = invoke(
        "generate",
        "--instances",
        "3",
        "--count-shards",
        *table_args(tables),
        "--output-dir",
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    truth = dataset.truth(shards=True)
    plan = read_plan(tmp_path)
    for doc in plan.values():
        assert list(doc) == SHARD_KEYS
        assert doc["estimatedShards"] == truth.estimated_shards(doc["customers"])
    totals = orjson.loads((tmp_path / MANIFEST_NAME).read_bytes())["totals"]
    assert totals["shards"] == truth.estimated_shards(truth.uploads_by_customer)
    assert totals["shardRefs"] == sum(truth.shard_refs_by_customer.values())
    assert totals["shardRefs"] > 0, "the dataset has uploads with shardsRef"
    assert sum(truth.shards_by_customer.values()) > truth.total_uploads  # more shards than uploads
    assert invoke("verify", "--output-dir", tmp_path).returncode == 0


@pytest.mark.db
def test_without_the_flag_the_files_and_json_are_those_of_a_plain_count(
    loaded: tuple[Dataset, Tables], tmp_path: Path
) -> None:
    _, tables = loaded
    plain = invoke("generate", "--instances", "3", *table_args(tables), "--output-dir", tmp_path)
    assert plain.returncode == 0, plain.stderr
    plan = read_plan(tmp_path)
    assert all(list(doc) == RUNNER_KEYS for doc in plan.values())
    manifest = orjson.loads((tmp_path / MANIFEST_NAME).read_bytes())
    assert set(manifest["totals"]) == {
        "customers",
        "uploads",
        "spaces",
        "splitCustomers",
        "splitSpaces",
    }
    counted = invoke(
        "generate",
        "--instances",
        "3",
        "--yes",
        "--count-shards",
        *table_args(tables),
        "--output-dir",
        tmp_path / "shards",
    )
    assert counted.returncode == 0, counted.stderr
    with_shards = without_created_at(read_plan(tmp_path / "shards"))
    for doc in with_shards.values():
        del doc["estimatedShards"]
    assert with_shards == without_created_at(plan)
    document = orjson.loads(
        invoke("analyze", "--json", *table_args(tables), "--output-dir", tmp_path / "a").stdout
    )
    assert "shards" not in document
    assert list(document) == [
        "generatedAt",
        "assumptions",
        "totals",
        "dataQuality",
        "topCustomers",
        "histogram",
        "plan",
        "sizing",
        "outputs",
        "nextSteps",
        "generateCommand",
        "recommendation",
    ]


@pytest.mark.db
def test_a_checkpoint_without_shards_is_not_resumed_by_a_run_counting_them(
    loaded: tuple[Dataset, Tables], tmp_path: Path
) -> None:
    _, tables = loaded
    checkpoint = tmp_path / CHECKPOINT_NAME
    checkpoint.write_bytes(_journal(tables, shards=False))
    result = invoke("analyze", "--count-shards", *table_args(tables), "--output-dir", tmp_path)
    assert result.returncode == 1
    assert result.stderr == (
        f"Error: {checkpoint} was made by a run that counted other things (it holds upload "
        "counts without shard counts, which this run needs): run the same command as before "
        "to resume, or add --restart to discard it\n"
    )


@pytest.mark.db
def test_a_checkpoint_with_shards_is_not_resumed_by_a_plain_run(
    loaded: tuple[Dataset, Tables], tmp_path: Path
) -> None:
    _, tables = loaded
    checkpoint = tmp_path / CHECKPOINT_NAME
    checkpoint.write_bytes(_journal(tables, shards=True))
    result = invoke("analyze", *table_args(tables), "--output-dir", tmp_path)
    assert result.returncode == 1
    assert result.stderr == (
        f"Error: {checkpoint} was made by a run that counted other things (it holds shard "
        "counts, which this run does not count): run the same command as before "
        "to resume, or add --restart to discard it\n"
    )


@pytest.mark.db
def test_shard_counts_are_resumed_from_the_checkpoint(
    loaded: tuple[Dataset, Tables], tmp_path: Path
) -> None:
    dataset, tables = loaded
    space = next(s for s in dataset.uploads if dataset.uploads[s] > 1)
    owner = next(r.customer for r in dataset.consumer_rows if r.space == space and r.customer)
    listed, refs = dataset.shards_of(space)
    # Saved numbers no one could count: a resumed space is not queried again.
    saved = {space: [dataset.uploads[space], listed + 1000, refs]}
    (tmp_path / CHECKPOINT_NAME).write_bytes(_journal(tables, shards=True, counts=saved))
    result = invoke(
        "analyze",
        "--count-shards",
        "--json",
        "--top",
        "1000",
        *table_args(tables),
        "--output-dir",
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    truth = dataset.truth(shards=True)
    document = orjson.loads(result.stdout)["shards"]
    shards = {c["customer"]: c["shards"] for c in document["topCustomers"]}
    assert shards[owner] == truth.estimated_shards([owner]) + 1000


def _journal(tables: Tables, *, shards: bool, counts: dict[str, Any] | None = None) -> bytes:
    header: dict[str, Any] = {
        "distroCheckpoint": 1,
        "fingerprint": fingerprint(CountSettings(tables=tables)),
    }
    if shards:
        header["shards"] = True
    if counts is None:
        counts = {SPACE: [3, 4, 0] if shards else 3}
    line: dict[str, Any] = {"counts": counts}
    if shards:
        line["histogram"] = [0] * 7
    return orjson.dumps(header) + b"\n" + orjson.dumps(line) + b"\n"


# --- balancing by shards ----------------------------------------------------------------------


def shard_tally(customers: list[CustomerLoad]) -> Tally:
    """A tally of *customers* made by hand, shards counted."""
    return Tally(
        customers=tuple(customers),
        below_min_uploads=frozenset(),
        skipped=frozenset(),
        filtered=frozenset(),
        orphan_rows=0,
        shared_spaces=frozenset(),
        double_counted_uploads=0,
        planned_spaces=len(customers),
        empty_spaces=0,
        counted_shards=True,
    )


def test_a_plan_by_shards_balances_shards_and_keeps_the_real_uploads() -> None:
    # By uploads the two first customers weigh the same; by shards, a is ten times b.
    customers = [
        CustomerLoad("did:mailto:a", 100, 1, 1000, 0),
        CustomerLoad("did:mailto:b", 100, 1, 100, 0),
        CustomerLoad("did:mailto:c", 10, 1, 500, 1),  # 5,500 with its shardsRef upload
        CustomerLoad("did:mailto:d", 900, 2, 900, 0),
    ]
    by_shards = plan(shard_tally(customers), 2, by="shards")
    assert [[c.customer for c in i.customers] for i in by_shards.instances] == [
        ["did:mailto:c"],
        ["did:mailto:a", "did:mailto:d", "did:mailto:b"],
    ]
    assert [(i.uploads, i.shards, i.spaces) for i in by_shards.instances] == [
        (10, 5500, 1),
        (1100, 2000, 4),
    ]
    assert (by_shards.makespan, by_shards.lower_bound, by_shards.total_uploads) == (
        5500,
        5500,
        1110,
    )
    assert by_shards.whale is not None
    assert by_shards.whale.customer == "did:mailto:c"
    by_uploads = plan(shard_tally(customers), 2)
    assert [[c.customer for c in i.customers] for i in by_uploads.instances] == [
        ["did:mailto:d"],
        ["did:mailto:a", "did:mailto:b", "did:mailto:c"],
    ]


def test_split_large_customers_by_shards_plans_their_spaces_by_shards() -> None:
    whale = [
        SpaceLoad("did:mailto:w", "did:key:s1", 10, 4000, 0),
        SpaceLoad("did:mailto:w", "did:key:s2", 10, 4000, 0),
    ]
    # w holds 8,000 of 14,000 shards: above the fair share of 2 instances (by uploads it is not).
    customers = [
        CustomerLoad("did:mailto:w", 20, 2, 8000, 0),
        CustomerLoad("did:mailto:x", 500, 1, 3000, 0),
        CustomerLoad("did:mailto:y", 500, 1, 3000, 0),
    ]
    tally = replace(shard_tally(customers), split_spaces={"did:mailto:w": tuple(whale)})
    split = plan(tally, 2, split_large=True, by="shards")
    assert split.split_customers == ("did:mailto:w",)
    assert [i.shards for i in split.instances] == [7000, 7000]
    assert [i.uploads for i in split.instances] == [510, 510]
    assert [sorted(i.space_assignments) for i in split.instances] == [
        ["did:mailto:w"],
        ["did:mailto:w"],
    ]


@hypothesis_settings(deadline=None, max_examples=30)
@given(
    big=st.lists(
        st.integers(0, 5).flatmap(lambda e: st.integers(0, 10**e)), min_size=1, max_size=80
    ),
    instances=st.integers(2, 6),
    seed=st.integers(0, 1000),
)
def test_a_plan_by_shards_is_within_a_thousandth_of_its_bound_when_reachable(
    big: list[int], instances: int, seed: int
) -> None:
    """As for uploads (test_balance): heavy-tailed shards, plus fine customers that make the
    bound reachable; the uploads are unrelated to the shards, so only shards can balance."""
    rng = random.Random(seed)
    sizes = [*big, *fine_grained(instances, max(big))]
    assume(sum(sizes) >= 1000 * instances)
    customers = [
        CustomerLoad(f"did:mailto:c{n:06d}", rng.randint(1, 10_000), 1, s, 0)
        for n, s in enumerate(sizes)
    ]
    made = plan(shard_tally(customers), instances, by="shards")
    assert made.whale is None
    assert made.gap <= 0.001
    assigned = sorted(c.customer for i in made.instances for c in i.customers)
    assert assigned == sorted(c.customer for c in customers)
    assert made.total_work == sum(sizes)
    assert made.total_uploads == sum(c.uploads for c in customers)


@pytest.mark.db
def test_generate_balanced_by_shards_writes_the_true_shards_and_their_bound(
    loaded: tuple[Dataset, Tables], tmp_path: Path
) -> None:
    dataset, tables = loaded
    result = invoke(
        "generate",
        "--instances",
        "3",
        "--balance-by",
        "shards",
        "--json",
        *table_args(tables),
        "--output-dir",
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    truth = dataset.truth(shards=True)
    files = read_plan(tmp_path)
    per_customer = {c: truth.estimated_shards([c]) for c in truth.uploads_by_customer}
    for doc in files.values():
        assert doc["estimatedShards"] == truth.estimated_shards(doc["customers"])
        assert doc["estimatedUploads"] == sum(
            truth.uploads_by_customer[c] for c in doc["customers"]
        )
    manifest = orjson.loads((tmp_path / MANIFEST_NAME).read_bytes())
    total = sum(per_customer.values())
    assert manifest["parameters"]["balanceBy"] == "shards"
    # The default rate is the shards per upload counted here, not the team's 1.73 sample:
    # the fleet's total time in shards is then its total time in uploads, one answer.
    rate = manifest["parameters"]["shardsPerMinute"]
    assert rate == pytest.approx(27 * total / truth.total_uploads)
    assert total / rate == pytest.approx(truth.total_uploads / 27)
    assert manifest["balance"] == {
        "lowerBound": max(total / 3, *per_customer.values()),
        "makespan": max(doc["estimatedShards"] for doc in files.values()),
    }
    document = orjson.loads(result.stdout)
    assert document["shards"]["balancedBy"] == "shards"
    assert document["plan"]["maxUploads"] == manifest["balance"]["makespan"]  # in shards
    # verify reads the makespan in shards too, and checks the shard total against the files.
    assert verify_plan(PlanFolder(tmp_path)) == []
    manifest["totals"]["shards"] += 1
    (tmp_path / MANIFEST_NAME).write_bytes(orjson.dumps(manifest))
    assert verify_plan(PlanFolder(tmp_path)) == [
        f"totals.shards: {MANIFEST_NAME} says {total + 1}, the files add up to {total}"
    ]


@pytest.mark.db
@pytest.mark.parametrize("unit", ["uploads", "shards"])
def test_split_plans_keep_every_shard_of_the_split_spaces(
    loaded: tuple[Dataset, Tables], tmp_path: Path, unit: str
) -> None:
    dataset, tables = loaded
    result = invoke(
        "generate",
        "--instances",
        "4",
        "--count-shards",
        "--balance-by",
        unit,
        "--split-large-customers",
        *table_args(tables),
        "--output-dir",
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    truth = dataset.truth(shards=True)
    files = read_plan(tmp_path)
    manifest = orjson.loads((tmp_path / MANIFEST_NAME).read_bytes())
    assert manifest["totals"]["splitCustomers"] == 1  # the whale, in either unit
    assert sum(doc["estimatedShards"] for doc in files.values()) == truth.estimated_shards(
        truth.uploads_by_customer
    )
    assert sum(doc["estimatedUploads"] for doc in files.values()) == truth.total_uploads
