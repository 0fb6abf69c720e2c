"""The state model of ``distro status`` (``docs/monitoring.md``) as a table of cases.

Each case is an instance whose records are items as the runner writes them (read through
the same strict readers ``status`` uses), measured at one moment. The states cannot
contradict: a finished instance lists no stalled space, a failed customer's hung space is
shown with its failure, work done before a move is never the new instance's own, and every
unknown finish says why.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from distro.tracking.records import SpaceRecord, TrackingRecord, read_customer, read_space
from distro.views.status import FleetStatus, Look, measure
from distro.written import PlannedInstance, WrittenPlan

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
STALL = timedelta(minutes=30)


def at(minutes_ago: float) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).isoformat().replace("+00:00", "Z")


def customer(did: str, status: str, instance: str) -> TrackingRecord:
    """A tracking record as distro puts it and the runner updates it (no progress until the
    customer ends)."""
    item: dict[str, Any] = {
        "customer": {"S": did},
        "status": {"S": status},
        "instanceId": {"S": instance},
        "totalUploads": {"N": "1000"},
        "completedUploads": {"N": "0"},
        "totalSpaces": {"N": "2"},
        "completedSpaces": {"N": "0"},
        "updatedAt": {"S": at(600)},
    }
    record, problems = read_customer("customers", item)
    assert record is not None
    assert not problems
    return record


def space(
    did: str, name: str, status: str, instance: str, done: int, *, created: float, updated: float
) -> SpaceRecord:
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
        "createdAt": {"S": at(created)},
        "updatedAt": {"S": at(updated)},
    }
    if status == "failed":
        item["error"] = {"S": '{"INDEX_MISSING":3}'}
    record, problems = read_space("progress", item)
    assert record is not None
    assert not problems
    return record


CUSTOMERS = [
    customer("did:mailto:x:a-done", "completed", "1"),
    customer("did:mailto:x:b-failed", "failed", "1"),
    customer("did:mailto:x:c-silent", "in-progress", "2"),
    customer("did:mailto:x:d-waiting", "pending", "3"),
    customer("did:mailto:x:e-busy", "in-progress", "4"),
    customer("did:mailto:x:f-new", "in-progress", "5"),
    customer("did:mailto:x:g-moved", "pending", "6"),  # a replan took it from dead instance 7
]
SPACES = [
    space("did:mailto:x:a-done", "a1", "completed", "1", 500, created=300, updated=240),
    space("did:mailto:x:b-failed", "b1", "failed", "1", 500, created=240, updated=200),
    # Left in progress when its customer failed: ended with the customer, never stalled.
    space("did:mailto:x:b-failed", "b2", "in-progress", "1", 40, created=200, updated=120),
    space("did:mailto:x:c-silent", "c1", "in-progress", "2", 300, created=240, updated=120),
    space("did:mailto:x:e-busy", "e1", "in-progress", "4", 270, created=60, updated=1),
    space("did:mailto:x:f-new", "f1", "in-progress", "5", 0, created=1, updated=1),
    space("did:mailto:x:g-moved", "g1", "completed", "7", 500, created=400, updated=300),
    space("did:mailto:x:g-moved", "g2", "in-progress", "7", 120, created=300, updated=200),
]
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
