"""Page-level reads of the two tables: the seam between the pipeline and DynamoDB.

The pipeline asks a ``TableReader`` for one page at a time and follows the
keys itself. ``SdkReader`` answers with aiobotocore under the retry policy;
benchmarks and unit tests swap in readers of their own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from distro.dynamo.handle import Dynamo
from distro.dynamo.pacing import Lane, TokenBucket
from distro.settings import SHARD_BUCKETS

Key = dict[str, Any]  # a LastEvaluatedKey, in DynamoDB's wire format


@dataclass(frozen=True, slots=True)
class ScanPage:
    """One Scan page: (space, customer) pairs, with None for a missing attribute."""

    rows: list[tuple[str | None, str | None]]
    next_key: Key | None
    read_units: float


@dataclass(frozen=True, slots=True)
class CountPage:
    """One Query page of a space's uploads: their *count* and, when asked, their shards.

    *shards* sums the ``shards`` sets' sizes; *shard_refs* counts the uploads
    whose list is in S3 (``shardsRef``), whose shards are not in the table.
    """

    count: int
    next_key: Key | None
    read_units: float
    shards: int = 0
    shard_refs: int = 0
    histogram: tuple[int, ...] = ()  # the page's uploads by ``SHARD_BUCKETS``, if counted


class TableReader(Protocol):
    """Reads pages of the Consumer and Upload tables."""

    async def scan_page(self, segment: int, total_segments: int, start_key: Key | None) -> ScanPage:
        """Return the next page of Consumer rows of *segment*."""
        ...

    async def count_page(self, space: str, start_key: Key | None) -> CountPage:
        """Return the next page of the count of *space*'s uploads."""
        ...


class SdkReader:
    """A ``TableReader`` through the handle *db*'s aiobotocore client, under its retry policy.

    With a *bucket*, every attempt of a Scan or Query passes it (a read-unit cap).
    """

    def __init__(
        self, db: Dynamo, *, bucket: TokenBucket | None = None, shards: bool = False
    ) -> None:
        self._db = db
        self._tables = db.tables
        self.shards = shards
        self._scan_pace = None if bucket is None else Lane(bucket, _read_units)
        self._count_pace = None if bucket is None else Lane(bucket, _read_units)

    async def scan_page(self, segment: int, total_segments: int, start_key: Key | None) -> ScanPage:
        """Scan one page of *segment*, projecting only the space and the customer."""
        request: dict[str, Any] = {
            "TableName": self._tables.consumer,
            "ProjectionExpression": "#space, #customer",
            "ExpressionAttributeNames": {"#space": "consumer", "#customer": "customer"},
            "Segment": segment,
            "TotalSegments": total_segments,
            "ReturnConsumedCapacity": "TOTAL",
        }
        if start_key is not None:
            request["ExclusiveStartKey"] = start_key
        reply = await self._db.call(
            lambda: self._db.client.scan(**request),
            what=f"Scan of {self._tables.consumer}",
            pace=self._scan_pace,
        )
        rows = [
            (item.get("consumer", {}).get("S"), item.get("customer", {}).get("S"))
            for item in reply.get("Items", ())
        ]
        return ScanPage(rows, reply.get("LastEvaluatedKey"), _read_units(reply))

    async def count_page(self, space: str, start_key: Key | None) -> CountPage:
        """Count one page of *space*'s uploads (and their shards, if the reader counts them)."""
        request = count_request(self._tables.upload, space, start_key, shards=self.shards)
        reply = await self._db.call(
            lambda: self._db.client.query(**request),
            what=f"Query of {self._tables.upload}",
            pace=self._count_pace,
        )
        return count_page(reply, shards=self.shards)


def count_page(reply: dict[str, Any], *, shards: bool = False) -> CountPage:
    """The page of a Query *reply*, in DynamoDB's wire format (SDK-parsed or raw JSON alike).

    With *shards*, the reply of a projection: its items' shards are counted too.
    """
    capacity = reply.get("ConsumedCapacity") or {}
    read_units = float(capacity.get("CapacityUnits", 0.0))
    if not shards:
        return CountPage(reply["Count"], reply.get("LastEvaluatedKey"), read_units)
    histogram, listed = count_shards(reply.get("Items", ()))
    return CountPage(
        reply["Count"], reply.get("LastEvaluatedKey"), read_units, listed, histogram[-1], histogram
    )


def count_shards(items: Iterable[dict[str, Any]]) -> tuple[tuple[int, ...], int]:
    """*items* by shards listed (``SHARD_BUCKETS``), and the shards they list in all.

    Only the length of each ``SS`` list is read: no item becomes an object of
    its own. An upload without ``shards`` (older ones) has none; one with
    ``shardsRef`` and no ``shards`` goes to the last bucket, its list being in S3.
    """
    buckets = [0] * len(SHARD_BUCKETS)
    shards = 0
    for item in items:
        listed = item.get("shards")
        if listed is not None:
            size = len(listed["SS"])
            shards += size
            buckets[_bucket(size)] += 1
        elif "shardsRef" in item:
            buckets[-1] += 1
        else:
            buckets[0] += 1
    return tuple(buckets), shards


def _bucket(size: int) -> int:
    """The ``SHARD_BUCKETS`` index of an upload listing *size* shards."""
    if size <= 1:
        return size
    return min(len(str(size)) + 1, len(SHARD_BUCKETS) - 2)


def count_request(
    table: str, space: str, start_key: Key | None, *, shards: bool = False
) -> dict[str, Any]:
    """The parameters of one count Query of *space* in *table*, resuming at *start_key*.

    ``space`` is a reserved word in expressions, hence the placeholder. With
    *shards*, the Query returns each upload's ``shards`` and ``shardsRef``
    instead of a bare count: the same read units, since DynamoDB charges
    for the items it reads, not for what it returns.
    """
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "#space = :space",
        "ExpressionAttributeNames": {"#space": "space"},
        "ExpressionAttributeValues": {":space": {"S": space}},
        "Select": "COUNT",
        "ReturnConsumedCapacity": "TOTAL",
    }
    if shards:
        del request["Select"]
        request["ProjectionExpression"] = "#shards, #shardsRef"
        request["ExpressionAttributeNames"] = {
            "#space": "space",
            "#shards": "shards",
            "#shardsRef": "shardsRef",
        }
    if start_key is not None:
        request["ExclusiveStartKey"] = start_key
    return request


def _read_units(reply: dict[str, Any]) -> float:
    return float(reply.get("ConsumedCapacity", {}).get("CapacityUnits", 0.0))
