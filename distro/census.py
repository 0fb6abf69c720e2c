"""The census: every customer and their spaces found by the scan, in compact arrays.

It keeps what a run needs of millions of rows in compact arrays: each
distinct space gets a number, and per space number it stores only a 128-bit
fingerprint of the DID, the first customer that claimed it and its count;
customers are numbered the same way, and only their DIDs are kept as strings.
Measured at 5 million spaces and 2 million customers (``make bench``), the
whole pipeline peaks at about 0.7 GB where dicts of DID strings and sets of them
took 2.1 GB: the census itself is about 60 bytes a space.
"""

from __future__ import annotations

import ctypes
import functools
import struct
from array import array
from collections.abc import Callable, Collection
from dataclasses import replace
from hashlib import blake2b

from distro.settings import CustomerFilter, Verdict
from distro.tally import CustomerLoad, SpaceLoad, Tally

UNCOUNTED = -1
# What Census._excluded holds for a customer the filters leave out.
_SKIPPED = -1
_FILTERED = -2
_CODES = {Verdict.SKIPPED: _SKIPPED, Verdict.FILTERED: _FILTERED}

_halves = struct.Struct("<QQ").unpack


def _trimmer() -> Callable[[], object]:
    """glibc's ``malloc_trim(0)``, or a no-op where there is no glibc."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return lambda: None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return lambda: trim(0)


# The census grows big arrays by realloc. Below glibc's (self-raising) mmap threshold
# they live in the heap, and each move leaves a hole whose pages stay resident: up to a
# quarter of the peak at 5 million spaces, varying with timing. Trimming after each big
# free gives those pages back.
release_free_memory = _trimmer()

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
MMAP_THRESHOLD = 1 << 20  # bytes: every block this large gets pages of its own


@functools.cache
def pin_mmap_threshold() -> bool:
    """Fix glibc's mmap threshold at 1 MiB; False where there is no glibc.

    glibc raises the threshold, up to 32 MiB, each time a block it had mapped
    is freed, so the census's growing arrays fall back into the heap, where
    trimming comes too late for the peak: at 5 million spaces the peak varied
    from 0.97 to 1.12 GiB between runs, and was 0.88 GiB twice with the
    threshold fixed. A fixed threshold keeps every big block mapped: freed at
    once, grown in place. Called once, by the first ``DidIndex`` (the census's or a
    resumed checkpoint's), so that importing distro changes no process's allocator.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))


def _zeros(typecode: str, size: int) -> array[int]:
    """An array of *size* zeros."""
    return array(typecode, bytes(array(typecode).itemsize * size))


def _fingerprint(did: str) -> tuple[int, int]:
    """128 bits of BLAKE2b of *did*, as two 64-bit halves."""
    low, high = _halves(blake2b(did.encode(), digest_size=16).digest())
    return low, high


class DidIndex:
    """Numbers distinct DIDs 0, 1, 2, ... in the order they are first seen.

    It keeps a 128-bit BLAKE2b fingerprint per DID (two ``array`` columns) and
    an open-addressing table of numbers, 22 to 28 bytes a DID, where a dict
    would keep every DID string (~110 bytes for a space) and an int object per
    entry. Two distinct DIDs share a fingerprint with probability about
    n²/2¹²⁹, some 10⁻²⁶ for 5 million spaces: never, for any practical purpose.
    """

    _MIN_SLOTS = 1 << 10

    def __init__(self) -> None:
        pin_mmap_threshold()  # before the first big array: see there
        self._low = array("Q")  # fingerprint halves, by number
        self._high = array("Q")
        self._slots = array("i", [-1]) * self._MIN_SLOTS  # number or -1, by hash slot
        self._mask = self._MIN_SLOTS - 1

    def __len__(self) -> int:
        return len(self._low)

    def intern(self, did: str) -> int:
        """The number of *did*, giving it the next free number if it is new."""
        low, high = _fingerprint(did)
        slot, number = self._probe(low, high)
        if number >= 0:
            return number
        number = len(self._low)
        self._slots[slot] = number
        self._low.append(low)
        self._high.append(high)
        # At most two thirds full: probes stay short (under 4 for a new DID, linear
        # probing), and at 5 million spaces the table is 8 million slots, not 16 (32 MB).
        if 3 * len(self._low) > 2 * len(self._slots):
            self._grow()
        return number

    def find(self, did: str) -> int | None:
        """The number of *did*, or None if it was never interned."""
        number = self._probe(*_fingerprint(did))[1]
        return number if number >= 0 else None

    def _probe(self, low: int, high: int) -> tuple[int, int]:
        """The slot holding fingerprint (*low*, *high*) or where it would go, and its number or -1."""
        slots, mask = self._slots, self._mask
        slot = low & mask
        while (number := slots[slot]) >= 0:
            if self._low[number] == low and self._high[number] == high:
                break
            slot = (slot + 1) & mask
        return slot, number

    def _grow(self) -> None:
        size = 2 * len(self._slots)
        slots, mask = array("i", [-1]) * size, size - 1
        for number, low in enumerate(self._low):
            slot = low & mask
            while slots[slot] >= 0:
                slot = (slot + 1) & mask
            slots[slot] = number
        self._slots, self._mask = slots, mask
        release_free_memory()


class _Released(DidIndex):
    """What replaces an index whose memory was given back: it answers nothing."""

    def __init__(self) -> None:
        super().__init__()
        self._slots = array("i")

    def intern(self, did: str) -> int:
        raise RuntimeError("the census is summarized: it takes no more rows")

    def find(self, did: str) -> int | None:
        raise RuntimeError("the census is summarized: it no longer knows spaces by DID")


class Census:
    """What the scan has found so far, filtered by *customer_filter*.

    Each distinct space found under an included customer gets a number, in
    the order found; ``claim`` returns it. A space seen under two providers is
    one space; a space claimed by two customers is one space (counted once)
    that both customers' totals include.
    """

    __slots__ = (
        "_claimants",
        "_counts",
        "_customers",
        "_dids",
        "_excluded",
        "_names",
        "_owner",
        "_refs",
        "_shards",
        "_spaces",
        "customer_filter",
        "filtered",
        "orphan_rows",
        "skipped",
    )

    def __init__(
        self,
        customer_filter: CustomerFilter,
        *,
        keep_space_dids: bool = False,
        count_shards: bool = False,
    ) -> None:
        self.customer_filter = customer_filter
        self.skipped: set[str] = set()
        self.filtered: set[str] = set()
        self.orphan_rows = 0
        self._customers = DidIndex()  # included customers, numbered
        self._names: list[str] = []  # their DIDs, by number
        self._excluded: dict[str, int] = {}  # DID -> _SKIPPED or _FILTERED
        self._spaces = DidIndex()
        self._owner = array("i")  # space number -> number of the first customer claiming it
        self._counts = array("q")  # space number -> uploads, UNCOUNTED until known
        # Spaces claimed by two or more customers (rare): number -> (DID, customer numbers).
        self._claimants: dict[int, tuple[str, set[int]]] = {}
        # Space DIDs by number, only for --split-large-customers (see space_counts).
        self._dids: list[str] | None = [] if keep_space_dids else None
        # Shards and shardsRef uploads by space number, only when counting shards
        # (12 bytes a space more).
        self._shards: array[int] | None = array("q") if count_shards else None
        self._refs: array[int] | None = array("i") if count_shards else None

    def __len__(self) -> int:
        """Distinct spaces of included customers found so far."""
        return len(self._owner)

    def add(self, space: str | None, customer: str | None) -> bool:
        """Take one Consumer row; True when *space* is seen for the first time."""
        return self.claim(space, customer) >= 0

    def claim(self, space: str | None, customer: str | None) -> int:
        """Take one Consumer row; return the space's number if it is new, else -1."""
        if not customer or not space:
            # Legacy rows belong to no customer: nobody migrates their spaces.
            # (An empty string is as good as missing, and no valid key to query.)
            self.orphan_rows += 1
            return -1
        who = self._customers.find(customer)
        if who is None:
            who = self._excluded.get(customer)
            if who is None:
                who = self._classify(customer)
            if who < 0:
                return -1
        known = len(self._owner)
        number = self._spaces.intern(space)
        if number == known:
            self._owner.append(who)
            self._counts.append(UNCOUNTED)
            if self._shards is not None and self._refs is not None:
                self._shards.append(0)
                self._refs.append(0)
            if self._dids is not None:
                self._dids.append(space)
            return number
        first = self._owner[number]
        if first != who:
            self._claimants.setdefault(number, (space, {first}))[1].add(who)
        return -1

    def set_count(self, number: int, uploads: int, shards: int = 0, refs: int = 0) -> None:
        """Record the *uploads* of space *number*, and their *shards* and *refs* if counted."""
        self._counts[number] = uploads
        if self._shards is not None and self._refs is not None:
            self._shards[number] = shards
            self._refs[number] = refs

    def _classify(self, customer: str) -> int:
        verdict = self.customer_filter.classify(customer)
        if verdict is Verdict.INCLUDED:
            self._names.append(customer)
            return self._customers.intern(customer)
        code = self._excluded[customer] = _CODES[verdict]
        (self.skipped if verdict is Verdict.SKIPPED else self.filtered).add(customer)
        return code

    # --- the end of a run --------------------------------------------------------------

    def summarize(self, min_uploads: int) -> Tally:
        """Total every included customer's spaces; every space must be counted by now.

        Customers with fewer than *min_uploads* are left out of the plan. The
        tally's figures of the scan itself (rows, read units) are the caller's.

        This ends the census: it gives back the memory of its DID indexes (a
        third of its size, and the loads are made next, when a run peaks), so
        it takes no more rows and finds no space by DID afterwards.
        """
        if UNCOUNTED in self._counts:
            raise ValueError("summarize() needs every space counted")
        self._spaces = self._customers = _Released()
        release_free_memory()
        customers = len(self._names)
        uploads = _zeros("q", customers)
        with_uploads = _zeros("i", customers)
        owned = _zeros("i", customers)  # spaces a customer claimed first
        empty = _zeros("i", customers)  # of which without uploads
        for who, count in zip(self._owner, self._counts, strict=True):
            owned[who] += 1
            if count:
                uploads[who] += count
                with_uploads[who] += 1
            else:
                empty[who] += 1
        for number, (_, claimants) in self._claimants.items():
            count = self._counts[number]
            for who in claimants - {self._owner[number]}:
                uploads[who] += count
                with_uploads[who] += 1 if count else 0
        planned = bytearray(total >= min_uploads for total in uploads)
        if self._shards is None:
            loads = [
                CustomerLoad(name, uploads[who], with_uploads[who])
                for who, name in enumerate(self._names)
                if planned[who]
            ]
        else:
            loads = self._loads_with_shards(uploads, with_uploads, planned)
        below = {name for who, name in enumerate(self._names) if not planned[who]}
        summary = Tally(
            customers=tuple(loads),
            below_min_uploads=frozenset(below),
            skipped=frozenset(self.skipped),
            filtered=frozenset(self.filtered),
            orphan_rows=self.orphan_rows,
            shared_spaces=frozenset(),
            double_counted_uploads=0,
            planned_spaces=sum(n for who, n in enumerate(owned) if planned[who]),
            empty_spaces=sum(n for who, n in enumerate(empty) if planned[who]),
        )
        return self._with_shared(summary, planned)

    def _loads_with_shards(
        self, uploads: array[int], with_uploads: array[int], planned: bytearray
    ) -> list[CustomerLoad]:
        """The planned customers' loads, with the shards of their spaces (shared ones in each)."""
        assert self._shards is not None
        assert self._refs is not None
        shards = _zeros("q", len(self._names))
        refs = _zeros("q", len(self._names))
        for who, space_shards, space_refs in zip(
            self._owner, self._shards, self._refs, strict=True
        ):
            shards[who] += space_shards
            refs[who] += space_refs
        for number, (_, claimants) in self._claimants.items():
            for who in claimants - {self._owner[number]}:
                shards[who] += self._shards[number]
                refs[who] += self._refs[number]
        return [
            CustomerLoad(name, uploads[who], with_uploads[who], shards[who], refs[who])
            for who, name in enumerate(self._names)
            if planned[who]
        ]

    def space_counts(self, customers: Collection[str]) -> dict[str, dict[str, int]]:
        """Every space of each of *customers* and its uploads, customers and spaces by DID.

        For splitting customers across instances space by space. It needs a
        census made with ``keep_space_dids`` (which costs about 110 bytes a
        space, so it is opt-in) and works after ``summarize`` too.
        """
        if self._dids is None:
            raise ValueError("space_counts() needs a census made with keep_space_dids")
        wanted = {who for who, name in enumerate(self._names) if name in customers}
        found: dict[int, dict[str, int]] = {who: {} for who in wanted}
        for number, who in enumerate(self._owner):
            if who in wanted:
                found[who][self._dids[number]] = self._counts[number]
        for number, (space, claimants) in self._claimants.items():
            for who in claimants & wanted:
                found[who][space] = self._counts[number]
        return {
            self._names[who]: dict(sorted(spaces.items()))
            for who, spaces in sorted(found.items(), key=lambda item: self._names[item[0]])
        }

    def space_loads(self, customers: Collection[str]) -> dict[str, tuple[SpaceLoad, ...]]:
        """Every space of each of *customers* as a unit of its own: its uploads (and shards).

        Like ``space_counts``, which it needs; the shards are 0 when not counted.
        """
        counted = self.space_counts(customers)
        if self._shards is None or self._refs is None or self._dids is None:
            return {
                customer: tuple(SpaceLoad(customer, space, n) for space, n in spaces.items())
                for customer, spaces in counted.items()
            }
        numbers = {did: n for n, did in enumerate(self._dids)}
        for number, (space, _) in self._claimants.items():
            numbers.setdefault(space, number)
        shards, refs = self._shards, self._refs
        return {
            customer: tuple(
                SpaceLoad(customer, space, n, shards[numbers[space]], refs[numbers[space]])
                for space, n in spaces.items()
            )
            for customer, spaces in counted.items()
        }

    def _with_shared(self, summary: Tally, planned: bytearray) -> Tally:
        """Complete *summary* with the spaces claimed by two or more customers."""
        shared: set[str] = set()
        double, spaces, empty = 0, summary.planned_spaces, summary.empty_spaces
        for number, (space, claimants) in self._claimants.items():
            count = self._counts[number]
            claims = sum(1 for who in claimants if planned[who])
            if claims > 1:
                shared.add(space)
                double += count * (claims - 1)
            # The space is in its owner's sums; count it once when only others are planned.
            if claims and not planned[self._owner[number]]:
                spaces += 1
                empty += 0 if count else 1
        return replace(
            summary,
            shared_spaces=frozenset(shared),
            double_counted_uploads=double,
            planned_spaces=spaces,
            empty_spaces=empty,
        )
