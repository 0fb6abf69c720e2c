"""Operator mistakes: one line naming the problem and the fix, the right exit code, no debris.

The real entry point in a subprocess, as in test_cli.py (whose cases are not
repeated here). A usage error (exit 2) must not even create the output
directory; a runtime failure (exit 1) must leave no instance file, and must
leave an earlier plan and an earlier checkpoint as they were.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from pathlib import Path
from typing import Any

import pytest
from helpers import (
    CHECKPOINT_NAME,
    LOCK_NAME,
    assert_exact_plan,
    assert_one_line_error,
    files_of,
    invoke,
    read_plan,
    run,
    table_args,
)
from test_faults import (
    assert_only_instance_files,
    checkpoint_settings,
    report_spaces,
)

from distro.balance import CustomerLoad, balance
from distro.checkpoint import Checkpoint
from distro.dynamo.handle import dynamodb_client
from distro.emit import write_plan
from distro.files import PlanFolder
from distro.local.dataset import Dataset
from distro.local.dynamodb import LocalDynamo
from distro.settings import Tables

INSTANCES = 3


def generate(tables: Tables, out: Path, *more: str, **env: str) -> Any:
    return invoke(
        "generate",
        "--instances",
        str(INSTANCES),
        *table_args(tables),
        "--output-dir",
        out,
        *more,
        env=env,
    )


def assert_no_instance_files(directory: Path) -> None:
    assert not directory.exists() or not read_plan(directory), "a failed run wrote instance files"


# --- usage errors, found before anything is read or written --------------------------------


@pytest.mark.parametrize(
    ("args", "env", "words"),
    [
        (["analyze", "--instances", "0"], {}, ["--instances", "at least 1", "got 0"]),
        (["generate", "--instance", "2"], {}, ["--instance", "--instances"]),
        (
            ["generate", "--instances", "2", "--workers-per-instance", "0"],
            {},
            ["--workers-per-instance"],
        ),
        (
            ["generate", "--instances", "2", "--uploads-per-minute", "0"],
            {},
            ["--uploads-per-minute"],
        ),
        (["generate", "--instances", "2", "--max-read-units", "0"], {}, ["--max-read-units"]),
        (
            ["generate", "--instances", "2", "--runners-per-host", "0"],
            {},
            ["--runners-per-host", "0"],
        ),
        (
            [
                "generate",
                "--instances",
                "2",
                "--runners-per-host",
                "4",
                "--workers-per-instance",
                "5",
            ],
            {},
            ["--workers-per-instance", "--runners-per-host", "one of the two"],
        ),
        (
            ["generate", "--instances", "2"],
            {"STORACHA_ENV": "moon"},
            ["moon", "staging", "production"],
        ),
        (
            ["generate", "--instances", "2"],
            {"DISTRO_RETRY_BASE": "-1"},
            ["DISTRO_RETRY_BASE", "-1"],
        ),
        (
            ["generate", "--instances", "2"],
            {"DISTRO_CALL_TIMEOUT": "soon"},
            ["DISTRO_CALL_TIMEOUT", "soon"],
        ),
    ],
    ids=[
        "analyze-instances-0",
        "misspelt-option",
        "workers-0",
        "uploads-per-minute-0",
        "max-read-units-0",
        "runners-per-host-0",
        "runners-and-workers",
        "STORACHA_ENV-unknown",
        "retry-base-negative",
        "call-timeout-not-a-number",
    ],
)
def test_usage_errors(
    args: list[str], env: dict[str, str], words: list[str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = invoke(*args, "--output-dir", out, env=env)
    assert_one_line_error(result, 2, *words)
    assert not out.exists(), "a usage error created the output directory"


# --- the tables ----------------------------------------------------------------------------


@pytest.mark.db
def test_a_missing_consumer_table(loaded: tuple[Dataset, Tables], tmp_path: Path) -> None:
    _, tables = loaded
    args = table_args(tables, consumer="no-such-consumer")
    result = invoke("generate", "--instances", "2", *args, "--output-dir", tmp_path)
    assert_one_line_error(result, 1, "no-such-consumer", "not found", "table options")
    assert_no_instance_files(tmp_path)


@pytest.mark.db
def test_the_corrected_command_runs_after_a_table_mistake(
    loaded: tuple[Dataset, Tables], tmp_path: Path
) -> None:
    dataset, tables = loaded
    args = table_args(tables, consumer="no-such-consumer")
    mistaken = invoke("generate", "--instances", "2", *args, "--output-dir", tmp_path)
    assert mistaken.returncode == 1
    assert not (tmp_path / CHECKPOINT_NAME).exists(), "a run that counted nothing left a checkpoint"
    corrected = generate(tables, tmp_path)
    assert corrected.returncode == 0, corrected.stderr
    assert_exact_plan(read_plan(tmp_path), dataset.truth(), INSTANCES)


@pytest.fixture(scope="module")
def hash_only_table(dynamo: LocalDynamo) -> str:
    """A table keyed by `space` alone: the right name of key, the wrong shape."""
    name = f"hash-only-{uuid.uuid4().hex[:8]}"
    tables = Tables(name, name, "us-east-2", dynamo.endpoint_url)

    async def create() -> None:
        async with dynamodb_client(tables, pool_size=1) as client:
            await client.create_table(
                TableName=name,
                KeySchema=[{"AttributeName": "space", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "space", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )

    asyncio.run(create())
    return name


@pytest.mark.db
def test_a_table_with_another_key_schema(
    loaded: tuple[Dataset, Tables], hash_only_table: str, tmp_path: Path
) -> None:
    _, tables = loaded
    args = table_args(tables, consumer=hash_only_table)
    result = invoke("generate", "--instances", "2", *args, "--output-dir", tmp_path)
    assert_one_line_error(
        result,
        1,
        hash_only_table,
        "key schema",
        "expected",
        "check --env, --consumer-table and --upload-table",
    )
    assert_no_instance_files(tmp_path)


@pytest.mark.db
def test_the_consumer_table_given_as_the_upload_table(
    loaded: tuple[Dataset, Tables], tmp_path: Path
) -> None:
    """The upload table exists and is readable, but is keyed by (subscription, provider)."""
    _, tables = loaded
    args = table_args(tables, upload=tables.consumer)
    result = invoke("generate", "--instances", "2", *args, "--output-dir", tmp_path)
    assert_one_line_error(result, 1, tables.consumer, "key schema", "subscription", "space")


# --- reaching AWS ----------------------------------------------------------------------------


def test_an_unreachable_endpoint_fails_fast(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a loopback port that was free a moment ago: nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Fast means the table check's own policy (3 tries, 15 s at most) gave up, not the
    # counting policy's 10 tries over up to 300 s: the 60 s timeout tells the two apart
    # without a wall-clock bound that a busy machine could break (so: a process with a timeout).
    result = run(
        "generate",
        "--instances",
        "2",
        "--endpoint-url",
        f"http://127.0.0.1:{port}",
        "--quiet",
        "--output-dir",
        tmp_path,
        timeout=60,
    )
    assert_one_line_error(result, 1, "cannot connect", f"127.0.0.1:{port}", "--endpoint-url")
    assert_no_instance_files(tmp_path)


@pytest.mark.db
def test_no_credentials(loaded: tuple[Dataset, Tables], tmp_path: Path) -> None:
    _, tables = loaded
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_REGION": "us-east-2",
    }
    # A real process: botocore's credential chain reads this environment, with no AWS_* at all.
    result = run(
        "generate",
        "--instances",
        "2",
        *table_args(tables),
        "--output-dir",
        str(tmp_path),
        base=env,
        timeout=60,
    )
    assert_one_line_error(result, 1, "no AWS credentials", "AWS_PROFILE", "AWS_ACCESS_KEY_ID")
    assert_no_instance_files(tmp_path)


def test_an_endpoint_that_is_not_a_url(tmp_path: Path) -> None:
    result = invoke(
        "generate",
        "--instances",
        "2",
        "--endpoint-url",
        "localhost:8000",
        "--quiet",
        "--output-dir",
        tmp_path,
    )
    assert_one_line_error(result, 2, "localhost:8000", "--endpoint-url")


@pytest.mark.db
def test_a_malformed_region(loaded: tuple[Dataset, Tables], tmp_path: Path) -> None:
    _, tables = loaded
    result = generate(tables, tmp_path, "--region", "us east 2")
    assert_one_line_error(result, 2, "us east 2", "--region")


# --- the output directory -----------------------------------------------------------------


@pytest.mark.db
def test_an_output_directory_that_is_a_file(loaded: tuple[Dataset, Tables], tmp_path: Path) -> None:
    _, tables = loaded
    target = tmp_path / "plan.json"
    target.write_bytes(b"not a directory")
    result = generate(tables, target)
    assert_one_line_error(result, 1, str(target), "is a file", "--output-dir")
    assert target.read_bytes() == b"not a directory"


@pytest.mark.db
def test_an_output_directory_that_cannot_be_created(loaded: tuple[Dataset, Tables]) -> None:
    _, tables = loaded
    target = Path("/proc") / f"distro-{uuid.uuid4().hex[:8]}" / "out"
    result = generate(tables, target)
    assert_one_line_error(result, 1, str(target), "cannot create", "--output-dir")


@pytest.mark.db
def test_an_existing_directory_that_takes_no_files(loaded: tuple[Dataset, Tables]) -> None:
    _, tables = loaded
    result = generate(tables, Path("/proc"))
    assert_one_line_error(result, 1, "/proc", "--output-dir")


# --- the checkpoint -----------------------------------------------------------------------


def real_checkpoint(
    directory: Path, tables: Tables, dataset: Dataset, *, spaces: int = 40
) -> bytes:
    """A checkpoint as an interrupted run leaves it: the header and two flushes of exact counts."""
    checkpoint = Checkpoint.open(PlanFolder(directory), checkpoint_settings(tables), restart=True)
    counted = sorted(dataset.uploads)[:spaces]
    for part in (counted[: spaces // 2], counted[spaces // 2 :]):
        for space in part:
            checkpoint.record(space, dataset.uploads[space])
        checkpoint.flush()
    return (directory / CHECKPOINT_NAME).read_bytes()


@pytest.mark.db
@pytest.mark.parametrize(
    ("damage", "why", "then_restart"),
    [
        (lambda data: data.replace(b'{"counts"', b'{"counts" garbage', 1), "is not JSON", True),
        (lambda data: data[: data.index(b"\n") // 2], "no complete header", True),
        (lambda data: b"\x00\xff" * 64, "no complete header", False),
        (lambda data: b"", "no complete header", False),
        (lambda data: data + b'{"counts": {"did:key:z6MkX": -1}}\n', "no valid counts", False),
    ],
    ids=["garbage-line", "truncated-header", "binary", "empty", "negative-count"],
)
def test_a_damaged_checkpoint_is_refused_and_restart_discards_it(
    loaded: tuple[Dataset, Tables], tmp_path: Path, damage: Any, why: str, then_restart: bool
) -> None:
    dataset, tables = loaded
    damaged = damage(real_checkpoint(tmp_path, tables, dataset))
    (tmp_path / CHECKPOINT_NAME).write_bytes(damaged)
    result = generate(tables, tmp_path)
    assert_one_line_error(result, 1, str(tmp_path / CHECKPOINT_NAME), why, "--restart")
    assert (tmp_path / CHECKPOINT_NAME).read_bytes() == damaged, "the refused checkpoint changed"
    assert_no_instance_files(tmp_path)
    if not then_restart:  # each run costs a second or two: restart after two kinds of damage
        return

    again = generate(tables, tmp_path, "--restart")
    assert again.returncode == 0, again.stderr
    assert report_spaces(again.stdout)[1] == 0
    assert_exact_plan(read_plan(tmp_path), dataset.truth(), INSTANCES)
    assert_only_instance_files(tmp_path, INSTANCES)


@pytest.mark.db
def test_a_torn_last_line_is_dropped_and_the_rest_resumed(
    loaded: tuple[Dataset, Tables], tmp_path: Path
) -> None:
    """A flush cut short by a crash is not damage: those spaces are simply counted again."""
    dataset, tables = loaded
    data = real_checkpoint(tmp_path, tables, dataset, spaces=40)
    (tmp_path / CHECKPOINT_NAME).write_bytes(data[:-25])  # the second flush, cut short
    result = generate(tables, tmp_path)
    assert result.returncode == 0, result.stderr
    planned = {
        r.space for r in dataset.consumer_rows if r.customer in dataset.truth().uploads_by_customer
    }
    assert report_spaces(result.stdout)[1] == len(set(sorted(dataset.uploads)[:20]) & planned)
    assert_exact_plan(read_plan(tmp_path), dataset.truth(), INSTANCES)
    assert_only_instance_files(tmp_path, INSTANCES)


@pytest.mark.db
@pytest.mark.parametrize("other", ["tables", "filters"])
def test_a_checkpoint_of_other_tables_or_filters_is_refused(
    loaded: tuple[Dataset, Tables], tmp_path: Path, other: str
) -> None:
    dataset, tables = loaded
    made_with = (
        checkpoint_settings(Tables(tables.consumer, "other-upload", tables.region))
        if other == "tables"
        else checkpoint_settings(tables, include=("gmail.com",))
    )
    checkpoint = Checkpoint.open(PlanFolder(tmp_path), made_with, restart=True)
    checkpoint.record(sorted(dataset.uploads)[0], 1)
    checkpoint.flush()
    before = files_of(tmp_path, LOCK_NAME)

    result = generate(tables, tmp_path)
    assert_one_line_error(result, 1, "other tables, endpoint or filters", "--restart")
    assert files_of(tmp_path, LOCK_NAME) == before, "the refused run changed the output directory"
    if other == "tables":  # --restart is shown once, with the filters
        return

    again = generate(tables, tmp_path, "--restart")
    assert again.returncode == 0, again.stderr
    assert_exact_plan(read_plan(tmp_path), dataset.truth(), INSTANCES)


@pytest.mark.db
def test_a_checkpoint_path_that_is_a_directory(
    loaded: tuple[Dataset, Tables], tmp_path: Path
) -> None:
    _, tables = loaded
    (tmp_path / CHECKPOINT_NAME).mkdir()
    result = generate(tables, tmp_path)
    assert_one_line_error(result, 1, CHECKPOINT_NAME)


# --- filters that leave too few customers ----------------------------------------------------


@pytest.mark.db
def test_every_customer_filtered_out(loaded: tuple[Dataset, Tables], tmp_path: Path) -> None:
    _, tables = loaded
    old = balance([CustomerLoad("did:mailto:example.org:old", 10, 1)], 2)
    write_plan(PlanFolder(tmp_path), old, created_at="2026-01-01T00:00:00.000Z")
    before = files_of(tmp_path, LOCK_NAME)
    result = generate(tables, tmp_path, "--filter", "nobody.example")
    assert_one_line_error(result, 1, "no customer is left", "--filter")
    assert files_of(tmp_path, LOCK_NAME) == before, "the previous plan was touched"


@pytest.mark.db
def test_more_instances_than_customers(loaded: tuple[Dataset, Tables], tmp_path: Path) -> None:
    dataset, tables = loaded
    two = tuple(sorted(dataset.truth().uploads_by_customer)[:2])
    truth = dataset.truth(include=two)
    assert len(truth.uploads_by_customer) == 2
    result = invoke(
        "generate",
        "--instances",
        "4",
        *table_args(tables),
        "--output-dir",
        tmp_path,
        "--filter",
        ",".join(two),
    )
    assert result.returncode == 0, result.stderr
    plan = read_plan(tmp_path)
    assert_exact_plan(plan, truth, 4)
    empty = [doc for doc in plan.values() if not doc["customers"]]
    assert len(empty) == 2
    for doc in empty:
        assert (doc["totalCustomers"], doc["estimatedUploads"], doc["estimatedSpaces"]) == (0, 0, 0)
    assert "2 instance(s) get no customer" in " ".join(result.stdout.split())
    assert_only_instance_files(tmp_path, 4)
