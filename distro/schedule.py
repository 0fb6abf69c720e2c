"""Where each customer goes when instances run at different speeds, moving as few as it can.

A re-plan places *units* (customers, each with its remaining uploads and the
instance that holds it now, its *home*) over instances that each migrate
*speeds[i]* uploads a minute and already carry *pinned[i]* uploads they cannot
give away (customers under way). An instance finishes after its load over its
speed; the plan finishes when its last instance does. Pure: no I/O.

``place`` first finds how early the plan can finish: a greedy pass, heaviest
unit first, each to the instance where it finishes earliest, then a
refinement that moves one unit, or swaps two, off the instance that finishes
last while that makes it finish sooner. Then it looks for the plan that
finishes no later than that (within *tolerance*) with the fewest units away
from home: from the current placement, it moves units off the instances that
finish too late, the fewest it can; from the optimised plan, it sends units
back home while that keeps the finish. The plan with fewer moves wins, then
the one that changes fewer instances' lists (each a runner to restart). A unit
whose home is closed (a dropped instance) or gone must move.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Collection, Sequence
from dataclasses import dataclass

MAX_REFINE_STEPS = 4_000
TOLERANCE = 0.01  # the same finish, within 1%, with fewer moves is the better plan


@dataclass(frozen=True, slots=True)
class Unit:
    """A customer to place: its *uploads* left and its *home* instance (an index), if any."""

    name: str
    uploads: int
    home: int | None = None


@dataclass(frozen=True, slots=True)
class Placement:
    """Each unit's instance (an index, in the order of the units), the loads, the finish."""

    where: tuple[int, ...]
    loads: tuple[int, ...]
    finish: float  # minutes from now until the last instance ends
    moves: int  # units not at home
    changed: int = 0  # instances that gain or lose a unit: runners to restart


def finish(loads: Sequence[int], speeds: Sequence[float]) -> float:
    """Minutes until the last of the instances ends its *loads* at its *speeds*."""
    return max((load / speed for load, speed in zip(loads, speeds, strict=True) if load), default=0)


def lower_bound(
    units: Sequence[Unit],
    *,
    speeds: Sequence[float],
    pinned: Sequence[int],
    closed: Collection[int] = (),
) -> float:
    """No plan of *units* finishes sooner (minutes): the work over the fleet's whole speed,
    the slowest pinned load, or the largest unit on the fastest open instance."""
    open_speeds = [s for i, s in enumerate(speeds) if i not in closed]
    if not open_speeds:
        return finish(pinned, speeds)
    working = sum(s for i, s in enumerate(speeds) if i not in closed or pinned[i])
    total = sum(pinned) + sum(u.uploads for u in units)
    largest = max((u.uploads for u in units), default=0)
    return max(total / working, finish(pinned, speeds), largest / max(open_speeds))


def place(
    units: Sequence[Unit],
    *,
    speeds: Sequence[float],
    pinned: Sequence[int],
    closed: Collection[int] = (),
    tolerance: float = TOLERANCE,
) -> Placement:
    """The placement of *units* described in the module; *closed* instances take none."""
    if len(speeds) != len(pinned) or not all(s > 0 for s in speeds):
        raise ValueError("every instance needs a speed above 0 and a pinned load")
    open_ = [i for i in range(len(speeds)) if i not in closed]
    if not open_ and units:
        raise ValueError("no instance is open to take the customers")
    usable = set(open_)
    units = [u if u.home in usable else Unit(u.name, u.uploads) for u in units]
    best = _optimised(units, speeds, pinned, open_)
    target = best.finish * (1 + tolerance)
    candidates = [best, _sent_home(best, units, speeds, target)]
    kept = _repaired(units, speeds, pinned, open_, target)
    if kept is not None:
        candidates.append(kept)
    return min(candidates, key=lambda p: (p.moves, p.changed, p.finish))


def _placement(
    units: Sequence[Unit], where: Sequence[int], loads: Sequence[int], speeds: Sequence[float]
) -> Placement:
    changed: set[int] = set()
    for unit, at in zip(units, where, strict=True):
        if unit.home != at:
            changed.add(at)
            if unit.home is not None:
                changed.add(unit.home)
    moves = sum(1 for unit, at in zip(units, where, strict=True) if unit.home != at)
    return Placement(tuple(where), tuple(loads), finish(loads, speeds), moves, len(changed))


def _heaviest_first(units: Sequence[Unit]) -> list[int]:
    return sorted(range(len(units)), key=lambda n: (-units[n].uploads, units[n].name))


def _earliest(
    loads: Sequence[int], speeds: Sequence[float], open_: Sequence[int], uploads: int
) -> int:
    """The open instance where *uploads* more would end soonest (ties: the lower index)."""
    return min(open_, key=lambda i: ((loads[i] + uploads) / speeds[i], i))


def _optimised(
    units: Sequence[Unit], speeds: Sequence[float], pinned: Sequence[int], open_: Sequence[int]
) -> Placement:
    """Greedy by earliest finish, heaviest first, then refined."""
    loads = list(pinned)
    where = [0] * len(units)
    for n in _heaviest_first(units):
        i = _earliest(loads, speeds, open_, units[n].uploads)
        where[n] = i
        loads[i] += units[n].uploads
    _refine(units, where, loads, speeds, open_)
    return _placement(units, where, loads, speeds)


def _refine(
    units: Sequence[Unit],
    where: list[int],
    loads: list[int],
    speeds: Sequence[float],
    open_: Sequence[int],
) -> None:
    """Move one unit, or swap two, off the instance that ends last while it then ends sooner."""
    members: dict[int, list[tuple[int, int]]] = {i: [] for i in range(len(speeds))}
    for n, i in enumerate(where):
        members[i].append((units[n].uploads, n))
    for held in members.values():
        held.sort()
    for _ in range(MAX_REFINE_STEPS):
        last = max(range(len(speeds)), key=lambda i: (loads[i] / speeds[i], -i))
        step = _best_step(last, members, loads, speeds, open_)
        if step is None:
            return
        target, give, take = step
        shifts = [(give, last, target)] + ([] if take is None else [(take, target, last)])
        for n, source, sink in shifts:
            members[source].remove((units[n].uploads, n))
            members[sink].append((units[n].uploads, n))
            members[sink].sort()
            loads[source] -= units[n].uploads
            loads[sink] += units[n].uploads
            where[n] = sink


def _best_step(
    last: int,
    members: dict[int, list[tuple[int, int]]],
    loads: Sequence[int],
    speeds: Sequence[float],
    open_: Sequence[int],
) -> tuple[int, int, int | None] | None:
    """(target, unit to give, unit to take back or None) that lowers *last*'s end the most,
    keeping the target's end below it; None when no move or swap does."""
    ends = loads[last] / speeds[last]
    best: tuple[float, int, int, int | None] | None = None
    for target in open_:
        if target == last:
            continue
        s_last, s_target = speeds[last], speeds[target]
        # The net uploads to hand over that make both end together.
        ideal = (loads[last] * s_target - loads[target] * s_last) / (s_last + s_target)
        if ideal <= 0:
            continue
        theirs = members[target]
        sizes = [size for size, _ in theirs]
        for size, n in members[last]:
            options: list[tuple[int, int | None]] = [(size, None)]
            if sizes:
                k = bisect_left(sizes, size - ideal)
                options += [
                    (size - sizes[j], theirs[j][1]) for j in (k - 1, k) if 0 <= j < len(sizes)
                ]
            for net, back in options:
                if net <= 0:
                    continue
                after = max((loads[last] - net) / s_last, (loads[target] + net) / s_target)
                if after < ends * (1 - 1e-12) and (best is None or after < best[0]):
                    best = (after, target, n, back)
    return None if best is None else best[1:]


def _sent_home(
    best: Placement, units: Sequence[Unit], speeds: Sequence[float], target: float
) -> Placement:
    """*best* with every unit it can send home (the smallest first) while all end by *target*."""
    where, loads = list(best.where), list(best.loads)
    away = [n for n in range(len(units)) if units[n].home is not None and where[n] != units[n].home]
    for n in sorted(away, key=lambda n: (units[n].uploads, units[n].name)):
        home, at, size = units[n].home, where[n], units[n].uploads
        if home is not None and (loads[home] + size) / speeds[home] <= target:
            loads[home] += size
            loads[at] -= size
            where[n] = home
    return _placement(units, where, loads, speeds)


def _repaired(
    units: Sequence[Unit],
    speeds: Sequence[float],
    pinned: Sequence[int],
    open_: Sequence[int],
    target: float,
) -> Placement | None:
    """Units left home, those without one placed earliest; then, while an instance ends after
    *target*, one of its units moved where it ends soonest: the smallest that brings it back
    by *target* if one does, else the largest that fits. None when that cannot reach it.

    A unit that moves goes, where it fits by *target*, to an instance whose list changes
    anyway (an empty one, or one that already gained or lost a unit): each instance whose
    list changes is a runner to restart.
    """
    loads = list(pinned)
    where = [-1] * len(units)
    for n, unit in enumerate(units):
        if unit.home is not None:
            where[n] = unit.home
            loads[unit.home] += unit.uploads
    touched = {i for i in open_ if not loads[i]}
    for n in _heaviest_first(units):
        if where[n] < 0:
            size = units[n].uploads
            sink = _sink(size, loads, speeds=speeds, sinks=open_, touched=touched, target=target)
            where[n] = _earliest(loads, speeds, open_, size) if sink is None else sink
            touched.add(where[n])
            loads[where[n]] += units[n].uploads
    held: dict[int, list[int]] = {i: [] for i in open_}
    for n in _heaviest_first(units):
        held[where[n]].append(n)  # heaviest first
    for _ in range(len(units) + 1):
        late = [i for i in range(len(speeds)) if loads[i] / speeds[i] > target]
        if not late:
            return _placement(units, where, loads, speeds)
        source = max(late, key=lambda i: (loads[i] / speeds[i], -i))
        excess = loads[source] - target * speeds[source]
        chosen = _unit_to_move(
            held.get(source, []),
            units,
            loads=loads,
            speeds=speeds,
            sinks=[i for i in open_ if i != source],
            touched=touched,
            target=target,
            excess=excess,
        )
        if chosen is None:
            return None
        n, sink = chosen
        touched |= {source, sink}
        held[source].remove(n)
        held[sink].append(n)
        loads[source] -= units[n].uploads
        loads[sink] += units[n].uploads
        where[n] = sink
    return None


def _unit_to_move(
    candidates: Sequence[int],
    units: Sequence[Unit],
    *,
    loads: Sequence[int],
    speeds: Sequence[float],
    sinks: Sequence[int],
    touched: Collection[int],
    target: float,
    excess: float,
) -> tuple[int, int] | None:
    """(unit, instance) for ``_repaired``: an instance it fits by *target* (see ``_sink``)."""
    fitting: list[tuple[int, int]] = []
    for n in candidates:
        size = units[n].uploads
        sink = _sink(size, loads, speeds=speeds, sinks=sinks, touched=touched, target=target)
        if sink is not None:
            fitting.append((n, sink))
    if not fitting:
        return None
    enough = [f for f in fitting if units[f[0]].uploads >= excess]
    if enough:
        return min(enough, key=lambda f: (units[f[0]].uploads, units[f[0]].name))
    return max(fitting, key=lambda f: (units[f[0]].uploads, units[f[0]].name))


def _sink(
    uploads: int,
    loads: Sequence[int],
    *,
    speeds: Sequence[float],
    sinks: Sequence[int],
    touched: Collection[int],
    target: float,
) -> int | None:
    """Where *uploads* more still end by *target*, soonest: among the *touched* instances if
    any fits, else among all *sinks*; None when none fits."""
    fits = [i for i in sinks if (loads[i] + uploads) / speeds[i] <= target]
    changed = [i for i in fits if i in touched]
    return _earliest(loads, speeds, changed or fits, uploads) if fits else None
