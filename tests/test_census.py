"""The census of customers and spaces: who owns which space, shared and skipped ones, totals."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable

import pytest
from test_scan import FakeReader, key

from distro.balance import CustomerLoad
from distro.census import Census, DidIndex, pin_mmap_threshold
from distro.dynamo.reader import ScanPage
from distro.scan import scan_segment
from distro.settings import CustomerFilter, Verdict

ALICE = "did:mailto:storacha.network:alice"


def census_of(customer_filter: CustomerFilter | None = None) -> Census:
    """A census that keeps its spaces' DIDs, so that ``space_counts`` can list them."""
    return Census(customer_filter or CustomerFilter(), keep_space_dids=True)


def spaces_of(census: Census, customers: Iterable[str]) -> dict[str, set[str]]:
    """Each of *customers* (those included) and its spaces, checking the census holds no other space."""
    relation = {c: set(spaces) for c, spaces in census.space_counts(set(customers)).items()}
    assert len(census) == len(set().union(*relation.values()))
    return relation


def shared_after_counting(census: Census) -> frozenset[str]:
    """The spaces the census finds shared once every space is counted (one upload each)."""
    for number in range(len(census)):  # claim numbers spaces 0, 1, 2... as found
        census.set_count(number, 1)
    return census.summarize(0).shared_spaces


def feed(census: Census, rows: Iterable[tuple[str | None, str | None]]) -> dict[str, int]:
    """Claim every row, as a scan does; return the number of each new space."""
    numbers = {}
    for space, customer in rows:
        number = census.claim(space, customer)
        if number >= 0:
            assert space is not None
            numbers[space] = number
    return numbers


# --- Census --------------------------------------------------------------------------------


def test_rows_without_customer_or_space_are_orphans() -> None:
    census = census_of()
    assert census.add("did:key:legacy", None) is False
    assert census.add(None, "did:mailto:a.org:x") is False
    assert census.add(None, None) is False
    assert census.orphan_rows == 3
    assert len(census) == 0
    assert census.skipped == census.filtered == set()  # no customer was judged
    assert census.summarize(0).customers == ()


def test_a_space_under_two_providers_is_one_space() -> None:
    census = census_of()
    assert census.add("did:key:s1", "did:mailto:a.org:x") is True
    assert census.add("did:key:s1", "did:mailto:a.org:x") is False
    assert census.add("did:key:s2", "did:mailto:a.org:x") is True
    assert spaces_of(census, ["did:mailto:a.org:x"]) == {
        "did:mailto:a.org:x": {"did:key:s1", "did:key:s2"}
    }
    assert census.orphan_rows == 0
    assert shared_after_counting(census) == set()


def test_a_space_under_two_customers_is_shared_and_counted_once() -> None:
    census = census_of()
    assert census.add("did:key:s", "did:mailto:a.org:x") is True
    assert census.add("did:key:s", "did:mailto:b.org:y") is False
    assert census.add("did:key:s", "did:mailto:b.org:y") is False  # its second provider
    assert census.add("did:key:s", "did:mailto:a.org:x") is False
    assert len(census) == 1  # one space, counted once
    assert spaces_of(census, ["did:mailto:a.org:x", "did:mailto:b.org:y"]) == {
        "did:mailto:a.org:x": {"did:key:s"},
        "did:mailto:b.org:y": {"did:key:s"},
    }
    assert shared_after_counting(census) == {"did:key:s"}


def test_skipped_and_filtered_customers_are_recorded() -> None:
    census = census_of(CustomerFilter(include=("storacha.network",)))
    assert census.add("did:key:s1", "did:mailto:mailslurp.com:ci") is False
    assert census.add("did:key:s2", "did:mailto:mailslurp.com:ci") is False
    assert census.add("did:key:s3", "did:mailto:gmail.com:bob") is False
    assert census.add("did:key:s4", "did:mailto:storacha.network:alice") is True
    assert census.skipped == {"did:mailto:mailslurp.com:ci"}
    assert census.filtered == {"did:mailto:gmail.com:bob"}
    everyone = ["did:mailto:mailslurp.com:ci", "did:mailto:gmail.com:bob", ALICE]
    assert spaces_of(census, everyone) == {ALICE: {"did:key:s4"}}  # alice alone is included
    assert census.orphan_rows == 0
    assert shared_after_counting(census) == set()
    tally = census.summarize(0)
    assert [c.customer for c in tally.customers] == [ALICE]
    assert tally.skipped == {"did:mailto:mailslurp.com:ci"}
    assert tally.filtered == {"did:mailto:gmail.com:bob"}


def test_a_space_of_a_skipped_customer_is_new_for_an_included_one() -> None:
    census = census_of()
    assert census.add("did:key:s", "did:mailto:mailslurp.net:ci") is False
    assert census.add("did:key:s", "did:mailto:a.org:x") is True
    everyone = ["did:mailto:mailslurp.net:ci", "did:mailto:a.org:x"]
    assert spaces_of(census, everyone) == {"did:mailto:a.org:x": {"did:key:s"}}
    assert census.skipped == {"did:mailto:mailslurp.net:ci"}
    assert shared_after_counting(census) == set()


def test_verdicts_are_classified_once_per_customer(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = CustomerFilter.classify

    def counting(self: CustomerFilter, customer: str) -> Verdict:
        calls.append(customer)
        return real(self, customer)

    monkeypatch.setattr(CustomerFilter, "classify", counting)
    census = Census(CustomerFilter())
    for space in ("did:key:1", "did:key:2", "did:key:3"):
        census.add(space, "did:mailto:a.org:x")
        census.add(space, "did:mailto:mailslurp.com:ci")
    assert calls == ["did:mailto:a.org:x", "did:mailto:mailslurp.com:ci"]


# --- SpaceIndex and the end of a census ----------------------------------------------------


def test_did_index_numbers_dids_in_order_first_seen() -> None:
    index = DidIndex()
    dids = [f"did:key:z6Mk{n:044d}" for n in range(5000)]  # grows the table several times
    assert [index.intern(d) for d in dids] == list(range(5000))
    assert [index.intern(d) for d in reversed(dids)] == list(reversed(range(5000)))
    assert len(index) == 5000
    assert [index.find(d) for d in dids[::97]] == list(range(0, 5000, 97))
    assert index.find("did:key:z6Mk-never-seen") is None
    assert index.find("") is None
    assert index.intern("") == 5000  # any string is a key, even an empty one


def test_claim_returns_the_number_of_a_new_space_only() -> None:
    census = Census(CustomerFilter())
    assert census.claim("did:key:a", "did:mailto:a.org:x") == 0
    assert census.claim("did:key:b", "did:mailto:b.org:y") == 1
    assert census.claim("did:key:a", "did:mailto:b.org:y") == -1
    assert census.claim("did:key:c", "did:mailto:mailslurp.com:ci") == -1
    assert census.claim("did:key:c", None) == -1
    assert census.claim("did:key:c", "did:mailto:a.org:x") == 2
    assert len(census) == 3


def counted(census: Census, numbers: dict[str, int], counts: dict[str, int]) -> None:
    """Record *counts* by space, through the *numbers* claim gave the spaces."""
    assert numbers.keys() == counts.keys()  # every space the census numbered, no other
    for space, uploads in counts.items():
        census.set_count(numbers[space], uploads)


def test_summary_totals_each_customer_and_counts_a_shared_space_for_each() -> None:
    census = census_of()
    rows = [
        ("did:key:a1", "did:mailto:a.org:a"),
        ("did:key:a2", "did:mailto:a.org:a"),
        ("did:key:a2", "did:mailto:a.org:a"),  # second provider
        ("did:key:shared", "did:mailto:a.org:a"),
        ("did:key:shared", "did:mailto:b.org:b"),
        ("did:key:b-empty", "did:mailto:b.org:b"),
        ("did:key:ci", "did:mailto:mailslurp.net:ci"),
        ("did:key:orphan", None),
    ]
    numbers = feed(census, rows)
    with pytest.raises(ValueError, match="counted"):
        census.summarize(0)
    spaces = census.space_counts({"did:mailto:a.org:a", "did:mailto:b.org:b"})
    assert {c: len(s) for c, s in spaces.items()} == {
        "did:mailto:a.org:a": 3,
        "did:mailto:b.org:b": 2,
    }
    counted(
        census,
        numbers,
        {"did:key:a1": 5, "did:key:a2": 0, "did:key:shared": 7, "did:key:b-empty": 0},
    )
    summary = census.summarize(0)
    assert summary.customers == (
        CustomerLoad("did:mailto:a.org:a", 12, 2),
        CustomerLoad("did:mailto:b.org:b", 7, 1),
    )
    assert summary.below_min_uploads == set()
    assert summary.shared_spaces == {"did:key:shared"}
    assert summary.double_counted_uploads == 7
    assert summary.planned_spaces == 4
    assert summary.empty_spaces == 2


def test_summary_after_min_uploads_keeps_a_space_of_any_planned_claimant() -> None:
    census = Census(CustomerFilter())
    numbers = feed(
        census,
        [
            ("did:key:big", "did:mailto:a.org:big"),
            ("did:key:shared-empty", "did:mailto:a.org:small"),  # owned by the one left out
            ("did:key:shared-empty", "did:mailto:a.org:big"),
            ("did:key:small", "did:mailto:a.org:small"),
        ],
    )
    counted(census, numbers, {"did:key:big": 50, "did:key:shared-empty": 0, "did:key:small": 3})
    summary = census.summarize(10)
    assert summary.customers == (CustomerLoad("did:mailto:a.org:big", 50, 1),)
    assert summary.below_min_uploads == {"did:mailto:a.org:small"}
    assert summary.shared_spaces == frozenset()  # only one planned claimant is left
    assert summary.double_counted_uploads == 0
    assert summary.planned_spaces == 2  # big, and the shared one through its planned claimant
    assert summary.empty_spaces == 1


def test_a_summarized_census_takes_no_more_rows() -> None:
    census = census_of()
    counted(census, feed(census, [("did:key:a", "did:mailto:a.org:x")]), {"did:key:a": 4})
    assert census.summarize(0).customers == (CustomerLoad("did:mailto:a.org:x", 4, 1),)
    # Its spaces are still listed for splitting: space_counts needs no lookup by DID.
    assert census.space_counts({"did:mailto:a.org:x"}) == {"did:mailto:a.org:x": {"did:key:a": 4}}
    with pytest.raises(RuntimeError, match="summarized"):
        census.add("did:key:b", "did:mailto:a.org:x")
    with pytest.raises(RuntimeError, match="summarized"):
        census.add("did:key:a", "did:mailto:a.org:y")


def test_the_mmap_threshold_is_pinned_where_there_is_glibc() -> None:
    # The census's big arrays must stay mapped: glibc would otherwise raise the threshold
    # after each big free and put them back in the heap (see census.pin_mmap_threshold).
    assert pin_mmap_threshold() is True


def test_importing_the_census_leaves_the_allocator_alone() -> None:
    """Only a census (or a resumed checkpoint) pins the mmap threshold, once a process."""
    code = (
        "from distro import census\n"
        "assert census.pin_mmap_threshold.cache_info().currsize == 0\n"
        "census.DidIndex(); census.DidIndex()\n"
        "info = census.pin_mmap_threshold.cache_info()\n"
        "assert (info.misses, info.hits) == (1, 1), info\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


async def test_census_of_scanned_pages() -> None:
    reader = FakeReader(
        {
            0: [
                ScanPage(
                    [
                        ("did:key:s1", "did:mailto:a.org:x"),
                        ("did:key:legacy", None),
                        ("did:key:s2", "did:mailto:a.org:x"),
                    ],
                    key(1),
                    1.0,
                ),
                ScanPage([], key(2), 0.5),
                ScanPage(
                    [("did:key:s1", "did:mailto:a.org:x"), ("did:key:s2", "did:mailto:b.org:y")],
                    None,
                    1.0,
                ),
            ],
            1: [ScanPage([("did:key:s3", "did:mailto:mailslurp.biz:ci")], None, 0.5)],
        }
    )
    census = census_of()
    new: list[str | None] = []
    for segment in (0, 1):
        async for page in scan_segment(reader, segment, 2):
            new.extend(space for space, customer in page.rows if census.add(space, customer))
    assert new == ["did:key:s1", "did:key:s2"]
    everyone = ["did:mailto:a.org:x", "did:mailto:b.org:y", "did:mailto:mailslurp.biz:ci"]
    assert spaces_of(census, everyone) == {
        "did:mailto:a.org:x": {"did:key:s1", "did:key:s2"},
        "did:mailto:b.org:y": {"did:key:s2"},
    }
    assert census.orphan_rows == 1
    assert census.skipped == {"did:mailto:mailslurp.biz:ci"}
    assert census.filtered == set()
    assert shared_after_counting(census) == {"did:key:s2"}
