"""An operator's slip is refused before anything changes: one line, a non-zero exit, and the
plan's bytes, the kept looks and every record of the runner's two tables as they were.

The fleet is played by runners that write exactly what the migration runner writes.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fleets import Played, did, make_work, plan_of, play, write_hand_plan
from helpers import assert_one_line_error, files_of, instance_file_name, invoke

from distro.dynamo.handle import Dynamo
from distro.local.dynamodb import LOCAL_CREDENTIALS, LOCAL_REGION, LocalDynamo, local_client_env
from distro.settings import Tables


@pytest.fixture(scope="module")
def played(dynamo: LocalDynamo, tmp_path_factory: pytest.TempPathFactory) -> Played:
    now = datetime.now(UTC).replace(microsecond=0)
    return asyncio.run(play(dynamo.endpoint_url, tmp_path_factory.mktemp("plan"), now))


async def _scan(endpoint: str, table: str) -> list[dict[str, Any]]:
    tables = Tables("unused-c", "unused-u", LOCAL_REGION, endpoint)
    async with Dynamo.open(tables, pool_size=2, credentials=LOCAL_CREDENTIALS) as db:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
        while True:
            reply = await db.client.scan(**kwargs)
            items += reply["Items"]
            if "LastEvaluatedKey" not in reply:
                break
            kwargs["ExclusiveStartKey"] = reply["LastEvaluatedKey"]
    return sorted(items, key=lambda i: (i["customer"]["S"], i.get("space", {}).get("S", "")))


def records(played: Played) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every item of the runner's two tables, as stored."""
    return (
        asyncio.run(_scan(played.endpoint, played.tables["customers"])),
        asyncio.run(_scan(played.endpoint, played.tables["progress"])),
    )


def replan_args(played: Played, folder: Path, *extra: str) -> list[str | Path]:
    return [
        "replan",
        "--endpoint-url",
        played.endpoint,
        "--assignments-table",
        played.tables["customers"],
        "--progress-table",
        played.tables["progress"],
        "--output-dir",
        folder,
        *extra,
    ]


# The lock is an flock on a file that stays in place by design (``files.output_lock``):
# it is no part of the plan, and taking it changes nothing.
LOCK = ".distro.lock"


def plan_files(folder: Path) -> dict[str, bytes]:
    """The plan folder's files (the kept looks included), the lock left out."""
    return files_of(folder, LOCK)


@pytest.fixture
def unchanged(played: Played) -> Iterator[None]:
    """The test's command changes no file of the plan folder and no record."""
    before = plan_files(played.folder), records(played)
    yield
    assert (plan_files(played.folder), records(played)) == before


@pytest.mark.db
@pytest.mark.usefixtures("unchanged")
def test_status_refuses_an_instance_the_plan_and_records_do_not_hold(played: Played) -> None:
    result = invoke(*played.args("--instance", "99"), env=local_client_env())
    assert_one_line_error(result, 2, "--instance 99 is not in the plan or the records")
    assert result.stderr.rstrip().endswith("they hold instances 1, 2, 3, 4")


@pytest.mark.db
@pytest.mark.usefixtures("unchanged")
def test_status_refuses_a_customer_no_plan_or_record_holds(played: Played) -> None:
    result = invoke(
        *played.args("--customer", "did:mailto:fleet.example:nobody"), env=local_client_env()
    )
    assert_one_line_error(
        result, 2, "--customer did:mailto:fleet.example:nobody is in no plan file and no record"
    )


@pytest.mark.db
def test_status_check_with_watch_is_a_usage_error(played: Played) -> None:
    result = invoke(*played.args("--check", "--watch", "1"), env=local_client_env())
    assert_one_line_error(result, 2, "--check takes one look", "drop --watch")


@pytest.mark.db
@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (("--instances", "5", "--drop-instance", "99"), "--drop-instance 99 is not an instance"),
        (("--instances", "4", "--drop-instance", "3", "--drop-instance", "3"), "given twice"),
        (
            ("--instances", "2", *(w for n in "12" for w in ("--drop-instance", n))),
            "drops all 2 instances",
        ),
    ],
)
def test_replan_refuses_a_wrong_drop_instance(
    played: Played, extra: tuple[str, ...], words: str
) -> None:
    result = invoke(*replan_args(played, played.folder, *extra), env=local_client_env())
    assert_one_line_error(result, 2, words)
    if "99" in extra:
        assert result.stderr.rstrip().endswith("hold instances 1, 2, 3, 4")


@pytest.mark.db
@pytest.mark.usefixtures("unchanged")
def test_replan_refuses_a_plan_folder_that_does_not_verify(played: Played, tmp_path: Path) -> None:
    damaged = tmp_path / "damaged"
    shutil.copytree(played.folder, damaged)
    (damaged / instance_file_name(2)).unlink()
    kept = plan_files(damaged)
    result = invoke(*replan_args(played, damaged, "--instances", "4"), env=local_client_env())
    assert_one_line_error(result, 1, "does not verify", "see distro verify --output-dir")
    assert plan_files(damaged) == kept


@pytest.mark.db
@pytest.mark.usefixtures("unchanged")
def test_replan_refuses_a_folder_that_puts_started_customers_elsewhere(
    played: Played, tmp_path: Path
) -> None:
    """A fresh plan of the same customers on 3 instances, as a generate into another folder
    makes while the records hold the 4-instance migration under way."""
    other = tmp_path / "other"
    work, _ = make_work()
    rotated = {
        1: [did(1), did(4), did(7), did(10)],
        2: [did(2), did(5), did(8), did(11)],
        3: [did(0), did(3), did(6), did(9), did(12)],
    }
    tables = Tables("unused-c", "unused-u", LOCAL_REGION, played.endpoint)
    write_hand_plan(other, plan_of(work, rotated), tables)
    kept = plan_files(other)
    result = invoke(*replan_args(played, other, "--instances", "4"), env=local_client_env())
    assert_one_line_error(result, 1, f"the plan in {other}/ disagrees with the records about")
    assert "replan into the folder the fleet was given" in result.stderr
    assert plan_files(other) == kept
