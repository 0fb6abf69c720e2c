"""A new plan in the middle of a migration, from the runner's records (pure).

The customers' records say who is where; their space records say how much is
left (``with_progress``). Completed customers leave. In-progress customers stay pinned to their recorded
instance, carrying their remaining uploads as load: moving one would have two
instances migrate it. Pending and failed customers are balanced around that
load by the same greedy pass and refinement as ``generate``, so the lower
bound and the whale rule are the same ones, with the pinned loads counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from distro.balance import InstancePlan, Plan, balance
from distro.errors import ReplanRefused
from distro.tally import CustomerLoad
from distro.tracking.records import (
    COMPLETED,
    IN_PROGRESS,
    REPLANNABLE,
    Move,
    SpaceRecord,
    TrackingRecord,
)


@dataclass(frozen=True, slots=True)
class Replan:
    """The new plan, what stays and what moves, and the critical path before and after.

    *plan* lists pinned and re-planned customers alike, each with its remaining
    uploads. *before* is each recorded instance's remaining uploads (instance
    id -> uploads); *lower_bound* counts the pinned loads.
    """

    plan: Plan
    pinned: tuple[TrackingRecord, ...]
    finished: tuple[str, ...]
    moves: tuple[Move, ...]
    before: dict[str, int]
    lower_bound: float

    @property
    def makespan_before(self) -> int:
        """Remaining uploads of the busiest instance as recorded."""
        return max(self.before.values(), default=0)

    @property
    def makespan_after(self) -> int:
        """Remaining uploads of the busiest instance of the new plan."""
        return self.plan.makespan


@dataclass(frozen=True, slots=True)
class Correction:
    """How much reading the space records changed: *customers* whose remaining work moved,
    and by how many *uploads* in all (positive: less work left than their records said)."""

    customers: int = 0
    uploads: int = 0


def with_progress(
    records: Sequence[TrackingRecord], spaces: Iterable[SpaceRecord]
) -> tuple[list[TrackingRecord], Correction]:
    """*records* with each started customer's progress read from its space records.

    The runner writes a customer's progress only when the customer ends, so a
    customer under way reads as not started. From its spaces: a completed space
    is done (its ``totalUploads``; its ``completedUploads`` stays at a multiple
    of 10), a space under way has its ``completedUploads`` done, and a failed
    space starts again from its first upload, so none of it is done.
    """
    done: dict[str, list[int]] = {}  # customer -> [uploads done, spaces completed]
    for space in spaces:
        tally = done.setdefault(space.customer, [0, 0])
        if space.status == COMPLETED:
            tally[0] += space.total_uploads
            tally[1] += 1
        elif space.status == IN_PROGRESS:
            tally[0] += min(space.completed_uploads, space.total_uploads)
    corrected: list[TrackingRecord] = []
    customers = uploads = 0
    for record in records:
        found = done.get(record.customer)
        if record.status == COMPLETED or found is None:
            corrected.append(record)
            continue
        read = replace(record, completed_uploads=found[0], completed_spaces=found[1])
        if read.remaining_uploads != record.remaining_uploads:
            customers += 1
            uploads += record.remaining_uploads - read.remaining_uploads
        corrected.append(read)
    return corrected, Correction(customers, uploads)


def replan(records: Sequence[TrackingRecord], instances: int) -> Replan:
    """Plan *records* over *instances*: see the module. Raises ``ReplanRefused``.

    Refused when an in-progress customer is recorded on an instance above
    *instances* (it cannot move) or on several instances (a split customer,
    whose spaces the records do not list).
    """
    pinned = tuple(r for r in records if r.status == IN_PROGRESS)
    _check_pinned(pinned, instances)
    loads = [0] * instances
    for record in pinned:
        loads[int(record.instance_id) - 1] += record.remaining_uploads
    movable = [
        CustomerLoad(r.customer, r.remaining_uploads, r.remaining_spaces)
        for r in records
        if r.status in REPLANNABLE
    ]
    balanced = balance(movable, instances, pinned=loads)
    plan = _with_pinned(balanced, pinned, movable)
    largest = max((*movable, *_pinned_loads(pinned)), key=_uploads, default=None)
    return Replan(
        plan=plan,
        pinned=pinned,
        finished=tuple(r.customer for r in records if r.status == COMPLETED),
        moves=_moves(records, plan),
        before=recorded_loads(records),
        lower_bound=max(plan.fair_share, max(loads, default=0), largest.uploads if largest else 0),
    )


def _uploads(load: CustomerLoad) -> int:
    return load.uploads


def _check_pinned(pinned: Iterable[TrackingRecord], instances: int) -> None:
    holding: dict[int, int] = {}
    for record in pinned:
        problem = _unpinnable(record)
        if problem:
            raise ReplanRefused(f"{record.customer} is in progress, but {problem}")
        number = int(record.instance_id)
        holding[number] = holding.get(number, 0) + 1
    above = sorted(n for n in holding if n > instances or n < 1)
    if above:
        needed = max(above)
        raise ReplanRefused(
            f"instances {instances} is fewer than the instances holding in-progress customers: "
            f"instance {needed} has {holding[needed]} in progress, so {needed} or more are needed",
            setting="instances",
        )


def _unpinnable(record: TrackingRecord) -> str:
    """Why *record* cannot be kept on its instance ("" when it can): its instanceId."""
    instance = record.instance_id
    if not instance:
        return (
            "its tracking record has no instanceId, so distro cannot tell which instance runs "
            "it: set instanceId to that instance's number, then replan"
        )
    if "," in instance:
        return (
            f"it is split across instances {instance}, whose spaces the tracking records do "
            "not list: let it finish, then replan"
        )
    if not instance.isdigit():
        return (
            f"its tracking record's instanceId {instance!r} is not an instance number: set it "
            "to the number of the instance that runs it, then replan"
        )
    return ""


def _pinned_loads(pinned: Iterable[TrackingRecord]) -> list[CustomerLoad]:
    return [CustomerLoad(r.customer, r.remaining_uploads, r.remaining_spaces) for r in pinned]


def _with_pinned(
    balanced: Plan, pinned: Sequence[TrackingRecord], movable: Sequence[CustomerLoad]
) -> Plan:
    """*balanced* with each pinned customer listed on its instance, heaviest first."""
    by_instance: dict[int, list[CustomerLoad]] = {}
    for record, load in zip(pinned, _pinned_loads(pinned), strict=True):
        by_instance.setdefault(int(record.instance_id), []).append(load)
    instances = tuple(
        InstancePlan(
            i.instance_id, _heaviest_first((*i.customers, *by_instance.get(i.instance_id, [])))
        )
        for i in balanced.instances
    )
    units = [*movable, *_pinned_loads(pinned)]
    return Plan(
        instances=instances,
        total_uploads=sum(i.uploads for i in instances),
        largest=next(iter(_heaviest_first(units)), None),
    )


def _heaviest_first(customers: Iterable[CustomerLoad]) -> tuple[CustomerLoad, ...]:
    return tuple(sorted(customers, key=lambda c: (-c.uploads, c.customer)))


def _moves(records: Iterable[TrackingRecord], plan: Plan) -> tuple[Move, ...]:
    """The pending and failed customers the new plan puts on another instance, by DID."""
    target = {c.customer: str(i.instance_id) for i in plan.instances for c in i.customers}
    return tuple(
        Move(r.customer, r.instance_id, target[r.customer], r.status)
        for r in sorted(records, key=lambda r: r.customer)
        if r.status in REPLANNABLE and target[r.customer] != r.instance_id
    )


def recorded_loads(records: Iterable[TrackingRecord]) -> dict[str, int]:
    """Remaining uploads per recorded instance of every customer not completed.

    A customer recorded on several instances (split) counts an even share on each.
    """
    loads: dict[str, int] = {}
    for record in records:
        if record.status == COMPLETED:
            continue
        ids = [i for i in record.instance_id.split(",") if i] or ["?"]
        for instance in ids:
            loads[instance] = loads.get(instance, 0) + record.remaining_uploads // len(ids)
    return dict(sorted(loads.items(), key=lambda kv: (len(kv[0]), kv[0])))


def settle(
    records: Sequence[TrackingRecord], moved: Sequence[Move], changed: Sequence[TrackingRecord]
) -> list[TrackingRecord]:
    """*records* as the table now holds them: *moved* applied, *changed* read back.

    The next ``replan`` of the result pins a customer the runner started in
    the meantime, and starts from the instances the moves wrote.
    """
    now = {r.customer: r for r in changed}
    raced = set(now)
    targets = {m.customer: m.target for m in moved if m.customer not in raced}
    return [
        now.get(r.customer)
        or (replace(r, instance_id=targets[r.customer]) if r.customer in targets else r)
        for r in records
    ]
