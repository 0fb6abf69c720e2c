"""The one place that makes DynamoDB clients and decides what a failure means.

Retries: distro retries every DynamoDB call itself, with ``backoff`` (exponential,
full jitter, bounded by attempts and by total time), and turns the SDK's own
retries off (``total_max_attempts=1``). Two layers of retries would multiply:
botocore's legacy mode alone makes 10 attempts without jitter, and under it
each of our attempts would become ten. One layer also means one place that
knows which errors are worth another try, including ``RequestLimitExceeded``,
which botocore's legacy mode does not retry. Each call also gets its own
deadline, because a call can otherwise wait forever for a pooled connection.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import aioboto3
import backoff
from aiobotocore.config import AioConfig
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    HTTPClientError,
    IncompleteReadError,
    NoCredentialsError,
    PartialCredentialsError,
)

from distro.errors import (
    AccessDenied,
    CredentialsMissing,
    DistroError,
    EndpointUnreachable,
    TableNotFound,
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
    """True for failures another attempt may cure: throttling, 5xx, timeouts, lost connections."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return error.get("Code") in RETRYABLE_CODES or status >= 500
    return isinstance(
        exc, TimeoutError | ConnectionError | HTTPClientError | IncompleteReadError | OSError
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
            return DistroError(f"{what} kept failing after every retry: {code}: {message}")
        return DistroError(f"{what} was refused: {code}: {message}")
    if isinstance(exc, ConnectionError):
        return EndpointUnreachable(
            f"{what}: cannot connect to DynamoDB ({exc}); check --endpoint-url, --region "
            "and the network"
        )
    if isinstance(exc, TimeoutError | HTTPClientError | IncompleteReadError | OSError):
        return DistroError(f"{what} kept timing out or losing its connection: {exc!r}")
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


@asynccontextmanager
async def dynamodb_client(
    tables: Tables, *, pool_size: int, policy: RetryPolicy = DEFAULT_POLICY
) -> AsyncIterator[Any]:
    """Yield a low-level DynamoDB client for *tables*' region and endpoint."""
    session = aioboto3.Session(region_name=tables.region)
    async with session.client(
        "dynamodb",
        endpoint_url=tables.endpoint_url,
        config=client_config(pool_size=pool_size, policy=policy),
    ) as client:
        yield client
