"""What the runner's tracking records say, as plain data (no AWS code).

The runner keeps one record per customer (``DATA_MODEL.md``, "Tracking
records") and moves it from ``pending`` to ``in-progress``, then ``completed``
or ``failed``. ``distro.tracking.table`` reads and writes them; the re-plan, the
summary and the report only need what they say, so it lives here, apart from
the DynamoDB client.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

PENDING = "pending"
IN_PROGRESS = "in-progress"
COMPLETED = "completed"
FAILED = "failed"
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
