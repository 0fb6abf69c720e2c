"""One run per output folder: a second run stops at once, a killed one never blocks the next.

The runs here are real processes: the first counts through the fault proxy,
which holds every Query for a moment so that it is surely still counting when
the second one starts. The tests themselves never sleep: the proxy's hold is
lifted as soon as the second run has been seen to stop.
"""

from __future__ import annotations

import fcntl
import os
import signal
from pathlib import Path

import pytest
from faultproxy import Faults
from helpers import (
    CHECKPOINT_NAME,
    LOCK_NAME,
    assert_exact_plan,
    files_of,
    finish,
    invoke,
    read_plan,
    run,
    start,
    wait_until,
)
from test_faults import (
    FAST_RETRIES,
    INSTANCES,
    RecordingProxy,
    assert_only_instance_files,
    generate_args,
    report_spaces,
)

from distro import files
from distro.balance import CustomerLoad, balance
from distro.emit import PlanParameters, write_plan
from distro.errors import OutputLocked
from distro.files import PlanFolder, output_lock
from distro.local.dataset import Dataset
from distro.local.dynamodb import LocalDynamo
from distro.pipeline import checkpoint_until_committed, commit_plan
from distro.settings import CountSettings, Tables, Throughput
from distro.verify import verify_plan

# Every Query held a quarter of a second, two at a time: the 438 spaces of the session
# dataset would take nearly a minute, so the first run is still counting when asked.
SLOW = Faults(delay=1.0, delay_seconds=0.25, operations=frozenset({"Query"}))
OLD_LOADS = [
    CustomerLoad("did:mailto:example.org:alice", 70, 2),
    CustomerLoad("did:mailto:b:c", 30, 1),
]
OLD_CREATED = "2026-01-01T00:00:00.000Z"


def locked_message(directory: Path, pid: int) -> str:
    """The one line a second run prints."""
    return (
        f"Error: another distro run (process {pid}) is using {directory}/: wait for it to "
        "finish, or pass another --output-dir\n"
    )


def write_old_plan(directory: Path) -> None:
    """A plan from an earlier run, with its manifest, for ``verify`` to check."""
    tables = Tables("old-consumer", "old-upload", "us-east-2")
    parameters = PlanParameters(CountSettings(tables=tables), Throughput(), False)
    write_plan(
        PlanFolder(directory), balance(OLD_LOADS, 2), created_at=OLD_CREATED, parameters=parameters
    )


# --- the lock itself ---------------------------------------------------------------------------


def test_the_lock_is_exclusive_and_names_its_holder(tmp_path: Path) -> None:
    folder = tmp_path / "state"
    with output_lock(PlanFolder(folder)):
        assert (folder / LOCK_NAME).read_text() == f"{os.getpid()}\n"
        # flock belongs to an open file, so even this process cannot take it twice.
        with pytest.raises(OutputLocked) as refused, output_lock(PlanFolder(folder)):
            pass
    assert str(refused.value) == (
        f"another distro run (process {os.getpid()}) is using {folder}/: wait for it to finish"
    )
    with output_lock(PlanFolder(folder)):  # released on the way out
        pass
    assert [p.name for p in folder.iterdir()] == [LOCK_NAME]  # left in place, never unlinked


def test_a_holder_that_has_not_written_its_id_yet_is_still_refused(tmp_path: Path) -> None:
    (tmp_path / LOCK_NAME).write_bytes(b"")
    fd = os.open(tmp_path / LOCK_NAME, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(OutputLocked) as refused, output_lock(PlanFolder(tmp_path)):
            pass
    finally:
        os.close(fd)
    assert str(refused.value) == f"another distro run is using {tmp_path}/: wait for it to finish"


def test_the_lock_file_is_no_part_of_the_plan(tmp_path: Path) -> None:
    with output_lock(PlanFolder(tmp_path)):
        write_old_plan(tmp_path)  # its stale-file cleanup must leave the lock alone
        assert verify_plan(PlanFolder(tmp_path)) == []
    assert (tmp_path / LOCK_NAME).read_text() == f"{os.getpid()}\n"


# --- every command that writes takes it; verify does not -------------------------------------


def test_analyze_refuses_a_locked_folder_before_reaching_dynamodb(tmp_path: Path) -> None:
    with output_lock(PlanFolder(tmp_path)):
        # Nothing listens on port 9: a run that got past the lock would say so instead.
        result = invoke("analyze", "--endpoint-url", "http://127.0.0.1:9", "--output-dir", tmp_path)
    assert (result.returncode, result.stderr) == (1, locked_message(tmp_path, os.getpid()))
    assert [p.name for p in tmp_path.iterdir()] == [LOCK_NAME]  # no checkpoint opened


def test_demo_refuses_a_locked_folder_before_starting_dynamodb_local(tmp_path: Path) -> None:
    with output_lock(PlanFolder(tmp_path)):
        # A real process: the demo's one run end to end (and the demo sets os.environ).
        result = run("demo", "--customers", "10", "--quiet", "--output-dir", tmp_path)
    assert (result.returncode, result.stderr) == (1, locked_message(tmp_path, os.getpid()))
    assert [p.name for p in tmp_path.iterdir()] == [LOCK_NAME]


def test_verify_reads_a_locked_folder(tmp_path: Path) -> None:
    write_old_plan(tmp_path)
    with output_lock(PlanFolder(tmp_path)):
        # A real process: verify's one run end to end, reading a folder another process locks.
        result = run("verify", "--output-dir", tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(
        f"OK: 2 instance files in {tmp_path}/ match distribution-staging.json"
    )


# --- two real runs -----------------------------------------------------------------------------


@pytest.mark.db
def test_a_second_generate_stops_at_once_and_the_first_finishes_untouched(
    dynamo: LocalDynamo, loaded: tuple[Dataset, Tables], tmp_path: Path
) -> None:
    dataset, tables = loaded
    out = tmp_path / "state"
    write_old_plan(out)
    with RecordingProxy(dynamo.endpoint_url, SLOW) as proxy:
        args = generate_args(tables, proxy.url, out, "--concurrency", "2")
        first = start(*args, env=FAST_RETRIES)
        checkpoint = out / CHECKPOINT_NAME
        assert wait_until(checkpoint.exists, first), "the first run ended before counting"
        saved, inode = checkpoint.read_bytes(), checkpoint.stat().st_ino
        before = files_of(out, CHECKPOINT_NAME)

        # The lock is between processes: the first is one, this test process the other.
        second = invoke(*args, env=FAST_RETRIES)
        checked = invoke("verify", "--output-dir", out)
        assert first.poll() is None, "the first run was no longer running"

        assert (second.returncode, second.stdout) == (1, "")
        assert second.stderr == locked_message(out, first.pid)
        assert checked.returncode == 0, checked.stdout  # reading needs no lock
        assert files_of(out, CHECKPOINT_NAME) == before  # the old plan and the lock file
        # Still the first run's journal, only appended to since.
        assert checkpoint.stat().st_ino == inode
        assert checkpoint.read_bytes().startswith(saved)

        proxy.faults = Faults()
        _, stderr = finish(first)
    assert first.returncode == 0, stderr
    assert_exact_plan(read_plan(out), dataset.truth(), INSTANCES)
    assert_only_instance_files(out, INSTANCES)


@pytest.mark.db
def test_a_killed_run_never_blocks_the_next(
    dynamo: LocalDynamo, loaded: tuple[Dataset, Tables], tmp_path: Path
) -> None:
    dataset, tables = loaded
    with RecordingProxy(dynamo.endpoint_url, SLOW) as proxy:
        args = generate_args(tables, proxy.url, tmp_path, "--concurrency", "2")
        first = start(*args, env=FAST_RETRIES)
        assert wait_until((tmp_path / CHECKPOINT_NAME).exists, first)
        assert (tmp_path / LOCK_NAME).read_text() == f"{first.pid}\n"
        first.send_signal(signal.SIGKILL)
        finish(first)
        assert first.returncode == -signal.SIGKILL

        proxy.faults = Faults()
        second = start(*args, env=FAST_RETRIES)
        stdout, stderr = finish(second)
    assert second.returncode == 0, stderr
    assert (tmp_path / LOCK_NAME).read_text() == f"{second.pid}\n"
    assert report_spaces(stdout)[1] > 0  # it resumed what the killed run had counted
    assert_exact_plan(read_plan(tmp_path), dataset.truth(), INSTANCES)
    assert_only_instance_files(tmp_path, INSTANCES)


# --- the folder is probed once ---------------------------------------------------------------


async def test_a_locked_folder_is_probed_once_per_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lock checks the folder; the checkpoint and the commit take its word for it."""
    probed: list[Path] = []
    probe = files.ensure_output_dir

    def counting(directory: Path) -> None:
        probed.append(directory)
        probe(directory)

    monkeypatch.setattr(files, "ensure_output_dir", counting)
    settings = CountSettings(tables=Tables("c", "u", "us-east-2"))
    plan = balance([CustomerLoad("did:mailto:a.org:x", 3, 1)], 1)
    target = tmp_path / "plan"
    # As generate composes the stages, counting aside.
    with (
        output_lock(PlanFolder(target)) as folder,
        checkpoint_until_committed(folder, settings, restart=False),
    ):
        committed = await commit_plan(plan, folder, settings=settings, throughput=Throughput())
    assert probed == [target]
    assert [p.name for p in committed.files] == ["instance-1-customers-staging.json"]
    assert sorted(p.name for p in target.iterdir()) == [
        LOCK_NAME,
        "distribution-staging.json",
        "instance-1-customers-staging.json",
    ]
