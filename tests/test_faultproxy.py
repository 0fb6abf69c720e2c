"""The fault proxy against DynamoDB Local: each fault looks to a real client as it would in AWS.

The client is a raw aiobotocore client with the SDK's retries off and a 1 s
read timeout, so every injected fault reaches the test as the exception (or
page) a single attempt produces.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiobotocore.session
import boto3
import pytest
from aiobotocore.config import AioConfig
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from faultproxy import THROTTLE_CODES, FaultProxy, Faults

pytestmark = pytest.mark.db

REGION = "us-east-2"
CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
ITEMS = 50
PAGE = 10
# A healthy call finishes far sooner, even on a loaded machine; a held one takes far longer.
HEALTHY_TIMEOUT = 10
HELD = 30.0
SPACES = ("space-a", "space-b")


@pytest.fixture(scope="module")
def table(dynamo: Any) -> Iterator[str]:
    """A small table written directly (not through the proxy): 50 items over two spaces."""
    name = f"faultproxy-{uuid.uuid4().hex[:8]}"
    direct = _direct_client(dynamo.endpoint_url)
    direct.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "space", "KeyType": "HASH"},
            {"AttributeName": "n", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "space", "AttributeType": "S"},
            {"AttributeName": "n", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    for n in range(ITEMS):
        direct.put_item(TableName=name, Item={"space": {"S": SPACES[n % 2]}, "n": {"N": str(n)}})
    yield name
    direct.delete_table(TableName=name)


@pytest.fixture
def proxy(dynamo: Any) -> Iterator[FaultProxy]:
    """A proxy in front of DynamoDB Local that injects nothing until a test says so."""
    with FaultProxy(dynamo.endpoint_url, Faults()) as started:
        yield started


@pytest.fixture
async def client(proxy: FaultProxy) -> AsyncIterator[Any]:
    """A client through the proxy that makes exactly one attempt per call.

    Its timeouts are far above a healthy call's worst time on a loaded machine, so
    only an injected fault ever reaches a test as an error.
    """
    config = AioConfig(
        retries={"mode": "standard", "total_max_attempts": 1},
        read_timeout=HEALTHY_TIMEOUT,
        connect_timeout=HEALTHY_TIMEOUT,
    )
    session = aiobotocore.session.get_session()
    async with session.create_client(
        "dynamodb", endpoint_url=proxy.url, region_name=REGION, config=config, **CREDENTIALS
    ) as made:
        yield made


def _direct_client(endpoint_url: str) -> Any:
    """A synchronous client straight to DynamoDB Local, to compare the proxy against."""
    return boto3.client("dynamodb", endpoint_url=endpoint_url, region_name=REGION, **CREDENTIALS)


async def _count(client: Any, table: str, space: str = SPACES[0]) -> dict[str, Any]:
    """The call distro makes most: count one space's items."""
    result: dict[str, Any] = await client.query(
        TableName=table,
        KeyConditionExpression="#s = :s",
        ExpressionAttributeNames={"#s": "space"},
        ExpressionAttributeValues={":s": {"S": space}},
        Select="COUNT",
    )
    return result


async def _outcome(client: Any, table: str) -> str:
    """One Query, reduced to a word: "ok", the error code, or the exception's name."""
    try:
        await _count(client, table)
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    except (ConnectionClosedError, EndpointConnectionError) as exc:
        return type(exc).__name__
    return "ok"


def _strip(reply: dict[str, Any]) -> dict[str, Any]:
    # Request ids and dates differ between any two replies; the data must not.
    return {k: v for k, v in reply.items() if k != "ResponseMetadata"}


def test_faults_reject_impossible_probabilities() -> None:
    with pytest.raises(ValueError, match="throttle"):
        Faults(throttle=1.5)
    with pytest.raises(ValueError, match="add up"):
        Faults(throttle=0.6, drop=0.6)
    assert Faults(throttle=0.1, server_error=0.2, drop=0.7).drop == 0.7


async def test_without_faults_every_call_is_forwarded_unchanged(
    dynamo: Any, table: str, proxy: FaultProxy, client: Any
) -> None:
    direct = _direct_client(dynamo.endpoint_url)
    start: dict[str, Any] = {}
    for _ in range(ITEMS // PAGE + 1):
        via_proxy = await client.scan(TableName=table, Limit=PAGE, **start)
        assert _strip(via_proxy) == _strip(direct.scan(TableName=table, Limit=PAGE, **start))
        if "LastEvaluatedKey" not in via_proxy:
            break
        start = {"ExclusiveStartKey": via_proxy["LastEvaluatedKey"]}
    assert "LastEvaluatedKey" not in via_proxy
    assert (await _count(client, table))["Count"] == ITEMS // 2
    described = await client.describe_table(TableName=table)
    assert described["Table"]["TableName"] == table
    assert proxy.counts == {
        "forwarded:Scan": ITEMS // PAGE + 1,
        "forwarded:Query": 1,
        "forwarded:DescribeTable": 1,
    }


async def test_throttle_replies_with_a_throttling_code(
    table: str, proxy: FaultProxy, client: Any
) -> None:
    proxy.faults = Faults(throttle=1.0)
    codes = set()
    for _ in range(15):
        with pytest.raises(ClientError) as caught:
            await _count(client, table)
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        codes.add(caught.value.response["Error"]["Code"])
    # The generator picks among all three codes, so a client must handle each of them.
    assert codes == set(THROTTLE_CODES)
    assert proxy.counts == {"throttle": 15}


async def test_server_error_replies_500_or_503(table: str, proxy: FaultProxy, client: Any) -> None:
    proxy.faults = Faults(server_error=1.0)
    statuses = set()
    for _ in range(10):
        with pytest.raises(ClientError) as caught:
            await _count(client, table)
        status = caught.value.response["ResponseMetadata"]["HTTPStatusCode"]
        statuses.add(status)
        # A bare 503 has no body, so botocore can only name the error by its status.
        expected = "InternalServerError" if status == 500 else "503"
        assert caught.value.response["Error"]["Code"] == expected
    assert statuses == {500, 503}
    assert proxy.counts == {"server_error": 10}


async def test_drop_closes_the_connection_without_a_reply(
    table: str, proxy: FaultProxy, client: Any
) -> None:
    proxy.faults = Faults(drop=1.0)
    for _ in range(3):
        with pytest.raises((ConnectionClosedError, EndpointConnectionError)):
            await _count(client, table)
    assert proxy.counts == {"drop": 3}
    # The client recovers on a fresh connection once the faults stop.
    proxy.faults = Faults()
    assert (await _count(client, table))["Count"] == ITEMS // 2


async def test_delay_outlasts_the_read_timeout(table: str, proxy: FaultProxy) -> None:
    # Held far longer than the 1 s read timeout, so however busy the machine, the client
    # gives up before the proxy answers (stopping the proxy ends the held request).
    proxy.faults = Faults(delay=1.0, delay_seconds=HELD)
    config = AioConfig(
        retries={"mode": "standard", "total_max_attempts": 1},
        read_timeout=1,
        connect_timeout=HEALTHY_TIMEOUT,
    )
    session = aiobotocore.session.get_session()
    async with session.create_client(
        "dynamodb", endpoint_url=proxy.url, region_name=REGION, config=config, **CREDENTIALS
    ) as impatient:
        started = time.monotonic()
        with pytest.raises(ReadTimeoutError):
            await _count(impatient, table)
        elapsed = time.monotonic() - started
    # The client gave up at its own 1 s timeout, not when the proxy would have answered.
    assert 0.9 < elapsed < HELD
    assert proxy.counts["delay"] == 1


async def test_delay_shorter_than_the_timeout_still_answers(
    table: str, proxy: FaultProxy, client: Any
) -> None:
    proxy.faults = Faults(delay=1.0, delay_seconds=0.2)
    started = time.monotonic()
    assert (await _count(client, table))["Count"] == ITEMS // 2
    assert time.monotonic() - started >= 0.2
    assert proxy.counts == {"delay": 1, "forwarded:Query": 1}


async def test_empty_scan_page_continues_from_the_start_key(
    table: str, proxy: FaultProxy, client: Any
) -> None:
    proxy.faults = Faults(empty_scan_page=1.0)
    # A first page has no key to continue from, so it is forwarded.
    first = await client.scan(TableName=table, Limit=PAGE)
    assert first["Count"] == PAGE
    start_key = first["LastEvaluatedKey"]

    page = await client.scan(TableName=table, Limit=PAGE, ExclusiveStartKey=start_key)
    assert page["Items"] == []
    assert (page["Count"], page["ScannedCount"]) == (0, 0)
    assert page["LastEvaluatedKey"] == start_key

    counted = await client.scan(
        TableName=table, Limit=PAGE, ExclusiveStartKey=start_key, Select="COUNT"
    )
    assert "Items" not in counted
    assert counted["LastEvaluatedKey"] == start_key
    assert proxy.counts == {"forwarded:Scan": 1, "empty_scan_page": 2}


async def test_faults_apply_only_to_the_listed_operations(
    table: str, proxy: FaultProxy, client: Any
) -> None:
    proxy.faults = Faults(throttle=1.0, operations=frozenset({"Scan"}))
    assert (await _count(client, table))["Count"] == ITEMS // 2
    described = await client.describe_table(TableName=table)
    assert described["Table"]["ItemCount"] >= 0
    with pytest.raises(ClientError):
        await client.scan(TableName=table, Limit=PAGE)
    assert proxy.counts == {"forwarded:Query": 1, "forwarded:DescribeTable": 1, "throttle": 1}


async def test_the_same_seed_gives_the_same_faults(
    table: str, proxy: FaultProxy, client: Any
) -> None:
    async def run(seed: int) -> list[str]:
        proxy.faults = Faults(throttle=0.25, server_error=0.25, drop=0.2, seed=seed)
        return [await _outcome(client, table) for _ in range(30)]

    first = await run(seed=7)
    assert await run(seed=7) == first
    assert await run(seed=8) != first
    # Every kind of outcome occurred, so the comparison above covers each of them.
    assert {"ok", "InternalServerError", "503", "ConnectionClosedError"} <= set(first)
    assert set(first) & set(THROTTLE_CODES)


async def test_concurrent_calls_are_each_counted_once(
    table: str, proxy: FaultProxy, client: Any
) -> None:
    proxy.faults = Faults(throttle=0.5, seed=3)
    outcomes = await asyncio.gather(*(_outcome(client, table) for _ in range(40)))
    throttled = sum(outcome in THROTTLE_CODES for outcome in outcomes)
    assert 0 < throttled < 40
    assert proxy.counts == {"throttle": throttled, "forwarded:Query": 40 - throttled}


async def test_stop_does_not_wait_for_a_held_request(dynamo: Any, table: str) -> None:
    proxy = FaultProxy(dynamo.endpoint_url, Faults(delay=1.0, delay_seconds=30.0))
    proxy.start()
    session = aiobotocore.session.get_session()
    config = AioConfig(retries={"mode": "standard", "total_max_attempts": 1}, read_timeout=10)
    async with session.create_client(
        "dynamodb", endpoint_url=proxy.url, region_name=REGION, config=config, **CREDENTIALS
    ) as client:
        pending = asyncio.create_task(_count(client, table))
        # Bounded polling: the proxy's thread exposes no awaitable for this loop.
        for _ in range(500):
            if proxy.counts["delay"]:
                break
            await asyncio.sleep(0.01)
        else:
            pytest.fail("the request never reached the proxy")
        started = time.monotonic()
        await asyncio.to_thread(proxy.stop)
        # Well under the 30 s hold, yet loose enough for a busy machine.
        assert time.monotonic() - started < 15.0
        # Ending a held request is the proxy shutting down, not an injected drop.
        assert proxy.counts == {"delay": 1}
        # The held request ends as a lost connection, never as a reply.
        with pytest.raises((ConnectionClosedError, EndpointConnectionError)):
            await pending
