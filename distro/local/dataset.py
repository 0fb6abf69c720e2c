"""A deterministic synthetic dataset shaped like the Consumer and Upload tables.

``generate`` draws customers, spaces and upload counts from one seeded
``random.Random``; ``create_tables`` and ``load`` write them into DynamoDB
(Local); ``Dataset.truth`` is the plain oracle tests compare distro against.
The oracle is written independently of distro's own counting on purpose: it
imports nothing from distro but the errors, the skip list (``DEFAULT_SKIP``, one
constant: the truth still applies it on its own) and the batch writer ``load`` uses.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from botocore.exceptions import ClientError

from distro.dynamo.batch import DEFAULT_BATCH_RETRY, BatchRetry, batch_requests, batch_write
from distro.dynamo.handle import Dynamo
from distro.errors import LocalDynamoError, SettingsError, TableError, WriteIncomplete
from distro.settings import DEFAULT_SKIP

AttributeValue = dict[str, Any]
Item = dict[str, AttributeValue]

PROVIDERS = ("did:web:web3.storage", "did:web:up.storacha.network")
DOMAINS = (  # gmail.com twice: it is the most common domain
    "gmail.com",
    "gmail.com",
    "example.org",
    "storacha.network",
    "proton.me",
    "outlook.com",
    "fastmail.com",
)
# Not skip-listed: a skip pattern matched without its trailing ":" would drop it.
LOOKALIKE_DOMAIN = "mailslurp.community"
CI_DOMAINS = ("mailslurp.com", "mailslurp.biz", "mailslurp.net")
NAMES = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy")
BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
MIN_CUSTOMERS = 3  # the whale plus two ordinary customers to share a space
EPOCH = datetime(2023, 1, 1, tzinfo=UTC).timestamp()
THREE_YEARS = 3 * 365 * 86_400


@dataclass(frozen=True, slots=True)
class Shape:
    """The knobs of ``generate``.

    *uploads_per_customer* is the mean over all customers including the whale;
    *whale_share* is the whale's part of that total; *whale_big_space* is the
    floor of its largest space, sized to need several 1 MB Query pages.
    """

    uploads_per_customer: float = 60.0
    whale_share: float = 0.42
    empty_share: float = 1 / 3
    double_provider_share: float = 0.08
    whale_big_space: int = 3_000
    spaces_alpha: float = 1.4  # Pareto tail of spaces per customer
    spaces_cap: int = 80
    uploads_alpha: float = 1.1  # Pareto tail of uploads per space
    uploads_cap: float = 200.0  # keeps any ordinary space far below the whale


DEFAULT_SHAPE = Shape()


@dataclass(frozen=True, slots=True)
class ConsumerRow:
    """One Consumer table row: a space registered with a provider, maybe for a customer."""

    subscription: str
    provider: str
    space: str
    customer: str | None

    def item(self) -> Item:
        """The row as a DynamoDB item, with the attributes distro does not read."""
        rng = random.Random(f"{self.subscription}/{self.provider}")
        item: Item = {
            "subscription": {"S": self.subscription},
            "provider": {"S": self.provider},
            "consumer": {"S": self.space},
            "cause": {"S": _cid(rng, "bafyrei")},
            **_timestamps(rng),
        }
        if self.customer is not None:
            item["customer"] = {"S": self.customer}
        return item


@dataclass(frozen=True, slots=True)
class Truth:
    """What a correct count reports for a dataset under given filters."""

    uploads_by_customer: Mapping[str, int]
    spaces_with_uploads_by_customer: Mapping[str, int]
    spaces_by_customer: Mapping[str, int]
    orphan_rows: int
    skipped_customers: frozenset[str]
    filtered_customers: frozenset[str]
    below_min_uploads: frozenset[str]
    shared_spaces: frozenset[str]
    # Only when asked for: listed shards, and uploads with shardsRef, per customer kept.
    shards_by_customer: Mapping[str, int] = field(default_factory=dict)
    shard_refs_by_customer: Mapping[str, int] = field(default_factory=dict)

    @property
    def total_uploads(self) -> int:
        """Uploads of every customer kept; a shared space counts once for each claimant."""
        return sum(self.uploads_by_customer.values())

    def estimated_shards(self, customers: Iterable[str]) -> int:
        """The shards of *customers*, an upload with ``shardsRef`` counted as 5,000."""
        return sum(
            self.shards_by_customer[c] + 5000 * self.shard_refs_by_customer[c] for c in customers
        )


@dataclass(frozen=True, slots=True)
class Dataset:
    """Consumer rows and the number of uploads of every space they name."""

    consumer_rows: tuple[ConsumerRow, ...]
    uploads: Mapping[str, int]
    seed: int

    def __post_init__(self) -> None:
        missing = {row.space for row in self.consumer_rows} - self.uploads.keys()
        if missing:
            raise ValueError(f"spaces without an upload count: {sorted(missing)[:3]}")

    @property
    def total_uploads(self) -> int:
        """Uploads over all spaces, whoever holds them."""
        return sum(self.uploads.values())

    @property
    def total_items(self) -> int:
        """Items ``load`` writes: consumer rows plus uploads."""
        return len(self.consumer_rows) + self.total_uploads

    def upload_items(self, space: str) -> Iterator[Item]:
        """The Upload table items of *space*, the same ones for the same seed."""
        rng = random.Random(f"{self.seed}/{space}")
        roots: set[str] = set()
        while len(roots) < self.uploads[space]:
            root = _cid(rng, "bafybei")
            if root not in roots:  # a repeated sort key would overwrite, not add
                roots.add(root)
                yield _upload_item(rng, space, root)

    def shards_of(self, space: str) -> tuple[int, int]:
        """The shards *space*'s uploads list, and its uploads with ``shardsRef`` instead.

        Read from the items ``load`` writes, by the plainest count: no distro code.
        """
        listed = refs = 0
        for item in self.upload_items(space):
            if "shards" in item:
                listed += len(set(item["shards"]["SS"]))
            elif "shardsRef" in item:
                refs += 1
        return listed, refs

    def truth(
        self,
        *,
        skip: Sequence[str] = DEFAULT_SKIP,
        include: Sequence[str] = (),
        min_uploads: int = 0,
        shards: bool = False,
    ) -> Truth:
        """Count plainly, row by row, what distro must report under these filters.

        With *shards*, each kept customer's shards too (it reads every item).
        """
        spaces_of: dict[str, set[str]] = {}
        claimants: dict[str, set[str]] = {}
        orphan_rows = 0
        for row in self.consumer_rows:
            if row.customer is None:
                orphan_rows += 1
                continue
            spaces_of.setdefault(row.customer, set()).add(row.space)
            claimants.setdefault(row.space, set()).add(row.customer)

        skipped = {c for c in spaces_of if _matches_skip(c, skip)}
        filtered = {
            c
            for c in spaces_of
            if c not in skipped and include and not _matches_include(c, include)
        }
        uploads: dict[str, int] = {}
        with_uploads: dict[str, int] = {}
        all_spaces: dict[str, int] = {}
        below: set[str] = set()
        for customer, spaces in spaces_of.items():
            if customer in skipped or customer in filtered:
                continue
            total = sum(self.uploads[space] for space in spaces)
            if total < min_uploads:
                below.add(customer)
                continue
            uploads[customer] = total
            with_uploads[customer] = sum(1 for space in spaces if self.uploads[space] > 0)
            all_spaces[customer] = len(spaces)
        listed: dict[str, int] = {}
        refs: dict[str, int] = {}
        if shards:
            per_space = {space: self.shards_of(space) for space in self.uploads}
            for customer in uploads:
                listed[customer] = sum(per_space[s][0] for s in spaces_of[customer])
                refs[customer] = sum(per_space[s][1] for s in spaces_of[customer])

        return Truth(
            uploads_by_customer=MappingProxyType(uploads),
            spaces_with_uploads_by_customer=MappingProxyType(with_uploads),
            spaces_by_customer=MappingProxyType(all_spaces),
            orphan_rows=orphan_rows,
            skipped_customers=frozenset(skipped),
            filtered_customers=frozenset(filtered),
            below_min_uploads=frozenset(below),
            shared_spaces=frozenset(s for s, c in claimants.items() if len(c) > 1),
            shards_by_customer=MappingProxyType(listed),
            shard_refs_by_customer=MappingProxyType(refs),
        )


def _matches_skip(customer: str, patterns: Sequence[str]) -> bool:
    return any(customer == p or customer.startswith(p + ":") for p in patterns)


def _matches_include(customer: str, patterns: Sequence[str]) -> bool:
    return any(
        customer == p or customer.startswith(p + ":") or f":{p}:" in customer for p in patterns
    )


# --- generation ---------------------------------------------------------------


def generate(*, customers: int, seed: int = 7, shape: Shape = DEFAULT_SHAPE) -> Dataset:
    """Draw a dataset of *customers* ordinary customers (the whale among them).

    CI customers and legacy rows come on top. Everything follows from *seed*.
    """
    if customers < MIN_CUSTOMERS:
        raise SettingsError(f"customers must be at least {MIN_CUSTOMERS}, got {customers}")
    builder = _Builder(random.Random(seed))
    total = round(shape.uploads_per_customer * customers)
    whale_total = round(shape.whale_share * total)
    _add_whale(builder, shape, uploads=whale_total, spaces=max(24, customers // 6))
    ordinary = _add_ordinary(builder, shape, customers=customers - 1, uploads=total - whale_total)
    _add_ci_customers(builder, count=max(3, customers // 25))
    _add_shared_spaces(builder, ordinary, count=max(1, customers // 100))
    _add_orphans(builder, ordinary, count=max(2, customers // 30))
    _add_second_providers(builder, shape)
    return builder.dataset(seed)


class _Builder:
    """Accumulates rows and counts while ``generate`` draws them."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.rows: list[ConsumerRow] = []
        self.uploads: dict[str, int] = {}
        self._customers: set[str] = set()

    def customer(self, domain: str) -> str:
        """A fresh customer DID at *domain*."""
        while True:
            did = f"did:mailto:{domain}:{self.rng.choice(NAMES)}{self.rng.randrange(10_000)}"
            if did not in self._customers:
                self._customers.add(did)
                return did

    def space(self, uploads: int) -> str:
        """A fresh space DID holding *uploads* uploads."""
        while True:
            did = "did:key:z6Mk" + "".join(self.rng.choices(BASE58, k=44))
            if did not in self.uploads:
                self.uploads[did] = uploads
                return did

    def claim(self, space: str, customer: str | None, provider: str = PROVIDERS[1]) -> None:
        """Register *space* for *customer* under a fresh subscription."""
        self.rows.append(ConsumerRow(_cid(self.rng, "bafyrei"), provider, space, customer))

    def dataset(self, seed: int) -> Dataset:
        """The finished dataset, rows in no meaningful order (like a Scan)."""
        rows = list(self.rows)
        self.rng.shuffle(rows)
        return Dataset(tuple(rows), MappingProxyType(dict(self.uploads)), seed)


def _add_whale(builder: _Builder, shape: Shape, *, uploads: int, spaces: int) -> None:
    # The largest space is claimed first so _add_second_providers can find it.
    big = max(shape.whale_big_space, uploads // 4)
    whale = builder.customer(builder.rng.choice(DOMAINS))
    weights = [_space_weight(builder.rng, shape) for _ in range(spaces - 1)]
    counts = [big, *_spread(max(0, uploads - big), weights)]
    for count in counts:
        builder.claim(builder.space(count), whale)


def _add_ordinary(builder: _Builder, shape: Shape, *, customers: int, uploads: int) -> list[str]:
    """Add *customers* customers sharing *uploads* heavy-tailed; return their DIDs."""
    rng = builder.rng
    domains = [LOOKALIKE_DOMAIN] + [rng.choice(DOMAINS) for _ in range(customers - 1)]
    dids = [builder.customer(domain) for domain in domains]
    owners = [did for did in dids for _ in range(_spaces_per_customer(rng, shape))]
    counts = _spread(uploads, [_space_weight(rng, shape) for _ in owners])
    for owner, count in zip(owners, counts, strict=True):
        builder.claim(builder.space(count), owner, rng.choice(PROVIDERS))
    return dids


def _add_ci_customers(builder: _Builder, *, count: int) -> None:
    # Cycling the domains puts every skip-listed domain in the data.
    for i in range(count):
        ci = builder.customer(CI_DOMAINS[i % len(CI_DOMAINS)])
        for _ in range(builder.rng.randint(1, 4)):
            builder.claim(builder.space(builder.rng.choice((0, 1, 3, 12, 30))), ci)


def _add_shared_spaces(builder: _Builder, ordinary: Sequence[str], *, count: int) -> None:
    for _ in range(count):
        space = builder.space(builder.rng.randint(5, 60))
        for customer in builder.rng.sample(ordinary, 2):
            builder.claim(space, customer)


def _add_orphans(builder: _Builder, ordinary: Sequence[str], *, count: int) -> None:
    """Legacy rows without a customer: fresh spaces, plus one a customer claimed later."""
    for _ in range(count):
        builder.claim(builder.space(builder.rng.randint(1, 40)), None, PROVIDERS[0])
    customers = set(ordinary)
    claimed = next(
        row.space
        for row in builder.rows
        if row.customer in customers and builder.uploads[row.space] > 0
    )
    builder.claim(claimed, None, PROVIDERS[0])


def _add_second_providers(builder: _Builder, shape: Shape) -> None:
    # The whale's largest space (the first row) is always doubled: counting it
    # twice would be the costliest mistake a counter can make here.
    for i, row in enumerate(list(builder.rows)):
        if row.customer is None:
            continue
        if i == 0 or builder.rng.random() < shape.double_provider_share:
            other = PROVIDERS[0] if row.provider == PROVIDERS[1] else PROVIDERS[1]
            builder.rows.append(ConsumerRow(row.subscription, other, row.space, row.customer))


def _spaces_per_customer(rng: random.Random, shape: Shape) -> int:
    # Pareto floor: about two thirds get 1, a few get dozens.
    return min(shape.spaces_cap, int(rng.paretovariate(shape.spaces_alpha)))


def _space_weight(rng: random.Random, shape: Shape) -> float:
    """Relative size of a space: 0 for an empty one, else a capped Pareto draw."""
    if rng.random() < shape.empty_share:
        return 0.0
    return min(shape.uploads_cap, rng.paretovariate(shape.uploads_alpha))


def _spread(total: int, weights: Sequence[float]) -> list[int]:
    """Split *total* in proportion to *weights*; every non-zero weight gets at least 1."""
    whole = sum(weights)
    if whole == 0:
        return [0] * len(weights)
    return [max(1, round(total * w / whole)) if w else 0 for w in weights]


def _cid(rng: random.Random, prefix: str) -> str:
    """A CIDv1-looking base32 string of 59 characters."""
    body = base64.b32encode(rng.randbytes(33)).decode().lower()
    return prefix + body[: 59 - len(prefix)]


def _timestamps(rng: random.Random) -> Item:
    inserted = EPOCH + rng.random() * THREE_YEARS
    updated = inserted + rng.choice((0.0, rng.random() * 86_400))
    return {"insertedAt": {"S": _iso(inserted)}, "updatedAt": {"S": _iso(updated)}}


def _iso(timestamp: float) -> str:
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _shard_count(rng: random.Random) -> int | None:
    """How many shards an upload lists: None for a list kept in S3 (``shardsRef``).

    The heavy tail of production: mostly 1, some a few, some tens, a few
    hundreds; some old uploads list none. About 1.7 shards per upload, like
    the team's sample (1.73).
    """
    draw = rng.random()
    for bound, low, high in _SHARD_TAIL:
        if draw < bound:
            return rng.randint(low, high)
    return None


# (cumulative probability, fewest, most shards): what draws below each bound get.
_SHARD_TAIL = (
    (0.03, 0, 0),  # an old upload without ``shards``
    (0.9055, 1, 1),
    (0.9855, 2, 5),
    (0.998, 10, 40),
    (0.9995, 100, 300),
)  # the last 0.05%: shardsRef


def _upload_item(rng: random.Random, space: str, root: str) -> Item:
    # Realistic attributes make an item ~450 bytes, so big spaces page at 1 MB.
    item: Item = {"space": {"S": space}, "root": {"S": root}}
    shards = _shard_count(rng)
    if shards is None:
        item["shardsRef"] = {"S": f"shards/{root}.json"}
    elif shards:
        # A String Set: distinct CIDs, as the service writes them.
        item["shards"] = {"SS": [_cid(rng, "bagbaiera") for _ in range(shards)]}
    item["cause"] = {"S": _cid(rng, "bafyrei")}
    # Not in production: it keeps a one-shard item as big as the old 2-4 shard ones,
    # so the whale's biggest space still needs several 1 MB Query pages.
    item["padding"] = {"S": _cid(rng, "bafkrei") + _cid(rng, "bafkrei")}
    return item | _timestamps(rng)


# --- loading ------------------------------------------------------------------


# ``load`` shares distro's batch writer (distro.dynamo.batch) and its retry settings.
_KEYS = {"consumer": ("subscription", "provider"), "upload": ("space", "root")}


async def create_tables(
    db: Dynamo, *, consumer_table: str, upload_table: str, replace: bool = False
) -> None:
    """Create the Consumer and Upload tables through *db* and wait until they are ACTIVE.

    Existing tables are an error unless *replace*, which deletes them first.
    """
    client = db.client
    names = {"consumer": consumer_table, "upload": upload_table}
    existing = [name for name in names.values() if await _table_exists(client, name)]
    if existing and not replace:
        raise TableError(
            f"tables already exist: {', '.join(existing)}; delete them or pass replace=True"
        )
    for name in existing:
        await client.delete_table(TableName=name)
        await _wait(client, "table_not_exists", name)
    for kind, name in names.items():
        await client.create_table(**_table_spec(name, *_KEYS[kind]))
        await _wait(client, "table_exists", name)


async def _table_exists(client: Any, name: str) -> bool:
    try:
        await client.describe_table(TableName=name)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return False
        raise
    return True


async def _wait(client: Any, waiter: str, name: str) -> None:
    # botocore's default waits 20 s between polls; DynamoDB Local is instant.
    config = {"Delay": 1, "MaxAttempts": 120}
    await client.get_waiter(waiter).wait(TableName=name, WaiterConfig=config)


def _table_spec(name: str, partition: str, sort: str) -> dict[str, Any]:
    return {
        "TableName": name,
        "AttributeDefinitions": [
            {"AttributeName": partition, "AttributeType": "S"},
            {"AttributeName": sort, "AttributeType": "S"},
        ],
        "KeySchema": [
            {"AttributeName": partition, "KeyType": "HASH"},
            {"AttributeName": sort, "KeyType": "RANGE"},
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }


async def load(
    db: Dynamo,
    dataset: Dataset,
    *,
    consumer_table: str,
    upload_table: str,
    concurrency: int = 8,
    on_progress: Callable[[int], None] | None = None,
    retry: BatchRetry = DEFAULT_BATCH_RETRY,
) -> None:
    """Write every consumer row and upload of *dataset*, *concurrency* batches at a time.

    *on_progress* gets the number of items each reply wrote; they add up to
    ``dataset.total_items``. The client's connection pool should hold
    *concurrency* connections.
    """
    try:
        await batch_write(
            lambda request: db.client.batch_write_item(RequestItems=request),
            batch_requests(_puts(dataset, consumer_table, upload_table)),
            what="BatchWriteItem",
            retry=retry,
            concurrency=concurrency,
            on_written=on_progress,
        )
    except WriteIncomplete as exc:
        raise LocalDynamoError(f"{exc}; load with a lower concurrency") from None


def _puts(dataset: Dataset, consumer_table: str, upload_table: str) -> Iterator[tuple[str, Item]]:
    for row in dataset.consumer_rows:
        yield consumer_table, row.item()
    for space in dataset.uploads:
        for item in dataset.upload_items(space):
            yield upload_table, item
