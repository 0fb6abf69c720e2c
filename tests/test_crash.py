"""Killed, interrupted and stopped runs: the checkpoint stays readable and the files stay exact.

`distro generate` runs in a subprocess through the fault proxy, which only slows
each read down (so a small dataset takes long enough to be killed in the
middle); the kills land at seeded moments picked by the progress the proxy
sees, some while the Consumer table is still being scanned and some while
spaces are being counted. The last test kills a process that writes instance
file sets in a loop and checks that recovery always leaves one complete set.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from faultproxy import Faults
from helpers import (
    CHECKPOINT_NAME,
    INSTANCE_FILE,
    JOURNAL_NAME,
    STAGED_SUFFIX,
    assert_exact_plan,
    finish,
    invoke,
    read_plan,
    run,
    start,
    wait_until,
    without_created_at,
)
from test_faults import (
    FAST_RETRIES,
    INSTANCES,
    RecordingProxy,
    assert_counts_exact,
    assert_only_instance_files,
    generate_args,
    padded_tables,
    report_spaces,
    saved_counts,
)

from distro.balance import CustomerLoad, balance
from distro.emit import instance_document, recover
from distro.files import PlanFolder
from distro.local.dataset import Dataset
from distro.local.dynamodb import LocalDynamo
from distro.settings import Tables

CONCURRENCY = 4
# Every read held 10 ms: a whole run takes 2-3 s, the scan alone a few hundred ms.
SLOW = Faults(delay=1.0, delay_seconds=0.01)
KILLS_PER_CHAIN = 5


@pytest.fixture(scope="module")
def padded(dynamo: LocalDynamo, loaded: tuple[Dataset, Tables]) -> tuple[Dataset, Tables]:
    return loaded[0], padded_tables(dynamo, loaded)


@pytest.fixture(scope="module")
def reference(
    padded: tuple[Dataset, Tables], tmp_path_factory: pytest.TempPathFactory
) -> dict[int, dict[str, Any]]:
    """The files of an uninterrupted run."""
    _, tables = padded
    assert tables.endpoint_url is not None
    out = tmp_path_factory.mktemp("uninterrupted")
    result = invoke(*generate_args(tables, tables.endpoint_url, out))  # its files, not a process
    assert result.returncode == 0, result.stderr
    return read_plan(out)


def slow_args(proxy: RecordingProxy, tables: Tables, out: Path) -> list[str]:
    return generate_args(tables, proxy.url, out, "--concurrency", str(CONCURRENCY))


@pytest.mark.db
def test_sigkill_at_random_moments_then_resume(
    dynamo: LocalDynamo,
    padded: tuple[Dataset, Tables],
    reference: dict[int, dict[str, Any]],
    tmp_path: Path,
) -> None:
    """A chain of runs, each killed at a seeded moment and resumed by the next; 5 kills in all.

    The chain must land kills both while scanning and while counting; a second seed only
    drew other moments in the same two phases, at the cost of five more processes.
    """
    dataset, tables = padded
    rng = random.Random(1)
    spaces = len(_planned_spaces(dataset))
    kills: list[str] = []  # the phase each kill landed in
    with RecordingProxy(dynamo.endpoint_url, SLOW) as proxy:
        args = slow_args(proxy, tables, tmp_path)
        for _ in range(3 * KILLS_PER_CHAIN):  # a run may finish before its moment comes
            if len(kills) == KILLS_PER_CHAIN:
                break
            before = saved_counts(tmp_path, tables)
            scans, queries = proxy.scans, len(proxy.queries)
            process = start(*args, env=FAST_RETRIES)
            if rng.random() < 0.3:  # while the Consumer table is still being scanned
                phase, pages = "scanning", rng.randint(1, 12)
                reached = wait_until(lambda n=pages, s=scans: proxy.scans - s >= n, process)
            else:  # while counting, anywhere in what is left to count
                phase, calls = "counting", rng.randint(1, max(1, spaces - len(before)))
                reached = wait_until(
                    lambda n=calls, q=queries: len(proxy.queries) - q >= n, process
                )
            time.sleep(rng.uniform(0, 0.02))
            process.kill()
            _, stderr = finish(process)
            assert process.returncode in (0, -signal.SIGKILL), stderr
            if reached and process.returncode == -signal.SIGKILL:
                kills.append(phase)
            # The checkpoint, if the run got that far, is readable and holds exact counts,
            # and the run queried no space an earlier run had saved.
            after = saved_counts(tmp_path, tables)
            assert_counts_exact(after, dataset)
            assert not set(proxy.queried_since(queries)) & set(before)
        assert len(kills) == KILLS_PER_CHAIN
        assert set(kills) == {"scanning", "counting"}

        queries = len(proxy.queries)
        proxy.faults = Faults()  # the last run is not killed: no need to be slow
        result = run(*args, env=FAST_RETRIES)
        assert result.returncode == 0, result.stderr
        assert not set(proxy.queried_since(queries)) & set(after)
    plan = read_plan(tmp_path)
    assert_exact_plan(plan, dataset.truth(), INSTANCES)
    assert without_created_at(plan) == without_created_at(reference)
    assert_only_instance_files(tmp_path, INSTANCES)


@pytest.mark.db
@pytest.mark.parametrize("stop", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["INT", "TERM"])
def test_interrupt_saves_the_checkpoint_and_says_how_to_resume(
    dynamo: LocalDynamo,
    padded: tuple[Dataset, Tables],
    reference: dict[int, dict[str, Any]],
    tmp_path: Path,
    stop: tuple[int, int],
) -> None:
    dataset, tables = padded
    signum, code = stop
    with RecordingProxy(dynamo.endpoint_url, SLOW) as proxy:
        args = slow_args(proxy, tables, tmp_path)
        process = start(*args, env=FAST_RETRIES)
        # Past the first periodic save, so the signal is what saves the rest.
        assert wait_until(lambda: len(proxy.finished_spaces()) >= 120, process)
        process.send_signal(signum)
        _, stderr = finish(process)
        finished = proxy.finished_spaces()

        assert process.returncode == code, stderr
        assert "Traceback" not in stderr
        message = "".join(stderr.splitlines())  # the console wraps long lines (see below)
        assert str(tmp_path / CHECKPOINT_NAME) in message, stderr
        assert "run the same command again to resume" in message, stderr
        assert not read_plan(tmp_path)
        saved = saved_counts(tmp_path, tables)
        assert_counts_exact(saved, dataset)
        assert set(saved) <= finished
        assert len(finished - set(saved)) <= CONCURRENCY  # only replies still on their way

        before = len(proxy.queries)
        proxy.faults = Faults()
        again = run(*args, env=FAST_RETRIES)
        assert again.returncode == 0, again.stderr
        assert not set(proxy.queried_since(before)) & set(saved)
    counted, resumed = report_spaces(again.stdout)
    assert resumed == len(saved) > 0
    assert counted + resumed == len(_planned_spaces(dataset))
    plan = read_plan(tmp_path)
    assert_exact_plan(plan, dataset.truth(), INSTANCES)
    assert without_created_at(plan) == without_created_at(reference)
    assert_only_instance_files(tmp_path, INSTANCES)


@pytest.mark.db
def test_the_resume_hint_is_one_line(
    dynamo: LocalDynamo, padded: tuple[Dataset, Tables], tmp_path: Path
) -> None:
    _, tables = padded
    out = tmp_path / ("a-long-output-directory-name-" * 2)
    with RecordingProxy(dynamo.endpoint_url, SLOW) as proxy:
        process = start(*slow_args(proxy, tables, out), env=FAST_RETRIES)
        assert wait_until(lambda: len(proxy.finished_spaces()) >= 20, process)
        process.send_signal(signal.SIGINT)
        _, stderr = finish(process)
    assert process.returncode == 130, stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert str(out / CHECKPOINT_NAME) in stderr


def _planned_spaces(dataset: Dataset) -> set[str]:
    planned = dataset.truth().uploads_by_customer.keys()
    return {row.space for row in dataset.consumer_rows if row.customer in planned}


# --- killed while writing the instance files -----------------------------------------------

LOADS = [
    CustomerLoad(f"did:mailto:example.org:user{n:02d}", 1000 - 37 * n, n % 5) for n in range(14)
]
PLANS = (balance(LOADS, 5), balance(LOADS, 3))  # the second one also removes two stale files

WRITER = """
import itertools, sys
from pathlib import Path
from distro.balance import CustomerLoad, balance
from distro.emit import write_plan
from distro.files import PlanFolder
loads = [CustomerLoad(f"did:mailto:example.org:user{n:02d}", 1000 - 37 * n, n % 5) for n in range(14)]
plans = (balance(loads, 5), balance(loads, 3))
directory = Path(sys.argv[1])
print("ready", flush=True)
for generation in itertools.count():
    write_plan(PlanFolder(directory), plans[generation % 2], created_at=f"generation-{generation:06d}")
"""


def expected_set(generation: int) -> dict[str, dict[str, Any]]:
    plan = PLANS[generation % 2]
    return {
        f"instance-{i.instance_id}-customers-staging.json": instance_document(
            i, f"generation-{generation:06d}"
        )
        for i in plan.instances
    }


def test_sigkill_while_writing_the_files_leaves_one_complete_set(tmp_path: Path) -> None:
    rng = random.Random(7)
    mid_commit = 0
    written = False  # before the first complete set, "the previous set" is no set at all
    for _ in range(25):
        process = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        assert process.stdout.readline() == "ready\n", process.stderr
        time.sleep(rng.uniform(0.0, 0.15))
        process.kill()
        _, stderr = finish(process)
        assert process.returncode == -signal.SIGKILL, stderr

        leftovers = [
            p.name
            for p in tmp_path.iterdir()
            if p.name == JOURNAL_NAME or p.name.endswith(STAGED_SUFFIX)
        ]
        mid_commit += bool(leftovers)
        recover(PlanFolder(tmp_path))
        names = sorted(p.name for p in tmp_path.iterdir() if INSTANCE_FILE.fullmatch(p.name))
        assert not [p for p in tmp_path.iterdir() if p.name.endswith(STAGED_SUFFIX)]
        assert not (tmp_path / JOURNAL_NAME).exists()
        assert not [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name]
        if not names:
            assert not written, "a complete set was lost"
            continue
        written = True
        documents = {name: orjson.loads((tmp_path / name).read_bytes()) for name in names}
        generations = {doc["createdAt"] for doc in documents.values()}
        assert len(generations) == 1, f"a mix of sets: {sorted(generations)}"
        generation = int(generations.pop().removeprefix("generation-"))
        assert documents == expected_set(generation)
    # Most of a commit's time is spent writing and syncing, so kills do land inside one.
    assert mid_commit >= 5


def test_recover_removes_the_temp_file_of_a_killed_journal_write(tmp_path: Path) -> None:
    # What atomic_write leaves when killed between writing its temp file and renaming it.
    (tmp_path / f".{JOURNAL_NAME}.tmp-999999").write_bytes(b'{"rename": [')
    recover(PlanFolder(tmp_path))
    assert list(tmp_path.iterdir()) == []
