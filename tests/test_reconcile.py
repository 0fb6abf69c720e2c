"""The plan folder against the runner's records: ``status`` shows the records' truth for every
started customer, names each disagreement in one line, and counts no stray customer as waiting.

The fleet is played by runners that write exactly what the migration runner writes; the
disagreeing folders are plans of the same customers written as ``generate`` writes them.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from fleets import Played, did, make_work, plan_of, play, write_hand_plan
from helpers import invoke

from distro.dynamo.handle import Dynamo
from distro.local.dynamodb import LOCAL_CREDENTIALS, LOCAL_REGION, LocalDynamo, local_client_env
from distro.settings import Tables

# The played plan's customers, rotated onto 3 instances: a fresh generate into another folder.
ROTATED = {
    1: [did(1), did(4), did(7), did(10)],
    2: [did(2), did(5), did(8), did(11)],
    3: [did(0), did(3), did(6), did(9), did(12)],
}
PLAYED_ON = {1: [0, 3, 6, 9], 2: [1, 4, 7, 10], 3: [2, 5, 8, 11], 4: [12]}


@pytest.fixture(scope="module")
def played(dynamo: LocalDynamo, tmp_path_factory: pytest.TempPathFactory) -> Played:
    now = datetime.now(UTC).replace(microsecond=0)
    return asyncio.run(play(dynamo.endpoint_url, tmp_path_factory.mktemp("plan"), now))


def look(played: Played, folder: Path) -> dict[str, Any]:
    args = played.args("--json")
    args[args.index(played.folder)] = folder
    result = invoke(*args, env=local_client_env())
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = orjson.loads(result.stdout)
    return document


def folder_of(played: Played, path: Path, assigned: dict[int, list[str]]) -> Path:
    work, _ = make_work()
    write_hand_plan(path, plan_of(work, assigned), Tables("c", "u", LOCAL_REGION, played.endpoint))
    return path


def started(played: Played) -> dict[str, int]:
    """The customers the fleet's runners have started, and the instance that started each."""
    begun: dict[str, int] = {}
    for n, runner in played.fleet.runners.items():
        reached = len(runner.ended_customers) + (0 if runner.finished else 1)
        begun |= {c: n for c in runner.customers[:reached]}
    return begun


@pytest.mark.db
def test_a_fresh_plan_elsewhere_shows_the_records_truth_and_says_how_it_disagrees(
    played: Played, tmp_path: Path
) -> None:
    right = look(played, played.folder)
    wrong = look(played, folder_of(played, tmp_path / "fresh", ROTATED))
    # Every instance the records name is shown, instance 4 too, which the folder has not.
    assert [i["instance"] for i in wrong["instances"]] == ["1", "2", "3", "4"]
    by_right = {i["instance"]: i for i in right["instances"]}
    for shown in wrong["instances"]:
        truth = by_right[shown["instance"]]
        # Started customers are where their records put them: the same as in the right folder.
        for key in ("completed", "inProgress", "failed"):
            assert shown["customers"][key] == truth["customers"][key], shown["instance"]
        assert shown["ratePerMinute"] == truth["ratePerMinute"]
    begun = started(played)
    listed = {c: n for n, cs in ROTATED.items() for c in cs}
    moved = sorted(c for c in begun if listed[c] != begun[c])
    waiting = sorted(c for c in listed if c not in begun and listed[c] != _played_on(c))
    kinds = {d["kind"]: d for d in wrong["disagreements"]}
    assert sorted(kinds) == ["pending-elsewhere", "started-elsewhere"]
    assert kinds["started-elsewhere"]["count"] == len(moved)
    assert kinds["pending-elsewhere"]["count"] == len(waiting)
    first = moved[0]
    assert kinds["started-elsewhere"]["line"].endswith(
        f"e.g. {first}: instance {begun[first]} in the records, {listed[first]} in the files"
    )
    plain = invoke(*_plain(played, tmp_path / "fresh"), env=local_client_env())
    assert "The plan folder and the records disagree" in plain.stdout
    assert right["disagreements"] == []


def _played_on(customer: str) -> int:
    return next(n for n, ks in PLAYED_ON.items() if customer in {did(k) for k in ks})


def _plain(played: Played, folder: Path) -> list[str | Path]:
    args = played.args()
    args[args.index(played.folder)] = folder
    return args


@pytest.mark.db
def test_instances_the_records_give_work_but_the_folder_lacks_are_named(
    played: Played, tmp_path: Path
) -> None:
    two = {1: [did(n) for n in range(0, 13, 2)], 2: [did(n) for n in range(1, 13, 2)]}
    document = look(played, folder_of(played, tmp_path / "two", two))
    kinds = {d["kind"]: d for d in document["disagreements"]}
    unfinished_on_3 = [did(k) for k in PLAYED_ON[3]]  # one in progress (its runner died), 3 waiting
    assert kinds["instances-not-in-folder"]["count"] == 1
    assert kinds["instances-not-in-folder"]["line"].startswith(
        "1 instances hold unfinished customers in the tracking records but have no file in"
    )
    assert kinds["instances-not-in-folder"]["line"].endswith(
        f": 3 (e.g. instance 3, {len(unfinished_on_3)} customers)"
    )
    assert "3" in [i["instance"] for i in document["instances"]]


async def _put_space(played: Played, item: dict[str, Any] | None, key: dict[str, Any]) -> None:
    tables = Tables("c", "u", LOCAL_REGION, played.endpoint)
    async with Dynamo.open(tables, pool_size=1, credentials=LOCAL_CREDENTIALS) as db:
        if item is None:
            await db.client.delete_item(TableName=played.tables["progress"], Key=key)
        else:
            await db.client.put_item(TableName=played.tables["progress"], Item=item)


@pytest.mark.db
def test_a_customer_only_in_the_progress_records_is_not_in_the_plan_and_never_waiting(
    played: Played,
) -> None:
    before = look(played, played.folder)
    stray = "did:mailto:stray.example:<b>nobody</b>"
    key = {"customer": {"S": stray}, "space": {"S": "did:key:zstray"}}
    item = key | {
        "status": {"S": "in-progress"},
        "totalUploads": {"N": "500"},
        "completedUploads": {"N": "20"},
        "instanceId": {"S": "2"},
        "workerId": {"S": "1"},
        "createdAt": {"S": "2026-12-01T00:00:00.000Z"},
        "updatedAt": {"S": "2026-12-01T00:10:00.000Z"},
    }
    asyncio.run(_put_space(played, item, key))
    try:
        after = look(played, played.folder)
    finally:
        asyncio.run(_put_space(played, None, key))
    (line,) = after["disagreements"]
    assert line == {
        "kind": "not-in-plan",
        "count": 1,
        "line": "1 customers appear only in the progress records (in no file and with no "
        f"tracking record), e.g. {stray}: not in the plan, not counted",
    }
    assert after["fleet"]["customers"] == before["fleet"]["customers"]
    assert after["fleet"]["uploads"] == before["fleet"]["uploads"]
    assert all(s["customer"] != stray for s in after["stalled"])
