"""Split customers across instances so that they finish at about the same time.

Greedy "longest first": customers sorted by uploads (descending, ties by DID),
each given to the least-loaded instance (ties by the lower instance number).
The loads live in a heap, so a plan costs O(n log n + n log k).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CustomerLoad:
    """One customer's work: its *uploads* and its *spaces* holding uploads."""

    customer: str
    uploads: int
    spaces: int


@dataclass(frozen=True, slots=True)
class InstancePlan:
    """The customers one instance migrates, heaviest first."""

    instance_id: int
    customers: tuple[CustomerLoad, ...]

    @property
    def uploads(self) -> int:
        """Uploads this instance migrates."""
        return sum(c.uploads for c in self.customers)

    @property
    def spaces(self) -> int:
        """Spaces with uploads this instance migrates."""
        return sum(c.spaces for c in self.customers)


@dataclass(frozen=True, slots=True)
class Plan:
    """Instances numbered from 1, and the facts that judge the split."""

    instances: tuple[InstancePlan, ...]
    total_uploads: int
    largest: CustomerLoad | None

    @property
    def makespan(self) -> int:
        """Uploads of the most loaded instance: it decides when the migration ends."""
        return max((i.uploads for i in self.instances), default=0)

    @property
    def fair_share(self) -> float:
        """Uploads per instance if they could be split perfectly."""
        return self.total_uploads / len(self.instances)

    @property
    def lower_bound(self) -> float:
        """No plan can do better: max(total / N, largest customer)."""
        return max(self.fair_share, self.largest.uploads if self.largest else 0)

    @property
    def gap(self) -> float:
        """How far the plan is above the lower bound, as a fraction (0.0 is optimal)."""
        bound = self.lower_bound
        return self.makespan / bound - 1 if bound else 0.0

    @property
    def whale(self) -> CustomerLoad | None:
        """The customer that alone exceeds the fair share, if there is one."""
        if self.largest and self.largest.uploads > self.fair_share:
            return self.largest
        return None


def order(customers: Iterable[CustomerLoad]) -> list[CustomerLoad]:
    """The order the greedy pass takes customers in: most uploads first, ties by DID."""
    return sorted(customers, key=lambda c: (-c.uploads, c.customer))


def balance(customers: Iterable[CustomerLoad], instances: int) -> Plan:
    """Assign every customer to exactly one of *instances*, least-loaded first."""
    if instances < 1:
        raise ValueError("instances must be at least 1")
    ordered = order(customers)
    heap = [(0, index) for index in range(instances)]  # (uploads, instance index)
    assigned: list[list[CustomerLoad]] = [[] for _ in range(instances)]
    for customer in ordered:
        load, index = heap[0]
        assigned[index].append(customer)
        heapq.heapreplace(heap, (load + customer.uploads, index))
    return Plan(
        instances=tuple(InstancePlan(i + 1, tuple(c)) for i, c in enumerate(assigned)),
        total_uploads=sum(c.uploads for c in ordered),
        largest=ordered[0] if ordered else None,
    )
