"""``distro demo``: the whole job on DynamoDB Local, through the application's own functions.

``demo`` runs the very code path of ``distro generate`` against DynamoDB
Local: it seeds a synthetic dataset (``seed``), checks
every customer's numbers against the dataset's own truth
(``check_against_truth``), plays part of the migration with a fleet that
writes exactly what the runner writes (``play_migration``: one instance at
half speed, one that stops, a few failed uploads), then shows
``distro status``, re-plans, and shows it again.
"""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from distro import aio, app, console
from distro.balance import Plan
from distro.dynamo.handle import Dynamo
from distro.errors import DistroError
from distro.files import output_lock
from distro.local.dataset import Dataset, create_tables, generate, load
from distro.local.dynamodb import LOCAL_CREDENTIALS, LOCAL_REGION, LocalDynamo
from distro.local.fleet import Fleet, Work, create_fleet_tables
from distro.options import (
    Connection,
    CountOptions,
    DemoOptions,
    GenerateOptions,
    ReplanOptions,
    StatusOptions,
)
from distro.settings import DEFAULT_ENV, CountSettings, Tables, Throughput
from distro.tally import Tally
from distro.verify import verify_plan
from distro.views.analysis import Summary
from distro.views.replan import ReplanSummary
from distro.views.status import FleetStatus

LOAD_CONCURRENCY = 8


async def seed(
    connection: Connection,
    *,
    customers: int,
    seed: int,
    tracking_table: str,
    progress_table: str,
    quiet: bool,
) -> Dataset:
    """Create the tables of *connection* and the runner's two, and load *customers* into them.

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
        await create_fleet_tables(db, customers_table=tracking_table, progress_table=progress_table)
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
    return Dynamo.connect(connection, pool_size=LOAD_CONCURRENCY)


def check_against_truth(tally: Tally, dataset: Dataset, *, shards: bool) -> None:
    """Raise ``DistroError`` unless *tally* counted exactly what *dataset* holds."""
    _check_uploads(tally, dataset)
    if shards:
        _check_shards(tally, dataset)


# The demo's fleet: per instance, how much slower than the assumed rate it runs, and after
# how many hours of the played ones it dies (instance 2 at half speed, instance 3 stops).
SLOWER = {2: 2.0}
DIES_AFTER_HOURS = {3: 1.0}
PLAYED_HOURS = 3.0
FAILING = 12  # uploads that fail, with one of the runner's reasons


async def play_migration(
    connection: Connection,
    plan: Plan,
    dataset: Dataset,
    *,
    tracking_table: str,
    progress_table: str,
    now: datetime,
    per_minute: float,
) -> Fleet:
    """Play the first hours of *plan*'s migration, up to *now*, as the runner would write it.

    One runner process per instance, at *per_minute* uploads a minute (slower
    where ``SLOWER`` says), with ``FAILING`` failed uploads among them.
    """
    customers = [c.customer for i in plan.instances for c in i.customers]
    work = Work.of(dataset, customers, failing=FAILING)
    start = now - timedelta(hours=PLAYED_HOURS)
    async with _open(connection) as db:
        fleet = Fleet(db, work, customers_table=tracking_table, progress_table=progress_table)
        for instance in plan.instances:
            n = instance.instance_id
            seconds = 60 / per_minute * SLOWER.get(n, 1.0)
            runner = fleet.start(
                n, [c.customer for c in instance.customers], seconds_per_upload=seconds, at=start
            )
            if n in DIES_AFTER_HOURS:
                runner.stop_at(start + timedelta(hours=DIES_AFTER_HOURS[n]))
        await fleet.play(now)
    console.stderr.print(
        console.literal(
            f"Played {PLAYED_HOURS:g} hours of the migration as the runner writes it: "
            f"{sum(r.done for r in fleet.runners.values()):,} uploads; instance 2 at half "
            "speed, instance 3 stopped after an hour, a few uploads failed.",
            style="green",
        )
    )
    return fleet


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


# --- the whole demo: generate, play, status, replan, status ------------------------------------

DEMO_TABLES = ("demo-consumer", "demo-upload")
DEMO_TRACKING = "demo-migration-customers"
DEMO_PROGRESS = "demo-migration-progress"
ADDED_INSTANCES = 2


@dataclass(frozen=True, slots=True)
class DemoOutcome:
    """What the demo showed: the plan generate made, the fleet's status *before* the replan
    mid-migration, the replan, and the status *after* it (shown as *watching* asks).

    *connection* and *tables* are the demo's tables on DynamoDB Local;
    *server* is that database, still running, when the demo was asked to keep it.
    """

    summary: Summary
    replanned: ReplanSummary
    connection: Connection
    before: FleetStatus
    after: FleetStatus
    watching: StatusOptions
    tables: tuple[str, str] = (DEMO_TRACKING, DEMO_PROGRESS)  # the runner's two
    server: LocalDynamo | None = None

    def serve(self) -> None:
        """With a kept *server*: serve until Ctrl-C (or until it exits), then stop it."""
        if self.server is None:
            return
        try:
            self.server.wait()
        except KeyboardInterrupt:
            pass
        finally:
            self.server.stop()


def demo(options: DemoOptions) -> DemoOutcome:
    """Generate, then replan mid-migration, on DynamoDB Local seeded with a synthetic dataset."""
    return aio.run_stoppable(_locked_demo(options), options.folder.checkpoint)


async def _locked_demo(options: DemoOptions) -> DemoOutcome:
    # Before DynamoDB Local starts and the data loads: a second demo fails at once.
    with output_lock(options.folder) as folder:
        server = LocalDynamo()
        await asyncio.to_thread(server.start)
        shown: DemoOutcome | None = None
        try:
            shown = await _demo(replace(options, folder=folder), server.endpoint_url)
        finally:
            if shown is None or not options.keep:
                await asyncio.to_thread(server.stop)
        return replace(shown, server=server) if options.keep else shown


async def _demo(options: DemoOptions, endpoint_url: str) -> DemoOutcome:
    tables = Tables(*DEMO_TABLES, region=LOCAL_REGION, endpoint_url=endpoint_url)
    # DynamoDB Local takes any credentials; never send the user's real ones to it.
    connection = Connection.explicit(DEFAULT_ENV, tables, credentials=LOCAL_CREDENTIALS)
    dataset = await seed(
        connection,
        customers=options.customers,
        seed=options.seed,
        tracking_table=DEMO_TRACKING,
        progress_table=DEMO_PROGRESS,
        quiet=options.quiet,
    )
    count = CountOptions(
        connection=connection,
        settings=CountSettings(tables=tables, count_shards=options.count_shards),
        throughput=Throughput(),
        folder=options.folder,
        restart=True,
        quiet=options.quiet,
    )
    generated = GenerateOptions(count, options.instances, tracking_table=DEMO_TRACKING)
    counted = await app.count_plan_commit(
        count, instances=options.instances, commit=True, tracking_table=DEMO_TRACKING
    )
    check_against_truth(counted.tally, dataset, shards=options.count_shards)
    assert counted.planned is not None  # the demo always plans
    now = datetime.now(UTC)
    await play_migration(
        connection,
        counted.planned,
        dataset,
        tracking_table=DEMO_TRACKING,
        progress_table=DEMO_PROGRESS,
        now=now,
        per_minute=count.throughput.uploads_per_minute,
    )
    watching = StatusOptions(
        connection=connection,
        folder=options.folder,
        tracking_table=DEMO_TRACKING,
        progress_table=DEMO_PROGRESS,
    )
    before = app.look_at(watching, await app.read_fleet(watching), now=now)
    replanning = ReplanOptions(
        connection=connection,
        folder=options.folder,
        tracking_table=DEMO_TRACKING,
        instances=options.instances + ADDED_INSTANCES,
        progress_table=DEMO_PROGRESS,
        drop=tuple(DIES_AFTER_HOURS),  # its runner is gone: reclaim its customers
        now=now,
    )
    replan_view = await app.replan_held(replanning)
    problems = verify_plan(options.folder)
    if problems:
        raise DistroError(f"the demo's re-plan does not verify: {problems[0]}")
    after = app.look_at(watching, await app.read_fleet(watching), now=now)
    summary = app.summary_of(counted, generated.report, tracking_table=generated.tracking_table)
    return DemoOutcome(summary, replan_view, connection, before, after, watching)
