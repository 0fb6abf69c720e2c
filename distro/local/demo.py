"""The whole job on a local DynamoDB seeded with a synthetic dataset.

The demo runs the very code path of ``distro generate`` against DynamoDB Local,
then checks every customer's numbers against the dataset's own truth.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from distro import console
from distro.balance import Plan, plan
from distro.dynamo.handle import Dynamo
from distro.errors import DistroError
from distro.files import Folder
from distro.local.dataset import Dataset, create_tables, generate, load
from distro.local.dynamodb import LOCAL_CREDENTIALS, LOCAL_REGION, LocalDynamo
from distro.pipeline import Committed, checkpoint_until_committed, commit_plan, count_tables
from distro.progress import Progress
from distro.settings import CountSettings, Tables, Throughput
from distro.tally import Tally

DEMO_TABLES = ("demo-consumer", "demo-upload")
LOAD_CONCURRENCY = 8


@dataclass(frozen=True, slots=True)
class DemoRun:
    """What the demo counted, planned and wrote, at the throughput it assumes."""

    tally: Tally
    plan: Plan
    committed: Committed
    throughput: Throughput


async def run_demo(
    *,
    customers: int,
    instances: int,
    seed: int,
    output_dir: Path | Folder,
    quiet: bool = False,
    count_shards: bool = False,
) -> DemoRun:
    """Seed a fresh DynamoDB Local with *customers* and plan them over *instances*.

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
                planned, output_dir, settings=settings, throughput=throughput
            )
    finally:
        await asyncio.to_thread(db.stop)
    _check_against_truth(tally, dataset)
    if count_shards:
        _check_shards_against_truth(tally, dataset)
    return DemoRun(tally, planned, committed, throughput)


async def _seed(tables: Tables, dataset: Dataset, *, quiet: bool) -> None:
    async with Dynamo.open(tables, pool_size=LOAD_CONCURRENCY, credentials=LOCAL_CREDENTIALS) as db:
        await create_tables(db, consumer_table=tables.consumer, upload_table=tables.upload)
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
