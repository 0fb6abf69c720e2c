"""``distro replan``: read the tracking table, re-plan, move the records, commit the files.

The records are moved before the files are written, each move conditional on
the record being as read (``tracking.apply_moves``). A customer the runner
starts in between is not moved: the plan is made again with it pinned, and
only the moves still needed are written, until a round moves everything it
asks for. Then the files, made from that last plan, agree with the records.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from distro.assignments import check_assignments_table
from distro.dynamo.handle import Dynamo
from distro.dynamo.retry import DEFAULT_POLICY, RetryPolicy
from distro.emit import PlanParameters, write_plan
from distro.errors import NothingToPlan, ReplanRefused
from distro.files import Folder
from distro.replan import Replan, replan, settle
from distro.settings import (
    DEFAULT_ENV,
    CountSettings,
    Credentials,
    Tables,
    Throughput,
    timestamp,
)
from distro.tracking import (
    IN_PROGRESS,
    REPLANNABLE,
    WRITE_CONCURRENCY,
    LeftAlone,
    Move,
    TrackingRecord,
    apply_moves,
    read_records,
)

MAX_ROUNDS = 5  # re-plans after races; each needs the runner to start someone in between

Hook = Callable[[Sequence[TrackingRecord]], Awaitable[None]]


async def _no_hook(_: Sequence[TrackingRecord]) -> None:
    """Nothing happens between the read and the writes, outside tests."""


@dataclass(frozen=True, slots=True)
class ReplanOutcome:
    """What a replan did: the plan, the records it moved, those that raced it, the files."""

    result: Replan
    table: str
    moved: int
    raced: tuple[TrackingRecord, ...]  # started (or finished) between the read and the write
    files: tuple[Path, ...]


async def run_replan(
    *,
    tables: Tables,
    table: str,
    instances: int,
    output_dir: Path | Folder,
    env: str = DEFAULT_ENV,
    throughput: Throughput | None = None,
    policy: RetryPolicy = DEFAULT_POLICY,
    credentials: Credentials | None = None,
    before_writes: Hook = _no_hook,
) -> ReplanOutcome:
    """Re-plan the customers of tracking *table* over *instances*; write *env* files to *output_dir*.

    The calls run under *policy*, signed with *credentials* (or the SDK's).
    *before_writes* runs between the read and the first write (tests race the
    runner there).
    """
    created_at = timestamp()
    async with Dynamo.open(
        tables, pool_size=WRITE_CONCURRENCY, policy=policy, credentials=credentials
    ) as db:
        await check_assignments_table(db, table)
        records = await read_records(db, table)
        _require_work(records, table)
        await before_writes(records)
        result, moved, raced = await _settle_moves(db, table, records, instances, at=created_at)
    parameters = PlanParameters(CountSettings(tables), throughput or Throughput(), False)
    files = write_plan(
        output_dir, result.plan, created_at=created_at, parameters=parameters, env=env
    )
    return ReplanOutcome(result, table, moved, tuple(raced), tuple(files))


def _require_work(records: Sequence[TrackingRecord], table: str) -> None:
    if not any(r.status in (IN_PROGRESS, *REPLANNABLE) for r in records):
        raise NothingToPlan(
            f"{table} holds no customer to migrate ({len(records)} records, none pending, "
            "in progress or failed)",
            fix="tracking_table",
        )


async def _settle_moves(
    db: Dynamo,
    table: str,
    records: Sequence[TrackingRecord],
    instances: int,
    *,
    at: str,
) -> tuple[Replan, int, list[TrackingRecord]]:
    """Plan and move until a round's moves all land; the last plan, moves made, races seen."""
    raced: list[TrackingRecord] = []
    moved = 0
    current = list(records)
    for _ in range(MAX_ROUNDS):
        result = replan(current, instances)
        changed = await apply_moves(db, table, result.moves, at=at)
        moved += len(result.moves) - len(changed)
        current = settle(current, result.moves, changed)
        raced += changed
        if not changed:
            return result, moved, raced
    raise ReplanRefused(
        f"the records in {table} kept changing while distro replan moved them ({len(raced)} "
        "customers started meanwhile): run distro replan again"
    )


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


def summarize_replan(outcome: ReplanOutcome, *, env: str, throughput: Throughput) -> ReplanSummary:
    """The report of *outcome*, with days at *throughput*."""
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
    }
    return orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"


def _path(path: CriticalPath) -> dict[str, Any]:
    return {"instance": path.instance, "uploads": path.uploads, "days": path.days}
