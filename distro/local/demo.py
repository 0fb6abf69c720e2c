"""The whole job on a local DynamoDB seeded with a synthetic dataset.

The demo runs the very code path of ``distro generate`` against DynamoDB Local,
with tracking records, then checks every customer's numbers against the
dataset's own truth. It ends mid-migration: it marks a few customers started
or finished as the runner would, adds two instances, runs ``distro replan``'s
code path, and verifies the files it wrote.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from distro import console
from distro.assignments import ASSIGNMENT_KEYS
from distro.balance import Plan, plan
from distro.dynamo.handle import Dynamo
from distro.errors import DistroError
from distro.files import Folder, prepared
from distro.local.dataset import Dataset, create_tables, generate, load
from distro.local.dynamodb import LOCAL_CREDENTIALS, LOCAL_REGION, LocalDynamo
from distro.pipeline import Committed, checkpoint_until_committed, commit_plan, count_tables
from distro.progress import Progress
from distro.records import COMPLETED, IN_PROGRESS, TrackingRecord
from distro.replan_run import ReplanOutcome, run_replan
from distro.settings import CountSettings, Tables, Throughput
from distro.tally import Tally
from distro.tracking import read_records
from distro.verify import verify_plan

DEMO_TABLES = ("demo-consumer", "demo-upload")
DEMO_TRACKING = "demo-migration-customers"
LOAD_CONCURRENCY = 8
ADDED_INSTANCES = 2
STARTED = 3  # customers per state the demo marks, the runner's way


@dataclass(frozen=True, slots=True)
class DemoRun:
    """What the demo counted, planned and wrote, at the throughput it assumes."""

    tally: Tally
    plan: Plan
    committed: Committed
    throughput: Throughput
    replanned: ReplanOutcome


async def run_demo(
    *,
    customers: int,
    instances: int,
    seed: int,
    output_dir: Path | Folder,
    quiet: bool = False,
    count_shards: bool = False,
) -> DemoRun:
    """Seed a fresh DynamoDB Local with *customers*, plan them over *instances*, then replan.

    Its files go to *output_dir*; *quiet* hides the progress bars; with
    *count_shards*, shards are counted and checked too.
    """
    dataset = generate(customers=customers, seed=seed)
    db = LocalDynamo()
    await asyncio.to_thread(db.start)
    try:
        tables = Tables(*DEMO_TABLES, region=LOCAL_REGION, endpoint_url=db.endpoint_url)
        console.stderr.print(
            console.literal(
                f"DynamoDB Local at {db.endpoint_url}; loading {len(dataset.consumer_rows):,} "
                f"consumer rows and {dataset.total_uploads:,} uploads "
                f"({customers:,} customers, seed {seed})"
            )
        )
        await _seed(tables, dataset, quiet=quiet)
        settings = CountSettings(tables=tables, count_shards=count_shards)
        throughput, progress = Throughput(), Progress()
        with (
            checkpoint_until_committed(output_dir, settings, restart=True) as checkpoint,
            console.show_progress(progress, enabled=not quiet),
        ):
            # DynamoDB Local takes any credentials; never send the user's real ones to it.
            tally = await count_tables(
                settings, checkpoint, progress, credentials=LOCAL_CREDENTIALS
            )
            planned = plan(tally, instances)
            committed = await commit_plan(
                planned,
                output_dir,
                settings=settings,
                throughput=throughput,
                assignments_table=DEMO_TRACKING,
                credentials=LOCAL_CREDENTIALS,
            )
        _check_against_truth(tally, dataset)
        if count_shards:
            _check_shards_against_truth(tally, dataset)
        replanned = await _replan_mid_migration(tables, instances, output_dir)
    finally:
        await asyncio.to_thread(db.stop)
    return DemoRun(tally, planned, committed, throughput, replanned)


async def _replan_mid_migration(
    tables: Tables, instances: int, output_dir: Path | Folder
) -> ReplanOutcome:
    """Start and finish a few customers as the runner would, add instances, replan, verify."""
    async with Dynamo.open(tables, pool_size=LOAD_CONCURRENCY, credentials=LOCAL_CREDENTIALS) as db:
        records = await read_records(db, DEMO_TRACKING)
        heaviest = sorted(records, key=lambda r: (-r.total_uploads, r.customer))
        # The heaviest first, as the runner's longest jobs would be: done, then under way.
        for record in heaviest[:STARTED]:
            await _runner_marks(db, record, COMPLETED, record.total_uploads)
        for record in heaviest[STARTED : 2 * STARTED]:
            await _runner_marks(db, record, IN_PROGRESS, record.total_uploads // 3)
    replanned = await run_replan(
        tables=tables,
        table=DEMO_TRACKING,
        instances=instances + ADDED_INSTANCES,
        output_dir=output_dir,
        credentials=LOCAL_CREDENTIALS,
    )
    problems = verify_plan(prepared(output_dir))
    if problems:
        raise DistroError(f"the demo's re-plan does not verify: {problems[0]}")
    console.stderr.print(
        console.literal(
            f"Marked {STARTED} customers in progress and {STARTED} completed, added "
            f"{ADDED_INSTANCES} instances, re-planned: the files verify.",
            style="green",
        )
    )
    return replanned


async def _runner_marks(db: Dynamo, record: TrackingRecord, status: str, done: int) -> None:
    """What the runner writes as it goes: status and progress, totals kept."""
    await db.client.update_item(
        TableName=DEMO_TRACKING,
        Key={"customer": {"S": record.customer}},
        UpdateExpression="SET #status = :status, completedUploads = :done",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":status": {"S": status}, ":done": {"N": str(done)}},
    )


async def _seed(tables: Tables, dataset: Dataset, *, quiet: bool) -> None:
    async with Dynamo.open(tables, pool_size=LOAD_CONCURRENCY, credentials=LOCAL_CREDENTIALS) as db:
        await create_tables(db, consumer_table=tables.consumer, upload_table=tables.upload)
        await db.client.create_table(
            TableName=DEMO_TRACKING,
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


def _check_against_truth(tally: Tally, dataset: Dataset) -> None:
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


def _check_shards_against_truth(tally: Tally, dataset: Dataset) -> None:
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
