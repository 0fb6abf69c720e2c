"""Assignment records: one ``pending`` item per planned customer in the migration's tracking table.

The migration tracks each customer's progress in a DynamoDB table keyed by
``customer`` (``DATA_MODEL.md``). ``distro generate`` seeds it, when asked,
once the instance files are committed. Every record is a
conditional PutItem (``distro.tracking``): it lands where there is no record
or a ``pending`` one, and never over a record the runner has moved on, so a
re-run never clears progress. Records of customers not planned stay as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from distro.balance import Plan
from distro.dynamo.handle import Dynamo
from distro.errors import Fix
from distro.records import PENDING, LeftAlone
from distro.tracking import WRITE_CONCURRENCY, put_pending

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
        for unit in (*instance.customers, *instance.split_spaces):
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
