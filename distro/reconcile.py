"""Where each customer is: the plan folder read against the runner's two tables (pure).

The plan folder says where distro put each customer; the tracking record
names the instance a customer was assigned to (``instanceId``, which the
runner never changes), and each space record names the runner that worked on
the space (``docs/runner-contract.md``). They agree after ``generate`` and
after every ``replan``; they disagree when the folder is not the one the fleet
was given (a fresh ``generate`` into another folder, a copy from another
day). Then the records are the truth of the work under way: a started
customer belongs to the instance its records name, whatever the folder says,
and ``replan`` refuses to write over such a folder (it would give a runner a
customer another runner is migrating).

A customer seen only in the progress records (in no file and with no tracking
record) belongs to no plan: it is reported, never counted as waiting.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from distro.tracking.records import COMPLETED, PENDING, SpaceRecord, TrackingRecord
from distro.written import WrittenPlan

EXAMPLES = 1  # one example per kind of disagreement: the line stays one line


@dataclass(frozen=True, slots=True)
class Disagreement:
    """One kind of disagreement between the folder and the records: its *kind* (a stable
    key), how many it holds (*count*), and the one *line* that says so with an example."""

    kind: str
    count: int
    line: str


@dataclass(frozen=True, slots=True)
class Reconciled:
    """Each customer's instance (*where*), the customers in no plan, and what disagrees.

    *started_elsewhere* are the started customers the folder lists on another
    instance than their records: (customer, the folder's instance, the records').
    """

    where: Mapping[str, str]
    not_in_plan: tuple[str, ...] = ()
    disagreements: tuple[Disagreement, ...] = ()
    started_elsewhere: tuple[tuple[str, str, str], ...] = ()
    planned: frozenset[str] = field(default_factory=frozenset)  # instances the folder holds

    def instance_of(self, customer: str) -> str | None:
        """The instance *customer* belongs to, or None when it belongs to no plan."""
        return self.where.get(customer)


def _ids(instance: str) -> frozenset[str]:
    """The instances an ``instanceId`` names: "2", or "2,5" for a split customer."""
    return frozenset(part for part in instance.split(",") if part)


def reconcile(
    plan: WrittenPlan | None,
    customers: Sequence[TrackingRecord],
    spaces: Sequence[SpaceRecord],
    *,
    folder: str = "the plan folder",
) -> Reconciled:
    """Place every customer and say where *plan* (the *folder*'s) and the records disagree.

    A customer's instance is its records' when it has started (a status past
    ``pending``, or a space record) or when no file lists it: its tracking
    record's ``instanceId``, else the runner of its first space record.
    Otherwise it is the instance of the file that lists it.
    """
    files = _files(plan)
    records = {r.customer: r for r in customers}
    runners = _first_runner(spaces)
    where: dict[str, str] = {}
    elsewhere: list[tuple[str, str, str]] = []
    pending_elsewhere: list[tuple[str, str, str]] = []
    for customer in sorted(set(files) | set(records) | set(runners)):
        record = records.get(customer)
        recorded = (record.instance_id if record else "") or runners.get(customer, "")
        listed = files.get(customer)
        started = customer in runners or (record is not None and record.status != PENDING)
        if listed is None or not recorded:
            place = listed or recorded
        elif _ids(recorded) == _ids(listed):
            place = listed
        else:
            place = recorded if started else listed
            (elsewhere if started else pending_elsewhere).append((customer, listed, recorded))
        if place and (record is not None or listed is not None):
            where[customer] = place
    orphans = tuple(c for c in sorted(runners) if c not in records and c not in files)
    planned = frozenset(str(i.instance) for i in plan.instances) if plan else frozenset()
    found = _Found(folder, plan is not None, planned, records, files)
    return Reconciled(
        where=where,
        not_in_plan=orphans,
        disagreements=tuple(
            d
            for d in (
                found.instances_missing(where),
                found.unlisted(),
                found.unrecorded(),
                _moved_line("started", elsewhere, folder),
                _moved_line("pending", pending_elsewhere, folder),
                _orphans_line(orphans),
            )
            if d is not None
        ),
        started_elsewhere=tuple(elsewhere),
        planned=planned,
    )


def _files(plan: WrittenPlan | None) -> dict[str, str]:
    """Customer -> the instance(s) of the files listing it ("2", or "2,5" when split)."""
    listed: dict[str, list[str]] = defaultdict(list)
    for instance in plan.instances if plan else ():
        for customer in instance.customers:
            listed[customer].append(str(instance.instance))
    return {c: ",".join(ids) for c, ids in listed.items()}


def _first_runner(spaces: Iterable[SpaceRecord]) -> dict[str, str]:
    """Customer -> the runner that made its first space record."""
    first: dict[str, str] = {}
    for space in sorted(spaces, key=lambda s: (s.created_at, s.customer, s.space)):
        first.setdefault(space.customer, space.instance_id)
    return first


@dataclass(frozen=True, slots=True)
class _Found:
    """What the folder and the tracking records hold, to compare them."""

    folder: str
    has_plan: bool
    planned: frozenset[str]
    records: Mapping[str, TrackingRecord]
    files: Mapping[str, str]

    def instances_missing(self, where: Mapping[str, str]) -> Disagreement | None:
        """Instances the records give unfinished work that the folder has no file for."""
        if not self.has_plan:
            return None
        holding: dict[str, int] = defaultdict(int)
        for customer, record in self.records.items():
            if record.status != COMPLETED:
                named = record.instance_id or where.get(customer, "")
                for instance in _ids(named) - self.planned:
                    holding[instance] += 1
        if not holding:
            return None
        names = sorted(holding, key=_order)
        return Disagreement(
            "instances-not-in-folder",
            len(names),
            f"{len(names)} instances hold unfinished customers in the tracking records but "
            f"have no file in {self.folder}: {', '.join(names)} "
            f"(e.g. instance {names[0]}, {holding[names[0]]:,} customers)",
        )

    def unlisted(self) -> Disagreement | None:
        """Customers with an unfinished tracking record that no file lists."""
        if not self.has_plan:
            return None
        missing = sorted(
            c for c, r in self.records.items() if r.status != COMPLETED and c not in self.files
        )
        if not missing:
            return None
        example = self.records[missing[0]]
        on = f" on instance {example.instance_id}" if example.instance_id else ""
        return Disagreement(
            "records-not-in-folder",
            len(missing),
            f"{len(missing):,} unfinished customers of the tracking records are in no file of "
            f"{self.folder}, e.g. {missing[0]} ({example.status}{on})",
        )

    def unrecorded(self) -> Disagreement | None:
        """Customers the files list with no tracking record, when the table holds the plan's
        records (distro wrote them: they name instances)."""
        if not any(r.instance_id for r in self.records.values()):
            return None
        missing = sorted(c for c in self.files if c not in self.records)
        if not missing:
            return None
        return Disagreement(
            "folder-not-in-records",
            len(missing),
            f"{len(missing):,} customers of {self.folder} have no tracking record, e.g. "
            f"{missing[0]} (instance {self.files[missing[0]]} in the files)",
        )


def _moved_line(
    what: str, moved: Sequence[tuple[str, str, str]], folder: str
) -> Disagreement | None:
    if not moved:
        return None
    customer, listed, recorded = moved[0]
    return Disagreement(
        f"{what}-elsewhere",
        len(moved),
        f"{len(moved):,} {what} customers are on another instance in the records than in "
        f"{folder}, e.g. {customer}: instance {recorded} in the records, {listed} in the files",
    )


def _orphans_line(orphans: Sequence[str]) -> Disagreement | None:
    if not orphans:
        return None
    return Disagreement(
        "not-in-plan",
        len(orphans),
        f"{len(orphans):,} customers appear only in the progress records (in no file and with "
        f"no tracking record), e.g. {orphans[0]}: not in the plan, not counted",
    )


def _order(name: str) -> tuple[int, str]:
    return (int(name), "") if name.isdigit() else (1 << 30, name)
