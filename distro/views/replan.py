"""The replan view: what a re-plan kept, moved and wrote, as plain data (``--json`` prints it)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from distro.settings import Throughput
from distro.tracking.records import LeftAlone, Move
from distro.views.common import camel
from distro.views.steps import NextSteps

if TYPE_CHECKING:
    from distro.replan_run import ReplanOutcome


@dataclass(frozen=True, slots=True)
class CriticalPath:
    """The busiest instance: its id, remaining uploads, and the days they take."""

    instance: str
    uploads: int
    days: float


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


def summarize_replan(
    outcome: ReplanOutcome,
    *,
    env: str,
    throughput: Throughput,
    steps: NextSteps | None = None,
) -> ReplanSummary:
    """The report of *outcome*, with days at *throughput* and the *steps* that deploy it."""
    result = outcome.result
    before = max(result.before.items(), key=lambda kv: kv[1], default=("-", 0))
    busiest = max(result.plan.instances, key=lambda i: i.uploads)
    planned = sum(len(i.customers) for i in result.plan.instances)
    return ReplanSummary(
        env=env,
        table=outcome.table,
        instances=len(result.plan.instances),
        finished=len(result.finished),
        pinned=len(result.pinned),
        balanced=planned - len(result.pinned),
        before=CriticalPath(before[0], before[1], throughput.days(before[1])),
        after=CriticalPath(
            str(busiest.instance_id), busiest.uploads, throughput.days(busiest.uploads)
        ),
        lower_bound=result.lower_bound,
        moves=result.moves,
        moved=outcome.moved,
        raced=tuple(LeftAlone(r.customer, r.status, r.instance_id) for r in outcome.raced),
        files=tuple(str(f) for f in outcome.files),
        next_steps=steps,
        corrected_customers=outcome.corrected.customers,
        corrected_uploads=outcome.corrected.uploads,
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
        "recordsUpdated": summary.moved,
        "startedMeanwhile": [
            {"customer": a.customer, "status": a.status, "instance": a.instance_id}
            for a in summary.raced
        ],
        "files": list(summary.files),
        "nextSteps": camel(dataclasses.asdict(summary.next_steps)) if summary.next_steps else None,
    }
    return orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"


def _path(path: CriticalPath) -> dict[str, Any]:
    return {"instance": path.instance, "uploads": path.uploads, "days": path.days}
