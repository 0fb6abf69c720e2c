"""One way to run the CLI and one copy of each helper the test files share.

``invoke`` runs ``distro.cli.main`` in this process: no interpreter start, no
import of aioboto3 and rich again, so a run costs milliseconds, not half a
second. ``run`` and ``start`` spawn ``python -m distro`` for the tests where a
real process is the point: kills, signals, the folder lock between two
processes, exit codes end to end, start-up time. Both return a ``Result``
with the fields of ``subprocess.CompletedProcess`` the tests read.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from distro.cli import main
from distro.dynamo.handle import dynamodb_client
from distro.local.dataset import Truth
from distro.local.dynamodb import LOCAL_CREDENTIALS
from distro.settings import Tables
from distro.tally import SpaceLoad

# A hang guard, not a speed test: a healthy run takes seconds.
RUN_TIMEOUT = 240.0

# The keys the migration runner reads, in the order distro writes them.
RUNNER_KEYS = [
    "instanceId",
    "environment",
    "totalCustomers",
    "estimatedUploads",
    "estimatedSpaces",
    "customers",
    "createdAt",
]
DOCUMENT_KEYS = set(RUNNER_KEYS)


@dataclass(frozen=True)
class Result:
    """How one run of the CLI ended: *returncode*, and what it wrote to *stdout* and *stderr*."""

    returncode: int
    stdout: str
    stderr: str


# --- running the CLI ---------------------------------------------------------------------------


def environment(
    env: Mapping[str, str] | None = None, *, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """*base* (default: this process's AWS-isolated environment) with *env* on top."""
    return {**(os.environ if base is None else base), **(env or {})}


def run(
    *args: str | Path,
    env: Mapping[str, str] | None = None,
    base: Mapping[str, str] | None = None,
    timeout: float = RUN_TIMEOUT,
) -> Result:
    """Run ``python -m distro ARGS`` in a new process to the end, as a user would.

    *env* is added to *base* (default: this process's environment); pass *base*
    to run with exactly that environment.
    """
    done = subprocess.run(
        [sys.executable, "-m", "distro", *map(str, args)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
        check=False,
        env=environment(env, base=base),
    )
    return Result(done.returncode, done.stdout, done.stderr)


def start(*args: str | Path, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
    """Start ``python -m distro ARGS`` and return at once (for tests that signal or kill it)."""
    return subprocess.Popen(
        [sys.executable, "-m", "distro", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        env=environment(env),
    )


def finish(process: subprocess.Popen[str], timeout: float = RUN_TIMEOUT) -> tuple[str, str]:
    """Wait for *process* and return its (stdout, stderr)."""
    try:
        return process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise


def wait_until(
    condition: Callable[[], bool],
    process: subprocess.Popen[str] | None = None,
    timeout: float = 60.0,
) -> bool:
    """Poll *condition*; False if *process* ended first. Fails the test on *timeout*."""
    deadline = time.monotonic() + timeout
    while not condition():
        if process is not None and process.poll() is not None:
            return False
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(0.002)
    return True


def invoke(
    *args: str | Path, env: Mapping[str, str] | None = None, base: Mapping[str, str] | None = None
) -> Result:
    """Run ``distro ARGS`` in this process, as ``run`` would in a new one.

    The CLI's exit becomes *returncode*; the environment is ``run``'s (*env* on top of
    *base*) for the run only, so set it before anything reads it: botocore reads
    ``AWS_*`` when the CLI makes its session, not at import. The
    rich consoles print to whatever ``sys.stdout``/``sys.stderr`` are at print
    time, so swapping those captures everything, ``--json`` bytes included.
    Not from a coroutine: the CLI runs its own event loop (use ``run`` there).
    """
    stdout, stderr = _Capture(), _Capture()
    with (
        _environ(environment(env, base=base)),
        contextlib.redirect_stdout(stdout),
        contextlib.redirect_stderr(stderr),
        _stdin(),
    ):
        returncode = _exit_code([str(arg) for arg in args])
    return Result(returncode, stdout.text(), stderr.text())


def _exit_code(argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as done:
        if done.code is None or isinstance(done.code, int):
            return done.code or 0
        print(done.code, file=sys.stderr)  # what the interpreter does with a message
        return 1
    return 0


class _Capture(io.TextIOWrapper):
    """A text stream over bytes, like a real stdout: ``buffer`` takes raw ``--json`` writes."""

    def __init__(self) -> None:
        super().__init__(io.BytesIO(), encoding="utf-8", newline="", write_through=True)

    def text(self) -> str:
        self.flush()
        raw = self.buffer.getvalue().decode("utf-8")  # type: ignore[attr-defined]
        # subprocess's text mode reads with universal newlines; read the same way here.
        return raw.replace("\r\n", "\n").replace("\r", "\n")


@contextlib.contextmanager
def _environ(environ: Mapping[str, str]) -> Iterator[None]:
    """*environ* as ``os.environ`` for the block; the whole environment restored after it."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def _stdin() -> Iterator[None]:
    # As a child of the test run has: no terminal, nothing to read, so nothing prompts.
    saved = sys.stdin
    sys.stdin = io.StringIO("")
    try:
        yield
    finally:
        sys.stdin = saved


# --- arguments and results ---------------------------------------------------------------------


def table_args(
    tables: Tables,
    *,
    endpoint: str | None = None,
    consumer: str | None = None,
    upload: str | None = None,
    quiet: bool = True,
) -> list[str]:
    """The options that point a run at *tables* (or *endpoint*, *consumer*, *upload*); *quiet*."""
    url = endpoint or tables.endpoint_url
    assert url is not None
    return [
        *("--endpoint-url", url),
        *("--consumer-table", consumer or tables.consumer),
        *("--upload-table", upload or tables.upload),
        *(["--quiet"] if quiet else []),  # check has no progress to quieten
    ]


def read_plan(directory: Path) -> dict[int, dict[str, Any]]:
    """The instance files in *directory*, by instance number."""
    files = sorted(directory.glob("instance-*-customers-staging.json"))
    return {int(p.name.split("-")[1]): orjson.loads(p.read_bytes()) for p in files}


def without_created_at(plan: Mapping[int, Mapping[str, Any]]) -> dict[int, dict[str, Any]]:
    """*plan* without the one field that differs between two runs."""
    return {n: {k: v for k, v in doc.items() if k != "createdAt"} for n, doc in plan.items()}


def files_of(directory: Path, *leaving_out: str) -> dict[str, bytes]:
    """Every file in *directory* (none if it is missing) with its bytes, but *leaving_out*."""
    if not directory.exists():
        return {}
    return {
        p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.name not in leaving_out
    }


def assert_exact_plan(plan: Mapping[int, Mapping[str, Any]], truth: Truth, instances: int) -> None:
    """Every included customer once; each file's numbers are the sums of the truth."""
    assert sorted(plan) == list(range(1, instances + 1))
    assigned = [c for doc in plan.values() for c in doc["customers"]]
    assert sorted(assigned) == sorted(truth.uploads_by_customer)
    for number, doc in plan.items():
        assert set(doc) == DOCUMENT_KEYS
        assert doc["instanceId"] == number
        assert doc["totalCustomers"] == len(doc["customers"])
        assert doc["estimatedUploads"] == sum(
            truth.uploads_by_customer[c] for c in doc["customers"]
        )
        assert doc["estimatedSpaces"] == sum(
            truth.spaces_with_uploads_by_customer[c] for c in doc["customers"]
        )
    assert sum(doc["estimatedUploads"] for doc in plan.values()) == truth.total_uploads
    assert sum(doc["estimatedSpaces"] for doc in plan.values()) == sum(
        truth.spaces_with_uploads_by_customer.values()
    )
    created = {doc["createdAt"] for doc in plan.values()}
    assert len(created) == 1, "the files come from more than one run"


def assert_one_line_error(result: Result, code: int, *words: str) -> None:
    """*result* ended with exit *code* and one ``Error:`` line on stderr holding all *words*."""
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    for word in words:
        assert word in lines[0], lines[0]
    assert "Traceback" not in result.stderr


# --- the plan folder's names, spelt out as the runner and the operators see them --------------

LOCK_NAME = ".distro.lock"
STAGED_SUFFIX = ".staged"
CHECKPOINT_NAME = "counting-checkpoint-staging.json"
MANIFEST_NAME = "distribution-staging.json"
JOURNAL_NAME = ".distro-commit-staging.json"
INSTANCE_FILE = re.compile(r"instance-\d+-customers-staging\.json")


def instance_file_name(instance_id: int, env: str = "staging") -> str:
    """The name the runner opens for ``--instance`` *instance_id* under ``STORACHA_ENV`` *env*."""
    return f"instance-{instance_id}-customers-{env}.json"


def spaces_of(counts: Mapping[str, Mapping[str, int]]) -> dict[str, tuple[SpaceLoad, ...]]:
    """The split spaces of ``{customer: {space: uploads}}``, as the tally holds them."""
    return {
        customer: tuple(SpaceLoad(customer, space, n) for space, n in spaces.items())
        for customer, spaces in counts.items()
    }


# --- DynamoDB Local -----------------------------------------------------------------------------


def local_client(endpoint_url: str) -> AbstractAsyncContextManager[Any]:
    """An SDK client of the DynamoDB Local at *endpoint_url*, made as distro makes its own.

    Its calls name their tables; the SDK's data files are parsed once per process.
    """
    tables = Tables("unused-consumer", "unused-upload", "us-east-2", endpoint_url)
    return dynamodb_client(tables, pool_size=8, credentials=LOCAL_CREDENTIALS)
