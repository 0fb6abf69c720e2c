"""What counting produces: each planned customer's load, and the run's ``Tally``.

These records sit below the stages: the census fills a ``Tally``, planning
reads it, the report summarizes it, and none of them needs AWS code for it.
A plan without counting starts from a ``Tally`` built by hand or read from a file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from distro.settings import SHARDS_REF_FLOOR, ReadPath


@dataclass(frozen=True, slots=True)
class CustomerLoad:
    """One customer's work: its *uploads* and its *spaces* holding uploads.

    When shards are counted, *shards* is the shards its uploads list and
    *shard_refs* the uploads whose list is in S3 (``shardsRef``), each at least
    ``SHARDS_REF_FLOOR``.
    """

    customer: str
    uploads: int
    spaces: int
    shards: int = 0
    shard_refs: int = 0
    space: ClassVar[None] = None  # a whole customer is not one space (see SpaceLoad)

    @property
    def estimated_shards(self) -> int:
        """The shards to migrate, an upload with ``shardsRef`` taken at the 5,000 floor."""
        return self.shards + SHARDS_REF_FLOOR * self.shard_refs


@dataclass(frozen=True, slots=True)
class SpaceLoad:
    """One *space* of a *customer* planned space by space, and its work (as ``CustomerLoad``)."""

    customer: str
    space: str
    uploads: int
    shards: int = 0
    shard_refs: int = 0

    @property
    def spaces(self) -> int:
        """Spaces holding uploads: this one, or none."""
        return 1 if self.uploads else 0

    @property
    def estimated_shards(self) -> int:
        """The shards to migrate, an upload with ``shardsRef`` taken at the 5,000 floor."""
        return self.shards + SHARDS_REF_FLOOR * self.shard_refs


# What the balancer places: a whole customer, or one space of a customer it splits.
Load = CustomerLoad | SpaceLoad


def above_fair_share(uploads: int, total: int, instances: int) -> bool:
    """True when *uploads* exceed total / *instances*: more than one instance's fair share."""
    # Multiplied, not divided: exact for any integers.
    return uploads * instances > total


@dataclass(frozen=True, slots=True)
class Tally:
    """Every planned customer's uploads, and what the filters and data left out."""

    customers: tuple[CustomerLoad, ...]
    below_min_uploads: frozenset[str]
    skipped: frozenset[str]
    filtered: frozenset[str]
    orphan_rows: int
    shared_spaces: frozenset[str]  # claimed by two or more planned customers
    double_counted_uploads: int  # uploads of shared spaces, once per extra planned claimant
    planned_spaces: int  # distinct spaces of planned customers, empty ones included
    empty_spaces: int
    rows_scanned: int = 0
    spaces_counted: int = 0
    spaces_resumed: int = 0
    read_units: float = 0.0
    # When splitting large customers: each customer above the fair share of the most
    # instances planned for, and its spaces (with their shards, when counted); None
    # when splitting was not asked for.
    split_spaces: Mapping[str, tuple[SpaceLoad, ...]] | None = None
    read_path: ReadPath = "sdk"  # which path counted: the lean one, or the SDK's
    counted_shards: bool = False  # each customer's shards were counted too
    # Uploads of every space counted, by ``SHARD_BUCKETS``; () when shards were not counted.
    shard_histogram: tuple[int, ...] = ()

    @property
    def total_shards(self) -> int:
        """Shards listed by the uploads of every planned customer (``shardsRef`` ones apart)."""
        return sum(c.shards for c in self.customers)

    @property
    def total_shard_refs(self) -> int:
        """Uploads of planned customers whose shard list is in S3."""
        return sum(c.shard_refs for c in self.customers)

    @property
    def total_uploads(self) -> int:
        """Uploads of every planned customer."""
        return sum(c.uploads for c in self.customers)

    @property
    def total_spaces(self) -> int:
        """Spaces holding uploads, per planned customer."""
        return sum(c.spaces for c in self.customers)
