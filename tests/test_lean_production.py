"""The lean Query path where production runs: real AWS endpoints, proxies, damaged replies.

There is no network here, so the requests are compared where each would go on
the wire: every call aiohttp is asked to make (method, URL, headers in order,
body, proxy) is recorded, and refused before any connection is opened. The
SDK and the lean path make the same call at the same (frozen) time, and the
two records must be equal.
"""

from __future__ import annotations

import datetime
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from faultproxy import FaultProxy, Faults

from distro.aws import RetryPolicy, dynamodb_client
from distro.dataset import Dataset
from distro.errors import DistroError
from distro.fastquery import LeanReader, make_reader
from distro.reader import CountPage, TableReader
from distro.settings import Tables

FIXED_TIME = datetime.datetime(2026, 11, 29, 16, 0, 7)
FIXED_ID = uuid.UUID("12345678-1234-5678-9abc-123456789abc")
SPACE = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
ONE_TRY = RetryPolicy(max_tries=1, base=0.0, call_timeout=10.0)


async def pages(reader: TableReader, space: str) -> list[CountPage]:
    found, key = [], None
    while True:
        page = await reader.count_page(space, key)
        found.append(page)
        key = page.next_key
        if key is None:
            return found


# --- damaged replies: DynamoDB's x-amz-crc32 -----------------------------------------------


@pytest.fixture
def proxy(dynamo: Any) -> Iterator[FaultProxy]:
    with FaultProxy(dynamo.endpoint_url, Faults()) as started:
        yield started


def through(proxy: FaultProxy, loaded: tuple[Dataset, Tables]) -> Tables:
    tables = loaded[1]
    return Tables(tables.consumer, tables.upload, tables.region, proxy.url)


@pytest.mark.db
async def test_a_damaged_reply_is_retried_once_and_never_counted(
    proxy: FaultProxy, loaded: tuple[Dataset, Tables]
) -> None:
    dataset, _ = loaded
    space = max(dataset.uploads, key=dataset.uploads.__getitem__)
    tables = through(proxy, loaded)
    policy = RetryPolicy(max_tries=3, base=0.0, call_timeout=10.0)
    async with dynamodb_client(tables, pool_size=4, policy=policy) as client:
        lean = await make_reader(client, tables, policy)
        assert isinstance(lean, LeanReader)
        proxy.faults = Faults(corrupt=1.0, max_faults=1, operations=frozenset({"Query"}))
        found = await pages(lean, space)
    assert sum(page.count for page in found) == dataset.uploads[space]
    assert proxy.counts["corrupt"] == 1
    # Every page once, and the damaged one once more.
    assert proxy.counts["forwarded:Query"] == len(found) + 1


@pytest.mark.db
async def test_a_reply_damaged_on_every_attempt_fails_in_one_line(
    proxy: FaultProxy, loaded: tuple[Dataset, Tables]
) -> None:
    tables = through(proxy, loaded)
    policy = RetryPolicy(max_tries=2, base=0.0, call_timeout=10.0)
    async with dynamodb_client(tables, pool_size=4, policy=policy) as client:
        lean = await make_reader(client, tables, policy)
        proxy.faults = Faults(corrupt=1.0, operations=frozenset({"Query"}))
        with pytest.raises(DistroError) as caught:
            await lean.count_page(SPACE, None)
    assert re.fullmatch(
        r"Query of it-upload: Checksum crc32 failed, expected checksum (\d+) did not match "
        r"calculated checksum (\d+)\.",
        str(caught.value),
    )
    assert proxy.counts["corrupt"] == 2
