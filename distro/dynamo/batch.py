"""Batch writes: BatchWriteItem requests of 25 items, resent until nothing is left unprocessed.

A BatchWriteItem reply may succeed yet hand back ``UnprocessedItems``;
``batch_write`` resends those, with waits of their own, until none are left.
Each call itself runs under the retry policy of the caller's *send*.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from distro.errors import WriteIncomplete

BATCH_SIZE = 25  # BatchWriteItem's limit
MAX_BACKOFF_EXPONENT = 30  # 2**30 times any base is past every cap; larger would overflow a float
# BatchWriteItem's RequestItems and UnprocessedItems: table name -> write requests.
WriteRequests = dict[str, list[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class BatchRetry:
    """How ``batch_write`` resends ``UnprocessedItems``: full-jitter exponential waits.

    The *n*-th wait is uniform in [0, min(*cap*, *base* * 2**n)]. A batch is
    given up after *attempts* replies in a row that write nothing, so a slow
    but moving table is waited for and a stuck one is not. *sleep* is
    injectable so tests never wait for real.
    """

    attempts: int = 12
    base: float = 0.05
    cap: float = 2.0
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep)

    def delay(self, retry: int) -> float:
        """The wait before retry number *retry* (0-based)."""
        return random.uniform(0.0, min(self.cap, self.base * 2 ** min(retry, MAX_BACKOFF_EXPONENT)))


DEFAULT_BATCH_RETRY = BatchRetry()


def batch_requests(puts: Iterable[tuple[str, dict[str, Any]]]) -> Iterator[WriteRequests]:
    """Group (table, item) puts into BatchWriteItem requests of at most 25 items."""
    stream = iter(puts)
    while chunk := list(islice(stream, BATCH_SIZE)):
        request: WriteRequests = {}
        for table, item in chunk:
            request.setdefault(table, []).append({"PutRequest": {"Item": item}})
        yield request


async def batch_write(
    send: Callable[[WriteRequests], Awaitable[dict[str, Any]]],
    requests: Iterable[WriteRequests],
    *,
    what: str,
    retry: BatchRetry = DEFAULT_BATCH_RETRY,
    concurrency: int = 8,
    on_written: Callable[[int], None] | None = None,
) -> None:
    """Send every request with *send*, *concurrency* at a time, each until nothing is left.

    *send* makes one BatchWriteItem call and returns its reply; *on_written*
    gets the number of items each reply wrote. A batch DynamoDB will not take
    raises ``WriteIncomplete``, naming the call with *what*.
    """
    slots = asyncio.Semaphore(concurrency)

    async def write_then_release(request: WriteRequests) -> None:
        try:
            await _write_one(send, request, what=what, retry=retry, on_written=on_written)
        finally:
            slots.release()

    try:
        async with asyncio.TaskGroup() as group:
            for request in requests:
                # Waiting for a slot before spawning keeps at most *concurrency*
                # tasks alive, and holds a lazy stream of requests back meanwhile.
                await slots.acquire()
                group.create_task(write_then_release(request))
    except* Exception as failures:
        # Callers expect the error itself, not the TaskGroup's wrapper of it;
        # when several batches fail, they fail for the same reason.
        raise failures.exceptions[0] from None


async def _write_one(
    send: Callable[[WriteRequests], Awaitable[dict[str, Any]]],
    request: WriteRequests,
    *,
    what: str,
    retry: BatchRetry,
    on_written: Callable[[int], None] | None,
) -> None:
    """Send *request*, then resend whatever comes back unprocessed until nothing does."""
    pending, retries, fruitless = request, 0, 0
    while True:
        reply = await send(pending)
        left: WriteRequests = reply.get("UnprocessedItems") or {}
        written = count_requests(pending) - count_requests(left)
        if on_written is not None and written:
            on_written(written)
        if not left:
            return
        fruitless = 0 if written else fruitless + 1
        if fruitless >= retry.attempts:
            raise WriteIncomplete(
                f"{what}: DynamoDB left {count_requests(left)} items unprocessed after "
                f"{retry.attempts} attempts that wrote nothing"
            )
        await retry.sleep(retry.delay(retries))
        retries += 1
        pending = left


def count_requests(requests: WriteRequests) -> int:
    """The number of write requests in *requests*, over every table."""
    return sum(len(puts) for puts in requests.values())
