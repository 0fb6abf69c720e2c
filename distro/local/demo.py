"""The demo's local pieces: seed DynamoDB Local, check counts against the truth, play the runner.

``distro.app.demo`` runs the very code path of ``distro generate`` against
DynamoDB Local with these: it seeds a synthetic dataset (``seed``), checks
every customer's numbers against the dataset's own truth
(``check_against_truth``), marks a few customers started or finished as the
runner would (``start_some``), then runs ``distro replan``'s code path.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from distro import console
from distro.dynamo.handle import Dynamo
from distro.errors import DistroError
from distro.local.dataset import Dataset, create_tables, generate, load
from distro.options import Connection
from distro.tally import Tally
from distro.tracking.records import COMPLETED, IN_PROGRESS, TrackingRecord
from distro.tracking.table import ASSIGNMENT_KEYS, read_records

LOAD_CONCURRENCY = 8
STARTED = 3  # customers per state the demo marks, the runner's way


async def seed(
    connection: Connection, *, customers: int, seed: int, tracking_table: str, quiet: bool
) -> Dataset:
    """Create the tables of *connection* and *tracking_table*, and load *customers* into them.

    Returns the synthetic dataset (made from *seed*), which knows its own truth.
    """
    dataset = generate(customers=customers, seed=seed)
    tables = connection.tables
    console.stderr.print(
        console.literal(
            f"DynamoDB Local at {tables.endpoint_url}; loading {len(dataset.consumer_rows):,} "
            f"consumer rows and {dataset.total_uploads:,} uploads "
            f"({customers:,} customers, seed {seed})"
        )
    )
    async with _open(connection) as db:
        await create_tables(db, consumer_table=tables.consumer, upload_table=tables.upload)
        await db.client.create_table(
            TableName=tracking_table,
            AttributeDefinitions=[{"AttributeName": "customer", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": k, "KeyType": t} for k, t in ASSIGNMENT_KEYS.items()],
            BillingMode="PAY_PER_REQUEST",
        )
        with console.counter(
            "Loading items", total=dataset.total_items, enabled=not quiet
        ) as advance:
            await load(
                db,
                dataset,
                consumer_table=tables.consumer,
                upload_table=tables.upload,
                concurrency=LOAD_CONCURRENCY,
                on_progress=advance,
            )
    return dataset


def _open(connection: Connection) -> AbstractAsyncContextManager[Dynamo]:
    return Dynamo.open(
        connection.tables, pool_size=LOAD_CONCURRENCY, credentials=connection.credentials
    )


def check_against_truth(tally: Tally, dataset: Dataset, *, shards: bool) -> None:
    """Raise ``DistroError`` unless *tally* counted exactly what *dataset* holds."""
    _check_uploads(tally, dataset)
    if shards:
        _check_shards(tally, dataset)


async def start_some(connection: Connection, tracking_table: str) -> None:
    """Start and finish a few customers of *tracking_table* as the runner would."""
    async with _open(connection) as db:
        records = await read_records(db, tracking_table)
        heaviest = sorted(records, key=lambda r: (-r.total_uploads, r.customer))
        # The heaviest first, as the runner's longest jobs would be: done, then under way.
        for record in heaviest[:STARTED]:
            await _runner_marks(db, tracking_table, record, COMPLETED, record.total_uploads)
        for record in heaviest[STARTED : 2 * STARTED]:
            await _runner_marks(db, tracking_table, record, IN_PROGRESS, record.total_uploads // 3)


def say_replanned(added: int) -> None:
    """Tell the demo's watcher what happened between the plan and the replan."""
    console.stderr.print(
        console.literal(
            f"Marked {STARTED} customers in progress and {STARTED} completed, added "
            f"{added} instances, re-planned: the files verify.",
            style="green",
        )
    )


async def _runner_marks(
    db: Dynamo, table: str, record: TrackingRecord, status: str, done: int
) -> None:
    """What the runner writes as it goes: status and progress, totals kept."""
    await db.client.update_item(
        TableName=table,
        Key={"customer": {"S": record.customer}},
        UpdateExpression="SET #status = :status, completedUploads = :done",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":status": {"S": status}, ":done": {"N": str(done)}},
    )


def _check_uploads(tally: Tally, dataset: Dataset) -> None:
    truth = dataset.truth()
    found = {c.customer: c.uploads for c in tally.customers}
    if found != dict(truth.uploads_by_customer):
        wrong = sorted(
            k
            for k in found.keys() | truth.uploads_by_customer.keys()
            if found.get(k) != truth.uploads_by_customer.get(k)
        )
        # The CLI prints this literally (console.error_line): the DID may hold anything.
        raise DistroError(
            f"the demo's counts differ from the dataset for {len(wrong)} customers, "
            f"e.g. {wrong[0]} (counted {found.get(wrong[0], 0):,}, "
            f"expected {truth.uploads_by_customer.get(wrong[0], 0):,})"
        )
    console.stderr.print(
        console.literal(
            f"Checked: all {len(found):,} customers and {truth.total_uploads:,} uploads "
            "match the dataset exactly.",
            style="green",
        )
    )


def _check_shards(tally: Tally, dataset: Dataset) -> None:
    truth = dataset.truth(shards=True)
    found = {c.customer: (c.shards, c.shard_refs) for c in tally.customers}
    expected = {
        c: (truth.shards_by_customer[c], truth.shard_refs_by_customer[c])
        for c in truth.uploads_by_customer
    }
    wrong = sorted(k for k in found.keys() | expected.keys() if found.get(k) != expected.get(k))
    if wrong:
        raise DistroError(
            f"the demo's shard counts differ from the dataset for {len(wrong)} customers, "
            f"e.g. {wrong[0]} (counted {found.get(wrong[0])}, expected {expected.get(wrong[0])})"
        )
    console.stderr.print(
        console.literal(
            f"Checked: the shards of all {len(found):,} customers "
            f"({sum(truth.shards_by_customer.values()):,} listed, "
            f"{sum(truth.shard_refs_by_customer.values()):,} uploads with shardsRef) "
            "match the dataset exactly.",
            style="green",
        )
    )
