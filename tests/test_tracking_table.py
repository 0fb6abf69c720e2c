"""Assignment records: one pending record per planned customer, written exactly once each."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from botocore.exceptions import ClientError
from helpers import Result, invoke, local_client, table_args

from distro.balance import CustomerLoad, InstancePlan, Plan, balance
from distro.dynamo.batch import BatchRetry, WriteRequests, batch_write
from distro.dynamo.handle import Dynamo
from distro.errors import TableNotFound, TableSchemaMismatch, WriteIncomplete
from distro.flags import with_flags
from distro.local.dataset import Dataset
from distro.local.dynamodb import LocalDynamo
from distro.settings import RetryPolicy, Tables
from distro.tally import SpaceLoad
from distro.tracking.table import (
    assignment_item,
    assignments,
    check_assignments_table,
    write_assignments,
)

AT = "2026-11-29T16:00:00.000Z"
LATER = "2026-11-30T09:30:00.250Z"
NO_RETRY_WAIT = RetryPolicy(base=0.0)
ALICE = CustomerLoad("did:mailto:example.org:alice", 120, 3)
BOB = CustomerLoad("did:mailto:gmail.com:bob", 45, 2)
ANY_TABLES = Tables("consumer", "upload", "us-east-2")  # the handle's; these calls name their own
CAROL = CustomerLoad("did:mailto:storacha.network:carol", 0, 0)


async def no_sleep(_: float) -> None:
    """Waits between resends take no time in tests."""


NO_WAIT = BatchRetry(sleep=no_sleep)


async def create_table(endpoint: str, name: str, key: str = "customer") -> None:
    async with local_client(endpoint) as client:
        await client.create_table(
            TableName=name,
            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
            KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )


async def delete_table(endpoint: str, name: str) -> None:
    async with local_client(endpoint) as client:
        await client.delete_table(TableName=name)


async def scan_all(endpoint: str, name: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    start: dict[str, Any] = {}
    async with local_client(endpoint) as client:
        while True:
            page = await client.scan(TableName=name, **start)
            items += page["Items"]
            if "LastEvaluatedKey" not in page:
                return items
            start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}


@pytest.fixture
def table(dynamo: LocalDynamo) -> Iterator[str]:
    """A fresh assignments table keyed by customer, deleted afterwards."""
    name = f"assignments-{uuid.uuid4().hex[:8]}"
    asyncio.run(create_table(dynamo.endpoint_url, name))
    yield name
    asyncio.run(delete_table(dynamo.endpoint_url, name))


@pytest.fixture
async def client(dynamo: LocalDynamo) -> AsyncIterator[Any]:
    async with local_client(dynamo.endpoint_url) as c:
        yield c


def truth_plan(dataset: Dataset, instances: int) -> Plan:
    truth = dataset.truth()
    loads = [
        CustomerLoad(c, n, truth.spaces_with_uploads_by_customer[c])
        for c, n in truth.uploads_by_customer.items()
    ]
    return balance(loads, instances)


def expected_records(
    dataset: Dataset, plan: Plan, *, filter_value: dict[str, Any], at: str
) -> dict[str, dict[str, Any]]:
    """Every record the plan must leave in the table, worked out from the dataset's truth."""
    truth = dataset.truth()
    return {
        c.customer: {
            "customer": {"S": c.customer},
            "status": {"S": "pending"},
            "totalSpaces": {"N": str(truth.spaces_with_uploads_by_customer[c.customer])},
            "completedSpaces": {"N": "0"},
            "totalUploads": {"N": str(truth.uploads_by_customer[c.customer])},
            "completedUploads": {"N": "0"},
            "instanceId": {"S": str(instance.instance_id)},
            "filter": filter_value,
            "assignedAt": {"S": at},
            "updatedAt": {"S": at},
        }
        for instance in plan.instances
        for c in instance.customers
    }


# --- records, without a database -------------------------------------------------


def test_a_record_has_the_documented_fields() -> None:
    plan = balance([ALICE, BOB, CAROL], 2)
    records = {a.customer: a for a in assignments(plan)}
    assert set(records) == {ALICE.customer, BOB.customer, CAROL.customer}
    item = assignment_item(records[BOB.customer], include=(), at=AT)
    assert item == {
        "customer": {"S": BOB.customer},
        "status": {"S": "pending"},
        "totalSpaces": {"N": "2"},
        "completedSpaces": {"N": "0"},
        "totalUploads": {"N": "45"},
        "completedUploads": {"N": "0"},
        "instanceId": {"S": "2"},
        "filter": {"NULL": True},
        "assignedAt": {"S": AT},
        "updatedAt": {"S": AT},
    }
    filtered = assignment_item(records[ALICE.customer], include=("gmail.com", "example.org"), at=AT)
    assert filtered["filter"] == {"S": "gmail.com,example.org"}
    assert filtered["instanceId"] == {"S": "1"}


def test_a_split_customer_gets_one_record_naming_every_instance() -> None:
    def part(space: str, uploads: int) -> SpaceLoad:
        return SpaceLoad(ALICE.customer, space, uploads)

    plan = Plan(
        instances=(
            InstancePlan(1, (), (part("s1", 70), part("s3", 10))),
            InstancePlan(2, (BOB,), (part("s2", 40),)),
        ),
        total_uploads=165,
        largest=part("s1", 70),
    )
    records = {a.customer: a for a in assignments(plan)}
    assert len(records) == 2  # a table keyed by customer holds one record each
    alice = records[ALICE.customer]
    assert (alice.uploads, alice.spaces, alice.instance_id) == (120, 3, "1,2")
    assert records[BOB.customer].instance_id == "2"


class Replies:
    """A BatchWriteItem stand-in: each reply leaves the requests *leave* picks unprocessed."""

    def __init__(self, leave: Any) -> None:
        self.leave = leave
        self.calls = 0
        self.written: Counter[str] = Counter()

    async def send(self, request: WriteRequests) -> dict[str, Any]:
        self.calls += 1
        left: WriteRequests = {}
        for table, puts in request.items():
            kept = self.leave(puts)
            for put in puts:
                if put in kept:
                    left.setdefault(table, []).append(put)
                else:
                    self.written[put["PutRequest"]["Item"]["customer"]["S"]] += 1
        return {"UnprocessedItems": left}


def puts(count: int) -> list[WriteRequests]:
    items = [{"PutRequest": {"Item": {"customer": {"S": f"c{i}"}}}} for i in range(count)]
    return [{"t": items[i : i + 25]} for i in range(0, count, 25)]


async def test_a_batch_that_keeps_moving_is_never_given_up() -> None:
    # One item per reply: 25 replies for a batch, far more than the attempts allowed,
    # but each reply writes something, so the writer keeps going until none is left.
    replies = Replies(lambda p: p[1:])
    written: list[int] = []
    retry = BatchRetry(attempts=2, sleep=no_sleep)
    await batch_write(replies.send, puts(25), what="test", retry=retry, on_written=written.append)
    assert replies.calls == 25
    assert sum(written) == 25
    assert set(replies.written.values()) == {1}


async def test_a_stuck_batch_is_given_up_with_waits_that_grow() -> None:
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    replies = Replies(lambda p: p)
    retry = BatchRetry(attempts=4, base=0.1, cap=0.3, sleep=record)
    with pytest.raises(WriteIncomplete, match="test: DynamoDB left 25 items unprocessed"):
        await batch_write(replies.send, puts(25), what="test", retry=retry, concurrency=1)
    assert replies.calls == 4
    assert len(waits) == 3
    assert all(0 <= w <= cap for w, cap in zip(waits, [0.1, 0.2, 0.3], strict=True))


def test_the_backoff_never_overflows() -> None:
    assert 0 <= BatchRetry(cap=2.0).delay(5_000) <= 2.0


class Throttled:
    """A client whose first PutItem is throttled outright, as DynamoDB does under load."""

    def __init__(self) -> None:
        self.calls = 0

    async def put_item(self, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        if self.calls == 1:
            error = {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}
            raise ClientError({"Error": error}, "PutItem")
        return {}


async def test_a_throttled_call_is_retried() -> None:
    throttled = Throttled()
    plan = balance([ALICE, BOB], 1)
    written = await write_assignments(
        Dynamo(throttled, ANY_TABLES, NO_RETRY_WAIT), "t", plan, include=(), at=AT
    )
    assert written == (2, [])
    assert throttled.calls == 3


# --- DynamoDB Local -----------------------------------------------------------------


@pytest.mark.db
async def test_a_rerun_overwrites_the_same_records(
    loaded: tuple[Dataset, Tables], client: Any, table: str, dynamo: LocalDynamo
) -> None:
    dataset, _ = loaded
    first, second = truth_plan(dataset, 5), truth_plan(dataset, 2)
    await write_assignments(Dynamo(client, ANY_TABLES), table, first, include=(), at=AT)
    include = ("gmail.com", "storacha.network")
    await write_assignments(Dynamo(client, ANY_TABLES), table, second, include=include, at=LATER)
    expected = expected_records(
        dataset, second, filter_value={"S": "gmail.com,storacha.network"}, at=LATER
    )
    items = await scan_all(dynamo.endpoint_url, table)
    assert len(items) == len(expected)  # replaced, not added
    assert {item["customer"]["S"]: item for item in items} == expected


@pytest.mark.db
async def test_a_missing_table_is_named(client: Any) -> None:
    with pytest.raises(TableNotFound, match=r"no-such-assignments.*not found"):
        await check_assignments_table(Dynamo(client, ANY_TABLES), "no-such-assignments")
    plan = balance([ALICE], 1)
    with pytest.raises(TableNotFound, match="PutItem on no-such-assignments"):
        await write_assignments(
            Dynamo(client, ANY_TABLES, NO_RETRY_WAIT),
            "no-such-assignments",
            plan,
            include=(),
            at=AT,
        )


@pytest.mark.db
async def test_a_table_with_another_key_is_refused(client: Any, dynamo: LocalDynamo) -> None:
    name = f"keyed-by-id-{uuid.uuid4().hex[:8]}"
    await create_table(dynamo.endpoint_url, name, key="id")
    try:
        with pytest.raises(TableSchemaMismatch) as caught:
            await check_assignments_table(Dynamo(client, ANY_TABLES), name)
        assert with_flags(caught.value) == (
            f"table {name} has key schema {{'id': 'HASH'}}, expected {{'customer': 'HASH'}}: "
            "check --assignments-table or $MIGRATION_CUSTOMERS_TABLE_NAME"
        )
    finally:
        await delete_table(dynamo.endpoint_url, name)


# --- the command line ------------------------------------------------------------------


def generate(tables: Tables, *args: str | Path) -> Result:
    return invoke("generate", *table_args(tables), *args)


@pytest.mark.db
def test_generate_writes_a_record_per_customer(
    loaded: tuple[Dataset, Tables], table: str, tmp_path: Path, dynamo: LocalDynamo
) -> None:
    dataset, tables = loaded
    truth = dataset.truth()
    result = generate(
        tables, "--instances", "3", "--output-dir", tmp_path, "--assignments-table", table
    )
    assert result.returncode == 0, result.stderr
    assert f"Wrote {len(truth.uploads_by_customer)} tracking records to {table}" in result.stderr
    files = [orjson.loads(p.read_bytes()) for p in sorted(tmp_path.glob("instance-*.json"))]
    items = {i["customer"]["S"]: i for i in asyncio.run(scan_all(dynamo.endpoint_url, table))}
    assert set(items) == set(truth.uploads_by_customer)
    for document in files:
        for customer in document["customers"]:
            item = items[customer]
            assert item["instanceId"] == {"S": str(document["instanceId"])}
            assert item["assignedAt"] == item["updatedAt"] == {"S": document["createdAt"]}
            assert item["totalUploads"] == {"N": str(truth.uploads_by_customer[customer])}
            assert item["status"] == {"S": "pending"}


@pytest.mark.db
def test_a_missing_assignments_table_fails_before_counting(
    loaded: tuple[Dataset, Tables], tmp_path: Path
) -> None:
    _, tables = loaded
    out = tmp_path / "state"
    result = generate(
        tables, "--instances", "3", "--output-dir", out, "--assignments-table", "no-such-table"
    )
    assert result.returncode == 1, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("Error: DescribeTable no-such-table: table not found (")
    # It says how to fix it: which option names the table, and who creates it.
    assert line.endswith(
        "; check --env and --assignments-table (or $MIGRATION_CUSTOMERS_TABLE_NAME): "
        "the runner's deployment creates this table"
    )
    assert not list(out.glob("instance-*"))
    # The table is checked before counting: a checkpoint, if any, holds its header alone.
    for checkpoint in out.glob("counting-checkpoint-staging.json"):
        assert len(checkpoint.read_bytes().splitlines()) <= 1
