"""Segment scanners: every customer and their spaces from the Consumer table."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from distro.reader import ScanPage, TableReader
from distro.settings import CustomerFilter, Verdict


async def scan_segment(reader: TableReader, segment: int, total: int) -> AsyncIterator[ScanPage]:
    """Yield the pages of one parallel-scan *segment* of *total*.

    Only a missing ``LastEvaluatedKey`` ends a segment: a page may hold no items
    and still carry a key.
    """
    key = None
    while True:
        page = await reader.scan_page(segment, total, key)
        yield page
        key = page.next_key
        if key is None:
            return


@dataclass(slots=True)
class Census:
    """What the scan has found so far, filtered by *customer_filter*.

    *spaces_of* maps each planned customer to its distinct spaces; a space seen
    under two providers is one space.
    """

    customer_filter: CustomerFilter
    spaces_of: dict[str, set[str]] = field(default_factory=dict)
    owner: dict[str, str] = field(default_factory=dict)
    shared_spaces: set[str] = field(default_factory=set)
    claimants: dict[str, set[str]] = field(default_factory=dict)  # of shared spaces only
    skipped: set[str] = field(default_factory=set)
    filtered: set[str] = field(default_factory=set)
    orphan_rows: int = 0
    verdicts: dict[str, Verdict] = field(default_factory=dict)

    def add(self, space: str | None, customer: str | None) -> bool:
        """Take one Consumer row; True when *space* is seen for the first time."""
        if customer is None or space is None:
            # Legacy rows belong to no customer: nobody migrates their spaces.
            self.orphan_rows += 1
            return False
        verdict = self._verdict(customer)
        if verdict is not Verdict.INCLUDED:
            return False
        self.spaces_of.setdefault(customer, set()).add(space)
        first = self.owner.get(space)
        if first is None:
            self.owner[space] = customer
            return True
        if first != customer:
            self.shared_spaces.add(space)
            self.claimants.setdefault(space, {first}).add(customer)
        return False

    def _verdict(self, customer: str) -> Verdict:
        verdict = self.verdicts.get(customer)
        if verdict is None:
            verdict = self.verdicts[customer] = self.customer_filter.classify(customer)
            if verdict is Verdict.SKIPPED:
                self.skipped.add(customer)
            elif verdict is Verdict.FILTERED:
                self.filtered.add(customer)
        return verdict
