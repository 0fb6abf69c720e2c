"""Segment scanning with a fake reader: pages followed to their end, segments apart."""

from __future__ import annotations

from distro.dynamo.reader import CountPage, Key, ScanPage
from distro.scan import scan_segment

ALICE = "did:mailto:storacha.network:alice"


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
