"""The status view: how the fleet is really doing, measured from the runner's own records.

``measure`` takes what the runner wrote (its customer and progress records),
the plan the folder holds (if any) and the moment of the look, and returns
plain data: per instance and for the fleet, customers and spaces by status,
uploads done out of the total, the measured rate, the predicted finish and a
state; the failures by reason, the stalled spaces, and advice.

What the records say, and what they do not (``docs/runner-contract.md``): a customer
record shows no progress until the customer ends, so progress is read from
the space records. A space that ended counts its ``totalUploads`` as done (its
``completedUploads`` stays at a multiple of 10); a space under way counts its
``completedUploads``, written every 10 uploads at its ``updatedAt``.

The rate of an instance is measured from its space records' own timestamps:
the uploads its records say were done, over the time from the first record's
``createdAt`` to the last ``updatedAt``. One runner process migrates one
upload at a time and writes a space's record just before its first upload,
so that span holds exactly the work those uploads took. When earlier looks
were kept (``Snapshot``), the rate is instead measured over the last
``RATE_WINDOW`` between them, so that a recent slowdown shows.
"""

from __future__ import annotations

import dataclasses
import shlex
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from distro.errors import SettingsError
from distro.reconcile import Disagreement, Reconciled, reconcile
from distro.settings import timestamp
from distro.tracking.records import (
    COMPLETED,
    FAILED,
    IN_PROGRESS,
    PENDING,
    Problem,
    SpaceRecord,
    TrackingRecord,
)
from distro.views.common import key, left_out, shaped
from distro.written import PlannedInstance, WrittenPlan


class State(StrEnum):
    """The state of an instance, and of the fleet (the model: ``docs/monitoring.md``)."""

    RUNNING = "running"
    FINISHED = "finished"
    STALLED = "stalled"
    NOT_STARTED = "not started"


# The states by name, in the code below.
RUNNING, FINISHED, STALLED, NOT_STARTED = (
    State.RUNNING,
    State.FINISHED,
    State.STALLED,
    State.NOT_STARTED,
)
RATE_WINDOW = timedelta(hours=1)  # how far back a kept look may measure the rate from
UNREADABLE_SHOWN = 5  # examples of unreadable records


@dataclass(frozen=True, slots=True)
class Counts:
    """How many are completed, in progress, pending and failed."""

    completed: int = 0
    in_progress: int = 0
    pending: int = 0
    failed: int = 0

    @classmethod
    def of(cls, statuses: Iterable[str]) -> Counts:
        """The counts of *statuses*."""
        tally: dict[str, int] = defaultdict(int)
        for status in statuses:
            tally[status] += 1
        return cls(tally[COMPLETED], tally[IN_PROGRESS], tally[PENDING], tally[FAILED])

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.completed + other.completed,
            self.in_progress + other.in_progress,
            self.pending + other.pending,
            self.failed + other.failed,
        )


@dataclass(frozen=True, slots=True)
class InstanceStatus:
    """One instance (or, as *instance* "fleet", all of them) as the records show it.

    *rate_per_minute* is measured (None when nothing can be measured yet);
    *assumed_per_minute* is what the plan's estimates assumed, for comparison.
    """

    instance: str
    state: State
    customers: Counts
    spaces: Counts
    uploads_done: int = field(metadata=key("uploads.done"))
    uploads_total: int = field(metadata=key("uploads.total"))
    rate_per_minute: float | None
    predicted_finish: datetime | None
    last_update: datetime | None
    assumed_per_minute: float | None = field(default=None, metadata=key("assumedRatePerMinute"))
    machine: int | None = None  # the machine that runs it, when planned with runners per host
    failures: Mapping[str, int] = field(default_factory=dict)  # failed uploads by reason
    # Of *uploads_done*, those other instances did before a replan moved the customers here.
    done_before_move: int = field(default=0, metadata=key("uploads.doneBeforeMove"))
    # Why *predicted_finish* is None, and what to do ("" otherwise; null in JSON).
    unknown_because: str = field(
        default="", metadata=key("predictedFinishUnknown", lambda why: why or None)
    )


@dataclass(frozen=True, slots=True)
class Stalled:
    """A space in progress whose record has not changed within the stall time."""

    instance: str
    customer: str
    space: str
    last_upload: str
    updated_at: datetime
    minutes: float = field(metadata=shaped(lambda minutes: round(minutes, 1)))


@dataclass(frozen=True, slots=True)
class FailedCustomer:
    """A customer the runner marked failed, its failed uploads by reason, and how to retry it;
    *hung*: its spaces the runner left in progress when the customer failed (never stalled:
    the customer has ended, and the retry starts them again)."""

    customer: str
    instance: str
    reasons: Mapping[str, int]
    retry: str
    hung: tuple[Stalled, ...] = field(default=(), metadata=key("hungSpaces"))


@dataclass(frozen=True, slots=True)
class Advice:
    """Something worth doing, and the command that does it (None when there is none);
    for a replan, the fleet's finish as things stand (None: never) and after it."""

    message: str
    command: str | None
    finish_as_is: datetime | None = None
    finish_replanned: datetime | None = field(default=None, metadata=key("finishAfterReplan"))


@dataclass(frozen=True, slots=True)
class Snapshot:
    """An earlier look: when, and per instance the uploads done and their last update."""

    at: datetime
    instances: Mapping[str, tuple[int, datetime]]


def _history_json(history: Sequence[tuple[datetime, int]]) -> list[dict[str, Any]]:
    return [{"at": timestamp(at), "uploadsDone": done} for at, done in history]


@dataclass(frozen=True, slots=True)
class FleetStatus:
    """Everything ``distro status`` shows, as plain data (``--json`` prints the same)."""

    env: str = field(metadata=key("environment"))
    now: datetime = field(metadata=key("at"))
    stall_after: timedelta = field(metadata=key("stallAfterMinutes"))
    instances: tuple[InstanceStatus, ...]
    fleet: InstanceStatus
    last_instance: str | None = field(metadata=key("fleet.lastInstance"))
    failures_by_reason: Mapping[str, int] = field(metadata=key("failures.byReason"))
    failed_customers: tuple[FailedCustomer, ...] = field(metadata=key("failures.customers"))
    stalled: tuple[Stalled, ...]
    advice: tuple[Advice, ...] = ()
    unreadable: tuple[Problem, ...] = field(default=(), metadata=key("unreadable.examples"))
    unreadable_count: int = field(default=0, metadata=key("unreadable.count"))
    spaces_of: Mapping[str, tuple[SpaceRecord, ...]] = field(
        default_factory=dict,
        metadata=left_out("--customer shows one customer's spaces, under 'customer'"),
    )
    planned: bool = field(
        default=False, metadata=left_out("the terminal's 'Plan' line; --json has the instances")
    )
    # The fleet's uploads done at each kept look and now, oldest first: the progress chart.
    history: tuple[tuple[datetime, int], ...] = field(default=(), metadata=shaped(_history_json))
    # Where the plan folder and the runner's records disagree (``distro.reconcile``).
    disagreements: tuple[Disagreement, ...] = ()


@dataclass(frozen=True, slots=True)
class Look:
    """What ``measure`` reads: the records, their problems, and the plan in the folder."""

    customers: Sequence[TrackingRecord]
    spaces: Sequence[SpaceRecord]
    plan: WrittenPlan | None = None
    problems: Sequence[Problem] = ()
    folder: str = "the plan folder"  # named in the lines that say where plan and records disagree

    def reconciled(self) -> Reconciled:
        """Each customer's instance, and where the plan and the records disagree."""
        return reconcile(self.plan, self.customers, self.spaces, folder=self.folder)


def snapshot_of(look: Look, now: datetime) -> Snapshot:
    """This look, to keep: per runner, the uploads its records say were done, and when."""
    done: dict[str, int] = defaultdict(int)
    last: dict[str, datetime] = {}
    for space in look.spaces:
        done[space.instance_id] += space.done
        if space.instance_id not in last or space.updated_at > last[space.instance_id]:
            last[space.instance_id] = space.updated_at
    return Snapshot(now, {name: (done[name], last[name]) for name in sorted(last)})


def measure(
    look: Look,
    *,
    env: str,
    now: datetime,
    stall_after: timedelta,
    snapshots: Sequence[Snapshot] = (),
    show: Sequence[str] = (),
) -> FleetStatus:
    """The status of the fleet at *now*, from *look* (see the module); the spaces of the
    customers in *show* are kept for their own view."""
    reconciled = look.reconciled()
    assignment = _assignment(reconciled, look.spaces)
    by_customer: dict[str, list[SpaceRecord]] = defaultdict(list)
    by_runner: dict[str, list[SpaceRecord]] = defaultdict(list)
    for space in look.spaces:
        by_customer[space.customer].append(space)
        by_runner[space.instance_id].append(space)
    records = {r.customer: r for r in look.customers}
    planned = {str(i.instance): i for i in look.plan.instances} if look.plan else {}
    assumed = look.plan.workers_per_instance * look.plan.uploads_per_minute if look.plan else None
    instances = tuple(
        _instance(
            name,
            customers,
            records,
            by_customer,
            runner=by_runner.get(name, []),
            estimated=_estimate(planned.get(name), customers),
            now=now,
            stall_after=stall_after,
            snapshots=snapshots,
            assumed=assumed,
        )
        for name, customers in sorted(assignment.items(), key=lambda kv: _instance_order(kv[0]))
    )
    runners = look.plan.runners_per_host if look.plan else None
    if runners:
        instances = tuple(
            dataclasses.replace(i, machine=(int(i.instance) - 1) // runners + 1)
            if i.instance.isdigit()
            else i
            for i in instances
        )
    fleet, last = _fleet(instances, now)
    working = _working(look.spaces, records, reconciled)
    return FleetStatus(
        env=env,
        now=now,
        stall_after=stall_after,
        instances=instances,
        fleet=fleet,
        last_instance=last,
        failures_by_reason=_reasons(look.spaces),
        failed_customers=_failed_customers(look.customers, by_customer, env, reconciled, now=now),
        stalled=_stalled(working, now, stall_after),
        unreadable=tuple(look.problems[:UNREADABLE_SHOWN]),
        unreadable_count=len(look.problems),
        spaces_of={c: tuple(sorted(by_customer[c], key=lambda r: r.space)) for c in show},
        planned=look.plan is not None,
        history=_history(snapshots, now, fleet.uploads_done),
        disagreements=reconciled.disagreements,
    )


def _history(
    snapshots: Sequence[Snapshot], now: datetime, done: int
) -> tuple[tuple[datetime, int], ...]:
    """The fleet's uploads done at the kept looks and now, at most one point a minute (the
    latest of each minute), oldest first: looks taken seconds apart show no progress."""
    points = [(k.at, sum(d for d, _ in k.instances.values())) for k in snapshots if k.at < now]
    by_minute: dict[datetime, tuple[datetime, int]] = {}
    for at, uploads in sorted([*points, (now, done)], key=lambda p: p[0]):
        by_minute[at.replace(second=0, microsecond=0)] = (at, uploads)
    return tuple(by_minute.values())


def require_shown(
    look: Look, status: FleetStatus, *, instance: str | None, customer: str | None
) -> None:
    """Refuse (``SettingsError``) an *instance* or a *customer* that neither the plan nor the
    records hold: an empty view of a typo would read as "nothing there yet"."""
    if instance is not None and instance not in {i.instance for i in status.instances}:
        held = ", ".join(i.instance for i in status.instances) or "none"
        raise SettingsError(
            f"instance {instance} is not in the plan or the records; they hold instances {held}",
            setting="instance",
        )
    if customer is None:
        return
    known = {r.customer for r in look.customers} | {s.customer for s in look.spaces}
    if look.plan is not None:
        known.update(c for i in look.plan.instances for c in i.customers)
    if customer not in known:
        raise SettingsError(
            f"customer {customer} is in no plan file and no record of the runner's tables "
            f"({len(known):,} customers are); check the DID",
            setting="customer",
        )


def _instance_order(name: str) -> tuple[int, str]:
    return (int(name), "") if name.isdigit() else (1 << 30, name)


def _assignment(reconciled: Reconciled, spaces: Iterable[SpaceRecord]) -> dict[str, list[str]]:
    """Each instance's customers (``reconcile``): the started ones where their records put
    them, the others where the plan does; every runner the space records name has a row."""
    assignment: dict[str, list[str]] = defaultdict(list)
    for customer, instance in reconciled.where.items():
        assignment[instance].append(customer)
    for instance in {s.instance_id for s in spaces}:
        assignment.setdefault(instance, [])
    return assignment


def _estimate(planned: PlannedInstance | None, customers: Sequence[str]) -> int | None:
    """The plan's estimate of an instance, when the instance holds the customers it planned."""
    if planned is None or set(planned.customers) != set(customers):
        return None
    return planned.estimated_uploads


def _ids(instance: str) -> frozenset[str]:
    return frozenset(instance.split(","))


def _instance(
    name: str,
    customers: Sequence[str],
    records: Mapping[str, TrackingRecord],
    by_customer: Mapping[str, Sequence[SpaceRecord]],
    *,
    runner: Sequence[SpaceRecord],
    estimated: int | None,
    now: datetime,
    stall_after: timedelta,
    snapshots: Sequence[Snapshot],
    assumed: float | None,
) -> InstanceStatus:
    statuses = [records[c].status if c in records else PENDING for c in customers]
    spaces = [s for c in customers for s in by_customer.get(c, ())]
    known = sum(records[c].total_uploads for c in customers if c in records)
    total = max(known, estimated or 0)
    done = min(total, sum(s.done for s in spaces)) if total else sum(s.done for s in spaces)
    here = _ids(name)
    before = min(done, sum(s.done for s in spaces if s.instance_id not in here))
    pending_spaces = sum(
        max(0, records[c].total_spaces - len(by_customer.get(c, ())))
        for c in customers
        if c in records
    )
    space_counts = Counts.of(s.status for s in spaces) + Counts(pending=pending_spaces)
    customer_counts = Counts.of(statuses)
    last = max((s.updated_at for s in runner), default=None)
    rate = _rate(name, runner, snapshots, now)
    state = _state(customer_counts, last, now, stall_after)
    finish = _finish(state, total - done, rate, last)
    return InstanceStatus(
        instance=name,
        state=state,
        customers=customer_counts,
        spaces=space_counts,
        uploads_done=done,
        uploads_total=total,
        rate_per_minute=rate,
        predicted_finish=finish,
        last_update=last,
        assumed_per_minute=assumed,
        failures=_reasons(runner),
        done_before_move=before,
        unknown_because="" if finish is not None or state == FINISHED else _unknown(name, state),
    )


def _state(
    customers: Counts, last: datetime | None, now: datetime, stall_after: timedelta
) -> State:
    """The state model (``docs/monitoring.md``): finished when no customer waits or is under way;
    else not started until its runner writes a space record; else stalled when none of its
    records changed within the stall time; else running."""
    if customers.pending + customers.in_progress == 0:
        return FINISHED
    if last is None:
        return NOT_STARTED
    return STALLED if now - last > stall_after else RUNNING


def _unknown(name: str, state: State) -> str:
    """Why an instance in *state* has no predicted finish, and what to do about it."""
    if state == STALLED:
        return (
            f"instance {name} is stalled: its runner stopped writing with work left; restart "
            "it, or replan (see the advice)"
        )
    if state == NOT_STARTED:
        return (
            f"instance {name} has not started: no runner has written a space record for it; "
            "start its runner, then look again"
        )
    return (
        f"instance {name} has no measured rate yet (its runner records every 10 uploads); "
        "look again in a few minutes"
    )


def _rate(
    name: str, runner: Sequence[SpaceRecord], snapshots: Sequence[Snapshot], now: datetime
) -> float | None:
    """Uploads a minute: over the last kept looks when there are any, else the records' span."""
    done = sum(s.done for s in runner)
    last = max((s.updated_at for s in runner), default=None)
    recent = [
        s.instances[name] for s in snapshots if name in s.instances and now - s.at <= RATE_WINDOW
    ]
    if last is not None and recent:
        then_done, then_last = recent[0]
        minutes = (last - then_last).total_seconds() / 60
        if minutes > 0 and done > then_done:
            return (done - then_done) / minutes
    first = min((s.created_at for s in runner), default=None)
    if first is None or last is None or last <= first or not done:
        return None
    return done / ((last - first).total_seconds() / 60)


def _finish(state: State, left: int, rate: float | None, last: datetime | None) -> datetime | None:
    if state == FINISHED:
        return last
    if rate is None or last is None or state == STALLED:
        return None
    return last + timedelta(minutes=max(0, left) / rate)


def _fleet(instances: Sequence[InstanceStatus], now: datetime) -> tuple[InstanceStatus, str | None]:
    customers = sum((i.customers for i in instances), Counts())
    spaces = sum((i.spaces for i in instances), Counts())
    rates = [i.rate_per_minute for i in instances if i.rate_per_minute is not None]
    working = [i for i in instances if i.state != FINISHED]
    finishes = [i.predicted_finish for i in instances if i.predicted_finish is not None]
    unknown = any(i.predicted_finish is None for i in working)
    last = max(
        (i for i in instances if i.predicted_finish is not None),
        key=lambda i: i.predicted_finish or now,
        default=None,
    )
    states = {i.state for i in instances}
    state = (
        FINISHED
        if states <= {FINISHED}
        else STALLED
        if STALLED in states
        else NOT_STARTED
        if states <= {NOT_STARTED}
        else RUNNING
    )
    fleet = InstanceStatus(
        instance="fleet",
        state=state,
        customers=customers,
        spaces=spaces,
        uploads_done=sum(i.uploads_done for i in instances),
        uploads_total=sum(i.uploads_total for i in instances),
        rate_per_minute=sum(rates) if rates else None,
        predicted_finish=None if unknown or not finishes else max(finishes),
        last_update=max((i.last_update for i in instances if i.last_update), default=None),
        assumed_per_minute=None,
        done_before_move=sum(i.done_before_move for i in instances),
        unknown_because=_fleet_unknown([i for i in working if i.predicted_finish is None]),
    )
    return fleet, (None if unknown or last is None else last.instance)


def _fleet_unknown(unknown: Sequence[InstanceStatus]) -> str:
    """Why the fleet has no predicted finish: the instances that have none, by cause."""
    causes = (
        (STALLED, "stalled: restart their runners, or replan (see the advice)"),
        (NOT_STARTED, "not started: start their runners, then look again"),
        (RUNNING, "not measured yet (a runner records every 10 uploads): look again soon"),
    )
    parts = []
    for state, what in causes:
        names = [i.instance for i in unknown if i.state == state]
        if names:
            parts.append(f"instance {', '.join(names)} {what}")
    return "; ".join(parts)


def _reasons(spaces: Iterable[SpaceRecord]) -> dict[str, int]:
    """Failed uploads by reason, added up over every failed space."""
    total: dict[str, int] = defaultdict(int)
    for space in spaces:
        for reason, uploads in space.failures.items():
            total[reason] += uploads
    return dict(sorted(total.items(), key=lambda kv: (-kv[1], kv[0])))


def _failed_customers(
    customers: Iterable[TrackingRecord],
    by_customer: Mapping[str, Sequence[SpaceRecord]],
    env: str,
    reconciled: Reconciled,
    *,
    now: datetime,
) -> tuple[FailedCustomer, ...]:
    """Each failed customer, with the runner's command that migrates it again (its completed
    spaces are skipped, its failed ones start again from their first upload), and the spaces
    it left in progress."""
    failed = []
    for record in sorted(customers, key=lambda r: r.customer):
        if record.status != FAILED:
            continue
        spaces = by_customer.get(record.customer, ())
        instance = reconciled.instance_of(record.customer) or record.instance_id or "?"
        failed.append(
            FailedCustomer(
                record.customer,
                instance,
                _reasons(spaces),
                f"STORACHA_ENV={env} node src/migrate.js --customer "
                f"{shlex.quote(record.customer)} --instance-id {shlex.quote(instance)}",
                hung=_stalled([s for s in spaces if s.status == IN_PROGRESS], now, timedelta(0)),
            )
        )
    return tuple(failed)


def _working(
    spaces: Iterable[SpaceRecord], records: Mapping[str, TrackingRecord], reconciled: Reconciled
) -> list[SpaceRecord]:
    """The spaces under way for a customer that is itself under way, on its own instance: the
    only ones that can stall. A failed customer's space left in progress has ended with it;
    a space a moved customer left on its old instance waits for the new one."""
    working = []
    for space in spaces:
        record = records.get(space.customer)
        instance = reconciled.instance_of(space.customer)
        if (
            space.status == IN_PROGRESS
            and instance is not None
            and (record is None or record.status == IN_PROGRESS)
            and space.instance_id in _ids(instance)
        ):
            working.append(space)
    return working


def _stalled(
    spaces: Iterable[SpaceRecord], now: datetime, stall_after: timedelta
) -> tuple[Stalled, ...]:
    stuck = [
        Stalled(
            s.instance_id,
            s.customer,
            s.space,
            s.last_upload,
            s.updated_at,
            (now - s.updated_at).total_seconds() / 60,
        )
        for s in spaces
        if s.status == IN_PROGRESS and now - s.updated_at > stall_after
    ]
    return tuple(sorted(stuck, key=lambda s: (s.updated_at, s.instance, s.customer, s.space)))
