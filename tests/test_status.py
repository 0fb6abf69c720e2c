"""``distro status`` against a fleet that writes exactly what the runner writes.

The fleet plays a plan for hours of virtual time ending now; every figure
status prints is checked against the fleet's own truth.
"""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from fleets import SPEEDS, Played, did, play
from helpers import assert_one_line_error, finish, invoke, start, wait_until
from prometheus_client.parser import text_string_to_metric_families

from distro.console import printable
from distro.dynamo.batch import batch_requests, batch_write
from distro.dynamo.handle import Dynamo
from distro.local.dynamodb import LOCAL_CREDENTIALS, LOCAL_REGION, LocalDynamo, local_client_env
from distro.local.fleet import create_fleet_tables
from distro.settings import Tables


@pytest.fixture(scope="module")
def played(dynamo: LocalDynamo, tmp_path_factory: pytest.TempPathFactory) -> Played:
    now = datetime.now(UTC).replace(microsecond=0)
    return asyncio.run(play(dynamo.endpoint_url, tmp_path_factory.mktemp("plan"), now))


def status_json(played: Played, *extra: str) -> dict[str, Any]:
    result = invoke(*played.args("--json", *extra), env=local_client_env())
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = orjson.loads(result.stdout)
    return document


@pytest.mark.db
def test_every_count_equals_the_fleets_truth(played: Played) -> None:
    document = status_json(played)
    by_instance = {i["instance"]: i for i in document["instances"]}
    assert sorted(by_instance) == ["1", "2", "3", "4"]
    work = played.fleet.work
    for n, runner in played.fleet.runners.items():
        shown = by_instance[str(n)]
        ended, failed = runner.ended_customers, len(runner.failed_customers)
        under_way = 0 if runner.finished else 1
        assert shown["customers"] == {
            "completed": len(ended) - failed,
            "inProgress": under_way,
            "pending": len(runner.customers) - len(ended) - under_way,
            "failed": failed,
        }, n
        assert shown["uploads"] == {
            "done": runner.recorded,
            "total": runner.planned_uploads,
            "doneBeforeMove": 0,  # no replan has moved a customer
        }, n
        spaces = [s for c in runner.customers for s in work.spaces[c]]
        assert sum(shown["spaces"].values()) == len(spaces), n
    assert document["fleet"]["uploads"] == {
        "done": sum(r.recorded for r in played.fleet.runners.values()),
        "total": sum(r.planned_uploads for r in played.fleet.runners.values()),
        "doneBeforeMove": 0,
    }
    assert document["disagreements"] == []  # the folder is the one the fleet was given


@pytest.mark.db
def test_a_steady_instance_has_its_true_rate_and_finish(played: Played) -> None:
    document = status_json(played)
    by_instance = {i["instance"]: i for i in document["instances"]}
    for n in (1, 2):  # full speed and half speed, both steady
        runner = played.fleet.runners[n]
        shown = by_instance[str(n)]
        assert shown["state"] == "running"
        assert shown["ratePerMinute"] == pytest.approx(60 / SPEEDS[n], rel=0.05)
        truth = runner.started + timedelta(seconds=runner.planned_uploads * SPEEDS[n])
        predicted = datetime.fromisoformat(shown["predictedFinish"].replace("Z", "+00:00"))
        left = (truth - played.now).total_seconds()
        assert abs((predicted - truth).total_seconds()) <= 0.1 * left, n
    assert document["fleet"]["lastInstance"] is None  # instance 3 is stalled: no finish


@pytest.mark.db
def test_a_stalled_and_a_finished_instance_are_named(played: Played) -> None:
    document = status_json(played)
    states = {i["instance"]: i["state"] for i in document["instances"]}
    assert states == {"1": "running", "2": "running", "3": "stalled", "4": "finished"}
    assert document["fleet"]["state"] == "stalled"
    stuck = document["stalled"]
    assert [(s["instance"], s["customer"]) for s in stuck] == [("3", did(2))]
    assert stuck[0]["minutes"] == pytest.approx(60.0, abs=1.0)
    (advice,) = document["advice"]
    # Instance 3 stalled with work: as things stand the fleet never ends.
    assert "taking stalled instance 3's customers" in advice["message"]
    assert "instead of never, as things stand" in advice["message"]
    assert advice["finishAsIs"] is None
    assert advice["finishAfterReplan"] > document["at"]
    assert advice["command"].startswith(
        "distro replan --instances 4 --drop-instance 3 --env staging"
    )


@pytest.mark.db
def test_failures_add_up_by_reason_with_a_retry_per_customer(played: Played) -> None:
    document = status_json(played)
    truth: Counter[str] = Counter()
    for runner in played.fleet.runners.values():
        truth.update(runner.failures)
    assert truth == {"INDEX_MISSING": 3, "GATEWAY_AUTH_FAILED": 1}
    assert document["failures"]["byReason"] == dict(truth)
    # c01 (instance 2, half speed) failed uploads in a space that ended, but is still under
    # way itself: only a customer that ended is a failed customer.
    customers = document["failures"]["customers"]
    assert played.fleet.runners[1].failed_customers == [did(0)]
    assert played.fleet.runners[2].failed_customers == []
    assert [(c["customer"], c["instance"]) for c in customers] == [(did(0), "1")]
    assert customers[0]["retry"] == (
        f"STORACHA_ENV=staging node src/migrate.js --customer {did(0)} --instance-id 1"
    )
    assert customers[0]["reasons"] == {"INDEX_MISSING": 2}


@pytest.mark.db
def test_the_report_and_its_views(played: Played) -> None:
    plain = invoke(*played.args(), env=local_client_env())
    assert plain.returncode == 0, plain.stderr
    assert "Fleet status (staging)" in plain.stdout
    assert "  distro replan --instances 4" in plain.stdout  # a whole line, to copy
    only = invoke(*played.args("--instance", "3"), env=local_client_env())
    assert "stalled" in only.stdout
    failed = invoke(*played.args("--failed"), env=local_client_env())
    assert "Failures by reason" in failed.stdout
    assert "Instances" not in failed.stdout
    # Instance 3 died an hour in, inside its first customer: its spaces so far, the last under way.
    shown = status_json(played, "--customer", did(2))["customer"]["spaces"]
    reached = played.fleet.work.spaces[did(2)][: len(shown)]
    assert [s["space"] for s in shown] == reached
    assert [s["status"] for s in shown] == ["completed"] * (len(shown) - 1) + ["in-progress"]
    assert sum(s["uploads"]["done"] for s in shown) == played.fleet.runners[3].recorded


# --- big tables, broken records, broken setups ---------------------------------------------


async def fill(endpoint: str, *, spaces: int, broken: list[dict[str, Any]]) -> dict[str, str]:
    """Fresh runner tables: *spaces* progress records of 10 customers, then the *broken* items."""
    tables = Tables("unused-c", "unused-u", LOCAL_REGION, endpoint)
    names = {k: f"{k}-{uuid.uuid4().hex[:8]}" for k in ("customers", "progress")}
    # 2 KB a record: 6,000 of them are 13 MB, so the Scans take many 1 MB pages.
    padding = "x" * 2000
    async with Dynamo.open(tables, pool_size=8, credentials=LOCAL_CREDENTIALS) as db:
        await create_fleet_tables(
            db, customers_table=names["customers"], progress_table=names["progress"]
        )

        def item(n: int) -> dict[str, Any]:
            status = ("completed", "in-progress", "failed")[n % 3]
            return {
                "customer": {"S": did(n % 10)},
                "space": {"S": f"did:key:big{n:06d}"},
                "status": {"S": status},
                "totalUploads": {"N": "7"},
                "completedUploads": {"N": "0"},
                "instanceId": {"S": str(n % 10 + 1)},
                "workerId": {"S": "1"},
                "error": {"S": '{"INDEX_MISSING":2}' if status == "failed" else ""},
                "lastProcessedUpload": {"S": padding},
                "createdAt": {"S": "2026-12-01T00:00:00.000Z"},
                "updatedAt": {"S": "2026-12-01T01:00:00.000Z"},
            }

        puts = [(names["progress"], item(n)) for n in range(spaces)]
        puts += [(names["progress"], b) for b in broken]
        # The runner marks a customer in progress before its first space record, with no
        # instanceId when no plan put a pending record (markCustomerInProgress).
        owners = {i["customer"]["S"] for _, i in puts if isinstance(i.get("customer"), dict)}
        puts += [(names["customers"], runner_customer(c)) for c in sorted(owners)]
        await batch_write(
            lambda request: db.client.batch_write_item(RequestItems=request),
            batch_requests(puts),
            what="BatchWriteItem",
        )
    return names


def runner_customer(customer: str) -> dict[str, Any]:
    """A customer record as markCustomerInProgress creates it where none was."""
    at = {"S": "2026-12-01T00:00:00.000Z"}
    zero = {"N": "0"}
    return {
        "customer": {"S": customer},
        "status": {"S": "in-progress"},
        "updatedAt": at,
        "assignedAt": at,
        "totalSpaces": {"N": "3"},
        "completedSpaces": zero,
        "totalUploads": zero,
        "completedUploads": zero,
    }


def fleet_args(endpoint: str, names: dict[str, str], folder: Path) -> list[str | Path]:
    return [
        "status",
        "--endpoint-url",
        endpoint,
        "--assignments-table",
        names["customers"],
        "--progress-table",
        names["progress"],
        "--output-dir",
        folder,
        "--json",
    ]


@pytest.mark.db
def test_six_thousand_space_records_of_13_mb_are_all_counted(
    dynamo: LocalDynamo, tmp_path: Path
) -> None:
    names = asyncio.run(fill(dynamo.endpoint_url, spaces=6_000, broken=[]))
    result = invoke(*fleet_args(dynamo.endpoint_url, names, tmp_path), env=local_client_env())
    assert result.returncode == 0, result.stderr
    document = orjson.loads(result.stdout)
    assert document["fleet"]["spaces"] == {
        "completed": 2_000,
        "inProgress": 2_000,
        "pending": 0,
        "failed": 2_000,
    }
    assert document["failures"]["byReason"] == {"INDEX_MISSING": 4_000}
    assert document["unreadable"]["count"] == 0


@pytest.mark.db
def test_broken_records_are_reported_unreadable_and_crash_nothing(
    dynamo: LocalDynamo, tmp_path: Path
) -> None:
    good = {
        "customer": {"S": did(0)},
        "status": {"S": "in-progress"},
        "totalUploads": {"N": "10"},
        "completedUploads": {"N": "0"},
        "instanceId": {"S": "1"},
        "createdAt": {"S": "2026-12-01T00:00:00.000Z"},
        "updatedAt": {"S": "2026-12-01T01:00:00.000Z"},
    }
    broken = [
        good | {"space": {"S": "did:key:count"}, "totalUploads": {"S": "ten"}},
        good | {"space": {"S": "did:key:status"}, "status": {"S": "paused"}},
        {k: v for k, v in good.items() if k != "instanceId"} | {"space": {"S": "did:key:who"}},
        good
        | {"space": {"S": "did:key:error"}, "status": {"S": "failed"}, "error": {"S": "boom<b>"}},
        good | {"space": {"S": "did:key:time"}, "updatedAt": {"S": "yesterday"}},
    ]
    names = asyncio.run(fill(dynamo.endpoint_url, spaces=3, broken=broken))
    result = invoke(*fleet_args(dynamo.endpoint_url, names, tmp_path), env=local_client_env())
    assert result.returncode == 0, result.stderr
    unreadable = orjson.loads(result.stdout)["unreadable"]
    assert unreadable["count"] == 5
    assert sorted(e["key"].split(" / ")[1] for e in unreadable["examples"]) == [
        "did:key:count",
        "did:key:error",
        "did:key:status",
        "did:key:time",
        "did:key:who",
    ]
    whys = {e["key"].split(" / ")[1]: e["why"] for e in unreadable["examples"]}
    assert whys["did:key:count"] == "totalUploads is not a count"
    assert whys["did:key:status"].startswith("status 'paused' is none of pending, in-progress")
    assert whys["did:key:who"] == "instanceId is missing"
    assert whys["did:key:error"].startswith("error 'boom<b>' is not the runner's JSON object")
    assert whys["did:key:time"] == "updatedAt 'yesterday' is not an ISO-8601 time"
    # The failed space with a damaged error still counts as failed: only its reasons are lost.
    fleet = orjson.loads(result.stdout)["fleet"]
    assert fleet["spaces"]["failed"] == 1 + 1


@pytest.mark.db
@pytest.mark.parametrize(
    ("missing", "variable", "option"),
    [
        ("customers", "MIGRATION_CUSTOMERS_TABLE_NAME", "--assignments-table"),
        ("progress", "MIGRATION_PROGRESS_TABLE_NAME", "--progress-table"),
    ],
)
def test_a_missing_table_is_one_line_naming_it_and_its_variable(
    dynamo: LocalDynamo, tmp_path: Path, missing: str, variable: str, option: str
) -> None:
    names = asyncio.run(fill(dynamo.endpoint_url, spaces=1, broken=[]))
    names[missing] = "no-such-table"
    result = invoke(*fleet_args(dynamo.endpoint_url, names, tmp_path), env=local_client_env())
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("Error: DescribeTable no-such-table: table not found")
    assert f"{option} (or ${variable})" in line
    assert line.endswith("the runner's deployment creates this table")


@pytest.mark.db
def test_watch_refreshes_until_ctrl_c_then_exits_0(dynamo: LocalDynamo, tmp_path: Path) -> None:
    names = asyncio.run(fill(dynamo.endpoint_url, spaces=6, broken=[]))
    args = [a for a in fleet_args(dynamo.endpoint_url, names, tmp_path) if a != "--json"]
    watching = start(*args, "--watch", "1", env=local_client_env())
    looks = tmp_path / ".distro-status-staging.jsonl"

    def refreshed(times: int) -> bool:
        return looks.is_file() and len(looks.read_bytes().splitlines()) >= times

    assert wait_until(lambda: refreshed(3), watching)  # one look a refresh, a second apart
    watching.send_signal(signal.SIGINT)
    out, err = finish(watching)
    assert watching.returncode == 0, err
    assert "Traceback" not in err
    assert "Fleet status (staging)" in out


@pytest.mark.db
def test_scan_items_taken_past_botocore_equal_its_parse(dynamo: LocalDynamo) -> None:
    """Every attribute type but binary: the raw items are what botocore would return."""
    item = {
        "customer": {"S": 'did:mailto:x.org:"quoted"\\ \u202e \U0001f600'},
        "space": {"S": "did:key:z6Mk"},
        "n": {"N": "12345678901234567890.5"},
        "null": {"NULL": True},
        "yes": {"BOOL": False},
        "ss": {"SS": ["a", "b"]},
        "ns": {"NS": ["1", "2.5"]},
        "m": {"M": {"k": {"S": "v"}, "l": {"L": [{"N": "1"}, {"S": "x"}]}}},
    }

    async def scan(raw: bool) -> list[dict[str, Any]]:
        tables = Tables("unused-c", "unused-u", LOCAL_REGION, dynamo.endpoint_url)
        async with Dynamo.open(
            tables, pool_size=2, credentials=LOCAL_CREDENTIALS, raw_scan_items=raw
        ) as db:
            reply = await db.client.scan(TableName=names["progress"], ConsistentRead=True)
            items: list[dict[str, Any]] = reply["Items"]
            return items

    names = asyncio.run(fill(dynamo.endpoint_url, spaces=3, broken=[item]))
    assert asyncio.run(scan(True)) == asyncio.run(scan(False))


@pytest.mark.db
def test_a_hostile_did_is_shown_literally_in_every_view(
    dynamo: LocalDynamo, tmp_path: Path
) -> None:
    hostile = "did:mailto:x.org:[bold]boom[/bold]<script>\x1b[31mred\u202e"
    item = {
        "customer": {"S": hostile},
        "space": {"S": "did:key:[/]"},
        "status": {"S": "in-progress"},
        "totalUploads": {"N": "10"},
        "completedUploads": {"N": "0"},
        "instanceId": {"S": "1"},
        "createdAt": {"S": "2026-12-01T00:00:00.000Z"},
        "updatedAt": {"S": "2026-12-01T01:00:00.000Z"},
    }
    names = asyncio.run(fill(dynamo.endpoint_url, spaces=0, broken=[item]))
    args = [a for a in fleet_args(dynamo.endpoint_url, names, tmp_path) if a != "--json"]
    for view in ([], ["--customer", hostile]):
        result = invoke(*args, *view, env=local_client_env())
        assert result.returncode == 0, result.stderr
        assert printable(hostile) in result.stdout  # markup not read, controls escaped
        assert "\x1b" not in result.stdout
    document = status_json(
        Played(None, tmp_path, names, dynamo.endpoint_url, datetime.now(UTC)),  # type: ignore[arg-type]
        "--customer",
        hostile,
    )
    assert document["customer"]["customer"] == hostile  # JSON holds it exactly


@pytest.mark.db
def test_check_is_one_line_and_an_exit_code_for_cron(played: Played, tmp_path: Path) -> None:
    stalled = invoke(*played.args("--check"), env=local_client_env())
    assert stalled.returncode == 3, stalled.stderr
    document = status_json(played)
    done = document["fleet"]["uploads"]
    assert stalled.stdout == (
        "STALLED: instance 3 has work left but no record changed within 30 minutes; "
        f"{done['done']:,} of {done['total']:,} uploads done\n"
    )
    # With a longer stall time nothing is stalled; the failed customer remains.
    failed = invoke(*played.args("--check", "--stall-after", "600"), env=local_client_env())
    assert failed.returncode == 4, failed.stderr
    reasons = ", ".join(f"{r} {n}" for r, n in document["failures"]["byReason"].items())
    assert failed.stdout.startswith(f"FAILED: 1 customers failed (uploads by reason: {reasons})")
    # A table that cannot be read is code 5, one line on stdout, and no traceback.
    missing = invoke(
        "status", "--check", "--endpoint-url", played.endpoint, "--assignments-table",
        "no-such-table", "--output-dir", tmp_path, env=local_client_env(),
    )  # fmt: skip
    assert missing.returncode == 5
    assert missing.stdout.startswith("UNREADABLE: ")
    assert "no-such-table" in missing.stdout
    assert len(missing.stdout.splitlines()) == 1
    assert "Traceback" not in missing.stderr


def metrics_of(path: Path) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """The samples of a textfile, parsed by prometheus_client: name -> labels -> value."""
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(path.read_text()):
        assert family.documentation, f"{family.name} has no HELP"
        assert family.type in ("counter", "gauge"), family.name
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def labels(instance: str, **more: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted({"env": "staging", "instance": instance, **more}.items()))


@pytest.mark.db
def test_prometheus_textfile_equals_the_json(played: Played, tmp_path: Path) -> None:
    path, page = tmp_path / "distro.prom", tmp_path / "status.html"
    # --check writes it too (and the page): cron runs the check, the collector reads its metrics.
    result = invoke(
        *played.args("--check", "--prometheus", path, "--report-html", page),
        env=local_client_env(),
    )
    assert result.returncode == 3, result.stderr
    assert len(result.stdout.splitlines()) == 1
    assert b'class="chart"' in page.read_bytes()
    document = status_json(played)
    text = path.read_text()
    assert "# TYPE distro_uploads_done_total counter" in text  # as node_exporter reads it
    assert "# HELP distro_instance_stalled " in text
    metrics = metrics_of(path)
    assert metrics["distro_status_readable"] == {(("env", "staging"),): 1.0}
    for i in document["instances"]:
        n = i["instance"]
        assert metrics["distro_uploads_done_total"][labels(n)] == i["uploads"]["done"]
        assert metrics["distro_uploads_planned"][labels(n)] == i["uploads"]["total"]
        assert metrics["distro_instance_stalled"][labels(n)] == (i["state"] == "stalled")
        if i["ratePerMinute"] is not None:
            assert metrics["distro_uploads_per_second"][labels(n)] == pytest.approx(
                i["ratePerMinute"] / 60
            )
        if i["predictedFinish"] is not None:
            at = datetime.fromisoformat(i["predictedFinish"].replace("Z", "+00:00"))
            assert metrics["distro_predicted_finish_timestamp_seconds"][labels(n)] == pytest.approx(
                at.timestamp(), abs=0.001
            )
        for reason, uploads in i["failures"].items():
            assert metrics["distro_failed_uploads_total"][labels(n, reason=reason)] == uploads
    assert metrics["distro_instance_stalled"][labels("3")] == 1  # the dead one
    by_reason: Counter[str] = Counter()
    for key, value in metrics["distro_failed_uploads_total"].items():
        by_reason[dict(key)["reason"]] += int(value)
    assert dict(by_reason) == document["failures"]["byReason"]
    assert metrics["distro_stalled_spaces"][(("env", "staging"),)] == len(document["stalled"])
    # Tables that cannot be read: the file says so, and nothing else.
    missing = invoke(
        "status", "--check", "--endpoint-url", played.endpoint, "--assignments-table",
        "no-such-table", "--output-dir", tmp_path, "--prometheus", path, env=local_client_env(),
    )  # fmt: skip
    assert missing.returncode == 5
    assert metrics_of(path) == {"distro_status_readable": {(("env", "staging"),): 0.0}}
    # A folder that cannot take the file is a usage error, before anything is read.
    bad = invoke(*played.args("--prometheus", tmp_path / "no" / "x.prom"), env=local_client_env())
    assert_one_line_error(bad, 1, "cannot write the metrics", "--prometheus")
