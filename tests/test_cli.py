"""The real entry point, run as a user runs it: exit codes, one-line errors, files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import orjson
import pytest
from helpers import (
    LOCK_NAME,
    RUNNER_KEYS,
    assert_exact_plan,
    assert_one_line_error,
    invoke,
    read_plan,
    run,
    table_args,
    without_created_at,
)

from distro.cli import cli
from distro.local.dataset import Dataset
from distro.settings import Tables


def test_the_top_level_help_lists_every_command() -> None:
    result = invoke("--help")
    assert result.returncode == 0, result.stderr
    assert "Usage: distro" in result.stdout
    assert result.stdout.count("--") >= 2
    listed = result.stdout.split("Commands:")[1].split()
    assert set(cli.commands) <= set(listed)


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_has_help_with_its_options(name: str) -> None:
    result = invoke(name, "--help")
    assert result.returncode == 0, result.stderr
    assert f"Usage: distro {name}" in result.stdout
    command = cli.commands[name]
    assert command.help, f"{name} has no help text"
    options = [p for p in command.params if isinstance(p, click.Option) and not p.hidden]
    assert options, f"{name} takes no option"
    for option in options:
        assert option.help, f"{name} {option.opts[0]} has no help text"
        for flag in option.opts:
            assert flag in result.stdout, f"{name} --help does not show {flag}"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--parallel-segments", "0"], ["--parallel-segments", "between 1 and 10", "got 0"]),
        (["--parallel-segments", "11"], ["--parallel-segments", "got 11"]),
        (["--concurrency", "0"], ["--concurrency"]),
        (["--min-uploads", "-1"], ["--min-uploads"]),
        (["--env", "moon"], ["moon", "staging", "production"]),
        (["--instances", "abc"], ["--instances", "abc"]),
    ],
)
def test_bad_options_are_usage_errors(args: list[str], words: list[str]) -> None:
    result = invoke("generate", "--instances", "5", *args)
    assert_one_line_error(result, 2, *words)


@pytest.mark.parametrize("instances", ["0", "-3"])
def test_instances_must_be_positive(instances: str) -> None:
    assert_one_line_error(invoke("generate", "--instances", instances), 2, "--instances")


def test_generate_needs_instances() -> None:
    assert_one_line_error(invoke("generate"), 2, "--instances")


@pytest.mark.db
def test_missing_table_is_a_runtime_error(loaded: tuple[Dataset, Tables], tmp_path: Path) -> None:
    _, tables = loaded
    args = table_args(tables)
    args[args.index("--upload-table") + 1] = "no-such-table"
    result = invoke("generate", "--instances", "2", *args, "--output-dir", tmp_path)
    assert_one_line_error(result, 1, "no-such-table", "not found")
    assert list(tmp_path.iterdir()) == [] or not read_plan(tmp_path)


@pytest.mark.db
def test_generate_writes_the_exact_plan(loaded: tuple[Dataset, Tables], tmp_path: Path) -> None:
    dataset, tables = loaded
    truth = dataset.truth()
    # One real process end to end; the two reruns only compare files, so they run in-process.
    result = run("generate", "--instances", "5", *table_args(tables), "--output-dir", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Customer Distribution Analysis" in result.stdout
    plan = read_plan(tmp_path)
    assert sorted(plan) == [1, 2, 3, 4, 5]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        LOCK_NAME,
        "distribution-staging.json",
        *(f"instance-{n}-customers-staging.json" for n in range(1, 6)),
    ]  # and no checkpoint left behind
    assert_exact_plan(plan, truth, 5)
    assigned = [c for doc in plan.values() for c in doc["customers"]]
    left_out = truth.skipped_customers | truth.filtered_customers
    assert left_out
    assert not left_out & set(assigned)

    again = invoke("generate", "--instances", "5", *table_args(tables), "--output-dir", tmp_path)
    assert again.returncode == 0, again.stderr
    assert without_created_at(read_plan(tmp_path)) == without_created_at(plan)  # deterministic

    fewer = invoke("generate", "--instances", "3", *table_args(tables), "--output-dir", tmp_path)
    assert fewer.returncode == 0, fewer.stderr
    assert sorted(read_plan(tmp_path)) == [1, 2, 3]  # no stale file of the larger plan


@pytest.mark.db
def test_analyze_writes_no_file(loaded: tuple[Dataset, Tables], tmp_path: Path) -> None:
    dataset, tables = loaded
    out = tmp_path / "state"
    result = run("analyze", *table_args(tables), "--output-dir", out)
    assert result.returncode == 0, result.stderr
    assert f"{dataset.truth().total_uploads:,}" in result.stdout
    assert "Instances Needed" in result.stdout
    assert [p.name for p in out.iterdir()] == [LOCK_NAME]  # the lock stays, nothing else


# --- fast start ----------------------------------------------------------------------------

SLOW_PACKAGES = ("aioboto3", "aiobotocore", "botocore", "aiohttp")


def imported_while_running(*args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run distro with ``-X importtime``; return the run and the top-level packages it imported."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "distro", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    packages = {
        line.split("|")[-1].strip().split(".")[0]
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    return result, packages


@pytest.mark.parametrize(
    "command",
    [[], ["analyze"], ["generate"], ["demo"], ["verify"], ["check"], ["replan"], ["status"]],
)
def test_help_imports_no_aws_code_and_no_rich(command: list[str]) -> None:
    result, packages = imported_while_running(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "click" in packages  # the import log was read
    assert packages.isdisjoint({*SLOW_PACKAGES, "rich"}), packages & {*SLOW_PACKAGES, "rich"}


@pytest.mark.db
def test_verify_of_a_plan_imports_no_aws_code(
    loaded: tuple[Dataset, Tables], tmp_path: Path
) -> None:
    """verify reads files only: the SDK (a third of a second to import) stays out of it."""
    _, tables = loaded
    made = invoke("generate", "--instances", "3", *table_args(tables), "--output-dir", tmp_path)
    assert made.returncode == 0, made.stderr
    result, packages = imported_while_running("verify", "--output-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK: 3 instance files"), result.stdout
    assert packages.isdisjoint(SLOW_PACKAGES), packages & set(SLOW_PACKAGES)


@pytest.mark.parametrize(
    "args",
    [
        ["generate", "--instances", "0"],
        ["analyze", "--parallel-segments", "11"],
        ["analyze", "--no-such-option"],
    ],
)
def test_usage_errors_import_no_aws_code(args: list[str]) -> None:
    result, packages = imported_while_running(*args)
    assert result.returncode == 2
    assert packages.isdisjoint(SLOW_PACKAGES), packages & set(SLOW_PACKAGES)


# --- the runner's file names ----------------------------------------------------------------


def read_as_the_runner(directory: Path, instance_id: int, env: str) -> list[str]:
    """What ``migrate-instance.js --instance`` reads: the name from id and env, then customers."""
    path = directory / f"instance-{instance_id}-customers-{env}.json"
    customers: list[str] = orjson.loads(path.read_text("utf-8"))["customers"]
    return customers


@pytest.mark.db
def test_the_runner_reads_every_file_and_environments_share_a_folder(
    loaded: tuple[Dataset, Tables], tmp_path: Path
) -> None:
    dataset, tables = loaded
    truth = dataset.truth()
    staging = invoke("generate", "--instances", "3", *table_args(tables), "--output-dir", tmp_path)
    assert staging.returncode == 0, staging.stderr
    before = {p.name: p.read_bytes() for p in tmp_path.glob("*-staging.json")}
    production = invoke(
        "generate", "--instances", "2", "--env", "production",
        *table_args(tables), "--output-dir", tmp_path,
    )  # fmt: skip
    assert production.returncode == 0, production.stderr
    assert {p.name: p.read_bytes() for p in tmp_path.glob("*-staging.json")} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        LOCK_NAME,
        "distribution-production.json",
        "distribution-staging.json",
        "instance-1-customers-production.json",
        "instance-1-customers-staging.json",
        "instance-2-customers-production.json",
        "instance-2-customers-staging.json",
        "instance-3-customers-staging.json",
    ]
    for env, instances in (("staging", 3), ("production", 2)):
        read = [c for n in range(1, instances + 1) for c in read_as_the_runner(tmp_path, n, env)]
        assert sorted(read) == sorted(truth.uploads_by_customer)
        for n in range(1, instances + 1):
            document = orjson.loads((tmp_path / f"instance-{n}-customers-{env}.json").read_bytes())
            assert list(document) == RUNNER_KEYS
            assert document["environment"] == env
        checked = invoke("verify", "--env", env, "--output-dir", tmp_path)
        assert checked.returncode == 0, checked.stderr
        assert checked.stdout.startswith(
            f"OK: {instances} instance files in {tmp_path}/ match distribution-{env}.json"
        )


# --- the question before a plan is replaced -------------------------------------------------


def answer_at_a_terminal(args: list[str | Path], answer: bytes) -> tuple[int, str]:
    """Run distro with a terminal as stdin, type *answer*; return its exit code and stderr."""
    import os  # noqa: PLC0415
    import pty  # noqa: PLC0415

    main, secondary = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "distro", *map(str, args)],
            stdin=secondary,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        os.write(main, answer)
        _, err = process.communicate(timeout=120)
    finally:
        os.close(main)
        os.close(secondary)
    return process.returncode, err.decode()


@pytest.mark.db
@pytest.mark.parametrize("answer", [b"n\n", b"\n"])
def test_replacing_a_plan_is_asked_and_defaults_to_no(
    loaded: tuple[Dataset, Tables], tmp_path: Path, answer: bytes
) -> None:
    _, tables = loaded
    args: list[str | Path] = ["generate", *table_args(tables), "--output-dir", tmp_path]
    first = invoke(*args, "--instances", "3")
    assert first.returncode == 0, first.stderr
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    code, err = answer_at_a_terminal([*args, "--instances", "2"], answer)

    assert code == 1
    assert f"Replace the 3 staging instance files in {tmp_path}/? [y/N]" in err
    assert err.splitlines()[-1].endswith("Error: Nothing written: the plan in place is unchanged")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
