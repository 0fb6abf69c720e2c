"""A new plan in the middle of a migration, from the runner's records (pure).

The customers' records say who is where; their space records say how much is
left (``with_progress``). Completed customers leave. In-progress customers
stay pinned to their recorded instance, carrying their remaining uploads as
load: moving one would have two instances migrate it (but for a dropped
instance's customer whose records stopped changing: its runner is gone).
Pending and failed customers are placed around that load at each instance's
speed (``schedule.place``): each stays where it is unless moving it makes the
plan finish sooner, and the plan finishes within 1% of the earliest finish
found, moving as few customers as it can.
"""

from __future__ import annotations

import statistics
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from distro.balance import InstancePlan, Plan
from distro.errors import ReplanRefused
from distro.schedule import Unit, lower_bound, place
from distro.settings import timestamp
from distro.tally import CustomerLoad
from distro.tracking.records import (
    COMPLETED,
    IN_PROGRESS,
    PENDING,
    REPLANNABLE,
    Move,
    SpaceRecord,
    TrackingRecord,
)


@dataclass(frozen=True, slots=True)
class Speeds:
    """How fast each instance migrates, in uploads a minute: *rates* by instance number,
    *default* for any other. *measured* says the rates are the fleet's own (``status``)."""

    rates: Mapping[int, float] = field(default_factory=dict)
    default: float = 1.0
    measured: bool = False
    note: str = ""  # why these speeds, when it is worth saying

    def of(self, instance: int) -> float:
        """The speed of *instance*."""
        return self.rates.get(instance, self.default)


def choose_speeds(
    mode: str | None,
    rates: Mapping[int, float],
    holding: Collection[int],
    *,
    assumed: float,
    new_rate: float | None = None,
) -> Speeds:
    """The speeds to plan at: *rates* measured (uploads a minute by instance) or *assumed*.

    *mode* ``equal`` plans at *assumed* for all; ``measured`` at the measured
    rates, any other instance at *new_rate* (default: the median measured).
    Without a *mode*, measured when every instance *holding* work has a rate.
    """
    equal = f"equal speeds: {assumed:,.1f} uploads a minute each (the rate options)"
    if mode == "equal":
        return Speeds(default=assumed, note=equal)
    missing = sorted(set(holding) - set(rates))
    if mode is None and (missing or not rates):
        which = ", ".join(map(str, missing)) or "any"
        return Speeds(
            default=assumed,
            note=f"{equal}: no measured rate yet for instance {which} (--speeds measured)",
        )
    if not rates:
        raise ReplanRefused(
            "--speeds measured, but no instance has a measured rate yet: its runner has not "
            "written a space record with progress; use --speeds equal",
            setting="speeds",
        )
    default = new_rate or statistics.median(rates.values())
    source = "--new-instance-rate" if new_rate else f"the median of {len(rates)} measured"
    unmeasured = (
        f"; instance {', '.join(map(str, missing))} not measured yet, assumed at "
        f"{default:,.1f} ({source})"
        if missing
        else ""
    )
    others = f"; any new instance at {default:,.1f} ({source})"
    return Speeds(
        dict(rates),
        default,
        measured=True,
        note=f"measured speeds (uploads a minute){unmeasured}{others}",
    )


@dataclass(frozen=True, slots=True)
class Replan:
    """The new plan, what stays and what moves, and the finish before and after.

    *plan* lists pinned and re-planned customers alike, each with its remaining
    uploads. *before* is each recorded instance's remaining uploads (instance
    id -> uploads); *lower_bound* counts the pinned loads (uploads, as if the
    speeds were equal). The finishes are minutes from the records' moment at
    *speeds*: *finish_before* is None when a dropped instance still holds
    work (it never ends), *bound* is the earliest any plan could end.
    """

    plan: Plan
    pinned: tuple[TrackingRecord, ...]
    finished: tuple[str, ...]
    moves: tuple[Move, ...]
    before: dict[str, int]
    lower_bound: float
    speeds: Speeds = field(default_factory=Speeds)
    finish_before: float | None = None
    finish_after: float = 0.0
    bound: float = 0.0
    dropped: tuple[int, ...] = ()

    @property
    def makespan_before(self) -> int:
        """Remaining uploads of the busiest instance as recorded."""
        return max(self.before.values(), default=0)

    @property
    def makespan_after(self) -> int:
        """Remaining uploads of the busiest instance of the new plan."""
        return self.plan.makespan

    @property
    def uploads_moved(self) -> int:
        """The remaining uploads of the customers the plan moves."""
        left = {c.customer: c.uploads for i in self.plan.instances for c in i.customers}
        return sum(left[m.customer] for m in self.moves)


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


def replan(
    records: Sequence[TrackingRecord],
    instances: int,
    *,
    speeds: Speeds | None = None,
    dropped: Collection[int] = (),
    reclaimable: Collection[str] = (),
) -> Replan:
    """Plan *records* over *instances* at *speeds*: see the module. Raises ``ReplanRefused``.

    Customers stay where they are unless moving them makes the plan finish
    sooner (``schedule.place``). A *dropped* instance takes no customer and
    gives away its pending and failed ones, and those of its in-progress ones
    that are *reclaimable* (no record of theirs changed within the stall time).

    Refused when an in-progress customer is recorded on an instance above
    *instances* (it cannot move) or on several instances (a split customer,
    whose spaces the records do not list).
    """
    speeds = speeds or Speeds()
    closed = set(dropped)
    reclaimed = [
        r
        for r in records
        if r.status == IN_PROGRESS and r.customer in reclaimable and _number(r) in closed
    ]
    taken = {r.customer for r in reclaimed}
    pinned = tuple(r for r in records if r.status == IN_PROGRESS and r.customer not in taken)
    _check_pinned(pinned, instances)
    loads = [0] * instances
    for record in pinned:
        loads[int(record.instance_id) - 1] += record.remaining_uploads
    movable = [r for r in records if r.status in REPLANNABLE or r.customer in taken]

    def home(record: TrackingRecord) -> int | None:
        number = _number(record)
        usable = 1 <= number <= instances and number not in closed
        return number - 1 if usable and record.customer not in taken else None

    units = [Unit(r.customer, r.remaining_uploads, home(r)) for r in movable]
    rates = [speeds.of(n) for n in range(1, instances + 1)]
    shut = {n - 1 for n in closed}
    try:
        placement = place(units, speeds=rates, pinned=loads, closed=shut)
    except ValueError as problem:  # no instance left open, or a speed of 0
        raise ReplanRefused(f"cannot place the customers: {problem}") from None
    plan = _plan_of(instances, placement.where, movable, pinned)
    largest = max((c for i in plan.instances for c in i.customers), key=_uploads, default=None)
    before = recorded_loads(records)
    return Replan(
        plan=plan,
        pinned=pinned,
        finished=tuple(r.customer for r in records if r.status == COMPLETED),
        moves=_moves(movable, plan),
        before=before,
        lower_bound=max(plan.fair_share, max(loads, default=0), largest.uploads if largest else 0),
        speeds=speeds,
        finish_before=_finish_before(before, speeds, closed),
        finish_after=placement.finish,
        bound=lower_bound(units, speeds=rates, pinned=loads, closed=shut),
        dropped=tuple(sorted(closed)),
    )


def _number(record: TrackingRecord) -> int:
    """The instance number of *record*, or 0 when it names none (or several)."""
    return int(record.instance_id) if record.instance_id.isdigit() else 0


def _finish_before(
    before: Mapping[str, int], speeds: Speeds, dropped: Collection[int]
) -> float | None:
    """Minutes until the recorded instances end their work; None if a dropped one holds some."""
    ends = []
    for instance, uploads in before.items():
        number = int(instance) if instance.isdigit() else 0
        if uploads and (number in dropped or not number):
            return None
        ends.append(uploads / speeds.of(number))
    return max(ends, default=0.0)


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


def _plan_of(
    instances: int,
    where: Sequence[int],
    movable: Sequence[TrackingRecord],
    pinned: Sequence[TrackingRecord],
) -> Plan:
    """Instances 1..*instances*, each with its placed and pinned customers, heaviest first."""
    lists: list[list[CustomerLoad]] = [[] for _ in range(instances)]
    for record, at in zip(movable, where, strict=True):
        lists[at].append(_load(record))
    for record in pinned:
        lists[int(record.instance_id) - 1].append(_load(record))
    plans = tuple(InstancePlan(n + 1, _heaviest_first(held)) for n, held in enumerate(lists))
    return Plan(
        instances=plans,
        total_uploads=sum(i.uploads for i in plans),
        largest=next(iter(_heaviest_first(c for i in plans for c in i.customers)), None),
    )


def _load(record: TrackingRecord) -> CustomerLoad:
    return CustomerLoad(record.customer, record.remaining_uploads, record.remaining_spaces)


def _heaviest_first(customers: Iterable[CustomerLoad]) -> tuple[CustomerLoad, ...]:
    return tuple(sorted(customers, key=lambda c: (-c.uploads, c.customer)))


def _moves(movable: Iterable[TrackingRecord], plan: Plan) -> tuple[Move, ...]:
    """The *movable* customers the new plan puts on another instance, by DID."""
    target = {c.customer: str(i.instance_id) for i in plan.instances for c in i.customers}
    return tuple(
        Move(r.customer, r.instance_id, target[r.customer], r.status)
        for r in sorted(movable, key=lambda r: r.customer)
        if target[r.customer] != r.instance_id
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
        now.get(r.customer) or (_moved(r, targets[r.customer]) if r.customer in targets else r)
        for r in records
    ]


def _moved(record: TrackingRecord, target: str) -> TrackingRecord:
    """*record* on *target*: a reclaimed in-progress customer waits there as ``pending``."""
    status = PENDING if record.status == IN_PROGRESS else record.status
    return replace(record, instance_id=target, status=status)


def quiet_customers(
    records: Iterable[TrackingRecord],
    spaces: Iterable[SpaceRecord],
    *,
    dropped: Collection[int],
    cutoff: str,
) -> frozenset[str]:
    """The in-progress customers of *dropped* instances whose records, the customer's and
    its spaces', were all last written before *cutoff* (ISO-8601): their runner is gone."""
    candidates = {
        r.customer
        for r in records
        if r.status == IN_PROGRESS and _number(r) in dropped and r.updated_at < cutoff
    }
    for space in spaces:
        if space.customer in candidates and timestamp(space.updated_at) >= cutoff:
            candidates.discard(space.customer)
    return frozenset(candidates)
