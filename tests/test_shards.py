"""Counting shards (``--count-shards``): every number equals the dataset's own count."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import botocore.auth
import orjson
import pytest
from helpers import RUNNER_KEYS, invoke, read_plan, table_args, without_created_at
from test_fastquery import FIXED_ID, FIXED_TIME, SPACE, Recorder, pages

from distro.checkpoint import CHECKPOINT_NAME, fingerprint
from distro.dynamo.fastquery import LeanReader, make_reader
from distro.dynamo.handle import Dynamo, dynamodb_client
from distro.dynamo.reader import CountPage, SdkReader, count_request
from distro.dynamo.retry import DEFAULT_POLICY
from distro.local.dataset import Dataset
from distro.settings import CountSettings, Tables

SHARD_KEYS = [*RUNNER_KEYS[:4], "estimatedShards", *RUNNER_KEYS[4:]]


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
            lean = await make_reader(Dynamo(client, tables, DEFAULT_POLICY), shards=True)
            assert isinstance(lean, LeanReader)
            await client.query(**count_request(tables.upload, SPACE, None, shards=True))
            page = await lean.count_page(SPACE, None)
        sdk, ours = recorder.seen
    assert ours == sdk
    assert json.loads(ours.body) == count_request(tables.upload, SPACE, None, shards=True)
    assert page == CountPage(3, None, 0.5)  # the recorder answers a count: no items, no shards


@pytest.mark.db
async def test_every_page_of_shards_equals_the_sdks_and_the_truth(
    loaded: tuple[Dataset, Tables],
) -> None:
    dataset, tables = loaded
    async with dynamodb_client(tables, pool_size=4) as client:
        db = Dynamo(client, tables, DEFAULT_POLICY)
        lean = await make_reader(db, shards=True)
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
    totals = orjson.loads((tmp_path / "distribution.json").read_bytes())["totals"]
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
    manifest = orjson.loads((tmp_path / "distribution.json").read_bytes())
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
