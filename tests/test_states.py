"""The state model of ``distro status`` (``docs/monitoring.md``) as a table of cases.

Each case is an instance whose records are items as the runner writes them (read through
the same strict readers ``status`` uses), measured at one moment. The states cannot
contradict: a finished instance lists no stalled space, a failed customer's hung space is
shown with its failure, work done before a move is never the new instance's own, and every
unknown finish says why.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from distro.tracking.records import SpaceRecord, TrackingRecord, read_customer, read_space
from distro.views.status import FleetStatus, Look, measure
from distro.written import PlannedInstance, WrittenPlan

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
STALL = timedelta(minutes=30)


def at(minutes_ago: float, now: datetime = NOW) -> str:
    return (now - timedelta(minutes=minutes_ago)).isoformat().replace("+00:00", "Z")


def customer_item(did: str, status: str, instance: str, now: datetime = NOW) -> dict[str, Any]:
    """A tracking record as distro puts it and the runner updates it (no progress until the
    customer ends)."""
    return {
        "customer": {"S": did},
        "status": {"S": status},
        "instanceId": {"S": instance},
        "totalUploads": {"N": "1000"},
        "completedUploads": {"N": "0"},
        "totalSpaces": {"N": "2"},
        "completedSpaces": {"N": "0"},
        "updatedAt": {"S": at(600, now)},
    }


def customer(did: str, status: str, instance: str) -> TrackingRecord:
    """The tracking record of ``customer_item``, read as status reads it."""
    record, problems = read_customer("customers", customer_item(did, status, instance))
    assert record is not None
    assert not problems
    return record


def space_item(
    did: str,
    name: str,
    status: str,
    instance: str,
    done: int,
    *,
    created: float,
    updated: float,
    now: datetime = NOW,
) -> dict[str, Any]:
    """A progress record as the runner writes it: completedUploads at a multiple of 10."""
    item: dict[str, Any] = {
        "customer": {"S": did},
        "space": {"S": name},
        "status": {"S": status},
        "totalUploads": {"N": "500"},
        "completedUploads": {"N": str(done - done % 10)},
        "instanceId": {"S": instance},
        "workerId": {"S": "1"},
        "lastProcessedUpload": {"S": f"bafy{name}"},
        "createdAt": {"S": at(created, now)},
        "updatedAt": {"S": at(updated, now)},
    }
    if status == "failed":
        item["error"] = {"S": '{"INDEX_MISSING":3}'}
    return item


def space(
    did: str, name: str, status: str, instance: str, done: int, *, created: float, updated: float
) -> SpaceRecord:
    """The progress record of ``space_item``, read as status reads it."""
    item = space_item(did, name, status, instance, done, created=created, updated=updated)
    record, problems = read_space("progress", item)
    assert record is not None
    assert not problems
    return record


CUSTOMER_ROWS = [
    ("did:mailto:x:a-done", "completed", "1"),
    ("did:mailto:x:b-failed", "failed", "1"),
    ("did:mailto:x:c-silent", "in-progress", "2"),
    ("did:mailto:x:d-waiting", "pending", "3"),
    ("did:mailto:x:e-busy", "in-progress", "4"),
    ("did:mailto:x:f-new", "in-progress", "5"),
    ("did:mailto:x:g-moved", "pending", "6"),  # a replan took it from dead instance 7
]
CUSTOMERS = [customer(*row) for row in CUSTOMER_ROWS]
# customer, space, status, instance, uploads done, minutes since created and since updated
SPACE_ROWS: list[tuple[str, str, str, str, int, float, float]] = [
    ("did:mailto:x:a-done", "a1", "completed", "1", 500, 300, 240),
    ("did:mailto:x:b-failed", "b1", "failed", "1", 500, 240, 200),
    # Left in progress when its customer failed: ended with the customer, never stalled.
    ("did:mailto:x:b-failed", "b2", "in-progress", "1", 40, 200, 120),
    ("did:mailto:x:c-silent", "c1", "in-progress", "2", 300, 240, 120),
    ("did:mailto:x:e-busy", "e1", "in-progress", "4", 270, 60, 1),
    ("did:mailto:x:f-new", "f1", "in-progress", "5", 0, 1, 1),
    ("did:mailto:x:g-moved", "g1", "completed", "7", 500, 400, 300),
    ("did:mailto:x:g-moved", "g2", "in-progress", "7", 120, 300, 200),
]
SPACES = [space(*row[:5], created=row[5], updated=row[6]) for row in SPACE_ROWS]
PLAN = WrittenPlan(
    tuple(
        PlannedInstance(n, tuple(c.customer for c in CUSTOMERS if c.instance_id == str(n)), 1000)
        for n in range(1, 8)
    ),
    workers_per_instance=10,
    uploads_per_minute=27.0,
)


@pytest.fixture(scope="module")
def status() -> FleetStatus:
    return measure(Look(CUSTOMERS, SPACES, PLAN), env="staging", now=NOW, stall_after=STALL)


# instance, state, its stalled spaces, uploads done before a move, why its finish is unknown
CASES = [
    ("1", "finished", [], 0, ""),
    ("2", "stalled", ["c1"], 0, "instance 2 is stalled: its runner stopped writing"),
    ("3", "not started", [], 0, "instance 3 has not started: no runner has written"),
    ("4", "running", [], 0, ""),
    ("5", "running", [], 0, "instance 5 has no measured rate yet"),
    ("6", "not started", [], 620, "instance 6 has not started"),
    ("7", "finished", [], 0, ""),
]


@pytest.mark.parametrize("case", CASES, ids=[f"instance {c[0]}: {c[1]}" for c in CASES])
def test_the_state_model(status: FleetStatus, case: tuple[str, str, list[str], int, str]) -> None:
    instance, state, stalled, before, unknown = case
    shown = {i.instance: i for i in status.instances}[instance]
    assert shown.state == state
    assert [s.space for s in status.stalled if s.instance == instance] == stalled
    assert shown.done_before_move == before
    assert shown.unknown_because.startswith(unknown)
    assert bool(shown.unknown_because) == (shown.predicted_finish is None and state != "finished")


def test_every_instance_the_records_name_is_shown(status: FleetStatus) -> None:
    assert [i.instance for i in status.instances] == [c[0] for c in CASES]


def test_a_failed_customers_hung_space_is_shown_with_its_failure_and_retry(
    status: FleetStatus,
) -> None:
    (failed,) = status.failed_customers
    assert failed.customer == "did:mailto:x:b-failed"
    assert failed.reasons == {"INDEX_MISSING": 3}
    assert [s.space for s in failed.hung] == ["b2"]
    assert failed.hung[0].minutes == pytest.approx(120)
    assert failed.retry == (
        "STORACHA_ENV=staging node src/migrate.js --customer did:mailto:x:b-failed --instance-id 1"
    )


def test_a_measured_instance_predicts_its_finish(status: FleetStatus) -> None:
    busy = {i.instance: i for i in status.instances}["4"]
    assert busy.rate_per_minute == pytest.approx(270 / 59)
    assert busy.predicted_finish == NOW - timedelta(minutes=1) + timedelta(
        minutes=(1000 - 270) / (270 / 59)
    )


def test_the_fleets_unknown_finish_names_every_cause(status: FleetStatus) -> None:
    assert status.fleet.predicted_finish is None
    assert status.fleet.unknown_because == (
        "instance 2 stalled: restart their runners, or replan (see the advice); "
        "instance 3, 6 not started: start their runners, then look again; "
        "instance 5 not measured yet (a runner records every 10 uploads): look again soon"
    )


def test_the_history_keeps_the_latest_look_of_each_minute() -> None:
    from distro.views.status import Snapshot  # noqa: PLC0415 - the record under test

    def kept(seconds_ago: float, done: int) -> Snapshot:
        return Snapshot(NOW - timedelta(seconds=seconds_ago), {"4": (done, NOW)})

    # Three looks in the minute before NOW (as the demo's status, --json and --check make).
    looks = [kept(130, 100), kept(50, 200), kept(40, 210), kept(30, 220)]
    status = measure(
        Look(CUSTOMERS, SPACES, PLAN), env="staging", now=NOW, stall_after=STALL, snapshots=looks
    )
    done = status.fleet.uploads_done
    assert status.history == (
        (NOW - timedelta(seconds=130), 100),
        (NOW - timedelta(seconds=30), 220),
        (NOW, done),
    )
    alone = measure(Look(CUSTOMERS, SPACES, PLAN), env="staging", now=NOW, stall_after=STALL)
    assert alone.history == ((NOW, done),)


def test_one_moment_draws_no_chart_of_uploads_left_but_says_to_look_again() -> None:
    from distro.render.html import status_page  # noqa: PLC0415 - the page under test

    alone = measure(Look(CUSTOMERS, SPACES, PLAN), env="staging", now=NOW, stall_after=STALL)
    page = status_page(alone, []).decode()
    assert "the chart needs two moments at least a minute apart. Look again later" in page


def test_no_renderer_retypes_a_states_name() -> None:
    """States are ``State`` members: a renderer compares with them, never with their text."""
    import re  # noqa: PLC0415 - this test alone reads source
    from pathlib import Path  # noqa: PLC0415

    from distro.views.status import State  # noqa: PLC0415

    package = Path(__file__).resolve().parent.parent / "distro"
    names = "|".join(re.escape(s.value) for s in State)
    # A comparison with a state's text, or a table keyed by it (``{"stalled": "red"}``); a
    # JSON key that happens to be a state's word (``"stalled": [...]``) is no state.
    retyped = re.compile(
        rf"""(==|!=|\bin\b)\s*\(?["'](?:{names})["']|["'](?:{names})["']\s*:\s*["']"""
    )
    found = [
        f"{path.relative_to(package)}:{n}"
        for path in sorted([*package.glob("render/*.py"), *package.glob("views/*.py")])
        for n, line in enumerate(path.read_text().splitlines(), start=1)
        if retyped.search(line)
    ]
    assert found == []


# --- the same table, stored in DynamoDB Local and read back by distro status --------------------


async def _store(endpoint: str, now: datetime) -> dict[str, str]:
    """The cases' items, as the runner and distro write them, in fresh runner tables."""
    import uuid  # noqa: PLC0415 - the stored cases alone

    from distro.dynamo.batch import batch_requests, batch_write  # noqa: PLC0415
    from distro.dynamo.handle import Dynamo  # noqa: PLC0415
    from distro.local.dynamodb import LOCAL_CREDENTIALS, LOCAL_REGION  # noqa: PLC0415
    from distro.local.fleet import create_fleet_tables  # noqa: PLC0415
    from distro.settings import Tables  # noqa: PLC0415

    names = {k: f"states-{k}-{uuid.uuid4().hex[:8]}" for k in ("customers", "progress")}
    tables = Tables("unused-c", "unused-u", LOCAL_REGION, endpoint)
    puts = [(names["customers"], customer_item(*row, now=now)) for row in CUSTOMER_ROWS]
    puts += [
        (names["progress"], space_item(*r[:5], created=r[5], updated=r[6], now=now))
        for r in SPACE_ROWS
    ]
    async with Dynamo.open(tables, pool_size=2, credentials=LOCAL_CREDENTIALS) as db:
        await create_fleet_tables(
            db, customers_table=names["customers"], progress_table=names["progress"]
        )
        await batch_write(
            lambda request: db.client.batch_write_item(RequestItems=request),
            batch_requests(puts),
            what="BatchWriteItem",
        )
    return names


@pytest.mark.db
def test_the_state_model_played_through_dynamodb_local_and_the_cli(
    dynamo: Any, tmp_path: Path
) -> None:
    import asyncio  # noqa: PLC0415 - the stored cases alone

    import orjson  # noqa: PLC0415
    from helpers import invoke  # noqa: PLC0415

    from distro.balance import InstancePlan, Plan  # noqa: PLC0415
    from distro.emit import PlanParameters, write_plan  # noqa: PLC0415
    from distro.files import PlanFolder  # noqa: PLC0415
    from distro.local.dynamodb import local_client_env  # noqa: PLC0415
    from distro.settings import CountSettings, Tables, Throughput  # noqa: PLC0415
    from distro.tally import CustomerLoad  # noqa: PLC0415

    now = datetime.now(UTC)
    names = asyncio.run(_store(dynamo.endpoint_url, now))
    held = [
        InstancePlan(n, tuple(CustomerLoad(c, 1000, 2) for c, _, i in CUSTOMER_ROWS if i == str(n)))
        for n in range(1, 8)
    ]
    plan = Plan(tuple(held), 7000, held[0].customers[0])
    parameters = PlanParameters(CountSettings(Tables("c", "u", "us-east-2")), Throughput(), False)
    write_plan(PlanFolder(tmp_path), plan, created_at=at(600, now), parameters=parameters)
    result = invoke(
        "status", "--json", "--endpoint-url", dynamo.endpoint_url, "--output-dir", tmp_path,
        "--assignments-table", names["customers"], "--progress-table", names["progress"],
        env=local_client_env(),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    document = orjson.loads(result.stdout)
    shown = {i["instance"]: i for i in document["instances"]}
    assert list(shown) == [case[0] for case in CASES]
    for instance, state, stalled, before, unknown in CASES:
        assert shown[instance]["state"] == state, instance
        assert [s["space"] for s in document["stalled"] if s["instance"] == instance] == stalled
        assert shown[instance]["uploads"]["doneBeforeMove"] == before, instance
        assert (shown[instance]["predictedFinishUnknown"] or "").startswith(unknown), instance
    (failed,) = document["failures"]["customers"]
    assert [s["space"] for s in failed["hungSpaces"]] == ["b2"]
    assert document["disagreements"] == []
