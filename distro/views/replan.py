"""The replan view: what a re-plan kept, moved and wrote, as plain data (``--json`` prints it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import orjson

from distro.tracking.records import LeftAlone, Move
from distro.views.common import document, key
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
    per_minute: float = field(metadata=key("ratePerMinute"))
    hours: float
    change: str | None  # restart, start, unchanged; None when nothing is written
    dropped: bool = False
    machine: int | None = None  # the machine that runs it, with runners per host


@dataclass(frozen=True, slots=True)
class ReplanSummary:
    """Everything the replan report shows, as plain data (``--json`` prints the same)."""

    env: str = field(metadata=key("environment"))
    table: str = field(metadata=key("trackingTable"))
    instances: int
    finished: int = field(metadata=key("finishedCustomers"))  # completed, out of the plan
    pinned: int = field(metadata=key("pinnedCustomers"))  # in progress, kept on their instance
    balanced: int = field(metadata=key("balancedCustomers"))  # pending or failed, placed
    before: CriticalPath = field(metadata=key("criticalPath.before"))
    after: CriticalPath = field(metadata=key("criticalPath.after"))
    lower_bound: float
    moves: tuple[Move, ...]
    moved: int = field(metadata=key("recordsUpdated"))
    raced: tuple[LeftAlone, ...] = field(metadata=key("startedMeanwhile"))
    files: tuple[str, ...]
    next_steps: NextSteps | None = None
    # Customers whose remaining work the space records changed, and by how many uploads.
    corrected_customers: int = field(default=0, metadata=key("corrected.customers"))
    corrected_uploads: int = field(default=0, metadata=key("corrected.uploads"))
    uploads_moved: int = field(default=0, metadata=key("movedUploads"))
    finish_before: Finish = field(default=Finish(None, None), metadata=key("finish.before"))
    finish_after: Finish = field(default=Finish(None, None), metadata=key("finish.after"))
    bound: Finish = field(default=Finish(None, None), metadata=key("finish.lowerBound"))
    speeds_measured: bool = field(default=False, metadata=key("speeds.measured"))
    speeds_note: str = field(default="", metadata=key("speeds.note"))
    distribution: tuple[InstanceRow, ...] = ()
    dropped: tuple[int, ...] = field(default=(), metadata=key("droppedInstances"))

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
    """*summary* as one indented JSON document (``views.common.document``), ending in a
    newline."""
    made = document(summary)
    made["nothingMoved"] = summary.nothing_moved
    return orjson.dumps(made, option=orjson.OPT_INDENT_2) + b"\n"
