"""Segment scanning with a fake reader, and the census of customers and spaces."""

from __future__ import annotations

import pytest

from distro.reader import CountPage, Key, ScanPage
from distro.scan import Census, scan_segment
from distro.settings import CustomerFilter, Verdict


class FakeReader:
    """A ``TableReader`` serving fixed Scan pages per segment; each key names the next page."""

    def __init__(self, pages: dict[int, list[ScanPage]]) -> None:
        self.pages = pages
        self.calls: list[tuple[int, int, Key | None]] = []

    async def scan_page(self, segment: int, total_segments: int, start_key: Key | None) -> ScanPage:
        self.calls.append((segment, total_segments, start_key))
        index = 0 if start_key is None else int(start_key["page"]["N"])
        return self.pages[segment][index]

    async def count_page(self, space: str, start_key: Key | None) -> CountPage:
        raise AssertionError("scanning never counts")


def key(page: int) -> Key:
    return {"page": {"N": str(page)}}


async def collect(reader: FakeReader, segment: int, total: int) -> list[ScanPage]:
    return [page async for page in scan_segment(reader, segment, total)]


# --- scan_segment --------------------------------------------------------------------------


async def test_a_single_page_without_key_ends_the_segment() -> None:
    page = ScanPage([("did:key:s1", "did:mailto:a.org:x")], None, 0.5)
    reader = FakeReader({0: [page]})
    assert await collect(reader, 0, 1) == [page]
    assert reader.calls == [(0, 1, None)]


async def test_empty_pages_with_a_key_do_not_end_the_segment() -> None:
    pages = [
        ScanPage([("did:key:s1", "did:mailto:a.org:x")], key(1), 1.0),
        ScanPage([], key(2), 0.5),
        ScanPage([], key(3), 0.5),
        ScanPage([("did:key:s2", "did:mailto:b.org:y")], None, 1.0),
    ]
    reader = FakeReader({2: pages})
    assert await collect(reader, 2, 4) == pages
    assert reader.calls == [(2, 4, None), (2, 4, key(1)), (2, 4, key(2)), (2, 4, key(3))]


async def test_an_empty_first_page_with_a_key_is_followed() -> None:
    pages = [ScanPage([], key(1), 0.0), ScanPage([("did:key:s", "did:mailto:c:d")], None, 0.5)]
    reader = FakeReader({0: pages})
    assert await collect(reader, 0, 1) == pages
    assert reader.calls == [(0, 1, None), (0, 1, key(1))]


async def test_an_empty_last_page_ends_the_segment() -> None:
    pages = [ScanPage([("did:key:s", "did:mailto:c:d")], key(1), 0.5), ScanPage([], None, 0.0)]
    reader = FakeReader({1: pages})
    assert await collect(reader, 1, 2) == pages
    assert reader.calls == [(1, 2, None), (1, 2, key(1))]


async def test_segments_are_read_independently() -> None:
    reader = FakeReader(
        {
            0: [ScanPage([("did:key:a", "did:mailto:x:1")], None, 0.5)],
            1: [ScanPage([], key(1), 0.5), ScanPage([("did:key:b", "did:mailto:x:2")], None, 0.5)],
        }
    )
    rows = [
        row for segment in (0, 1) for page in await collect(reader, segment, 2) for row in page.rows
    ]
    assert rows == [("did:key:a", "did:mailto:x:1"), ("did:key:b", "did:mailto:x:2")]
    assert reader.calls == [(0, 2, None), (1, 2, None), (1, 2, key(1))]


# --- Census --------------------------------------------------------------------------------


def test_rows_without_customer_or_space_are_orphans() -> None:
    census = Census(CustomerFilter())
    assert census.add("did:key:legacy", None) is False
    assert census.add(None, "did:mailto:a.org:x") is False
    assert census.add(None, None) is False
    assert census.orphan_rows == 3
    assert census.spaces_of == {}
    assert census.owner == {}
    assert census.verdicts == {}


def test_a_space_under_two_providers_is_one_space() -> None:
    census = Census(CustomerFilter())
    assert census.add("did:key:s1", "did:mailto:a.org:x") is True
    assert census.add("did:key:s1", "did:mailto:a.org:x") is False
    assert census.add("did:key:s2", "did:mailto:a.org:x") is True
    assert census.spaces_of == {"did:mailto:a.org:x": {"did:key:s1", "did:key:s2"}}
    assert census.owner == {"did:key:s1": "did:mailto:a.org:x", "did:key:s2": "did:mailto:a.org:x"}
    assert census.shared_spaces == set()
    assert census.orphan_rows == 0


def test_a_space_under_two_customers_is_shared_and_counted_once() -> None:
    census = Census(CustomerFilter())
    assert census.add("did:key:s", "did:mailto:a.org:x") is True
    assert census.add("did:key:s", "did:mailto:b.org:y") is False
    assert census.add("did:key:s", "did:mailto:b.org:y") is False  # its second provider
    assert census.add("did:key:s", "did:mailto:a.org:x") is False
    assert census.shared_spaces == {"did:key:s"}
    assert census.owner == {"did:key:s": "did:mailto:a.org:x"}
    assert census.spaces_of == {
        "did:mailto:a.org:x": {"did:key:s"},
        "did:mailto:b.org:y": {"did:key:s"},
    }


def test_skipped_and_filtered_customers_are_recorded() -> None:
    census = Census(CustomerFilter(include=("storacha.network",)))
    assert census.add("did:key:s1", "did:mailto:mailslurp.com:ci") is False
    assert census.add("did:key:s2", "did:mailto:mailslurp.com:ci") is False
    assert census.add("did:key:s3", "did:mailto:gmail.com:bob") is False
    assert census.add("did:key:s4", "did:mailto:storacha.network:alice") is True
    assert census.skipped == {"did:mailto:mailslurp.com:ci"}
    assert census.filtered == {"did:mailto:gmail.com:bob"}
    assert census.spaces_of == {"did:mailto:storacha.network:alice": {"did:key:s4"}}
    assert census.owner == {"did:key:s4": "did:mailto:storacha.network:alice"}
    assert census.verdicts == {
        "did:mailto:mailslurp.com:ci": Verdict.SKIPPED,
        "did:mailto:gmail.com:bob": Verdict.FILTERED,
        "did:mailto:storacha.network:alice": Verdict.INCLUDED,
    }
    assert census.orphan_rows == 0
    assert census.shared_spaces == set()


def test_a_space_of_a_skipped_customer_is_new_for_an_included_one() -> None:
    census = Census(CustomerFilter())
    assert census.add("did:key:s", "did:mailto:mailslurp.net:ci") is False
    assert census.add("did:key:s", "did:mailto:a.org:x") is True
    assert census.shared_spaces == set()
    assert census.spaces_of == {"did:mailto:a.org:x": {"did:key:s"}}
    assert census.skipped == {"did:mailto:mailslurp.net:ci"}


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
    census = Census(CustomerFilter())
    new: list[str | None] = []
    for segment in (0, 1):
        async for page in scan_segment(reader, segment, 2):
            new.extend(space for space, customer in page.rows if census.add(space, customer))
    assert new == ["did:key:s1", "did:key:s2"]
    assert census.spaces_of == {
        "did:mailto:a.org:x": {"did:key:s1", "did:key:s2"},
        "did:mailto:b.org:y": {"did:key:s2"},
    }
    assert census.shared_spaces == {"did:key:s2"}
    assert census.orphan_rows == 1
    assert census.skipped == {"did:mailto:mailslurp.biz:ci"}
    assert census.filtered == set()
