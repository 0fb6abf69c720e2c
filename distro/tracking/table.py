"""The runner's tracking table: read every record, write only where no progress can be lost.

``generate --write-tracking`` puts one ``pending`` record per planned customer
(``write_assignments``) once the instance files are committed; ``replan``
reads every record and moves the customers it re-plans (``apply_moves``).

The runner keeps one record per customer (``docs/runner-contract.md``, "The tracking
table") and moves it from ``pending`` to ``in-progress``, then ``completed``
or ``failed``. distro writes records with a condition each, so a record the
runner has moved on is left alone whatever a re-run asks, even if the runner
moves it between distro's read and distro's write. BatchWriteItem takes no
condition, hence one conditional call per record through a bounded pool.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from distro.balance import Plan
from distro.dynamo.handle import Dynamo
from distro.errors import Fix, MigrationUnderWay
from distro.tracking.records import (
    FAILED,
    IN_PROGRESS,
    PENDING,
    REPLANNABLE,
    LeftAlone,
    Move,
    Problem,
    SpaceRecord,
    TrackingRecord,
    left_alone,
    read_customer,
    read_space,
    record_of,
)

WRITE_CONCURRENCY = 16  # conditional writes in flight
_CONDITION_FAILED = "ConditionalCheckFailedException"


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


# --- a dropped instance's customer, taken over only if its runner is gone ------------------------

MAX_SPACE_CHECKS = 99  # TransactWriteItems takes 100 items: the customer's update, and these


async def reclaim(
    db: Dynamo,
    tables: tuple[str, str],
    moves: Sequence[tuple[Move, TrackingRecord, Sequence[str]]],
    *,
    cutoff: str,
    at: str,
    concurrency: int = WRITE_CONCURRENCY,
) -> list[TrackingRecord]:
    """Move each in-progress customer of *moves* (move, record as read, its spaces under way)
    from its dropped instance, unless its runner is alive; return those kept, as read.

    *tables* are the tracking and the progress table. One transaction per
    customer: its record becomes ``pending`` on the target only if it is still
    ``in-progress`` on the source, and it and every space record it has under
    way were last written before *cutoff* (ISO-8601, as the runner writes).
    A live runner writes one of them at least every 10 uploads, and marks
    its space under way ended before it starts the next, so a runner that is
    alive keeps its customer, even if it writes between distro's read and
    this transaction.
    """
    writes = [
        (move.customer, _reclaim(db.client, tables, move, spaces, cutoff=cutoff, at=at))
        for move, _, spaces in moves
    ]
    _, refused = await conditional_writes(
        db, writes, what=f"TransactWriteItems on {tables[0]}", concurrency=concurrency
    )
    kept = {item["customer"]["S"] for item in refused}
    return [record for move, record, _ in moves if move.customer in kept]


def _reclaim(
    client: Any,
    tables: tuple[str, str],
    move: Move,
    spaces: Sequence[str],
    *,
    cutoff: str,
    at: str,
) -> Write:
    customers, progress = tables
    quiet = {":cutoff": {"S": cutoff}}
    update = {
        "Update": {
            "TableName": customers,
            "Key": {"customer": {"S": move.customer}},
            "UpdateExpression": (
                "SET instanceId = :target, #status = :pending, assignedAt = :at, updatedAt = :at"
            ),
            "ConditionExpression": (
                "#status = :in_progress AND instanceId = :source AND updatedAt < :cutoff"
            ),
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {
                ":target": {"S": move.target},
                ":source": {"S": move.source},
                ":at": {"S": at},
                ":pending": {"S": PENDING},
                ":in_progress": {"S": IN_PROGRESS},
                **quiet,
            },
        }
    }
    checks = [
        {
            "ConditionCheck": {
                "TableName": progress,
                "Key": {"customer": {"S": move.customer}, "space": {"S": space}},
                "ConditionExpression": "updatedAt < :cutoff",
                "ExpressionAttributeValues": quiet,
            }
        }
        for space in spaces[:MAX_SPACE_CHECKS]
    ]

    # A retry of a transaction that landed but whose reply was lost lands again as a no-op.
    token = str(
        uuid.uuid5(uuid.NAMESPACE_URL, f"distro-reclaim:{move.customer}:{move.target}:{at}")
    )

    async def write() -> None:
        try:
            await client.transact_write_items(
                TransactItems=[update, *checks], ClientRequestToken=token
            )
        except ClientError as exc:
            reasons = {r.get("Code") for r in exc.response.get("CancellationReasons", [])}
            if reasons & {"ConditionalCheckFailed", "TransactionConflict"}:
                raise _refusal() from exc
            raise

    return write


def _refusal() -> ClientError:
    """A failed condition, as ``conditional_writes`` reads one: the customer stays."""
    return ClientError(
        {"Error": {"Code": _CONDITION_FAILED, "Message": "kept"}}, "TransactWriteItems"
    )


# --- the pending records of a new plan ------------------------------------------------------

ASSIGNMENT_KEYS = {"customer": "HASH"}


@dataclass(frozen=True, slots=True)
class Assignment:
    """What one record says: a customer's work and the instance(s) that migrate it."""

    customer: str
    uploads: int
    spaces: int
    instance_id: str  # "2", or "2,5" for a customer split across instances


def assignments(plan: Plan) -> list[Assignment]:
    """One assignment per customer of *plan*, in instance order.

    A customer split across instances gets one record (a table keyed by
    customer holds no more) with the sum of its parts and every instance.
    """
    loads: dict[str, list[int]] = {}  # customer -> [uploads, spaces]
    for instance in plan.instances:
        for unit in instance.units:
            totals = loads.setdefault(unit.customer, [0, 0])
            totals[0] += unit.uploads
            totals[1] += unit.spaces
    where = plan.instances_of()
    return [
        Assignment(customer, uploads, spaces, ",".join(map(str, where[customer])))
        for customer, (uploads, spaces) in loads.items()
    ]


def assignment_item(assignment: Assignment, *, include: Sequence[str], at: str) -> dict[str, Any]:
    """The record of *assignment* in DynamoDB's wire format, assigned and updated *at*.

    ``filter`` is the include filter joined by commas, or NULL when there is none.
    """
    joined = ",".join(include)
    return {
        "customer": {"S": assignment.customer},
        "status": {"S": PENDING},
        "totalSpaces": {"N": str(assignment.spaces)},
        "completedSpaces": {"N": "0"},
        "totalUploads": {"N": str(assignment.uploads)},
        "completedUploads": {"N": "0"},
        "instanceId": {"S": assignment.instance_id},
        "filter": {"S": joined} if joined else {"NULL": True},
        "assignedAt": {"S": at},
        "updatedAt": {"S": at},
    }


async def check_assignments_table(db: Dynamo, table: str) -> None:
    """Fail early, in one line, if *table* is missing or not keyed by ``customer``."""
    await db.check_table(
        table, ASSIGNMENT_KEYS, fix=Fix.TRACKING_TABLE_NAME, missing=Fix.TRACKING_TABLE_MISSING
    )


async def write_assignments(
    db: Dynamo,
    table: str,
    plan: Plan,
    *,
    include: Sequence[str],
    at: str,
    concurrency: int = WRITE_CONCURRENCY,
) -> tuple[int, list[LeftAlone]]:
    """Put one ``pending`` record per customer of *plan* into *table*, where none has started.

    Returns how many were written and the customers left alone (their record
    is ``in-progress``, ``completed`` or ``failed``), with status, recorded
    instance and the instance the new files put them on.
    Each call runs under *db*'s policy (throttling, 5xx, timeouts), *concurrency* at a time.
    """
    planned = assignments(plan)
    items = [assignment_item(a, include=include, at=at) for a in planned]
    written, left = await put_pending(db, table, items, concurrency=concurrency)
    where = {a.customer: a.instance_id for a in planned}
    return written, [replace(a, planned=where.get(a.customer, "")) for a in left]


# --- the whole fleet's records, for distro status ---------------------------------------------

PROGRESS_KEYS = {"customer": "HASH", "space": "RANGE"}
# Parallel Scan segments of the runner's tables. DynamoDB Local's cost per page grows with
# its segment's size: at 90,000 space records its CPU was 23.9 s with 1 segment, 8.2 s
# with 4, 2.8 s with 32 (no gain beyond). On DynamoDB, more segments only add parallelism.
SCAN_SEGMENTS = 32
# Pages asked for at once, over all segments: each page in flight holds up to 1 MB of items
# and their parse, so this, not the segments, bounds the memory (32 at once: 679 MiB peak
# at production size).
PAGES_IN_FLIGHT = 8
T = TypeVar("T")


async def scan_records(
    db: Dynamo,
    table: str,
    read: Callable[[str, Mapping[str, Any]], tuple[T | None, list[Problem]]],
    *,
    segments: int = SCAN_SEGMENTS,
) -> tuple[list[T], list[Problem]]:
    """Every record of *table*, by *segments* parallel, paginated Scans; and their problems.

    Each page is read into records (*read*) as it arrives and then dropped, and
    at most ``PAGES_IN_FLIGHT`` are asked for at once, so the raw items of a big
    table are never all held at once. Only the absence of ``LastEvaluatedKey``
    ends a segment: an empty page may carry one.
    """
    records: list[T] = []
    problems: list[Problem] = []
    in_flight = asyncio.Semaphore(PAGES_IN_FLIGHT)

    async def segment(number: int) -> None:
        start: dict[str, Any] = {}
        while True:
            async with in_flight:  # the page is read into records before the next is asked
                page = await db.call(
                    _segment_page(db.client, table, number, segments, start),
                    what=f"Scan of {table}",
                )
                for item in page.get("Items", []):
                    record, found = read(table, item)
                    if record is not None:
                        records.append(record)
                    problems.extend(found)
                last = page.get("LastEvaluatedKey")
                del page
            if last is None:
                return
            start = {"ExclusiveStartKey": last}

    try:
        async with asyncio.TaskGroup() as group:
            for number in range(segments):
                group.create_task(segment(number))
    except BaseExceptionGroup as failed:
        raise _first_error(failed) from None
    return records, problems


def _segment_page(
    client: Any, table: str, number: int, segments: int, start: Mapping[str, Any]
) -> Write:
    return lambda: client.scan(TableName=table, Segment=number, TotalSegments=segments, **start)


async def read_fleet(
    db: Dynamo, *, customers_table: str, progress_table: str, segments: int = SCAN_SEGMENTS
) -> tuple[list[TrackingRecord], list[SpaceRecord], list[Problem]]:
    """Both of the runner's tables, checked first, then read whole: records and problems."""
    await db.check_table(
        customers_table,
        ASSIGNMENT_KEYS,
        fix=Fix.TRACKING_TABLE_NAME,
        missing=Fix.TRACKING_TABLE_MISSING,
    )
    await db.check_table(
        progress_table, PROGRESS_KEYS, fix=Fix.PROGRESS_TABLE, missing=Fix.PROGRESS_TABLE
    )
    customers, problems = await scan_records(db, customers_table, read_customer, segments=segments)
    spaces, more = await scan_records(db, progress_table, read_space, segments=segments)
    return customers, spaces, problems + more


async def started_records(db: Dynamo, table: str, *, most: int = 3) -> list[TrackingRecord]:
    """Up to *most* records of *table* the runner has moved on from ``pending``.

    A paginated Scan filtered on the status, stopped at the first page that
    finds some: a table of a migration under way answers at once.
    """
    found: list[TrackingRecord] = []
    start: dict[str, Any] = {}
    while len(found) < most:
        page = await db.call(_started_page(db.client, table, start), what=f"Scan of {table}")
        found += (record_of(item) for item in page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            break
        start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}
    return sorted(found, key=lambda r: r.customer)[:most]


def _started_page(client: Any, table: str, start: Mapping[str, Any]) -> Write:
    return lambda: client.scan(
        TableName=table,
        FilterExpression="#status <> :pending",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":pending": {"S": PENDING}},
        **start,
    )


async def refuse_if_started(db: Dynamo, table: str) -> None:
    """Raise ``MigrationUnderWay`` if the runner has started any customer of *table*."""
    started = await started_records(db, table)
    if not started:
        return
    first = started[0]
    where = f" on instance {first.instance_id}" if first.instance_id else ""
    raise MigrationUnderWay(
        f"{table} holds customers the runner has started (e.g. {first.customer}: "
        f"{first.status}{where}), so the migration is under way and a fresh plan would not "
        "match what the fleet is doing: to change its plan, use distro replan",
        fix=Fix.FORCE,
    )
