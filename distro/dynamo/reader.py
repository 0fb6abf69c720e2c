"""Page-level reads of the two tables: the seam between the pipeline and DynamoDB.

The pipeline asks a ``TableReader`` for one page at a time and follows the
keys itself. ``SdkReader`` answers with aiobotocore under the retry policy;
benchmarks and unit tests swap in readers of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from distro.dynamo.pacing import Lane, TokenBucket

if TYPE_CHECKING:
    from distro.dynamo.handle import Dynamo

Key = dict[str, Any]  # a LastEvaluatedKey, in DynamoDB's wire format


@dataclass(frozen=True, slots=True)
class ScanPage:
    """One Scan page: (space, customer) pairs, with None for a missing attribute."""

    rows: list[tuple[str | None, str | None]]
    next_key: Key | None
    read_units: float


@dataclass(frozen=True, slots=True)
class CountPage:
    """One ``Select=COUNT`` Query page of a space's uploads."""

    count: int
    next_key: Key | None
    read_units: float


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

    def __init__(self, db: Dynamo, *, bucket: TokenBucket | None = None) -> None:
        self._db = db
        self._tables = db.tables
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
        """Count one page of *space*'s uploads."""
        request = count_request(self._tables.upload, space, start_key)
        reply = await self._db.call(
            lambda: self._db.client.query(**request),
            what=f"Query of {self._tables.upload}",
            pace=self._count_pace,
        )
        return CountPage(reply["Count"], reply.get("LastEvaluatedKey"), _read_units(reply))


def count_request(table: str, space: str, start_key: Key | None) -> dict[str, Any]:
    """The parameters of one count Query of *space* in *table*, resuming at *start_key*.

    ``space`` is a reserved word in expressions, hence the placeholder.
    """
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "#space = :space",
        "ExpressionAttributeNames": {"#space": "space"},
        "ExpressionAttributeValues": {":space": {"S": space}},
        "Select": "COUNT",
        "ReturnConsumedCapacity": "TOTAL",
    }
    if start_key is not None:
        request["ExclusiveStartKey"] = start_key
    return request


def _read_units(reply: dict[str, Any]) -> float:
    return float(reply.get("ConsumedCapacity", {}).get("CapacityUnits", 0.0))
