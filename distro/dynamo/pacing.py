"""Gentle reads: cap the read capacity a run consumes per second.

The cost of a DynamoDB read is known only from its reply
(``ReturnConsumedCapacity``), so the bucket works on credit: an attempt waits
until the bucket is positive, reserves what a call of its kind cost last
time, and settles the difference when the reply says what it really cost.
Over any stretch longer than a second the run consumes at most the cap; the
reservation keeps twenty workers from all starting on the same token.

The pacing is per attempt, not per call: a ``Lane`` is handed to
``distro.dynamo.retry.call_with_retry`` as its *pace*, so every retry passes the bucket
and every attempt is settled, whether it succeeded, failed or timed out.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from botocore.exceptions import ClientError

T = TypeVar("T")

MIN_QUERY_UNITS = 0.5  # an eventually consistent Query costs at least this, even when empty
THROTTLING_CODES = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)


class TokenBucket:
    """Read units that refill at *rate* per second, holding at most one second's worth."""

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._rate = rate
        self._tokens = rate
        self._clock = clock
        self._sleep = sleep
        self._last = clock()

    async def reserve(self, units: float) -> None:
        """Wait until the bucket is positive, then take *units* from it."""
        self._refill()
        while self._tokens <= 0:
            await self._sleep(-self._tokens / self._rate + 1e-3)
            self._refill()
        self._tokens -= units

    def settle(self, reserved: float, used: float) -> None:
        """Correct a reservation of *reserved* units by what the call really *used*."""
        self._tokens += reserved - used

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._rate, self._tokens + (now - self._last) * self._rate)
        self._last = now


class Lane(Generic[T]):
    """Paces one kind of call through *bucket*, attempt by attempt (a ``distro.dynamo.retry.Pace``).

    Each attempt reserves what the last successful one of its kind cost and
    settles with what its reply says it consumed (*units* reads that from the
    reply). Retries and timeouts are attempts like any other, so each one
    passes the bucket too.
    """

    def __init__(self, bucket: TokenBucket, units: Callable[[T], float]) -> None:
        self._bucket = bucket
        self._units = units
        self._cost = MIN_QUERY_UNITS

    async def __call__(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """Run *attempt* once the bucket allows it, and charge what it consumed."""
        reserved = self._cost
        await self._bucket.reserve(reserved)
        try:
            result = await attempt()
        except BaseException as exc:
            # A failed, timed-out or cancelled attempt may still have been read on
            # the server (the reply was lost or cut off): with no reply to say what
            # it cost, it is charged its reservation. A throttled one was refused
            # before any read and consumed nothing, so it is refunded: the cap is on
            # what the table serves, and the retrier's backoff, not the bucket,
            # spaces the next try.
            self._bucket.settle(reserved, 0.0 if is_throttled(exc) else reserved)
            raise
        used = self._units(result)
        self._bucket.settle(reserved, used)
        self._cost = max(used, MIN_QUERY_UNITS)
        return result


def is_throttled(exc: BaseException) -> bool:
    """True when DynamoDB refused a call for want of capacity, before reading anything."""
    if not isinstance(exc, ClientError):
        return False
    return exc.response.get("Error", {}).get("Code") in THROTTLING_CODES
