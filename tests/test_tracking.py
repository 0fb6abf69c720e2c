"""Tracking records: a re-run never clears progress; the default table needs no typing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import invoke, local_client, read_plan, table_args
from test_tracking_table import create_table, delete_table, scan_all

from distro.local.dataset import Dataset
from distro.local.dynamodb import LocalDynamo
from distro.settings import Tables, default_table
from distro.tracking.records import TrackingRecord, record_of


def test_the_default_table_is_the_runners() -> None:
    assert default_table("staging", {}) == "staging-migration-customers"
    assert default_table("production", {}) == "prod-migration-customers"
    named = {"MIGRATION_CUSTOMERS_TABLE_NAME": "my-customers"}
    assert default_table("production", named) == "my-customers"


def test_a_record_reads_its_remaining_work() -> None:
    item = {
        "customer": {"S": "did:mailto:a.org:x"},
        "status": {"S": "in-progress"},
        "instanceId": {"S": "3"},
        "totalUploads": {"N": "120"},
        "completedUploads": {"N": "45"},
        "totalSpaces": {"N": "4"},
        "completedSpaces": {"N": "1"},
    }
    record = record_of(item)
    assert record == TrackingRecord("did:mailto:a.org:x", "in-progress", "3", 120, 45, 4, 1)
    assert (record.remaining_uploads, record.remaining_spaces) == (75, 3)


@pytest.fixture
def tracking(dynamo: LocalDynamo, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh tracking table, named to the runner (and distro) by the runner's variable."""
    name = f"tracking-{uuid.uuid4().hex[:8]}"
    asyncio.run(create_table(dynamo.endpoint_url, name))
    monkeypatch.setenv("MIGRATION_CUSTOMERS_TABLE_NAME", name)
    yield name
    asyncio.run(delete_table(dynamo.endpoint_url, name))


async def mark(endpoint: str, table: str, customer: str, status: str, done: int) -> None:
    """Move a record on as the runner does: status and progress, totals kept."""
    async with local_client(endpoint) as client:
        await client.update_item(
            TableName=table,
            Key={"customer": {"S": customer}},
            UpdateExpression="SET #s = :s, completedUploads = :d",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":s": {"S": status}, ":d": {"N": str(done)}},
        )


def items_of(endpoint: str, table: str) -> dict[str, dict[str, Any]]:
    return {i["customer"]["S"]: i for i in asyncio.run(scan_all(endpoint, table))}


@pytest.mark.db
def test_a_rerun_of_generate_never_clears_progress(
    loaded: tuple[Dataset, Tables], tracking: str, dynamo: LocalDynamo, tmp_path: Path
) -> None:
    dataset, tables = loaded
    args = [*table_args(tables), "--output-dir", tmp_path, "--write-tracking"]
    first = invoke("generate", "--instances", "3", *args)
    assert first.returncode == 0, first.stderr
    customers = sorted(dataset.truth().uploads_by_customer)
    assert f"Wrote {len(customers)} tracking records to {tracking}" in first.stderr
    started = {customers[0]: "in-progress", customers[1]: "completed", customers[2]: "failed"}
    for customer, status in started.items():
        asyncio.run(mark(dynamo.endpoint_url, tracking, customer, status, 1))
    before = items_of(dynamo.endpoint_url, tracking)
    files = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    # Under way, a fresh plan is refused before any counting: replan is the way.
    refused = invoke("generate", "--instances", "2", *args)
    assert refused.returncode == 1
    instance = before[customers[0]]["instanceId"]["S"]
    assert refused.stderr == (
        f"Error: {tracking} holds customers the runner has started (e.g. {customers[0]}: "
        f"in-progress on instance {instance}), so the migration is under way and a fresh plan would not "
        "match what the fleet is doing: to change its plan, use distro replan; to put pending "
        "records for a fresh plan anyway, add --force\n"
    )
    assert items_of(dynamo.endpoint_url, tracking) == before
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == files

    # Forced, it still never clears progress.
    again = invoke("generate", "--instances", "2", *args, "--force")

    assert again.returncode == 0, again.stderr
    after = items_of(dynamo.endpoint_url, tracking)
    for customer in started:
        assert after[customer] == before[customer]  # progress, status and instance intact
    assert f"Wrote {len(customers) - 3} tracking records to {tracking}" in again.stderr
    assert "Left 3 records alone: the runner has started them" in again.stderr
    plan = read_plan(tmp_path)
    doubled = 0
    for customer, status in started.items():
        instance = before[customer]["instanceId"]["S"]
        planned = next(str(n) for n, doc in plan.items() if customer in doc["customers"])
        line = f"  {customer}: {status} on instance {instance}"
        if planned != instance and status != "completed":
            doubled += 1
            line += f" (the files list it on {planned})"
        assert f"{line}\n" in again.stderr
    assert doubled  # the 3-instance records and the 2-instance files disagree for some
    assert (
        f"{doubled} of them are listed on another instance than their record: two instances "
        "would migrate them; to change a plan under way, use distro replan\n"
    ) in again.stderr
    moved = [c for n, doc in plan.items() for c in doc["customers"] if c not in started]
    for customer in moved:
        where = next(n for n, doc in plan.items() if customer in doc["customers"])
        assert after[customer]["instanceId"] == {"S": str(where)}
        assert after[customer]["status"] == {"S": "pending"}
