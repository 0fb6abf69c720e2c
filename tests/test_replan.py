"""distro replan: started customers stay, finished ones leave, the rest are balanced."""

from __future__ import annotations

import asyncio
import shlex
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from botocore.exceptions import ClientError
from helpers import files_of, invoke, local_client, read_plan
from test_tracking_table import ANY_TABLES, delete_table, scan_all

from distro.balance import InstancePlan, Plan
from distro.dynamo.handle import Dynamo
from distro.emit import PlanParameters, write_plan
from distro.errors import ReplanRefused
from distro.files import PlanFolder
from distro.flags import with_flags
from distro.local.dynamodb import LOCAL_CREDENTIALS, LOCAL_REGION, LocalDynamo
from distro.local.fleet import Fleet, Work, create_fleet_tables
from distro.options import Connection
from distro.render.steps import step_lines
from distro.replan import choose_speeds, replan
from distro.replan_run import run_replan
from distro.settings import CountSettings, RetryPolicy, Tables, Throughput
from distro.tally import CustomerLoad
from distro.tracking.records import Move, TrackingRecord
from distro.tracking.table import apply_moves, write_assignments
from distro.verify import verify_plan
from distro.views.steps import replan_steps

NO_RETRY_WAIT = RetryPolicy(base=0.0)


def record(customer: str, status: str, instance: str, total: int, done: int = 0) -> TrackingRecord:
    return TrackingRecord(customer, status, instance, total, done, 2, 0)


RECORDS = [
    record("did:mailto:a.org:a", "in-progress", "1", 100, 40),  # 60 left, pinned on 1
    record("did:mailto:a.org:b", "completed", "2", 500, 500),
    record("did:mailto:a.org:c", "pending", "2", 50),
    record("did:mailto:a.org:d", "pending", "1", 30),
    record("did:mailto:a.org:e", "failed", "2", 20),
]


def test_replan_pins_started_customers_and_balances_the_rest() -> None:
    # pinned [60, 0]; c 50 -> 2 [60, 50]; d 30 -> 2 [60, 80]; e 20 -> 1 [80, 80]
    result = replan(RECORDS, 2)
    assert [[c.customer[-1] for c in i.customers] for i in result.plan.instances] == [
        ["a", "e"],
        ["c", "d"],
    ]
    assert [i.uploads for i in result.plan.instances] == [80, 80]
    assert result.finished == ("did:mailto:a.org:b",)
    assert result.moves == (
        Move("did:mailto:a.org:d", "1", "2", "pending"),
        Move("did:mailto:a.org:e", "2", "1", "failed"),
    )
    assert result.before == {"1": 90, "2": 70}
    assert (result.makespan_before, result.makespan_after, result.lower_bound) == (90, 80, 80)


def test_more_instances_take_the_pending_customers_only() -> None:
    result = replan(RECORDS, 4)
    assert [[c.customer[-1] for c in i.customers] for i in result.plan.instances] == [
        ["a"],
        ["c"],
        ["d"],
        ["e"],
    ]
    assert result.makespan_after == result.lower_bound == 60  # the pinned load alone


def test_fewer_instances_than_hold_started_customers_is_refused() -> None:
    records = [*RECORDS, record("did:mailto:a.org:f", "in-progress", "3", 10)]
    with pytest.raises(ReplanRefused) as refused:
        replan(records, 2)
    # The CLI names the flag (with_flags); the stage names the setting.
    assert with_flags(refused.value) == (
        "--instances 2 is fewer than the instances holding in-progress customers: instance 3 "
        "has 1 in progress, so 3 or more are needed"
    )


@pytest.mark.parametrize(
    ("instance", "says"),
    [
        (
            "",
            "its tracking record has no instanceId, so distro cannot tell which instance runs "
            "it: set instanceId to that instance's number, then replan",
        ),
        (
            "2,5",
            "it is split across instances 2,5, whose spaces the tracking records do not list: "
            "let it finish, then replan",
        ),
        (
            "two",
            "its tracking record's instanceId 'two' is not an instance number: set it to the "
            "number of the instance that runs it, then replan",
        ),
    ],
)
def test_an_in_progress_record_that_names_no_one_instance_is_refused(
    instance: str, says: str
) -> None:
    records = [*RECORDS, record("did:mailto:a.org:f", "in-progress", instance, 10)]
    with pytest.raises(ReplanRefused) as refused:
        replan(records, 3)
    assert str(refused.value) == f"did:mailto:a.org:f is in progress, but {says}"


# --- DynamoDB Local -------------------------------------------------------------------


@pytest.fixture
def tracking(dynamo: LocalDynamo) -> Iterator[str]:
    name = f"tracking-{uuid.uuid4().hex[:8]}"
    asyncio.run(runner_tables(dynamo.endpoint_url, name))  # and its progress table, empty
    yield name
    asyncio.run(delete_table(dynamo.endpoint_url, name))
    asyncio.run(delete_table(dynamo.endpoint_url, progress(name)))


def progress(tracking: str) -> str:
    """The runner's progress table beside the *tracking* table of a test."""
    return f"{tracking}-progress"


async def runner_tables(endpoint: str, tracking: str) -> None:
    tables = Tables("unused-c", "unused-u", LOCAL_REGION, endpoint)
    async with Dynamo.open(tables, pool_size=2, credentials=LOCAL_CREDENTIALS) as db:
        await create_fleet_tables(db, customers_table=tracking, progress_table=progress(tracking))


def item(r: TrackingRecord) -> dict[str, Any]:
    return {
        "customer": {"S": r.customer},
        "status": {"S": r.status},
        "instanceId": {"S": r.instance_id},
        "totalUploads": {"N": str(r.total_uploads)},
        "completedUploads": {"N": str(r.completed_uploads)},
        "totalSpaces": {"N": str(r.total_spaces)},
        "completedSpaces": {"N": str(r.completed_spaces)},
    }


async def put_records(endpoint: str, table: str, records: Sequence[TrackingRecord]) -> None:
    async with local_client(endpoint) as client:
        for r in records:
            await client.put_item(TableName=table, Item=item(r))


def table_items(endpoint: str, table: str) -> dict[str, dict[str, Any]]:
    return {i["customer"]["S"]: i for i in asyncio.run(scan_all(endpoint, table))}


def many_records() -> list[TrackingRecord]:
    """40 customers over 3 instances: 4 completed, 5 in progress, 3 failed, the rest pending."""
    records = []
    for n in range(40):
        status = (
            "completed" if n < 4 else "in-progress" if n < 9 else "failed" if n < 12 else "pending"
        )
        done = 7 if status in ("in-progress", "failed") else 0
        records.append(
            record(f"did:mailto:b.org:c{n:02}", status, str(n % 3 + 1), 10 + 3 * n, done)
        )
    return records


@pytest.mark.db
def test_replan_through_the_cli_moves_only_records_not_started(
    dynamo: LocalDynamo, tracking: str, tmp_path: Path
) -> None:
    records = many_records()
    asyncio.run(put_records(dynamo.endpoint_url, tracking, records))
    before = table_items(dynamo.endpoint_url, tracking)
    expected = replan(records, 10)

    result = invoke(
        "replan", "--instances", "10", "--endpoint-url", dynamo.endpoint_url,
        "--assignments-table", tracking, "--progress-table", progress(tracking), "--output-dir", tmp_path, "--env", "production",
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    after = table_items(dynamo.endpoint_url, tracking)
    moved = {m.customer: m for m in expected.moves}
    assert moved
    for customer, old in before.items():
        if customer in moved:
            assert after[customer]["instanceId"] == {"S": moved[customer].target}
            assert {
                k: v
                for k, v in after[customer].items()
                if k not in ("instanceId", "assignedAt", "updatedAt")
            } == {k: v for k, v in old.items() if k != "instanceId"}
        else:
            assert after[customer] == old  # started, finished, or staying: untouched
    files = {
        n: orjson.loads((tmp_path / f"instance-{n}-customers-production.json").read_bytes())
        for n in range(1, 11)
    }
    listed = {c: n for n, doc in files.items() for c in doc["customers"]}
    assert set(listed) == {r.customer for r in records if r.status != "completed"}
    for customer, n in listed.items():
        assert after[customer]["instanceId"] == {"S": str(n)}  # files and records agree
    assert verify_plan(PlanFolder(tmp_path, "production")) == []
    assert f"Updated {len(moved)} tracking records in {tracking}" in result.stderr
    # The report ends with the steps that deploy the new files, production's, and re-plan again.
    assert "  STORACHA_ENV=production node src/migrate-instance.js --instance 10" in result.stdout
    assert result.stdout.splitlines()[-1] == (
        f"  distro replan --instances 10 --env production --output-dir {tmp_path} "
        f"--endpoint-url {dynamo.endpoint_url} --assignments-table {tracking} "
        f"--progress-table {progress(tracking)}"
    )
    assert "In progress, kept on their instance" in result.stdout
    before_line = f"{expected.makespan_before:,} uploads on instance"
    assert before_line in result.stdout
    assert len(expected.moves) == 28
    for move in expected.moves[:25]:
        assert move.customer in result.stdout
    assert expected.moves[25].customer not in result.stdout
    assert "... and 3 more moves (--json lists them all)" in result.stdout


@pytest.mark.db
def test_replan_refuses_fewer_instances_than_hold_started_customers(
    dynamo: LocalDynamo, tracking: str, tmp_path: Path
) -> None:
    asyncio.run(put_records(dynamo.endpoint_url, tracking, many_records()))
    result = invoke(
        "replan", "--instances", "2", "--endpoint-url", dynamo.endpoint_url,
        "--assignments-table", tracking, "--progress-table", progress(tracking), "--output-dir", tmp_path,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr == (
        "Error: --instances 2 is fewer than the instances holding in-progress customers: "
        "instance 3 has 2 in progress, so 3 or more are needed\n"
    )
    assert not list(tmp_path.glob("instance-*"))


@pytest.mark.db
def test_replan_of_a_table_with_nothing_left_names_the_flags_to_check(
    dynamo: LocalDynamo, tracking: str, tmp_path: Path
) -> None:
    done = [record(f"did:mailto:a.org:{n}", "completed", "1", 5, 5) for n in "xy"]
    asyncio.run(put_records(dynamo.endpoint_url, tracking, done))
    result = invoke(
        "replan", "--instances", "2", "--endpoint-url", dynamo.endpoint_url,
        "--assignments-table", tracking, "--progress-table", progress(tracking), "--output-dir", tmp_path,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr == (
        f"Error: {tracking} holds no customer to migrate (2 records, none pending, in progress "
        "or failed): check --env and --assignments-table\n"
    )
    assert not list(tmp_path.glob("instance-*"))


async def start(endpoint: str, table: str, customer: str) -> None:
    """The runner marks *customer* in-progress, as it would between distro's read and write."""
    async with local_client(endpoint) as client:
        await client.update_item(
            TableName=table,
            Key={"customer": {"S": customer}},
            UpdateExpression="SET #s = :s, completedUploads = :d",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":s": {"S": "in-progress"}, ":d": {"N": "1"}},
        )


@pytest.mark.db
def test_a_customer_started_during_the_replan_stays_where_it_is(
    dynamo: LocalDynamo, tracking: str, tmp_path: Path
) -> None:
    records = many_records()
    asyncio.run(put_records(dynamo.endpoint_url, tracking, records))
    first_moves = replan(records, 5).moves
    racer = first_moves[0]

    async def runner_starts(read: Sequence[TrackingRecord]) -> None:
        assert len(read) == 40
        await start(dynamo.endpoint_url, tracking, racer.customer)

    outcome = asyncio.run(
        run_replan(
            connection=replace(
                Connection.explicit(
                    "staging",
                    Tables("unused-consumer", "unused-upload", "us-east-2", dynamo.endpoint_url),
                    credentials=LOCAL_CREDENTIALS,
                ),
                policy=NO_RETRY_WAIT,
            ),
            table=tracking,
            progress_table=progress(tracking),
            instances=5,
            folder=PlanFolder(tmp_path),
            before_writes=runner_starts,
        )
    )

    assert [(r.customer, r.status, r.instance_id) for r in outcome.raced] == [
        (racer.customer, "in-progress", racer.source)
    ]
    after = table_items(dynamo.endpoint_url, tracking)
    assert after[racer.customer]["instanceId"] == {"S": racer.source}
    assert after[racer.customer]["status"] == {"S": "in-progress"}
    plan = read_plan(tmp_path)
    listed = {c: n for n, doc in plan.items() for c in doc["customers"]}
    assert listed[racer.customer] == int(racer.source)  # the files say it stays
    for customer, n in listed.items():
        assert after[customer]["instanceId"] == {"S": str(n)}
    assert verify_plan(PlanFolder(tmp_path)) == []


@pytest.mark.db
def test_replan_json_lists_every_move_and_the_critical_paths(
    dynamo: LocalDynamo, tracking: str, tmp_path: Path
) -> None:
    records = many_records()
    asyncio.run(put_records(dynamo.endpoint_url, tracking, records))
    expected = replan(records, 5)
    result = invoke(
        "replan", "--instances", "5", "--json", "--endpoint-url", dynamo.endpoint_url,
        "--assignments-table", tracking, "--progress-table", progress(tracking), "--output-dir", tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    document = orjson.loads(result.stdout)
    assert document["moves"] == [
        {"customer": m.customer, "from": m.source, "to": m.target, "status": m.status}
        for m in expected.moves
    ]
    assert document["criticalPath"]["before"]["uploads"] == expected.makespan_before
    assert document["criticalPath"]["after"]["uploads"] == expected.makespan_after
    assert (document["finishedCustomers"], document["pinnedCustomers"]) == (4, 5)
    assert document["recordsUpdated"] == len(expected.moves)
    assert document["startedMeanwhile"] == []
    steps = document["nextSteps"]
    assert [i["start"] for i in steps["instances"]] == [
        f"STORACHA_ENV=staging node src/migrate-instance.js --instance {n}" for n in range(1, 6)
    ]
    assert steps["verify"] == f"distro verify --output-dir {tmp_path} --env staging"
    assert result.stderr.splitlines() == [
        f"Wrote 5 instance files to {tmp_path}/",
        f"Updated {len(expected.moves)} tracking records in {tracking}",
    ]


class LostReply:
    """A real client whose first UpdateItem lands, but whose reply is lost (a 500)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls = 0

    async def update_item(self, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        reply: dict[str, Any] = await self._client.update_item(**kwargs)
        if self.calls == 1:
            error = {"Code": "InternalServerError", "Message": "reply lost"}
            raise ClientError({"Error": error}, "UpdateItem")
        return reply


@pytest.mark.db
def test_a_move_retried_after_a_lost_reply_is_not_a_race(
    dynamo: LocalDynamo, tracking: str
) -> None:
    pending = record("did:mailto:a.org:p", "pending", "1", 10)
    asyncio.run(put_records(dynamo.endpoint_url, tracking, [pending]))

    async def move() -> tuple[list[TrackingRecord], int]:
        async with local_client(dynamo.endpoint_url) as client:
            lossy = LostReply(client)
            moves = [Move(pending.customer, "1", "2", "pending")]
            db = Dynamo(lossy, ANY_TABLES, NO_RETRY_WAIT)
            changed = await apply_moves(db, tracking, moves, at="t")
            return changed, lossy.calls

    changed, calls = asyncio.run(move())
    assert (changed, calls) == ([], 2)  # the retry found its own write: not someone else's
    after = table_items(dynamo.endpoint_url, tracking)[pending.customer]
    assert (after["instanceId"], after["status"]) == ({"S": "2"}, {"S": "pending"})


# --- remaining work, from the space records -------------------------------------------------

WHALE = "did:mailto:whale.example:w"


async def play_whale(endpoint: str, tracking: str, folder: Path) -> Fleet:
    """A whale of 10 spaces x 100 uploads on instance 1, played to 90%; 8 small customers
    of 50 uploads on instance 2, whose runner has not started."""
    small = [f"did:mailto:small.example:s{n}" for n in range(8)]
    spaces = {WHALE: [f"did:key:w{k}" for k in range(10)]} | {c: [f"{c}/s"] for c in small}
    uploads = {
        s: [f"{s}-u{i}" for i in range(100 if c == WHALE else 50)]
        for c, ss in spaces.items()
        for s in ss
    }
    work = Work(spaces, uploads)
    loads = {
        c: CustomerLoad(c, sum(len(uploads[s]) for s in ss), len(ss)) for c, ss in spaces.items()
    }
    plan = Plan(
        instances=(
            InstancePlan(1, (loads[WHALE],)),
            InstancePlan(2, tuple(loads[c] for c in small)),
        ),
        total_uploads=sum(load.uploads for load in loads.values()),
        largest=loads[WHALE],
    )
    tables = Tables("unused-c", "unused-u", LOCAL_REGION, endpoint)
    parameters = PlanParameters(CountSettings(tables), Throughput(), False)
    write_plan(
        PlanFolder(folder), plan, created_at="2026-12-01T00:00:00.000Z", parameters=parameters
    )
    async with Dynamo.open(tables, pool_size=2, credentials=LOCAL_CREDENTIALS) as db:
        await write_assignments(db, tracking, plan, include=(), at="2026-12-01T00:00:00.000Z")
        fleet = Fleet(db, work, customers_table=tracking, progress_table=progress(tracking))
        start = datetime(2026, 12, 1, tzinfo=UTC)
        fleet.start(1, [WHALE], seconds_per_upload=6.0, at=start)
        await fleet.play(start + timedelta(seconds=6.0 * 900))  # 900 of its 1,000 uploads
    return fleet


@pytest.mark.db
def test_a_whale_90_percent_done_pins_only_what_is_left(
    dynamo: LocalDynamo, tracking: str, tmp_path: Path
) -> None:
    fleet = asyncio.run(play_whale(dynamo.endpoint_url, tracking, tmp_path))
    assert fleet.runners[1].done == 900
    record = table_items(dynamo.endpoint_url, tracking)[WHALE]
    assert (record["status"]["S"], record["completedUploads"]["N"]) == ("in-progress", "0")

    result = invoke(
        "replan", "--instances", "2", "--json", "--endpoint-url", dynamo.endpoint_url,
        "--assignments-table", tracking, "--progress-table", progress(tracking),
        "--output-dir", tmp_path,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    report = orjson.loads(result.stdout)
    # Its record says nothing is done; its space records say 900 are: 100 are left.
    assert report["corrected"] == {"customers": 1, "uploads": 900}
    assert report["pinnedCustomers"] == 1
    # Before: the small customers' 400 uploads on instance 2 are the longest, not the whale.
    assert report["criticalPath"]["before"]["uploads"] == 400
    plan = read_plan(tmp_path)
    assert WHALE in plan[1]["customers"]
    assert len(plan[1]["customers"]) > 1  # its instance takes other customers again
    assert plan[1]["estimatedUploads"] == 250  # 100 left of the whale, and 150 of the others
    assert plan[2]["estimatedUploads"] == 250
    # Both lists changed: both runners are to be restarted, and none is left alone.
    steps = report["nextSteps"]["instances"]
    assert [s["change"] for s in steps] == ["restart", "restart"]


def test_after_a_replan_the_steps_name_restarts_new_instances_and_the_rest() -> None:
    a, b, c = (CustomerLoad(f"did:mailto:x.org:{n}", 10, 1) for n in "abc")
    plan = Plan(
        instances=(InstancePlan(1, (a,)), InstancePlan(2, (b,)), InstancePlan(3, (c,))),
        total_uploads=30,
        largest=a,
    )
    previous = {1: (a.customer,), 2: (b.customer, c.customer)}
    connection = Connection.explicit("staging", Tables("c", "u", "us-east-2"))
    steps = replan_steps(
        plan, folder=PlanFolder(Path("plans")), connection=connection, previous=previous
    )
    assert [s.change for s in steps.instances] == ["unchanged", "restart", "start"]
    lines = step_lines(steps)
    assert "1. Copy the files whose list changed to their instances:" in lines
    assert not any("instance-1-customers" in line for line in lines)  # nothing to copy for 1
    assert "  STORACHA_ENV=staging node src/migrate-instance.js --instance 2" in lines
    assert "   Start the runner on each new instance:" in lines
    assert "   Leave instance 1: its list did not change, so leave its runner alone." in lines


@pytest.mark.db
def test_a_replan_that_cannot_help_moves_no_one_and_writes_nothing(
    dynamo: LocalDynamo, tracking: str, tmp_path: Path
) -> None:
    asyncio.run(put_records(dynamo.endpoint_url, tracking, many_records()))
    args = [
        "replan", "--instances", "4", "--endpoint-url", dynamo.endpoint_url,
        "--assignments-table", tracking, "--progress-table", progress(tracking),
        "--output-dir", tmp_path,
    ]  # fmt: skip
    first = invoke(*args)
    assert first.returncode == 0, first.stderr
    moved = table_items(dynamo.endpoint_url, tracking)
    written = files_of(tmp_path)
    # The printed replan command, run as printed, finds the plan as good as it gets.
    printed = first.stdout.splitlines()[-1].strip()
    assert printed.startswith("distro replan --instances 4")
    again = invoke(*shlex.split(printed)[1:])
    assert again.returncode == 0, again.stderr
    assert "No move makes the fleet finish sooner: no customer moved, nothing written." in (
        " ".join(again.stdout.split())
    )
    assert f"Nothing written: no record of {tracking} and no file changed" in again.stderr
    assert table_items(dynamo.endpoint_url, tracking) == moved
    assert files_of(tmp_path) == written
    document = orjson.loads(invoke(*shlex.split(printed)[1:], "--json").stdout)
    assert (document["nothingMoved"], document["moves"], document["files"]) == (True, [], [])


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (
            ["--drop-instance", "0"],
            "Error: --drop-instance 0 is not an instance number (1 or more)",
        ),
        (
            ["--drop-instance", "1", "--drop-instance", "2"],
            "Error: --drop-instance drops all 2 instances: keep at least one, or add instances "
            "with --instances",
        ),
        (["--speeds", "fastest"], "Invalid value for '--speeds'"),
        (["--new-instance-rate", "0"], "Invalid value for '--new-instance-rate'"),
    ],
)
def test_bad_replan_options_are_one_line_errors(given: list[str], message: str) -> None:
    result = invoke("replan", "--instances", "2", *given)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_measured_speeds_name_every_unmeasured_instance_and_where_its_rate_comes_from() -> None:
    rates = {1: 10.0, 2: 20.0, 4: 40.0}
    median = choose_speeds("measured", rates, {1, 2, 3, 4, 5}, assumed=270.0)
    assert median.of(3) == median.of(5) == 20.0
    assert median.note == (
        "measured speeds (uploads a minute); instance 3, 5 not measured yet, assumed at 20.0 "
        "(the median of 3 measured); any new instance at 20.0 (the median of 3 measured)"
    )
    given = choose_speeds("measured", rates, {1, 3}, assumed=270.0, new_rate=27.0)
    assert given.of(3) == 27.0
    assert "instance 3 not measured yet, assumed at 27.0 (--new-instance-rate)" in given.note


def test_equal_speeds_say_the_rate_they_plan_at() -> None:
    equal = choose_speeds(None, {1: 10.0}, {1, 2}, assumed=27.0)
    assert equal.note == (
        "equal speeds: 27.0 uploads a minute each (the rate options): no measured rate yet "
        "for instance 2 (--speeds measured)"
    )
    assert choose_speeds("equal", {}, {1}, assumed=270.0).note.startswith("equal speeds: 270.0")
