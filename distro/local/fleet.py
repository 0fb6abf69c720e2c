"""A migration fleet that writes exactly what the runner writes, on a virtual clock.

Each ``Runner`` is one runner process (``migrate-instance.js --instance N``,
which runs ``migrate.js --customers-file``), replayed from the runner's code
(``docs/runner-contract.md``, "The order of its writes"): its customers in file order, one at
a time; per customer the spaces the Consumer table lists (two providers, two
rows: the space comes twice), one at a time; per space its uploads, one at a
time. It makes the runner's writes to the customer table and the progress
table with the same attributes, update expressions, conditions and order,
stamped with its own clock, quirks included: a customer record shows progress
only once the customer ends, a space record's ``completedUploads`` moves every
10 uploads and stays at its last multiple of 10, a restarted runner skips
completed spaces and starts an unfinished one again from its first upload.

A ``Fleet`` plays its runners up to a moment (``play``), lets one stop
(``Runner.stop_at``) or be replaced (``restart``), and knows its own truth:
the uploads each runner did, how many runners started each customer, and
when each would finish.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from distro.dynamo.handle import Dynamo
from distro.local.dataset import Dataset
from distro.settings import timestamp
from distro.tracking.table import PROGRESS_KEYS


@dataclass(frozen=True, slots=True)
class Work:
    """What the runners migrate: each customer's spaces as the Consumer table lists them
    (a space twice when two providers hold it), each space's upload roots, and the
    uploads that fail, with the runner's reason (``FAILURE_REASON``)."""

    spaces: Mapping[str, Sequence[str]]
    uploads: Mapping[str, Sequence[str]]
    failures: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, dataset: Dataset, customers: Iterable[str], *, failing: int = 0) -> Work:
        """The work of *customers* in *dataset*; *failing* of their uploads fail (seeded)."""
        wanted = set(customers)
        spaces: dict[str, list[str]] = {c: [] for c in wanted}
        for row in dataset.consumer_rows:
            if row.customer in wanted:
                spaces[row.customer].append(row.space)
        uploads = {
            space: [item["root"]["S"] for item in dataset.upload_items(space)]
            for listed in spaces.values()
            for space in listed
        }
        roots = sorted(root for listed in uploads.values() for root in listed)
        chosen = random.Random(dataset.seed).sample(roots, min(failing, len(roots)))
        reasons = random.Random(dataset.seed + 1)
        failures = {root: reasons.choice(SOME_REASONS) for root in chosen}
        return cls(spaces, uploads, failures)


# Reasons of the runner's FAILURE_REASON (src/lib/migration-utils.js) the demo's failures use.
SOME_REASONS = ("INDEX_MISSING", "LOCATION_CLAIM_FAILED", "GATEWAY_AUTH_FAILED")


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


class Runner:
    """One runner process: *instance*'s *customers*, one upload per *seconds_per_upload*.

    The runner's 100 ms pause between uploads is part of that time. It starts
    at *start*; ``stop_at`` makes it die at a moment, mid-upload if need be.
    """

    def __init__(
        self,
        fleet: Fleet,
        instance: int,
        customers: Sequence[str],
        *,
        seconds_per_upload: float,
        start: datetime,
    ) -> None:
        self.fleet = fleet
        self.instance = str(instance)
        self.customers = tuple(customers)
        self.seconds_per_upload = seconds_per_upload
        self.clock = start
        self.started = start
        self.stopped: datetime | None = None
        self.finished: datetime | None = None
        self.done = 0  # uploads processed, again ones a restart does again
        self.unrecorded = 0  # of them, those of the space under way since its last record
        self.ended_customers: list[str] = []  # completed or failed, in order
        self.failed_customers: list[str] = []
        self.failures: Counter[str] = Counter()  # by reason, in the spaces that ended
        self._work = self._run()
        self._next: float | None = None
        self._begun = False

    @property
    def recorded(self) -> int:
        """Uploads its records say it did: all but those since the last write of a space."""
        return self.done - self.unrecorded

    def stop_at(self, moment: datetime) -> None:
        """Die at *moment*: no write is made after it."""
        self.stopped = moment

    @property
    def planned_uploads(self) -> int:
        """The uploads of every space of its customers (each listed space once per row)."""
        work = self.fleet.work
        return sum(len(work.uploads[s]) for c in self.customers for s in work.spaces[c])

    async def play(self, until: datetime) -> None:
        """Run until *until* (or its death): every upload that ends by then, and its writes."""
        end = until if self.stopped is None else min(until, self.stopped)
        if not self._begun:
            if self.clock > end:
                return
            self._begun = True
            self._next = await self._step()
        while self._next is not None:
            ends = self.clock + timedelta(seconds=self._next)
            if ends > end:
                return
            self.clock = ends
            self._next = await self._step()
        if self.finished is None:
            self.finished = self.clock

    async def _step(self) -> float | None:
        try:
            return await anext(self._work)
        except StopAsyncIteration:
            return None

    # --- the runner's loop (migrate.js, the --customers-file branch) --------------------------

    async def _run(self) -> AsyncIterator[float]:
        """The runner's loop; it yields each upload's seconds before the upload counts."""
        for customer in self.customers:
            record = await self._get(self.fleet.customers_table, {"customer": _s(customer)})
            if record is not None and record.get("status", {}).get("S") == "completed":
                continue
            spaces = self.fleet.work.spaces[customer]
            await self._mark_customer_in_progress(customer, len(spaces))
            self.fleet.starts[customer] += 1
            ended = _Ended()
            for space in spaces:
                async for seconds in self._space(customer, space, ended):
                    yield seconds
            await self._update_customer_progress(customer, ended.spaces, ended.uploads)
            self.ended_customers.append(customer)
            if ended.failures:
                self.failed_customers.append(customer)
                await self._mark_customer_failed(customer, _summary(ended.failures))
            else:
                await self._mark_customer_completed(customer)

    async def _space(self, customer: str, space: str, ended: _Ended) -> AsyncIterator[float]:
        """One space of *customer*: skipped when completed, else every upload from the first."""
        key = {"customer": _s(customer), "space": _s(space)}
        progress = await self._get(self.fleet.progress_table, key)
        if progress is not None and progress["status"]["S"] == "completed":
            ended.spaces += 1
            ended.uploads += int(progress.get("completedUploads", {}).get("N", "0"))
            return
        roots = self.fleet.work.uploads[space]
        total = int(progress["totalUploads"]["N"]) if progress else len(roots)
        if progress is None:
            await self._create_space_progress(customer, space, total)
        processed = 0
        failed: Counter[str] = Counter()
        for root in roots:
            yield self.seconds_per_upload  # the upload's work, and the 100 ms pause
            processed += 1
            self.done += 1
            self.unrecorded = processed % 10
            reason = self.fleet.work.failures.get(root)
            if reason is not None:
                failed[reason] += 1
                ended.failures[reason] += 1
            if processed % 10 == 0:
                await self._update_space_progress(customer, space, min(processed, total), root)
        self.unrecorded = 0
        self.failures.update(failed)
        if failed:
            await self._mark_space_failed(customer, space, _summary(failed))
        else:
            await self._mark_space_completed(customer, space)
            ended.spaces += 1
        ended.uploads += processed

    # --- the runner's writes, as its table modules make them ---------------------------------

    @property
    def _now(self) -> str:
        return timestamp(self.clock)

    async def _get(self, table: str, key: Mapping[str, Any]) -> dict[str, Any] | None:
        reply = await self.fleet.db.client.get_item(TableName=table, Key=dict(key))
        item: dict[str, Any] | None = reply.get("Item")
        return item

    async def _update(self, table: str, key: Mapping[str, Any], **update: Any) -> None:
        await self.fleet.db.client.update_item(TableName=table, Key=dict(key), **update)

    async def _mark_customer_in_progress(self, customer: str, total_spaces: int) -> None:
        # markCustomerInProgress(customerDID, { totalSpaces }): totalUploads is not passed.
        await self._update(
            self.fleet.customers_table,
            {"customer": _s(customer)},
            UpdateExpression=MARK_CUSTOMER_IN_PROGRESS,
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":status": _s("in-progress"),
                ":now": _s(self._now),
                ":totalSpaces": _n(total_spaces),
                ":totalUploads": _n(0),
                ":zero": _n(0),
            },
        )

    async def _create_space_progress(self, customer: str, space: str, total: int) -> None:
        now = self._now
        try:
            await self.fleet.db.client.put_item(
                TableName=self.fleet.progress_table,
                Item={
                    "customer": _s(customer),
                    "space": _s(space),
                    "status": _s("in-progress"),
                    "totalUploads": _n(total),
                    "completedUploads": _n(0),
                    "instanceId": _s(self.instance),
                    "workerId": _s("1"),  # migrate-instance.js passes no --worker-id
                    "createdAt": _s(now),
                    "updatedAt": _s(now),
                },
                ConditionExpression="attribute_not_exists(customer)",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise

    async def _update_space_progress(
        self, customer: str, space: str, completed: int, root: str
    ) -> None:
        await self._update(
            self.fleet.progress_table,
            {"customer": _s(customer), "space": _s(space)},
            UpdateExpression=(
                "SET completedUploads = :completed, lastProcessedUpload = :lastUpload, "
                "updatedAt = :now"
            ),
            ExpressionAttributeValues={
                ":completed": _n(completed),
                ":now": _s(self._now),
                ":lastUpload": _s(root),
            },
        )

    async def _mark_space_completed(self, customer: str, space: str) -> None:
        await self._update(
            self.fleet.progress_table,
            {"customer": _s(customer), "space": _s(space)},
            UpdateExpression="SET #status = :status, updatedAt = :now, #error = :empty",
            ExpressionAttributeNames={"#status": "status", "#error": "error"},
            ExpressionAttributeValues={
                ":status": _s("completed"),
                ":now": _s(self._now),
                ":empty": _s(""),
            },
        )

    async def _mark_space_failed(self, customer: str, space: str, error: str) -> None:
        await self._update(
            self.fleet.progress_table,
            {"customer": _s(customer), "space": _s(space)},
            UpdateExpression="SET #status = :status, #error = :error, updatedAt = :now",
            ExpressionAttributeNames={"#status": "status", "#error": "error"},
            ExpressionAttributeValues={
                ":status": _s("failed"),
                ":error": _s(error),
                ":now": _s(self._now),
            },
        )

    async def _update_customer_progress(self, customer: str, spaces: int, uploads: int) -> None:
        await self._update(
            self.fleet.customers_table,
            {"customer": _s(customer)},
            UpdateExpression=(
                "SET completedSpaces = :spaces, completedUploads = :uploads, updatedAt = :now"
            ),
            ExpressionAttributeValues={
                ":spaces": _n(spaces),
                ":uploads": _n(uploads),
                ":now": _s(self._now),
            },
        )

    async def _mark_customer_completed(self, customer: str) -> None:
        now = self._now
        await self._update(
            self.fleet.customers_table,
            {"customer": _s(customer)},
            UpdateExpression=(
                "SET #status = :status, updatedAt = :now, completedAt = :now, #error = :empty"
            ),
            ExpressionAttributeNames={"#status": "status", "#error": "error"},
            ExpressionAttributeValues={
                ":status": _s("completed"),
                ":now": _s(now),
                ":empty": _s(""),
            },
        )

    async def _mark_customer_failed(self, customer: str, error: str) -> None:
        await self._update(
            self.fleet.customers_table,
            {"customer": _s(customer)},
            UpdateExpression="SET #status = :status, #error = :error, updatedAt = :now",
            ExpressionAttributeNames={"#status": "status", "#error": "error"},
            ExpressionAttributeValues={
                ":status": _s("failed"),
                ":error": _s(error),
                ":now": _s(self._now),
            },
        )


# The runner's own text, whitespace and all (src/lib/tables/migration-customers-table.js).
MARK_CUSTOMER_IN_PROGRESS = (
    "SET #status = :status, updatedAt = :now, \n"
    "      assignedAt = if_not_exists(assignedAt, :now),\n"
    "      totalSpaces = if_not_exists(totalSpaces, :totalSpaces),\n"
    "      completedSpaces = if_not_exists(completedSpaces, :zero),\n"
    "      totalUploads = if_not_exists(totalUploads, :totalUploads),\n"
    "      completedUploads = if_not_exists(completedUploads, :zero)"
)


@dataclass(slots=True)
class _Ended:
    """What a customer's end writes: its spaces and uploads done, its failures by reason."""

    spaces: int = 0
    uploads: int = 0
    failures: Counter[str] = field(default_factory=Counter)


def _summary(reasons: Counter[str]) -> str:
    """``JSON.stringify`` of the runner's failure summary: reasons in first-seen order."""
    return json.dumps(dict(reasons), separators=(",", ":"))


class Fleet:
    """Runner processes writing to *customers_table* and *progress_table* through *db*."""

    def __init__(
        self, db: Dynamo, work: Work, *, customers_table: str, progress_table: str
    ) -> None:
        self.db = db
        self.work = work
        self.customers_table = customers_table
        self.progress_table = progress_table
        self.runners: dict[int, Runner] = {}
        self.starts: Counter[str] = Counter()  # runner processes that started each customer

    def start(
        self,
        instance: int,
        customers: Sequence[str],
        *,
        seconds_per_upload: float,
        at: datetime,
    ) -> Runner:
        """Start (or restart) *instance*'s runner on *customers* at *at*."""
        runner = Runner(self, instance, customers, seconds_per_upload=seconds_per_upload, start=at)
        self.runners[instance] = runner
        return runner

    async def play(self, until: datetime) -> None:
        """Play every runner up to *until*, all at once, as the fleet's machines run."""
        await asyncio.gather(*(runner.play(until) for runner in self.runners.values()))


async def create_fleet_tables(db: Dynamo, *, customers_table: str, progress_table: str) -> None:
    """The runner's two tables, with its key schemas and the progress table's ``status-index``."""
    client = db.client
    await client.create_table(
        TableName=customers_table,
        AttributeDefinitions=[{"AttributeName": "customer", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "customer", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    await client.create_table(
        TableName=progress_table,
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": "S"}
            for name in ("customer", "space", "status", "updatedAt")
        ],
        KeySchema=[{"AttributeName": k, "KeyType": t} for k, t in PROGRESS_KEYS.items()],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "status-index",
                "KeySchema": [
                    {"AttributeName": "status", "KeyType": "HASH"},
                    {"AttributeName": "updatedAt", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
