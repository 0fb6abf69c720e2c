"""Split customers across instances so that they finish at about the same time.

The balancer places units (``Load``: a whole customer, or one space of a
customer it splits) by a neutral *weight*: their uploads, or their shards
(``WEIGHTS``). Two passes. ``greedy`` is "longest first": units sorted by
weight (descending, ties by DID), each given to the least-loaded instance
(ties by the lower instance number), the loads kept in a heap: O(n log n +
n log k). ``refine`` then moves one unit, or swaps two, between the busiest
instance and a lighter one, as long as that strictly lowers the makespan or,
at an equal makespan, the number of instances at it. It works on weights only
(sorted lists, bisection): a step sorts the k loads and tries at most 64
distinct weights per lighter instance, and both the steps and the probes of a
call are capped, so a million customers over 100 instances still plan in
about two seconds.

With *split*, a customer above the fair share is planned space by space
(``split``): each of its spaces is a unit of its own, so one huge customer no
longer sets the finish line alone.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from operator import attrgetter
from typing import cast

from distro.settings import BalanceUnit
from distro.tally import CustomerLoad, Load, SpaceLoad, Tally, above_fair_share

# Caps on the refinement: steps (8 per instance, at least 256), distinct upload counts
# tried for a swap between two instances, and search probes (a bisection or two each)
# per call, whatever the input. Small inputs stop at a local optimum long before them.
MAX_STEPS_PER_INSTANCE = 8
MIN_STEPS = 256
SWAP_PROBES = 64
WORK_BUDGET = 50_000

Weigh = Callable[[Load], int]
_uploads: Weigh = attrgetter("uploads")
_spaces = attrgetter("spaces")
_customer_name = attrgetter("customer")
_space = attrgetter("space")
# What a plan balances, by unit: a load's uploads, or its shards (shardsRef at the floor).
WEIGHTS: Mapping[BalanceUnit, Weigh] = {
    "uploads": _uploads,
    "shards": attrgetter("estimated_shards"),
}


@dataclass(frozen=True, slots=True)
class InstancePlan:
    """What one instance migrates: whole *customers* and single spaces of split ones.

    Both tuples are heaviest first (ties by DID). *uploads* and *spaces* (with
    uploads) are the totals of both; they are summed here unless given, as the
    balancer does because it has them already.
    """

    instance_id: int
    customers: tuple[CustomerLoad, ...]
    split_spaces: tuple[SpaceLoad, ...] = ()
    uploads: int = field(default=-1, kw_only=True, repr=False, compare=False)
    spaces: int = field(default=-1, kw_only=True, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Once, not per read: the report and the refinement read them many times.
        units = self.units
        if self.uploads < 0:
            object.__setattr__(self, "uploads", sum(map(_uploads, units)))
        if self.spaces < 0:
            object.__setattr__(self, "spaces", sum(map(_spaces, units)))

    @property
    def units(self) -> tuple[Load, ...]:
        """Every unit: the whole customers, then the single spaces."""
        return (*self.customers, *self.split_spaces)

    @property
    def shards(self) -> int:
        """Shards of every unit, an upload with ``shardsRef`` at the 5,000 floor (0 if not counted)."""
        return sum(u.estimated_shards for u in self.units)

    @property
    def shard_refs(self) -> int:
        """Uploads of every unit whose shard list is in S3."""
        return sum(u.shard_refs for u in self.units)

    @property
    def space_assignments(self) -> dict[str, list[str]]:
        """The split spaces by customer (customers sorted by DID, spaces heaviest first)."""
        assignments: dict[str, list[str]] = {}
        for unit in sorted(self.split_spaces, key=_by_uploads):
            assignments.setdefault(unit.customer, []).append(unit.space)
        return dict(sorted(assignments.items()))


@dataclass(frozen=True, slots=True)
class Plan:
    """Instances numbered from 1, and the facts that judge the split.

    *largest* is the largest unit planned: a customer, or one space of a split
    customer. *split_large* says splitting was asked for; *split_customers*
    are the customers it split.
    """

    instances: tuple[InstancePlan, ...]
    total_uploads: int
    largest: Load | None
    split_large: bool = False
    split_customers: tuple[str, ...] = ()
    counted_shards: bool = False  # the units carry their shards
    unit: BalanceUnit = "uploads"  # what was balanced: the work of the figures below

    def work(self, load: InstancePlan | Load) -> int:
        """The work of *load* in the plan's unit: its uploads, or its (estimated) shards."""
        if self.unit == "uploads":
            return load.uploads
        return load.shards if isinstance(load, InstancePlan) else load.estimated_shards

    @property
    def total_work(self) -> int:
        """The work of every instance, in the plan's unit."""
        if self.unit == "uploads":
            return self.total_uploads
        return sum(i.shards for i in self.instances)

    @property
    def makespan(self) -> int:
        """Work (uploads, or shards) of the most loaded instance: it decides when the migration ends."""
        return max((self.work(i) for i in self.instances), default=0)

    @property
    def fair_share(self) -> float:
        """Work per instance if it could be split perfectly."""
        return self.total_work / len(self.instances)

    @property
    def lower_bound(self) -> float:
        """No plan can do better: max(total / N, largest customer (or space, when split))."""
        return max(self.fair_share, self.work(self.largest) if self.largest else 0)

    @property
    def gap(self) -> float:
        """How far the plan is above the lower bound, as a fraction (0.0 is optimal)."""
        bound = self.lower_bound
        return self.makespan / bound - 1 if bound else 0.0

    @property
    def whale(self) -> Load | None:
        """The customer (or split space) that alone exceeds the fair share, if there is one."""
        largest = self.largest
        if largest and above_fair_share(self.work(largest), self.total_work, len(self.instances)):
            return largest
        return None

    def instances_of(self) -> dict[str, tuple[int, ...]]:
        """Each planned customer's instance ids, in instance order (several when split)."""
        where: dict[str, list[int]] = {}
        for instance in self.instances:
            for unit in instance.units:
                ids = where.setdefault(unit.customer, [])
                if instance.instance_id not in ids:
                    ids.append(instance.instance_id)
        return {customer: tuple(ids) for customer, ids in where.items()}

    @property
    def saturation(self) -> int:
        """ceil(total / largest): from this many instances on, the largest unit is the bound.

        With that many instances or more the fair share is at most the largest
        unit, so the lower bound is that unit alone and more instances cannot
        shorten the critical path. 0 when nothing has uploads.
        """
        if not self.largest or not self.work(self.largest):
            return 0
        return math.ceil(self.total_work / self.work(self.largest))


def order(units: Iterable[Load], weigh: Weigh = _uploads) -> list[Load]:
    """The order the greedy pass takes units in: heaviest first, ties by DID (then space)."""
    listed = list(units)
    return _order(listed, spaces=_any_space(listed), weigh=weigh)


def _order(units: list[Load], *, spaces: bool, weigh: Weigh = _uploads) -> list[Load]:
    """``order`` of *units*, in place; *spaces*: some units may be single spaces."""
    # Stable sorts, least significant key first: much faster than one tuple key.
    units.sort(key=_unit_name if spaces else _customer_name)
    units.sort(key=weigh, reverse=True)  # reverse=True keeps the sort stable
    return units


def _any_space(units: Iterable[Load]) -> bool:
    """Whether some unit is a single space (a space DID is never empty)."""
    return any(map(_space, units))


def _unit_name(unit: Load) -> tuple[str, str]:
    return unit.customer, unit.space or ""


def _by_uploads(unit: Load) -> tuple[int, str, str]:
    return (-unit.uploads, unit.customer, unit.space or "")


def plan(
    tally: Tally, instances: int, *, split_large: bool = False, by: BalanceUnit = "uploads"
) -> Plan:
    """The plan of *tally*'s customers over *instances*, balancing *by* uploads or shards; no I/O.

    With *split_large*, each customer above the fair share whose spaces the
    tally holds (``Tally.split_spaces``) is planned space by space.
    """
    split = tally.split_spaces if split_large else None
    made = balance(tally.customers, instances, split=split, weigh=WEIGHTS[by])
    if not tally.counted_shards:
        return made
    return replace(made, counted_shards=True, unit=by)


def balance(
    customers: Iterable[CustomerLoad],
    instances: int,
    *,
    split: Mapping[str, Sequence[SpaceLoad]] | None = None,
    pinned: Sequence[int] = (),
    weigh: Weigh = _uploads,
) -> Plan:
    """Assign every customer to exactly one of *instances*: greedy, then refined, by *weigh*.

    With *split* (the spaces of some customers), each customer above the fair
    share that *split* holds is planned space by space instead. *pinned* is
    load each instance already carries and keeps (a re-plan's started
    customers): the units are balanced around it.
    """
    _require_instances(instances)
    units: list[Load] = list(customers)
    split_customers: tuple[str, ...] = ()
    if split is not None:
        units, split_customers = split_large_customers(units, instances, split, weigh)
    # Single spaces come only from the split: no need to look for them (a pass over a
    # million scattered records costs a tenth of a second).
    ordered = _order(units, spaces=bool(split_customers), weigh=weigh)
    assignment = _Assignment.greedy(ordered, instances, pinned, weigh)
    assignment.refine(_step_limit(instances))
    return _plan(
        assignment,
        ordered,
        split=bool(split_customers),
        split_large=split is not None,
        split_customers=split_customers,
    )


def split_large_customers(
    customers: Sequence[Load],
    instances: int,
    split: Mapping[str, Sequence[SpaceLoad]],
    weigh: Weigh = _uploads,
) -> tuple[list[Load], tuple[str, ...]]:
    """Replace each customer heavier than total / *instances* found in *split* by its spaces.

    Returns the units and the customers split (sorted by DID).
    """
    total = sum(map(weigh, customers))
    units: list[Load] = []
    split_customers: list[str] = []
    for customer in customers:
        spaces = split.get(customer.customer)
        if spaces is not None and above_fair_share(weigh(customer), total, instances):
            split_customers.append(customer.customer)
            units.extend(spaces)
        else:
            units.append(customer)
    return units, tuple(sorted(split_customers))


def greedy(units: Iterable[Load], instances: int, weigh: Weigh = _uploads) -> Plan:
    """The greedy pass alone: each unit, heaviest first, to the least-loaded instance."""
    _require_instances(instances)
    listed = list(units)
    spaces = _any_space(listed)
    ordered = _order(listed, spaces=spaces, weigh=weigh)
    return _plan(_Assignment.greedy(ordered, instances, (), weigh), ordered, split=spaces)


def refine(plan: Plan, *, max_steps: int | None = None) -> Plan:
    """Improve *plan* (units listed heaviest first) by single moves and swaps; never worse.

    Each step takes the busiest instance (the lowest number among ties) and the
    lightest instance with which one move, or one swap, leaves both strictly
    below the busiest load; of those exchanges it makes the one closest to half
    their difference. So each step lowers the makespan or, at an equal
    makespan, the number of instances at it. It stops when no exchange helps the
    busiest instance, after *max_steps* (default: 8 per instance, at least 256),
    or when a fixed budget of search probes is spent, whatever the input.
    """
    assignment = _Assignment.of(plan)
    if not assignment.refine(_step_limit(len(plan.instances), max_steps)):
        return plan
    split = any(i.split_spaces for i in plan.instances)
    return replace(plan, instances=assignment.instances(split=split))


def _require_instances(instances: int) -> None:
    if instances < 1:
        raise ValueError("instances must be at least 1")


def _step_limit(instances: int, max_steps: int | None = None) -> int:
    if max_steps is not None:
        return max_steps
    return max(MIN_STEPS, MAX_STEPS_PER_INSTANCE * instances)


def _plan(
    assignment: _Assignment,
    ordered: Sequence[Load],
    *,
    split: bool,
    split_large: bool = False,
    split_customers: tuple[str, ...] = (),
) -> Plan:
    """The Plan of *assignment*; *split*: some units may be single spaces."""
    return Plan(
        instances=assignment.instances(split=split),
        total_uploads=assignment.total_uploads(ordered),
        largest=ordered[0] if ordered else None,
        split_large=split_large,
        split_customers=split_customers,
    )


class _Assignment:
    """A plan being made: each instance's units (in ``order``) and weights (ascending).

    *weigh* gives a unit's weight; *loads* are the weights per instance, pinned
    load included.
    """

    def __init__(
        self,
        units: list[list[Load]],
        values: list[list[int]],
        spaces: list[int],
        pinned: Sequence[int] = (),
        weigh: Weigh = _uploads,
    ) -> None:
        self.units = units
        self.values = values  # the refinement searches (and moves) these alone
        # Pinned load counts in each instance's load but is no unit: nothing can move it.
        extra = list(pinned) or [0] * len(values)
        self.loads = [sum(v) + p for v, p in zip(values, extra, strict=True)]
        self.pinned = sum(extra)
        self.spaces = spaces  # per instance, with uploads
        self.budget = WORK_BUDGET
        self.weigh = weigh

    def key(self, unit: Load) -> tuple[int, str, str]:
        """The order of units within an instance: heaviest first, ties by DID, then space."""
        return (-self.weigh(unit), unit.customer, unit.space or "")

    def total_uploads(self, ordered: Sequence[Load]) -> int:
        """The uploads of every unit of *ordered* and the pinned load."""
        if self.weigh is _uploads:
            return sum(self.loads)  # the loads are uploads already: k numbers, not n
        return sum(map(_uploads, ordered)) + self.pinned

    def instances(self, *, split: bool) -> tuple[InstancePlan, ...]:
        """The instance plans; *split*: some units may be single spaces."""
        plans = []
        by_uploads = self.weigh is _uploads
        for index, units in enumerate(self.units):
            # Without a split every unit is a whole customer: no pass to sort them out.
            whole = cast(tuple[CustomerLoad, ...], tuple(units))
            single: tuple[SpaceLoad, ...] = ()
            if split:
                whole = tuple(u for u in units if isinstance(u, CustomerLoad))
                single = tuple(u for u in units if isinstance(u, SpaceLoad))
            plan = InstancePlan(
                index + 1,
                whole,
                single,
                uploads=self.loads[index] if by_uploads else -1,
                spaces=self.spaces[index],
            )
            plans.append(plan)
        return tuple(plans)

    @classmethod
    def greedy(
        cls,
        ordered: Sequence[Load],
        instances: int,
        pinned: Sequence[int] = (),
        weigh: Weigh = _uploads,
    ) -> _Assignment:
        """Each unit of *ordered* to the least-loaded instance (*pinned* load first), ties to the lowest number."""
        # Each heap entry is load * instances + index: one int compares much faster
        # than a (load, index) tuple, and orders the same way (ties by index).
        heap = [load * instances + i for i, load in enumerate(pinned)] or list(range(instances))
        heapq.heapify(heap)
        units: list[list[Load]] = [[] for _ in range(instances)]
        values: list[list[int]] = [[] for _ in range(instances)]
        spaces = [0] * instances
        add_unit = [u.append for u in units]
        add_value = [v.append for v in values]
        replace_top = heapq.heapreplace
        for position, unit in enumerate(ordered):
            weight = weigh(unit)
            if not weight:
                # The rest weigh nothing: they leave every load as it is, so they
                # all go where the next one would, the least-loaded instance.
                rest = ordered[position:]
                index = heap[0] % instances
                units[index].extend(rest)
                values[index].extend([0] * len(rest))
                spaces[index] += sum(map(_spaces, rest))
                break
            top = heap[0]
            index = top % instances
            add_unit[index](unit)
            add_value[index](weight)
            spaces[index] += unit.spaces
            replace_top(heap, top + weight * instances)
        for descending in values:
            descending.reverse()
        return cls(units, values, spaces, pinned, weigh)

    @classmethod
    def of(cls, plan: Plan) -> _Assignment:
        """The working copy of *plan*, weighed in its unit."""
        weigh = WEIGHTS[plan.unit]
        made = cls([], [], [], (), weigh)
        units: list[list[Load]] = [
            sorted((*i.customers, *i.split_spaces), key=made.key)
            if i.split_spaces
            else list(i.customers)
            for i in plan.instances
        ]
        values = [list(map(weigh, reversed(u))) for u in units]
        return cls(units, values, [i.spaces for i in plan.instances], (), weigh)

    def refine(self, max_steps: int) -> bool:
        """Run the refinement (see ``refine``); True when some unit moved."""
        transfers: list[tuple[int, int, int]] = []  # (from, to, weight) per unit moved
        for _ in range(max_steps):
            if not self._step(transfers):
                break
        self._move_units(transfers)
        return bool(transfers)

    def _move_units(self, transfers: Sequence[tuple[int, int, int]]) -> None:
        """Turn moves of weights into moves of units, deterministically.

        Units of the same weight are interchangeable for the loads, so only the
        net count per (instance, weight) matters: a giving instance gives its
        units of that weight with the greatest DIDs; the units given go, in DID
        order, to the receiving instances in instance order.
        """
        units, spaces, key = self.units, self.spaces, self.key
        for weight, per_instance in _net(transfers):
            given: list[Load] = []
            for index, change in per_instance:
                if change < 0:
                    taken = _take(units[index], weight, -change, self.weigh)
                    spaces[index] -= sum(map(_spaces, taken))
                    given.extend(taken)
            given.sort(key=key)
            for index, change in per_instance:
                if change > 0:
                    for unit in given[:change]:
                        insort(units[index], unit, key=key)
                        spaces[index] += unit.spaces
                    del given[:change]

    def _step(self, transfers: list[tuple[int, int, int]]) -> bool:
        """Make one exchange that relieves the busiest instance; False when none does."""
        loads = self.loads
        makespan = max(loads)
        heavy = loads.index(makespan)
        for light in sorted(range(len(loads)), key=lambda i: (loads[i], i)):
            difference = makespan - loads[light]
            if difference <= 1 or self.budget <= 0:  # whole uploads: nothing fits in (0, 1)
                return False
            exchange = self._exchange(self.values[heavy], self.values[light], difference)
            if exchange is not None:
                out, back = exchange
                transfers.append(self._transfer(heavy, light, out))
                if back:
                    transfers.append(self._transfer(light, heavy, back))
                return True
        return False

    def _exchange(
        self, heavy: list[int], light: list[int], difference: int
    ) -> tuple[int, int] | None:
        """The (out, back) with out - back in (0, *difference*) closest to half of it.

        *back* is 0 for a plain move. Both lists are ascending upload counts.
        """
        best: tuple[int, int, int] | None = None  # (distance from the middle * 2, out, back)
        for out in _nearest(heavy, difference / 2, 0, difference):
            best = _better(best, (abs(2 * out - difference), out, 0))
        # A swap needs back > 0 in (out - difference, out), so only outs between the
        # smallest back and the largest back + difference can have one.
        first_back = bisect_right(light, 0)
        start = bisect_right(heavy, light[first_back]) if first_back < len(light) else len(heavy)
        probes = SWAP_PROBES
        while start < len(heavy) and heavy[start] < light[-1] + difference and probes:
            if best is not None and best[0] == difference % 2:
                break  # nothing can come closer to the middle
            out = heavy[start]
            for back in _nearest(light, out - difference / 2, out - difference, out, first_back):
                best = _better(best, (abs(2 * (out - back) - difference), out, back))
            start = bisect_right(heavy, out, start)
            probes -= 1
        self.budget -= SWAP_PROBES - probes + 1
        return None if best is None else (best[1], best[2])

    def _transfer(self, source: int, target: int, uploads: int) -> tuple[int, int, int]:
        del self.values[source][bisect_left(self.values[source], uploads)]
        insort(self.values[target], uploads)
        self.loads[source] -= uploads
        self.loads[target] += uploads
        return source, target, uploads


def _nearest(
    values: list[int], target: float, low: float, high: float, start: int = 0
) -> list[int]:
    """The counts of *values[start:]* on either side of *target*, strictly inside (low, high)."""
    at = bisect_left(values, target, start)
    candidates = values[max(at - 1, start) : at + 1]
    return [v for v in candidates if low < v < high]


def _better(
    best: tuple[int, int, int] | None, candidate: tuple[int, int, int]
) -> tuple[int, int, int]:
    # A move (back 0) sorts before a swap with the same distance: fewer changes.
    if best is None:
        return candidate
    key = (candidate[0], candidate[2] != 0, candidate[1], candidate[2])
    return candidate if key < (best[0], best[2] != 0, best[1], best[2]) else best


def _net(
    transfers: Sequence[tuple[int, int, int]],
) -> list[tuple[int, list[tuple[int, int]]]]:
    """Per upload count, ascending: (instance index, net units received), by instance."""
    net: dict[int, dict[int, int]] = {}
    for source, target, uploads in transfers:
        per_instance = net.setdefault(uploads, {})
        per_instance[source] = per_instance.get(source, 0) - 1
        per_instance[target] = per_instance.get(target, 0) + 1
    return [(uploads, sorted(changes.items())) for uploads, changes in sorted(net.items())]


def _take(units: list[Load], weight: int, count: int, weigh: Weigh) -> list[Load]:
    """Remove and return the *count* units of *weight* with the greatest DIDs."""
    end = bisect_right(units, -weight, key=lambda unit: -weigh(unit))
    taken = units[end - count : end]
    del units[end - count : end]
    return taken
