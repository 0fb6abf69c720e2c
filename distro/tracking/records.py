"""What the runner's records say, as plain data (no AWS code).

The runner keeps one record per customer (``docs/runner-contract.md``, "The tracking
table") and moves it from ``pending`` to ``in-progress``, then ``completed``
or ``failed``; and one per (customer, space) it has started ("The progress
table"). ``distro.tracking.table`` reads and writes them; the re-plan, the
status and the reports only need what they say, so it lives here, apart from
the DynamoDB client.

Whatever a table holds is untrusted: ``read_customer`` and ``read_space``
never raise on a damaged item. They return the record (or None when it
cannot be used at all) and the problems found, each a ``Problem`` naming the
item and what is wrong with it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

PENDING = "pending"
IN_PROGRESS = "in-progress"
COMPLETED = "completed"
FAILED = "failed"
STATUSES = (PENDING, IN_PROGRESS, COMPLETED, FAILED)
REPLANNABLE = (PENDING, FAILED)  # not started, or to be started again: may move


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
    updated_at: str = field(default="", compare=False)  # ISO-8601, as the runner wrote it

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
    instance_id: str = field(metadata={"json": "instance"})
    # The instance(s) the new files list it on, when known (generate's; not in a replan's --json).
    planned: str = field(default="", metadata={"json": None})

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
        updated_at=_text(item, "updatedAt"),
    )


def _text(item: Mapping[str, Any], name: str) -> str:
    value = item.get(name, {})
    return str(value.get("S", value.get("N", ""))) if isinstance(value, dict) else ""


def _number(item: Mapping[str, Any], name: str) -> int:
    try:
        return int(item.get(name, {}).get("N", "0"))
    except (AttributeError, ValueError):
        return 0


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
    # Keys in --json (``views.common.document``): "from" and "to".
    source: str = field(metadata={"json": "from"})
    target: str = field(metadata={"json": "to"})
    status: str


# --- reading untrusted items strictly ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong with one item of *table*, keyed by *key*: *why*, in a few words."""

    table: str
    key: str
    why: str


# One shared empty mapping: most spaces have no failure, and a fleet has 300,000 spaces.
NO_FAILURES: Mapping[str, int] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class SpaceRecord:
    """What the runner's progress record says about one space of a customer.

    *failures* is the parsed ``error`` of a failed space: uploads by reason.
    """

    customer: str
    space: str
    status: str
    instance_id: str
    total_uploads: int
    completed_uploads: int
    created_at: datetime
    updated_at: datetime
    last_upload: str  # "" but for a space under way, whose last upload is shown when stalled
    failures: Mapping[str, int]  # NO_FAILURES but for a failed space

    @property
    def done(self) -> int:
        """Uploads the runner has processed in it, as far as the record tells.

        A space that ended (completed or failed) had every upload processed;
        its ``completedUploads`` stays at its last multiple of 10, so its
        ``totalUploads`` is what was done. Under way, ``completedUploads``.
        """
        if self.status in (COMPLETED, FAILED):
            return self.total_uploads
        return min(self.completed_uploads, self.total_uploads)


class _Reader:
    """Reads the attributes of one item of *table*, noting each problem once."""

    def __init__(self, table: str, item: Mapping[str, Any], key: str) -> None:
        self.table, self.item, self.key = table, item, key
        self.problems: list[Problem] = []

    def note(self, why: str) -> None:
        self.problems.append(Problem(self.table, self.key, why))

    def text(self, name: str, *, required: bool = True) -> str | None:
        value = self.item.get(name)
        if isinstance(value, dict) and isinstance(value.get("S"), str):
            text: str = value["S"]
            # Statuses, instance numbers and a customer's DID repeat on every record of a
            # big fleet: one string each, not one per record.
            return sys.intern(text) if name in _REPEATED else text
        if value is not None or required:
            self.note(f"{name} is {'missing' if value is None else 'not a string'}")
        return None

    def number(self, name: str, *, default: int | None = None) -> int | None:
        value = self.item.get(name)
        if value is None and default is not None:
            return default
        raw = value.get("N") if isinstance(value, dict) else None
        try:
            number = int(str(raw))
        except ValueError:
            number = -1
        if number < 0:
            self.note(f"{name} is {'missing' if value is None else 'not a count'}")
            return None
        return number

    def moment(self, name: str) -> datetime | None:
        raw = self.text(name)
        if raw is None:
            return None
        try:
            return datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            self.note(f"{name} {raw[:40]!r} is not an ISO-8601 time")
            return None

    def status(self) -> str | None:
        status = self.text("status")
        if status is not None and status not in STATUSES:
            self.note(f"status {status[:40]!r} is none of {', '.join(STATUSES)}")
            return None
        return status


_REPEATED = frozenset({"customer", "status", "instanceId", "workerId"})


def _key_of(item: Mapping[str, Any], *names: str) -> str:
    parts = []
    for name in names:
        value = item.get(name)
        parts.append(str(value.get("S")) if isinstance(value, dict) else "?")
    return " / ".join(parts)


def read_customer(
    table: str, item: Mapping[str, Any]
) -> tuple[TrackingRecord | None, list[Problem]]:
    """The customer record of *item*, strictly: a count that is not one is a problem.

    A record without ``instanceId`` is usable (the runner creates such records
    for customers no plan assigned); its instance is "".
    """
    read = _Reader(table, item, _key_of(item, "customer"))
    customer, status = read.text("customer"), read.status()
    numbers = [read.number(n, default=0) for n in _CUSTOMER_COUNTS]
    instance = read.text("instanceId", required=False) or ""
    if customer is None or status is None or None in numbers:
        return None, read.problems
    total_uploads, completed_uploads, total_spaces, completed_spaces = (n or 0 for n in numbers)
    record = TrackingRecord(
        customer,
        status,
        instance,
        total_uploads,
        completed_uploads,
        total_spaces,
        completed_spaces,
        read.text("updatedAt", required=False) or "",
    )
    return record, read.problems


_CUSTOMER_COUNTS = ("totalUploads", "completedUploads", "totalSpaces", "completedSpaces")


def read_space(table: str, item: Mapping[str, Any]) -> tuple[SpaceRecord | None, list[Problem]]:
    """The progress record of *item*, strictly; a failed space's ``error`` read as reasons.

    An ``error`` that is not the runner's JSON object of counts is a problem,
    but the record stays usable: its status and counts still tell the progress.
    """
    read = _Reader(table, item, _key_of(item, "customer", "space"))
    customer, space, status = read.text("customer"), read.text("space"), read.status()
    instance = read.text("instanceId")
    total, completed = read.number("totalUploads"), read.number("completedUploads", default=0)
    created, updated = read.moment("createdAt"), read.moment("updatedAt")
    if (
        customer is None
        or space is None
        or status is None
        or instance is None
        or total is None
        or completed is None
        or created is None
        or updated is None
    ):
        return None, read.problems
    failures = (_reasons(read, item) or NO_FAILURES) if status == FAILED else NO_FAILURES
    # The last upload is shown for a space under way only (the stalled list).
    last = read.text("lastProcessedUpload", required=False) if status == IN_PROGRESS else None
    record = SpaceRecord(
        customer, space, status, instance, total, completed, created, updated, last or "", failures
    )
    return record, read.problems


def _reasons(read: _Reader, item: Mapping[str, Any]) -> dict[str, int]:
    raw = read.text("error", required=False) or ""
    try:
        reasons = json.loads(raw)
    except ValueError:
        reasons = None
    if not isinstance(reasons, dict) or not all(
        isinstance(k, str) and type(v) is int and v >= 0 for k, v in reasons.items()
    ):
        read.note(f"error {raw[:60]!r} is not the runner's JSON object of uploads by reason")
        return {}
    return reasons
