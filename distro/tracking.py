"""The runner's tracking table: read every record, write only where no progress can be lost.

The runner keeps one record per customer (``DATA_MODEL.md``, "Tracking
records") and moves it from ``pending`` to ``in-progress``, then ``completed``
or ``failed``. distro writes records with a condition each, so a record the
runner has moved on is left alone whatever a re-run asks, even if the runner
moves it between distro's read and distro's write. BatchWriteItem takes no
condition, hence one conditional call per record through a bounded pool.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from distro.dynamo.handle import Dynamo

PENDING = "pending"
IN_PROGRESS = "in-progress"
COMPLETED = "completed"
FAILED = "failed"
REPLANNABLE = (PENDING, FAILED)  # not started, or to be started again: may move
WRITE_CONCURRENCY = 16  # conditional writes in flight
_CONDITION_FAILED = "ConditionalCheckFailedException"


@dataclass(frozen=True, slots=True)
class TrackingRecord:
    """What one record says about a customer's migration."""

    customer: str
    status: str
    instance_id: str  # "2", or "2,5" for a customer split across instances
    total_uploads: int = 0
    completed_uploads: int = 0
    total_spaces: int = 0
    completed_spaces: int = 0

    @property
    def remaining_uploads(self) -> int:
        """Uploads still to migrate: ``totalUploads - completedUploads``, never below 0."""
        return max(0, self.total_uploads - self.completed_uploads)

    @property
    def remaining_spaces(self) -> int:
        """Spaces still to migrate, never below 0."""
        return max(0, self.total_spaces - self.completed_spaces)


@dataclass(frozen=True, slots=True)
class LeftAlone:
    """A customer whose record distro did not write, and why: its *status* and *instance_id*."""

    customer: str
    status: str
    instance_id: str
    planned: str = ""  # the instance(s) the new files list it on, when known

    @property
    def doubled(self) -> bool:
        """Whether two instances would now migrate it: planned elsewhere and not completed."""
        return bool(self.planned) and self.planned != self.instance_id and self.status != COMPLETED


def record_of(item: Mapping[str, Any]) -> TrackingRecord:
    """The record of a DynamoDB *item* (wire format); absent numbers read as 0."""
    return TrackingRecord(
        customer=_text(item, "customer"),
        status=_text(item, "status"),
        instance_id=_text(item, "instanceId"),
        total_uploads=_number(item, "totalUploads"),
        completed_uploads=_number(item, "completedUploads"),
        total_spaces=_number(item, "totalSpaces"),
        completed_spaces=_number(item, "completedSpaces"),
    )


def _text(item: Mapping[str, Any], name: str) -> str:
    value = item.get(name, {})
    return str(value.get("S", value.get("N", ""))) if isinstance(value, dict) else ""


def _number(item: Mapping[str, Any], name: str) -> int:
    try:
        return int(item.get(name, {}).get("N", "0"))
    except (AttributeError, ValueError):
        return 0


async def read_records(db: Dynamo, table: str) -> list[TrackingRecord]:
    """Every record of *table*, by a consistent, paginated Scan under *db*'s policy, by customer."""
    records: list[TrackingRecord] = []
    start: dict[str, Any] = {}
    while True:
        page = await db.call(_scan_page(db.client, table, start), what=f"Scan of {table}")
        records += (record_of(item) for item in page.get("Items", []))
        # An empty page may still carry a LastEvaluatedKey: only its absence ends the Scan.
        if "LastEvaluatedKey" not in page:
            return sorted(records, key=lambda r: r.customer)
        start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}


Write = Callable[[], Awaitable[Any]]


def _scan_page(client: Any, table: str, start: Mapping[str, Any]) -> Write:
    return lambda: client.scan(TableName=table, ConsistentRead=True, **start)


async def conditional_writes(
    db: Dynamo,
    writes: Iterable[tuple[str, Write]],
    *,
    what: str,
    concurrency: int = WRITE_CONCURRENCY,
) -> tuple[int, list[dict[str, Any]]]:
    """Run each (customer, conditional call) of *writes*, *concurrency* at a time.

    *what* names the calls in messages (``"PutItem on <table>"``).

    Returns how many were written and the old items of those whose condition
    failed: a failed condition is an answer, not an error. A throttled or
    dropped call is retried under *db*'s policy.
    """
    queue = list(writes)
    refused: list[dict[str, Any]] = []
    written = 0

    async def worker() -> None:
        nonlocal written
        while queue:
            customer, write = queue.pop()
            old = await db.call(_attempt(write), what=what)
            if old is None:
                written += 1
            else:
                refused.append(old or {"customer": {"S": customer}})

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(max(1, min(concurrency, len(queue)))):
                group.create_task(worker())
    except BaseExceptionGroup as failed:
        raise _first_error(failed) from None
    return written, refused


def _first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The failure to report: every worker fails alike (a missing table), so the first."""
    first = group.exceptions[0]
    return _first_error(first) if isinstance(first, BaseExceptionGroup) else first


def _attempt(write: Write) -> Callable[[], Awaitable[dict[str, Any] | None]]:
    return lambda: _refused_item(write)


async def _refused_item(write: Write) -> dict[str, Any] | None:
    """None when *write* succeeded; the old item (maybe {}) when its condition failed."""
    try:
        await write()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != _CONDITION_FAILED:
            raise
        item: dict[str, Any] = exc.response.get("Item", {})
        return item
    return None


def pending_puts(
    client: Any, table: str, items: Sequence[Mapping[str, Any]]
) -> list[tuple[str, Write]]:
    """A PutItem per item that lands only on no record or a ``pending`` one."""
    return [(item["customer"]["S"], _put(client, table, item)) for item in items]


def _put(client: Any, table: str, item: Mapping[str, Any]) -> Write:
    return lambda: client.put_item(
        TableName=table,
        Item=item,
        ConditionExpression="attribute_not_exists(customer) OR #status = :pending",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":pending": {"S": PENDING}},
        ReturnValuesOnConditionCheckFailure="ALL_OLD",
    )


async def put_pending(
    db: Dynamo,
    table: str,
    items: Sequence[Mapping[str, Any]],
    *,
    concurrency: int = WRITE_CONCURRENCY,
) -> tuple[int, list[LeftAlone]]:
    """Put the ``pending`` *items* into *table*, never over a record that is not ``pending``.

    Returns how many were written and the customers left alone, sorted.
    """
    written, refused = await conditional_writes(
        db,
        pending_puts(db.client, table, items),
        what=f"PutItem on {table}",
        concurrency=concurrency,
    )
    return written, left_alone(refused)


def left_alone(items: Iterable[Mapping[str, Any]]) -> list[LeftAlone]:
    """The customers of refused *items*, with their status and instance, sorted by customer."""
    records = (record_of(item) for item in items)
    return sorted(
        (LeftAlone(r.customer, r.status, r.instance_id) for r in records),
        key=lambda a: a.customer,
    )


@dataclass(frozen=True, slots=True)
class Move:
    """A customer the new plan puts on *target*, read on *source* with *status*."""

    customer: str
    source: str
    target: str
    status: str


def move_updates(
    client: Any, table: str, moves: Sequence[Move], *, at: str
) -> list[tuple[str, Write]]:
    """An UpdateItem per move that lands only if the record is still as read.

    Still ``pending`` or ``failed`` and still on the instance read: a customer
    the runner started in between keeps its instance. Progress counters and
    status are not touched; only ``instanceId`` and the timestamps change.
    """
    return [(move.customer, _update(client, table, move, at)) for move in moves]


def _update(client: Any, table: str, move: Move, at: str) -> Write:
    return lambda: client.update_item(
        TableName=table,
        Key={"customer": {"S": move.customer}},
        UpdateExpression="SET instanceId = :target, assignedAt = :at, updatedAt = :at",
        ConditionExpression="#status IN (:pending, :failed) AND instanceId = :source",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={
            ":target": {"S": move.target},
            ":source": {"S": move.source},
            ":at": {"S": at},
            ":pending": {"S": PENDING},
            ":failed": {"S": FAILED},
        },
        ReturnValuesOnConditionCheckFailure="ALL_OLD",
    )


async def apply_moves(
    db: Dynamo,
    table: str,
    moves: Sequence[Move],
    *,
    at: str,
    concurrency: int = WRITE_CONCURRENCY,
) -> list[TrackingRecord]:
    """Move each customer of *moves* in *table*; return the records that changed under us.

    A record refused because a retried call had already moved it is not one of
    them: it says ``pending``/``failed`` on the target instance.
    """
    targets = {m.customer: m.target for m in moves}
    _, refused = await conditional_writes(
        db,
        move_updates(db.client, table, moves, at=at),
        what=f"UpdateItem on {table}",
        concurrency=concurrency,
    )
    changed = [record_of(item) for item in refused]
    return sorted(
        (
            r
            for r in changed
            if not (r.status in REPLANNABLE and r.instance_id == targets.get(r.customer))
        ),
        key=lambda r: r.customer,
    )
