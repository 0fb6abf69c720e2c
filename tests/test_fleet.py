"""The local fleet writes what the runner's code writes, item for item, on its virtual clock.

Every expected item below is worked out from the runner's code (``docs/runner-contract.md``,
"Progress records"), not from the fleet's: its quirks are the point.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from distro.dynamo.handle import Dynamo
from distro.local.dynamodb import LOCAL_CREDENTIALS, LOCAL_REGION, LocalDynamo
from distro.local.fleet import Fleet, Work, create_fleet_tables
from distro.settings import Tables, timestamp

START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
SECONDS = 6.0  # per upload: 10 uploads a minute
ALICE, BOB = "did:mailto:a.org:alice", "did:mailto:b.org:bob"


def roots(space: str, n: int) -> list[str]:
    return [f"bafy-{space}-{i:03d}" for i in range(1, n + 1)]


WORK = Work(
    # s1 is listed twice for Alice: two providers hold it, so the Consumer table has two rows.
    spaces={ALICE: ["s1", "s2", "s1"], BOB: ["s3", "s4"]},
    uploads={"s1": roots("s1", 25), "s2": roots("s2", 3), "s3": roots("s3", 12), "s4": []},
    failures={"bafy-s3-005": "INDEX_MISSING", "bafy-s3-011": "GATEWAY_AUTH_FAILED"},
)


def at(uploads: float) -> str:
    return timestamp(START + timedelta(seconds=SECONDS * uploads))


@pytest.fixture
async def fleet(dynamo: LocalDynamo) -> AsyncIterator[Fleet]:
    tables = Tables("unused-c", "unused-u", LOCAL_REGION, dynamo.endpoint_url)
    names = {k: f"{k}-{uuid.uuid4().hex[:8]}" for k in ("customers", "progress")}
    async with Dynamo.open(tables, pool_size=4, credentials=LOCAL_CREDENTIALS) as db:
        await create_fleet_tables(
            db, customers_table=names["customers"], progress_table=names["progress"]
        )
        # What `generate --write-tracking` put before the runners started.
        for customer, instance, spaces, uploads in ((ALICE, "1", 2, 28), (BOB, "2", 2, 12)):
            await db.client.put_item(
                TableName=names["customers"],
                Item={
                    "customer": {"S": customer},
                    "status": {"S": "pending"},
                    "totalSpaces": {"N": str(spaces)},
                    "completedSpaces": {"N": "0"},
                    "totalUploads": {"N": str(uploads)},
                    "completedUploads": {"N": "0"},
                    "instanceId": {"S": instance},
                    "filter": {"NULL": True},
                    "assignedAt": {"S": "2026-11-30T00:00:00.000Z"},
                    "updatedAt": {"S": "2026-11-30T00:00:00.000Z"},
                },
            )
        yield Fleet(db, WORK, customers_table=names["customers"], progress_table=names["progress"])


async def items(fleet: Fleet, table: str) -> dict[str, dict[str, Any]]:
    reply = await fleet.db.client.scan(TableName=table, ConsistentRead=True)
    return {"/".join(i[k]["S"] for k in ("customer", "space") if k in i): i for i in reply["Items"]}


def plain(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v.get("S", v.get("N", v.get("NULL"))) for k, v in item.items()}


async def test_a_customer_record_shows_no_progress_until_the_customer_ends(fleet: Fleet) -> None:
    fleet.start(1, [ALICE], seconds_per_upload=SECONDS, at=START)
    await fleet.play(START + timedelta(seconds=SECONDS * 14.5))  # 14 uploads of s1 done

    customers = await items(fleet, fleet.customers_table)
    assert plain(customers[ALICE]) == {
        "customer": ALICE,
        "status": "in-progress",
        "totalSpaces": "2",  # the planner's: if_not_exists keeps it (the runner counts 3 rows)
        "completedSpaces": "0",
        "totalUploads": "28",
        "completedUploads": "0",  # no progress here until Alice ends
        "instanceId": "1",  # never changed by the runner
        "filter": True,
        "assignedAt": "2026-11-30T00:00:00.000Z",
        "updatedAt": at(0),
    }
    progress = await items(fleet, fleet.progress_table)
    assert list(progress) == [f"{ALICE}/s1"]
    assert plain(progress[f"{ALICE}/s1"]) == {
        "customer": ALICE,
        "space": "s1",
        "status": "in-progress",
        "totalUploads": "25",
        "completedUploads": "10",  # every 10 uploads: the 14th is not written yet
        "lastProcessedUpload": "bafy-s1-010",
        "instanceId": "1",
        "workerId": "1",
        "createdAt": at(0),
        "updatedAt": at(10),
    }


async def test_the_end_of_a_customer_as_the_runner_writes_it(fleet: Fleet) -> None:
    alice = fleet.start(1, [ALICE], seconds_per_upload=SECONDS, at=START)
    fleet.start(2, [BOB], seconds_per_upload=SECONDS, at=START)
    await fleet.play(START + timedelta(hours=1))

    progress = await items(fleet, fleet.progress_table)
    assert {k: plain(v)["completedUploads"] for k, v in progress.items()} == {
        f"{ALICE}/s1": "20",  # a completed space stays at its last multiple of 10
        f"{ALICE}/s2": "0",  # 3 uploads: never reached 10
        f"{BOB}/s3": "10",
        f"{BOB}/s4": "0",
    }
    assert plain(progress[f"{ALICE}/s1"])["status"] == "completed"
    assert plain(progress[f"{ALICE}/s1"])["error"] == ""
    assert plain(progress[f"{BOB}/s3"])["status"] == "failed"
    assert plain(progress[f"{BOB}/s3"])["error"] == '{"INDEX_MISSING":1,"GATEWAY_AUTH_FAILED":1}'

    customers = {k: plain(v) for k, v in (await items(fleet, fleet.customers_table)).items()}
    # The second row of s1 finds it completed: it counts again, with its stale 20.
    assert customers[ALICE] | {"assignedAt": None} == {
        "customer": ALICE,
        "status": "completed",
        "totalSpaces": "2",
        "completedSpaces": "3",
        "totalUploads": "28",
        "completedUploads": "48",  # 25 + 3, then 20 for the second row of s1
        "instanceId": "1",
        "filter": True,
        "assignedAt": None,
        "error": "",
        "updatedAt": at(28),
        "completedAt": at(28),
    }
    assert customers[BOB]["status"] == "failed"
    assert customers[BOB]["error"] == '{"INDEX_MISSING":1,"GATEWAY_AUTH_FAILED":1}'
    assert (customers[BOB]["completedSpaces"], customers[BOB]["completedUploads"]) == ("1", "12")
    assert alice.finished == START + timedelta(seconds=SECONDS * 28)
    assert (alice.done, fleet.runners[2].done) == (28, 12)
    assert fleet.starts == {ALICE: 1, BOB: 1}


async def test_a_restarted_runner_skips_completed_spaces_and_redoes_an_unfinished_one(
    fleet: Fleet,
) -> None:
    dying = fleet.start(1, [ALICE], seconds_per_upload=SECONDS, at=START)
    dying.stop_at(START + timedelta(seconds=SECONDS * 26.5))  # s1 done, 1 upload into s2
    await fleet.play(START + timedelta(hours=1))
    assert (dying.done, dying.finished) == (26, None)
    s2 = f"{ALICE}/s2"
    assert plain((await items(fleet, fleet.progress_table))[s2])["status"] == "in-progress"

    later = START + timedelta(hours=2)
    again = fleet.start(1, [ALICE], seconds_per_upload=SECONDS, at=later)
    await fleet.play(later + timedelta(hours=1))
    assert again.done == 3  # s1 skipped; s2 from its first upload again
    assert again.finished == later + timedelta(seconds=SECONDS * 3)
    assert fleet.starts[ALICE] == 2
    progress = await items(fleet, fleet.progress_table)
    assert plain(progress[s2])["createdAt"] == at(25)  # not created again
    assert plain(progress[s2])["status"] == "completed"
