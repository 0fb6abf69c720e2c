"""The synthetic dataset: its shape, its truth, and loading it into DynamoDB Local."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import pytest
from helpers import local_client

from distro.dynamo.batch import BATCH_SIZE, BatchRetry, WriteRequests
from distro.dynamo.handle import Dynamo
from distro.errors import LocalDynamoError, SettingsError, TableError
from distro.local.dataset import (
    PROVIDERS,
    ConsumerRow,
    Dataset,
    Item,
    create_tables,
    generate,
    load,
)
from distro.settings import DEFAULT_SKIP, Tables

WEB3, STORACHA = PROVIDERS
ALICE = "did:mailto:example.org:alice"
BOB = "did:mailto:gmail.com:bob"
CAROL = "did:mailto:storacha.network:carol"
DAN = "did:mailto:mailslurp.community:dan"  # looks skip-listed, is not
CI = "did:mailto:mailslurp.com:ci1"


async def no_sleep(_: float) -> None:
    """Retry waits in tests take no time."""


NO_WAIT = BatchRetry(sleep=no_sleep)
ANY_TABLES = Tables("consumer", "upload", "us-east-2")  # the handle's; load names its own


@pytest.fixture(scope="module")
def dataset150() -> Dataset:
    return generate(customers=150)


def hand_made() -> Dataset:
    """A dataset small enough to count by hand."""
    rows = (
        ConsumerRow("sub-a1", WEB3, "A", ALICE),
        ConsumerRow("sub-a1", STORACHA, "A", ALICE),  # same space, second provider
        ConsumerRow("sub-a2", STORACHA, "B", ALICE),
        ConsumerRow("sub-b1", STORACHA, "C", BOB),
        ConsumerRow("sub-b2", STORACHA, "S", BOB),
        ConsumerRow("sub-c1", STORACHA, "S", CAROL),  # S is claimed by Bob and Carol
        ConsumerRow("sub-c2", WEB3, "D", CAROL),
        ConsumerRow("sub-d1", STORACHA, "F", DAN),
        ConsumerRow("sub-ci", STORACHA, "E", CI),
        ConsumerRow("sub-o1", WEB3, "G", None),
        ConsumerRow("sub-o2", WEB3, "A", None),  # legacy row of a space Alice holds
    )
    uploads = {"A": 10, "B": 0, "C": 5, "S": 7, "D": 1, "F": 2, "E": 4, "G": 9}
    return Dataset(rows, uploads, seed=1)


def item_size(item: Item) -> int:
    """DynamoDB's size of an item of strings and lists of strings."""

    def value(v: Mapping[str, Any]) -> int:
        if "S" in v:
            return len(v["S"].encode())
        if "SS" in v:
            return sum(len(e.encode()) for e in v["SS"])
        return 3 + sum(1 + value(e) for e in v["L"])

    return sum(len(name.encode()) + value(v) for name, v in item.items())


# --- generation ---------------------------------------------------------------


def test_same_seed_same_dataset(dataset150: Dataset) -> None:
    again = generate(customers=150, seed=7)
    assert again == dataset150
    space = max(dataset150.uploads, key=lambda s: dataset150.uploads[s])
    assert list(again.upload_items(space)) == list(dataset150.upload_items(space))


def test_other_seed_other_dataset(dataset150: Dataset) -> None:
    other = generate(customers=150, seed=8)
    assert set(other.consumer_rows).isdisjoint(dataset150.consumer_rows)
    assert other.uploads.keys().isdisjoint(dataset150.uploads.keys())


def test_too_few_customers_is_a_settings_error() -> None:
    with pytest.raises(SettingsError, match="at least 3"):
        generate(customers=2)


def test_one_whale_holds_a_big_share(dataset150: Dataset) -> None:
    truth = dataset150.truth(skip=())
    ranked = sorted(truth.uploads_by_customer.items(), key=lambda kv: kv[1], reverse=True)
    (whale, uploads), (_, runner_up) = ranked[:2]
    assert 0.30 <= uploads / dataset150.total_uploads <= 0.50
    assert runner_up < uploads / 2
    assert truth.spaces_by_customer[whale] >= 20
    whale_spaces = {r.space for r in dataset150.consumer_rows if r.customer == whale}
    assert max(dataset150.uploads[s] for s in whale_spaces) >= 3_000


def test_uploads_scale_with_customers(dataset150: Dataset) -> None:
    assert 8_000 <= dataset150.total_uploads <= 10_000
    assert 55_000 <= generate(customers=1_000).total_uploads <= 70_000


def test_spaces_and_uploads_are_heavy_tailed(dataset150: Dataset) -> None:
    counts = list(dataset150.uploads.values())
    assert abs(counts.count(0) / len(counts) - 1 / 3) <= 0.10
    spaces = dataset150.truth(skip=()).spaces_by_customer.values()
    assert sum(1 for n in spaces if n <= 3) / len(spaces) >= 0.7
    assert sum(1 for n in spaces if n >= 12) >= 3
    nonempty = sorted(n for n in counts if n)
    assert nonempty[len(nonempty) // 2] < 20  # most spaces are small ...
    assert sum(1 for n in nonempty if n > 100) >= 5  # ... and a few are not


def test_special_rows_are_present(dataset150: Dataset) -> None:
    rows = dataset150.consumer_rows
    providers: dict[tuple[str | None, str], set[str]] = {}
    for row in rows:
        providers.setdefault((row.customer, row.space), set()).add(row.provider)
    assert any(found == set(PROVIDERS) for found in providers.values())
    orphans = [r for r in rows if r.customer is None]
    assert orphans
    assert all(dataset150.uploads[r.space] > 0 for r in orphans)
    truth = dataset150.truth()
    assert truth.orphan_rows == len(orphans)
    assert truth.shared_spaces
    assert {c.split(":")[2] for c in truth.skipped_customers} == {
        "mailslurp.com",
        "mailslurp.biz",
        "mailslurp.net",
    }
    skipped = {r.space for r in rows if r.customer in truth.skipped_customers}
    assert sum(dataset150.uploads[s] for s in skipped) > 0
    assert any(c.startswith("did:mailto:mailslurp.community:") for c in truth.uploads_by_customer)


def test_keys_are_unique_and_well_formed(dataset150: Dataset) -> None:
    keys = Counter((r.subscription, r.provider) for r in dataset150.consumer_rows)
    assert max(keys.values()) == 1
    assert all(len(s) == 56 and s.startswith("did:key:z6Mk") for s in dataset150.uploads)
    assert all(
        r.customer is None or r.customer.startswith("did:mailto:") for r in dataset150.consumer_rows
    )
    assert set(dataset150.uploads) == {r.space for r in dataset150.consumer_rows}


def test_upload_items_are_realistic(dataset150: Dataset) -> None:
    space = next(s for s, n in dataset150.uploads.items() if n > 200)
    items = list(dataset150.upload_items(space))
    assert len(items) == dataset150.uploads[space]
    assert len({item["root"]["S"] for item in items}) == len(items)
    assert all(item["space"] == {"S": space} for item in items)
    # One shard or none, most items: about 450 bytes, so the big spaces page at 1 MB.
    sizes = [item_size(item) for item in items if len(item.get("shards", {}).get("SS", ())) < 2]
    assert min(sizes) >= 350
    assert max(sizes) <= 650
    assert all(
        len(set(item["shards"]["SS"])) == len(item["shards"]["SS"])
        for item in items
        if "shards" in item
    )


def test_shards_have_a_heavy_tail_some_lists_in_s3_and_some_none() -> None:
    dataset = generate(customers=150, seed=11)  # the session's loaded dataset
    kinds: dict[str, int] = {}
    for space in dataset.uploads:
        for item in dataset.upload_items(space):
            kind = _shard_kind(item)
            kinds[kind] = kinds.get(kind, 0) + 1
    assert kinds == {"1": 8098, "2-9": 777, "10-99": 115, "100+": 14, "none": 261, "ref": 2}


def _shard_kind(item: Item) -> str:
    if "shardsRef" in item:
        assert "shards" not in item
        return "ref"
    if "shards" not in item:
        return "none"
    listed = len(item["shards"]["SS"])
    return "1" if listed == 1 else "2-9" if listed < 10 else "10-99" if listed < 100 else "100+"


def test_consumer_items_omit_a_missing_customer() -> None:
    with_customer = ConsumerRow("s", WEB3, "A", ALICE).item()
    legacy = ConsumerRow("s", WEB3, "A", None).item()
    assert with_customer["customer"] == {"S": ALICE}
    assert with_customer["consumer"] == {"S": "A"}
    assert "customer" not in legacy
    assert legacy.keys() >= {"subscription", "provider", "consumer", "insertedAt"}


def test_dataset_needs_a_count_for_every_space() -> None:
    with pytest.raises(ValueError, match="without an upload count"):
        Dataset((ConsumerRow("s", WEB3, "A", ALICE),), {}, seed=0)


# --- truth --------------------------------------------------------------------


def test_truth_by_hand() -> None:
    truth = hand_made().truth()
    # A counts once for Alice despite two provider rows; S counts for Bob and Carol.
    assert truth.uploads_by_customer == {ALICE: 10, BOB: 12, CAROL: 8, DAN: 2}
    assert truth.spaces_with_uploads_by_customer == {ALICE: 1, BOB: 2, CAROL: 2, DAN: 1}
    assert truth.spaces_by_customer == {ALICE: 2, BOB: 2, CAROL: 2, DAN: 1}
    assert truth.orphan_rows == 2
    assert truth.skipped_customers == {CI}
    assert truth.filtered_customers == frozenset()
    assert truth.below_min_uploads == frozenset()
    assert truth.shared_spaces == {"S"}
    assert truth.total_uploads == 32


def test_truth_without_skip_list_counts_ci() -> None:
    truth = hand_made().truth(skip=())
    assert truth.uploads_by_customer[CI] == 4
    assert truth.skipped_customers == frozenset()


@pytest.mark.parametrize(
    ("include", "kept"),
    [
        (("storacha.network",), {CAROL}),
        ((BOB,), {BOB}),
        (("did:mailto:gmail.com",), {BOB}),
        (("storacha.network", "example.org"), {ALICE, CAROL}),
        (("example",), set()),  # a part of a domain is not a pattern
        (("mailslurp.com",), set()),  # skipping wins over including
    ],
)
def test_truth_include_filter(include: tuple[str, ...], kept: set[str]) -> None:
    truth = hand_made().truth(include=include)
    assert set(truth.uploads_by_customer) == kept
    assert truth.filtered_customers == {ALICE, BOB, CAROL, DAN} - kept
    assert truth.skipped_customers == {CI}


def test_truth_min_uploads_keeps_the_equal() -> None:
    truth = hand_made().truth(min_uploads=10)
    assert truth.uploads_by_customer == {ALICE: 10, BOB: 12}
    assert truth.below_min_uploads == {CAROL, DAN}


def test_skip_patterns_need_the_colon() -> None:
    assert DEFAULT_SKIP == (
        "did:mailto:mailslurp.biz",
        "did:mailto:mailslurp.com",
        "did:mailto:mailslurp.net",
    )
    truth = hand_made().truth(skip=("did:mailto:mailslurp.com", "did:mailto:example"))
    assert DAN in truth.uploads_by_customer
    assert ALICE in truth.uploads_by_customer


# --- load without a database ---------------------------------------------------


class FakeDynamo:
    """BatchWriteItem into dicts; *leave* picks the requests each reply leaves unprocessed."""

    def __init__(self, leave: Callable[[list[Any], int], list[Any]] | None = None) -> None:
        self.tables: dict[str, Counter[tuple[str, str]]] = {}
        self.calls = 0
        self._leave = leave or (lambda puts, call: [])

    async def batch_write_item(self, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        request: WriteRequests = kwargs["RequestItems"]
        assert sum(len(p) for p in request.values()) <= BATCH_SIZE
        left: WriteRequests = {}
        for table, puts in request.items():
            skipped = self._leave(puts, self.calls)
            for put in puts:
                if put in skipped:
                    left.setdefault(table, []).append(put)
                    continue
                item = put["PutRequest"]["Item"]
                key = tuple(v["S"] for v in list(item.values())[:2])
                self.tables.setdefault(table, Counter())[key] += 1
        return {"UnprocessedItems": left}


def second_half(puts: list[Any], call: int) -> list[Any]:
    # A lone item goes through, or nothing would ever land.
    return puts[len(puts) // 2 :] if len(puts) > 1 else []


async def test_load_retries_unprocessed_items_until_none_are_left() -> None:
    dataset = hand_made()
    client = FakeDynamo(leave=second_half)
    progress: list[int] = []
    await load(
        Dynamo(client, ANY_TABLES),
        dataset,
        consumer_table="c",
        upload_table="u",
        on_progress=progress.append,
        retry=NO_WAIT,
    )
    assert sum(progress) == dataset.total_items
    assert sum(client.tables["c"].values()) == len(dataset.consumer_rows)
    assert sum(client.tables["u"].values()) == dataset.total_uploads
    # Every item was written exactly once, whatever the halving did.
    assert set(client.tables["c"].values()) == set(client.tables["u"].values()) == {1}


async def test_load_gives_up_after_the_last_attempt() -> None:
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    policy = BatchRetry(attempts=5, base=0.1, cap=0.3, sleep=record)
    client = FakeDynamo(leave=lambda puts, call: puts)
    with pytest.raises(LocalDynamoError, match="unprocessed after 5 attempts"):
        # One batch in flight: its failure cancels the rest before they start.
        await load(
            Dynamo(client, ANY_TABLES),
            hand_made(),
            consumer_table="c",
            upload_table="u",
            concurrency=1,
            retry=policy,
        )
    assert client.calls == 5
    assert len(waits) == 4
    assert all(0 <= wait <= cap for wait, cap in zip(waits, [0.1, 0.2, 0.3, 0.3], strict=True))


# --- DynamoDB Local -------------------------------------------------------------


@pytest.fixture
async def client(dynamo: Any) -> AsyncIterator[Any]:
    async with local_client(dynamo.endpoint_url) as c:
        yield c


@pytest.fixture
async def tables(client: Any) -> AsyncIterator[tuple[str, str]]:
    prefix = f"dataset-{uuid.uuid4().hex[:8]}"
    names = (f"{prefix}-consumer", f"{prefix}-upload")
    await create_tables(Dynamo(client, ANY_TABLES), consumer_table=names[0], upload_table=names[1])
    yield names
    for name in names:
        await client.delete_table(TableName=name)


async def scan_count(client: Any, table: str) -> int:
    total, start = 0, dict[str, Any]()
    while True:
        page = await client.scan(TableName=table, Select="COUNT", **start)
        total += int(page["Count"])
        if "LastEvaluatedKey" not in page:
            return total
        start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}


async def query_count(client: Any, table: str, space: str) -> tuple[int, int]:
    """Uploads of *space* and the number of pages it took."""
    total, pages, start = 0, 0, dict[str, Any]()
    while True:
        page = await client.query(
            TableName=table,
            KeyConditionExpression="#space = :space",
            ExpressionAttributeNames={"#space": "space"},
            ExpressionAttributeValues={":space": {"S": space}},
            Select="COUNT",
            **start,
        )
        total, pages = total + page["Count"], pages + 1
        if "LastEvaluatedKey" not in page:
            return total, pages
        start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}


@pytest.mark.db
async def test_load_writes_exactly_the_dataset(client: Any, tables: tuple[str, str]) -> None:
    consumer, upload = tables
    dataset = generate(customers=40)
    progress: list[int] = []
    await load(
        Dynamo(client, ANY_TABLES),
        dataset,
        consumer_table=consumer,
        upload_table=upload,
        on_progress=progress.append,
    )
    assert sum(progress) == dataset.total_items
    assert await scan_count(client, consumer) == len(dataset.consumer_rows)
    assert await scan_count(client, upload) == dataset.total_uploads
    pages: dict[str, int] = {}
    for space, expected in dataset.uploads.items():
        found, pages[space] = await query_count(client, upload, space)
        assert found == expected, space
    assert max(pages.values()) >= 2  # the whale's largest space spans 1 MB pages


@pytest.mark.db
async def test_existing_tables_are_refused_unless_replaced(
    client: Any, tables: tuple[str, str]
) -> None:
    consumer, upload = tables
    await load(
        Dynamo(client, ANY_TABLES), hand_made(), consumer_table=consumer, upload_table=upload
    )
    with pytest.raises(TableError, match="already exist"):
        await create_tables(
            Dynamo(client, ANY_TABLES), consumer_table=consumer, upload_table=upload
        )
    await create_tables(
        Dynamo(client, ANY_TABLES), consumer_table=consumer, upload_table=upload, replace=True
    )
    assert await scan_count(client, consumer) == await scan_count(client, upload) == 0


class HalfUnprocessed:
    """A real client whose replies leave the second half of each request unprocessed."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.sent: Counter[str] = Counter()

    async def batch_write_item(self, **kwargs: Any) -> dict[str, Any]:
        request: WriteRequests = kwargs["RequestItems"]
        now: WriteRequests = {}
        later: WriteRequests = {}
        for table, puts in request.items():
            cut = len(puts) // 2
            if puts[:cut]:
                now[table] = puts[:cut]
            if puts[cut:]:
                later[table] = puts[cut:]
        if not now:  # a single item goes through, or nothing would ever land
            now, later = later, {}
        for puts in now.values():
            for put in puts:
                self.sent[repr(put["PutRequest"]["Item"])] += 1
        await self._client.batch_write_item(RequestItems=now)
        return {"UnprocessedItems": later}


@pytest.mark.db
async def test_unprocessed_items_land_exactly_once(client: Any, tables: tuple[str, str]) -> None:
    consumer, upload = tables
    dataset = hand_made()
    flaky = HalfUnprocessed(client)
    progress: list[int] = []
    await load(
        Dynamo(flaky, ANY_TABLES),
        dataset,
        consumer_table=consumer,
        upload_table=upload,
        on_progress=progress.append,
        retry=NO_WAIT,
    )
    assert sum(progress) == dataset.total_items
    assert len(flaky.sent) == dataset.total_items
    assert set(flaky.sent.values()) == {1}
    assert await scan_count(client, consumer) == len(dataset.consumer_rows)
    for space, expected in dataset.uploads.items():
        assert (await query_count(client, upload, space))[0] == expected
