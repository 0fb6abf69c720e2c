"""The replan view: what a re-plan kept, moved and wrote, as plain data (``--json`` prints it)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson

from distro.settings import timestamp
from distro.tracking.records import LeftAlone, Move
from distro.views.common import camel
from distro.views.steps import NextSteps

if TYPE_CHECKING:
    from distro.replan_run import ReplanOutcome


@dataclass(frozen=True, slots=True)
class CriticalPath:
    """The instance that ends last: its id, remaining uploads, and the days they take."""

    instance: str
    uploads: int
    days: float


@dataclass(frozen=True, slots=True)
class Finish:
    """When the fleet ends: *hours* from the replan's moment and the date (None: never)."""

    hours: float | None
    at: datetime | None

    @classmethod
    def of(cls, minutes: float | None, now: datetime) -> Finish:
        """The finish *minutes* after *now* (None: never)."""
        if minutes is None:
            return cls(None, None)
        return cls(minutes / 60, now + timedelta(minutes=minutes))


@dataclass(frozen=True, slots=True)
class InstanceRow:
    """One instance of the new plan: its customers, uploads left, speed and finish."""

    instance: int
    customers: int
    uploads: int
    per_minute: float
    hours: float
    change: str | None  # restart, start, unchanged; None when nothing is written
    dropped: bool = False
    machine: int | None = None  # the machine that runs it, with runners per host


@dataclass(frozen=True, slots=True)
class ReplanSummary:
    """Everything the replan report shows, as plain data (``--json`` prints the same)."""

    env: str
    table: str
    instances: int
    finished: int  # completed customers, out of the plan
    pinned: int  # in progress, kept on their instance
    balanced: int  # pending or failed, balanced around the pinned load
    before: CriticalPath
    after: CriticalPath
    lower_bound: float
    moves: tuple[Move, ...]
    moved: int  # records updated
    raced: tuple[LeftAlone, ...]
    files: tuple[str, ...]
    next_steps: NextSteps | None = None
    corrected_customers: int = 0  # whose remaining work the space records changed
    corrected_uploads: int = 0  # by this many uploads in all (less left than recorded)
    uploads_moved: int = 0  # the remaining uploads of the customers moved
    finish_before: Finish = Finish(None, None)
    finish_after: Finish = Finish(None, None)
    bound: Finish = Finish(None, None)
    speeds_measured: bool = False
    speeds_note: str = ""
    distribution: tuple[InstanceRow, ...] = ()
    dropped: tuple[int, ...] = ()

    @property
    def nothing_moved(self) -> bool:
        """No customer moved: nothing was written, the runners keep their lists."""
        return not self.moves and not self.moved


def summarize_replan(
    outcome: ReplanOutcome,
    *,
    env: str,
    steps: NextSteps | None = None,
    runners_per_host: int | None = None,
) -> ReplanSummary:
    """The report of *outcome*, with days at its speeds and the *steps* that deploy it;
    with *runners_per_host*, each instance's row names its machine."""
    result = outcome.result
    now = outcome.now or datetime.now(UTC)
    speed = result.speeds.of

    def ends(instance: str, uploads: int) -> float:
        return uploads / speed(int(instance) if instance.isdigit() else 0)

    before = max(result.before.items(), key=lambda kv: ends(*kv), default=("-", 0))
    last = max(
        result.plan.instances, key=lambda i: (i.uploads / speed(i.instance_id), -i.instance_id)
    )
    changes = {s.instance_id: s.change for s in steps.instances} if steps else {}
    planned = sum(len(i.customers) for i in result.plan.instances)
    return ReplanSummary(
        env=env,
        table=outcome.table,
        instances=len(result.plan.instances),
        finished=len(result.finished),
        pinned=len(result.pinned),
        balanced=planned - len(result.pinned),
        before=CriticalPath(before[0], before[1], ends(*before) / 60 / 24),
        after=CriticalPath(
            str(last.instance_id), last.uploads, ends(str(last.instance_id), last.uploads) / 60 / 24
        ),
        lower_bound=result.lower_bound,
        moves=result.moves,
        moved=outcome.moved,
        raced=tuple(LeftAlone(r.customer, r.status, r.instance_id) for r in outcome.raced),
        files=tuple(str(f) for f in outcome.files),
        next_steps=steps,
        corrected_customers=outcome.corrected.customers,
        corrected_uploads=outcome.corrected.uploads,
        uploads_moved=result.uploads_moved,
        finish_before=Finish.of(result.finish_before, now),
        finish_after=Finish.of(result.finish_after, now),
        bound=Finish.of(result.bound, now),
        speeds_measured=result.speeds.measured,
        speeds_note=result.speeds.note,
        distribution=tuple(
            InstanceRow(
                i.instance_id,
                len(i.customers),
                i.uploads,
                result.speeds.of(i.instance_id),
                i.uploads / result.speeds.of(i.instance_id) / 60,
                changes.get(i.instance_id),
                i.instance_id in result.dropped,
                (i.instance_id - 1) // runners_per_host + 1 if runners_per_host else None,
            )
            for i in result.plan.instances
        ),
        dropped=result.dropped,
    )


def replan_json(summary: ReplanSummary) -> bytes:
    """*summary* as one indented JSON document with camelCase keys, ending in a newline."""
    document = {
        "environment": summary.env,
        "trackingTable": summary.table,
        "instances": summary.instances,
        "finishedCustomers": summary.finished,
        "pinnedCustomers": summary.pinned,
        "balancedCustomers": summary.balanced,
        "criticalPath": {"before": _path(summary.before), "after": _path(summary.after)},
        "lowerBound": summary.lower_bound,
        "corrected": {
            "customers": summary.corrected_customers,
            "uploads": summary.corrected_uploads,
        },
        "moves": [
            {"customer": m.customer, "from": m.source, "to": m.target, "status": m.status}
            for m in summary.moves
        ],
        "movedUploads": summary.uploads_moved,
        "nothingMoved": summary.nothing_moved,
        "finish": {
            "before": _finish(summary.finish_before),
            "after": _finish(summary.finish_after),
            "lowerBound": _finish(summary.bound),
        },
        "speeds": {"measured": summary.speeds_measured, "note": summary.speeds_note},
        "droppedInstances": list(summary.dropped),
        "distribution": [
            {
                "instance": r.instance,
                "customers": r.customers,
                "uploads": r.uploads,
                "ratePerMinute": r.per_minute,
                "hours": r.hours,
                "change": r.change,
                "dropped": r.dropped,
                "machine": r.machine,
            }
            for r in summary.distribution
        ],
        "recordsUpdated": summary.moved,
        "startedMeanwhile": [
            {"customer": a.customer, "status": a.status, "instance": a.instance_id}
            for a in summary.raced
        ],
        "files": list(summary.files),
        "nextSteps": camel(dataclasses.asdict(summary.next_steps)) if summary.next_steps else None,
    }
    return orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"


def _finish(finish: Finish) -> dict[str, Any]:
    return {"hours": finish.hours, "at": timestamp(finish.at) if finish.at else None}


def _path(path: CriticalPath) -> dict[str, Any]:
    return {"instance": path.instance, "uploads": path.uploads, "days": path.days}
