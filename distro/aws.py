"""The one place that makes DynamoDB clients and decides what a failure means.

Retries: distro retries every DynamoDB call itself, with ``backoff`` (exponential,
full jitter, bounded by attempts and by total time), and turns the SDK's own
retries off (``total_max_attempts=1``). Two layers of retries would multiply:
botocore's legacy mode alone makes 10 attempts without jitter, and under it
each of our attempts would become ten. One layer also means one place that
knows which errors are worth another try, including ``RequestLimitExceeded``,
which botocore's legacy mode does not retry. Each call also gets its own
deadline, because a call can otherwise wait forever for a pooled connection.

Batch writes have a second kind of retry: a BatchWriteItem reply may succeed
yet hand back ``UnprocessedItems``; ``batch_write`` resends those, with waits
of their own, until none are left.
"""

from __future__ import annotations

import asyncio
import functools
import random
from binascii import crc32
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Protocol, TypeVar

import aioboto3
import backoff
from aiobotocore.config import AioConfig
from botocore.exceptions import (
    BotoCoreError,
    ChecksumError,
    ClientError,
    ConnectionError,
    HTTPClientError,
    IncompleteReadError,
    InvalidRegionError,
    NoCredentialsError,
    PartialCredentialsError,
)

from distro.errors import (
    AccessDenied,
    CountingFailed,
    CredentialsMissing,
    DistroError,
    EndpointUnreachable,
    SettingsError,
    TableNotFound,
    WriteIncomplete,
)
from distro.settings import Tables

T = TypeVar("T")

RETRYABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
DENIED_CODES = frozenset(
    {"AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException"}
)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long to keep trying one DynamoDB call.

    *max_tries* and *max_time* bound the attempts; waits grow from *base*
    seconds, doubling up to *cap*, with full jitter. *call_timeout* is the
    deadline of a single attempt. A *base* of 0 makes retries instant (tests).
    """

    max_tries: int = 10
    max_time: float = 300.0
    base: float = 0.1
    cap: float = 10.0
    call_timeout: float = 30.0


DEFAULT_POLICY = RetryPolicy()
# Checking the tables before a run should fail fast when nothing answers.
PREFLIGHT_POLICY = RetryPolicy(max_tries=3, max_time=15.0, base=0.2, call_timeout=10.0)


def is_transient(exc: BaseException) -> bool:
    """True for failures another attempt may cure: throttling, 5xx, timeouts, lost connections.

    A reply whose body fails DynamoDB's CRC32 was damaged on the way: botocore retries it too.
    """
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return error.get("Code") in RETRYABLE_CODES or status >= 500
    return isinstance(
        exc,
        TimeoutError
        | ConnectionError
        | HTTPClientError
        | IncompleteReadError
        | OSError
        | ChecksumError,
    )


async def call_with_retry(
    policy: RetryPolicy, operation: Callable[[], Awaitable[T]], *, what: str
) -> T:
    """Run *operation* under *policy*; translate the final failure into a ``DistroError``.

    *what* names the call in messages (``"Query on staging-w3infra-upload"``).
    """
    try:
        result: T = await _retrier(policy)(operation, policy.call_timeout)
        return result
    except DistroError:
        raise
    except Exception as exc:
        raise translate(exc, what=what) from exc


async def _attempt(operation: Callable[[], Awaitable[T]], deadline: float) -> T:
    async with asyncio.timeout(deadline):
        return await operation()


@functools.cache
def _retrier(policy: RetryPolicy) -> Callable[..., Awaitable[Any]]:
    # Built once per policy: decorating on every call would cost more than the call's own work.
    return backoff.on_exception(
        backoff.expo,
        Exception,
        giveup=lambda exc: not is_transient(exc),
        max_tries=policy.max_tries,
        max_time=policy.max_time,
        jitter=backoff.full_jitter,
        raise_on_giveup=True,
        logger=None,
        factor=policy.base,
        max_value=policy.cap,
    )(_attempt)


def translate(exc: BaseException, *, what: str) -> DistroError:  # noqa: PLR0911 - a table of cases
    """Turn an SDK or network failure into one line that names problem and fix."""
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return CredentialsMissing(
            "no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
        )
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, message = error.get("Code", "?"), error.get("Message", "")
        if code == "ResourceNotFoundException":
            return TableNotFound(
                f"{what}: table not found ({message}); check --env, the table options and --region"
            )
        if code in DENIED_CODES:
            return AccessDenied(
                f"{what}: {code}: {message}; check the credentials and their policy"
            )
        if is_transient(exc):
            return CountingFailed(
                f"{what} kept failing after every retry: {code}: {message}; run the same "
                "command again to resume (if DynamoDB is throttling, lower --concurrency "
                "or set --max-read-units)"
            )
        return DistroError(f"{what} was refused: {code}: {message}")
    if isinstance(exc, ConnectionError):
        return EndpointUnreachable(
            f"{what}: cannot connect to DynamoDB ({exc}); check --endpoint-url, --region "
            "and the network"
        )
    if isinstance(exc, TimeoutError | HTTPClientError | IncompleteReadError | OSError):
        return CountingFailed(
            f"{what} kept timing out or losing its connection ({exc!r}); check the network "
            "and run the same command again to resume"
        )
    if isinstance(exc, BotoCoreError):
        return DistroError(f"{what}: {exc}")
    return DistroError(f"{what}: unexpected {type(exc).__name__}: {exc}")


def client_config(*, pool_size: int, policy: RetryPolicy = DEFAULT_POLICY) -> AioConfig:
    """SDK settings: a pool that fits every concurrent call, and no SDK retries.

    aiobotocore's default pool holds 10 connections, which would queue 20
    counting tasks behind each other.
    """
    return AioConfig(
        max_pool_connections=pool_size,
        retries={"mode": "standard", "total_max_attempts": 1},
        connect_timeout=min(10.0, policy.call_timeout),
        read_timeout=policy.call_timeout,
        tcp_keepalive=True,
    )


CRC32_HEADER = "x-amz-crc32"  # DynamoDB's checksum of every reply's body


def check_crc32(expected: str | None, body: bytes) -> None:
    """Raise ``ChecksumError`` when *body* does not have the CRC32 DynamoDB sent as *expected*.

    As botocore checks DynamoDB replies: over the raw bytes, and skipped when
    the header is absent (DynamoDB Local and some proxies leave it out).
    """
    if expected is None:
        return
    actual = crc32(body) & 0xFFFFFFFF
    if actual != int(expected):
        raise ChecksumError(
            checksum_type="crc32", expected_checksum=int(expected), actual_checksum=actual
        )


def _check_reply_crc32(response_dict: dict[str, Any], **_: Any) -> None:
    # With one attempt per call, botocore's standard mode only counts a CRC32 mismatch as a
    # reason to retry, then returns the damaged reply: checked here, before it is parsed.
    body = response_dict.get("body")
    if isinstance(body, bytes):
        check_crc32(response_dict["headers"].get(CRC32_HEADER), body)


@asynccontextmanager
async def dynamodb_client(
    tables: Tables, *, pool_size: int, policy: RetryPolicy = DEFAULT_POLICY
) -> AsyncIterator[Any]:
    """Yield a low-level DynamoDB client for *tables*' region and endpoint."""
    session = aioboto3.Session(region_name=tables.region)
    async with AsyncExitStack() as stack:
        try:
            client = await stack.enter_async_context(
                session.client(
                    "dynamodb",
                    endpoint_url=tables.endpoint_url,
                    config=client_config(pool_size=pool_size, policy=policy),
                )
            )
        except InvalidRegionError:
            raise SettingsError(
                f"--region {tables.region!r} is not a region name: use one like us-west-2"
            ) from None
        except ValueError as exc:  # botocore's word for an endpoint it cannot parse
            raise SettingsError(
                f"--endpoint-url {tables.endpoint_url!r} is not a URL ({exc}): "
                "use one like http://127.0.0.1:8000"
            ) from None
        client.meta.events.register("before-parse.dynamodb", _check_reply_crc32)
        yield client


# --- batch writes -----------------------------------------------------------------

BATCH_SIZE = 25  # BatchWriteItem's limit
MAX_BACKOFF_EXPONENT = 30  # 2**30 times any base is past every cap; larger would overflow a float
# BatchWriteItem's RequestItems and UnprocessedItems: table name -> write requests.
WriteRequests = dict[str, list[dict[str, Any]]]


class BatchWriteClient(Protocol):
    """The one call a batch writer makes: a DynamoDB client, or a test's wrapper of one."""

    async def batch_write_item(self, **kwargs: Any) -> dict[str, Any]:
        """BatchWriteItem, as aiobotocore's low-level client offers it."""
        ...


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
