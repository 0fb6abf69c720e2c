"""`distro generate` through the fault proxy: every failure DynamoDB produces, and exact files.

Each test runs the real entry point in a subprocess against DynamoDB Local, with
the fault proxy in between. The Consumer table here is the session dataset's
rows padded to ~40 KB each, so a Scan takes many 1 MB pages and the faults that
only apply to a Scan continuation (an empty page with a LastEvaluatedKey) have
continuations to hit. The retry waits are set to zero (``DISTRO_RETRY_BASE``)
so no test sleeps for real. The helpers here are shared with test_crash.py.
"""

from __future__ import annotations

import asyncio
import collections
import json
import re
import subprocess
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from faultproxy import ERROR_PREFIX, JSON_TYPE, TARGET_PREFIX, THROTTLE_CODES, FaultProxy, Faults
from helpers import (
    CHECKPOINT_NAME,
    LOCK_NAME,
    assert_exact_plan,
    assert_one_line_error,
    finish,
    invoke,
    read_plan,
    run,
    start,
    wait_until,
    without_created_at,
)

from distro.checkpoint import Checkpoint
from distro.dynamo.handle import dynamodb_client
from distro.files import PlanFolder
from distro.local.dataset import Dataset
from distro.local.dynamodb import LocalDynamo
from distro.settings import CountSettings, CustomerFilter, Tables

pytestmark = pytest.mark.db

PADDED_CONSUMER = "faults-consumer"
PADDING = 40_000  # bytes per Consumer row: ~25 rows fill a 1 MB Scan page
INSTANCES = 5
# No real sleeping between attempts.
FAST_RETRIES = {"DISTRO_RETRY_BASE": "0"}
# One attempt's deadline where a test holds calls past it: far above the slowest healthy page
# (a 1 MB Scan page of DynamoDB Local on a loaded 2-core machine takes well under a second), so
# only an injected delay ever misses it, and each miss costs exactly one more call.
CALL_TIMEOUT = 3.0

# --- running distro -----------------------------------------------------------------------


def generate_args(tables: Tables, endpoint: str, output_dir: Path, *more: str) -> list[str]:
    return [
        "generate",
        "--instances",
        str(INSTANCES),
        "--endpoint-url",
        endpoint,
        "--consumer-table",
        tables.consumer,
        "--upload-table",
        tables.upload,
        "--output-dir",
        str(output_dir),
        "--quiet",
        *more,
    ]


# --- what a correct result looks like -----------------------------------------------------


def assert_only_instance_files(directory: Path, instances: int) -> None:
    """The finished state: the instance files and their manifest, and nothing else.

    The folder's lock file stays: it is never unlinked (see ``files.output_lock``).
    No checkpoint, journal or staged file, and no temp file of a killed atomic
    write (``.<name>.tmp-<pid>``): recovery removes those.
    """
    names = [p.name for p in directory.iterdir() if p.name != LOCK_NAME]
    assert sorted(names) == sorted(
        [
            "distribution-staging.json",
            *(f"instance-{n}-customers-staging.json" for n in range(1, instances + 1)),
        ]
    )


def checkpoint_settings(tables: Tables, include: tuple[str, ...] = ()) -> CountSettings:
    """Settings whose fingerprint is the one the CLI writes for these tables and filters."""
    return CountSettings(tables=tables, customer_filter=CustomerFilter(include=include))


def saved_counts(directory: Path, tables: Tables) -> dict[str, int]:
    """The counts in *directory*'s checkpoint ({} if none); raises if it cannot be read."""
    if not (directory / CHECKPOINT_NAME).exists():
        return {}
    journal = (directory / CHECKPOINT_NAME).read_bytes().splitlines()
    # Runs go through a proxy whose URL is in the fingerprint; the tables are these.
    endpoint = json.loads(journal[0])["fingerprint"]["endpoint"]
    at_endpoint = Tables(tables.consumer, tables.upload, tables.region, endpoint)
    # Opening refuses a damaged or mismatched journal, and cuts off a torn last line.
    Checkpoint.open(PlanFolder(directory), checkpoint_settings(at_endpoint), restart=False)
    counts: dict[str, int] = {}
    for line in (directory / CHECKPOINT_NAME).read_bytes().splitlines()[1:]:
        counts.update(json.loads(line)["counts"])
    return counts


def assert_counts_exact(counts: Mapping[str, int], dataset: Dataset) -> None:
    wrong = {s: n for s, n in counts.items() if dataset.uploads.get(s) != n}
    assert not wrong, f"checkpointed counts differ from the dataset: {wrong}"


def report_spaces(stdout: str) -> tuple[int, int]:
    """The report's "Spaces counted now / from checkpoint" pair."""
    found = re.search(r"from checkpoint\s+([\d,]+)\s*/\s*([\d,]+)", stdout)
    assert found, stdout
    now, resumed = (int(g.replace(",", "")) for g in found.groups())
    return now, resumed


# --- the proxy, recording what it saw ------------------------------------------------------


def _query_space(body: bytes) -> str:
    request = json.loads(body)
    return str(request["ExpressionAttributeValues"][":space"]["S"])


class RecordingProxy(FaultProxy):
    """A FaultProxy that also notes each Scan and Query it receives and how each ended.

    ``queries`` lists the space of every Query received (retries included),
    ``finished`` holds the spaces whose last Query page was answered, and
    ``variants`` counts the throttling codes and 5xx statuses injected. A Query
    for ``refuse`` is answered with a ValidationException, which no client
    should retry.
    """

    def __init__(self, upstream: str, faults: Faults, *, refuse: str | None = None) -> None:
        super().__init__(upstream, faults)
        self.refuse = refuse
        self.queries: list[str] = []
        self.scans = 0
        self.finished: set[str] = set()
        self.variants: collections.Counter[str] = collections.Counter()
        self._seen = threading.Lock()

    def requests(self) -> int:
        with self._seen:
            return self.scans + len(self.queries)

    def finished_spaces(self) -> set[str]:
        with self._seen:
            return set(self.finished)

    def queried_since(self, start: int) -> list[str]:
        with self._seen:
            return self.queries[start:]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()  # aiohttp keeps the body, so the proxy reads it again
        operation = request.headers.get("X-Amz-Target", "").removeprefix(TARGET_PREFIX)
        if operation == "Query":
            space = _query_space(body)
            with self._seen:
                self.queries.append(space)
            if space == self.refuse:
                error = {
                    "__type": ERROR_PREFIX + "ValidationException",
                    "message": "One or more parameter values were invalid",
                }
                return web.Response(
                    status=400, body=json.dumps(error).encode(), content_type=JSON_TYPE
                )
        elif operation == "Scan":
            with self._seen:
                self.scans += 1
        return await super()._handle(request)

    async def _forward(self, request: web.Request, operation: str, body: bytes) -> web.Response:
        reply = await super()._forward(request, operation, body)
        if (
            operation == "Query"
            and reply.status == 200
            and isinstance(reply.body, bytes)
            and "LastEvaluatedKey" not in json.loads(reply.body)
        ):
            with self._seen:
                self.finished.add(_query_space(body))
        return reply

    def _detail(self, kind: str) -> Any:
        decision = super()._detail(kind)
        if decision.code:
            self.variants[decision.code] += 1
        if decision.status:
            self.variants[str(decision.status)] += 1
        return decision


# --- the padded Consumer table -------------------------------------------------------------

_PADDED: dict[str, Tables] = {}


def padded_tables(dynamo: LocalDynamo, loaded: tuple[Dataset, Tables]) -> Tables:
    """The session dataset's Consumer rows, each padded, in their own table (made once)."""
    dataset, tables = loaded
    made = _PADDED.get(dynamo.endpoint_url)
    if made is not None:
        return made
    padded = Tables(PADDED_CONSUMER, tables.upload, tables.region, dynamo.endpoint_url)

    async def create() -> None:
        async with dynamodb_client(padded, pool_size=4) as client:
            await client.create_table(
                TableName=padded.consumer,
                KeySchema=[
                    {"AttributeName": "subscription", "KeyType": "HASH"},
                    {"AttributeName": "provider", "KeyType": "RANGE"},
                ],
                AttributeDefinitions=[
                    {"AttributeName": "subscription", "AttributeType": "S"},
                    {"AttributeName": "provider", "AttributeType": "S"},
                ],
                BillingMode="PAY_PER_REQUEST",
            )
            items = [
                row.item() | {"padding": {"S": "x" * PADDING}} for row in dataset.consumer_rows
            ]
            for start in range(0, len(items), 25):
                batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
                requests: dict[str, Any] = {padded.consumer: batch}
                while requests:
                    reply = await client.batch_write_item(RequestItems=requests)
                    requests = reply.get("UnprocessedItems") or {}

    asyncio.run(create())
    _PADDED[dynamo.endpoint_url] = padded
    return padded


@pytest.fixture(scope="module")
def padded(dynamo: LocalDynamo, loaded: tuple[Dataset, Tables]) -> tuple[Dataset, Tables]:
    return loaded[0], padded_tables(dynamo, loaded)


@pytest.fixture(scope="module")
def reference(
    dynamo: LocalDynamo, padded: tuple[Dataset, Tables], tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[int, dict[str, Any]], int]:
    """An undisturbed run's files, and how many Scan and Query calls it took (through a proxy)."""
    _, tables = padded
    out = tmp_path_factory.mktemp("reference")
    with RecordingProxy(dynamo.endpoint_url, Faults()) as proxy:
        result = invoke(*generate_args(tables, proxy.url, out))  # files and calls, not a process
    assert result.returncode == 0, result.stderr
    assert proxy.scans >= 16, "the padded Consumer table should take many Scan pages"
    return read_plan(out), proxy.requests()


# --- the tests -------------------------------------------------------------------------------


def test_every_fault_on_scan_and_query_leaves_the_files_exact(
    dynamo: LocalDynamo,
    padded: tuple[Dataset, Tables],
    reference: tuple[dict[int, dict[str, Any]], int],
    tmp_path: Path,
) -> None:
    dataset, tables = padded
    reference_plan, baseline_requests = reference
    # A fifth of the calls fail one way or another: with retries that do not wait, a call
    # would need ten failures in a row to give up (about 1e-7 per call). An empty Scan page
    # is not a failure, only one more page, so it can be frequent. Delays are rare: each
    # costs its worker a whole CALL_TIMEOUT.
    faults = Faults(
        throttle=0.10,
        server_error=0.06,
        drop=0.05,
        delay=0.02,
        delay_seconds=CALL_TIMEOUT * 4,  # held well past the per-call deadline
        empty_scan_page=0.40,
        seed=3,
    )
    env = {**FAST_RETRIES, "DISTRO_CALL_TIMEOUT": str(CALL_TIMEOUT)}
    with RecordingProxy(dynamo.endpoint_url, faults) as proxy:
        result = run(*generate_args(tables, proxy.url, tmp_path), env=env)
        counts, variants, requests = dict(proxy.counts), dict(proxy.variants), proxy.requests()

    assert result.returncode == 0, result.stderr
    # No retry noise: stderr holds only what the run wrote (the report is on stdout).
    assert result.stderr == f"Wrote {INSTANCES} instance files to {tmp_path}/\n"
    plan = read_plan(tmp_path)
    assert_exact_plan(plan, dataset.truth(), INSTANCES)
    assert without_created_at(plan) == without_created_at(reference_plan)
    assert_only_instance_files(tmp_path, INSTANCES)
    now, resumed = report_spaces(result.stdout)
    assert (now, resumed) == (len(set(dataset.uploads) & _planned_spaces(dataset)), 0)

    # Every kind of fault, every throttling code and both 5xx statuses were injected ...
    for kind in ("throttle", "server_error", "drop", "delay", "empty_scan_page"):
        assert counts.get(kind, 0) > 0, (kind, counts)
    for variant in (*THROTTLE_CODES, "500", "503"):
        assert variants.get(variant, 0) > 0, (variant, variants)
    # ... and each one cost exactly one more call: a delayed call was abandoned at the
    # deadline and sent again (had it waited for the late reply, there would be fewer calls).
    # No healthy call missed its deadline: that would be one call more than injected.
    injected = sum(counts[k] for k in ("throttle", "server_error", "drop", "delay"))
    assert requests == baseline_requests + injected + counts["empty_scan_page"]


def _planned_spaces(dataset: Dataset) -> set[str]:
    planned = dataset.truth().uploads_by_customer.keys()
    return {row.space for row in dataset.consumer_rows if row.customer in planned}


def test_a_space_failing_after_every_retry_stops_the_run_and_keeps_the_counts(
    dynamo: LocalDynamo,
    padded: tuple[Dataset, Tables],
    reference: tuple[dict[int, dict[str, Any]], int],
    tmp_path: Path,
) -> None:
    dataset, tables = padded
    concurrency = 4
    args = generate_args(tables, "", tmp_path, "--concurrency", str(concurrency))
    # Slow the counting down so that the throttling surely starts in the middle of it.
    slow = Faults(delay=1.0, delay_seconds=0.01, operations=frozenset({"Query"}))
    with RecordingProxy(dynamo.endpoint_url, slow) as proxy:
        args[args.index("--endpoint-url") + 1] = proxy.url
        process = start(*args, env=FAST_RETRIES)
        assert wait_until(lambda: len(proxy.finished_spaces()) >= 100, process)
        proxy.faults = Faults(throttle=1.0, operations=frozenset({"Query"}))
        stdout, stderr = finish(process)
        finished = proxy.finished_spaces()
        result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
        assert_one_line_error(
            result, 1, "Query of", tables.upload, "kept failing after every retry"
        )
        assert any(code in stderr for code in THROTTLE_CODES), stderr
        assert not read_plan(tmp_path), "a failed run wrote instance files"

        # Everything counted before the failure is in the checkpoint, and only that: a space is
        # missing only if its reply was still on its way when the run stopped.
        saved = saved_counts(tmp_path, tables)
        assert_counts_exact(saved, dataset)
        assert set(saved) <= finished
        assert len(finished - set(saved)) <= concurrency
        assert len(saved) >= 100 - concurrency

        # The same command without faults resumes: nothing saved is queried again.
        proxy.faults = Faults()
        before = len(proxy.queries)
        again = run(*args, env=FAST_RETRIES)
        assert again.returncode == 0, again.stderr
        requeried = set(proxy.queried_since(before)) & set(saved)
    assert not requeried, f"{len(requeried)} checkpointed spaces were queried again"
    assert report_spaces(again.stdout)[1] == len(saved)
    plan = read_plan(tmp_path)
    assert_exact_plan(plan, dataset.truth(), INSTANCES)
    assert without_created_at(plan) == without_created_at(reference[0])
    assert_only_instance_files(tmp_path, INSTANCES)


def test_a_validation_error_is_not_retried(
    dynamo: LocalDynamo, padded: tuple[Dataset, Tables], tmp_path: Path
) -> None:
    dataset, tables = padded
    space = sorted(_planned_spaces(dataset))[0]
    with RecordingProxy(dynamo.endpoint_url, Faults(), refuse=space) as proxy:
        result = run(*generate_args(tables, proxy.url, tmp_path), env=FAST_RETRIES)
        asked = proxy.queries.count(space)
    assert_one_line_error(result, 1, "Query of", tables.upload, "ValidationException")
    assert asked == 1, f"the refused Query was sent {asked} times"
    assert not read_plan(tmp_path)
    assert_counts_exact(saved_counts(tmp_path, tables), dataset)


def test_throttled_scan_pages_alone_are_retried_until_the_scan_ends(
    dynamo: LocalDynamo,
    padded: tuple[Dataset, Tables],
    reference: tuple[dict[int, dict[str, Any]], int],
    tmp_path: Path,
) -> None:
    """Faults on Scan only, at a high rate, with a single segment: one long chain of pages."""
    dataset, tables = padded
    faults = Faults(
        throttle=0.2, drop=0.1, empty_scan_page=0.5, operations=frozenset({"Scan"}), seed=5
    )
    args = generate_args(tables, "", tmp_path, "--parallel-segments", "1")
    with RecordingProxy(dynamo.endpoint_url, faults) as proxy:
        args[args.index("--endpoint-url") + 1] = proxy.url
        result = run(*args, env=FAST_RETRIES)
        counts = dict(proxy.counts)
    assert result.returncode == 0, result.stderr
    assert counts["empty_scan_page"] >= 5, counts
    assert counts["throttle"] > 0, counts
    plan = read_plan(tmp_path)
    assert_exact_plan(plan, dataset.truth(), INSTANCES)
    assert without_created_at(plan) == without_created_at(reference[0])
