"""AWS's DynamoDB Local, run on a loopback port and stopped: a process supervisor.

Used by the tests, ``distro demo`` and the benchmarks; it is installed by
``distro.local.install``. Debug it by hand with::

    python -m distro.local install
    python -m distro.local serve [--port P] [--data-dir D]
"""

from __future__ import annotations

import atexit
import ctypes
import http.client
import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from distro.errors import LocalDynamoError
from distro.local.install import JAR_NAME, LIB_NAME, cache_root, check_java, ensure_installed
from distro.settings import Credentials

# Measured on the 2-core dev machine, medians of 2-6 runs, in-memory:
# - `-XX:TieredStopAtLevel=1` (C1 only): first answer 1.4 s -> 1.0 s and JVM CPU to get
#   there 2.5 s -> 1.3 s; counting 150k items with 16 concurrent aioboto3 queries 10.2 s ->
#   7.5 s at half the server CPU, because C2's compiler threads compete with the Python
#   client for the two cores. Only a lone sequential writer on an idle machine is ~15 %
#   slower with it, which is not how distro uses the server.
# - `-XX:+UseSerialGC`: bulk loads (16 concurrent BatchWriteItem) ~8 % faster, ~9 % less
#   CPU; neutral for startup and queries.
# - `-Xshare:auto` is already JDK 17's default (`-Xshare:off` starts ~5 % slower), and
#   AppCDS is refused: the jar's manifest Class-Path names a directory.
JVM_FLAGS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")

START_TIMEOUT = 30.0  # seconds until the server must answer
STOP_TIMEOUT = 10.0  # seconds of SIGTERM grace before SIGKILL
_POLL_INTERVAL = 0.05
_PROBE_TIMEOUT = 2.0
_PORT_ATTEMPTS = 3
_TAIL_LINES = 4

# DynamoDB Local checks that a SigV4 header is present but never verifies the signature.
_PROBE_HEADERS = {
    "Content-Type": "application/x-amz-json-1.0",
    "X-Amz-Target": "DynamoDB_20120810.ListTables",
    "Authorization": (
        "AWS4-HMAC-SHA256 Credential=local/20000101/us-east-2/dynamodb/aws4_request, "
        "SignedHeaders=host, Signature=0"
    ),
}
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


# DynamoDB Local accepts any credentials: these dummies, given to the session explicitly.
LOCAL_CREDENTIALS = Credentials(access_key_id="local", secret_access_key="local")
LOCAL_REGION = "us-east-2"


def local_client_env() -> dict[str, str]:
    """Environment for an AWS client of DynamoDB Local, in a process of its own (tests)."""
    # botocore 1.40 reads the region only from AWS_DEFAULT_REGION, newer SDKs from AWS_REGION.
    return {
        "AWS_ACCESS_KEY_ID": LOCAL_CREDENTIALS.access_key_id,
        "AWS_SECRET_ACCESS_KEY": LOCAL_CREDENTIALS.secret_access_key,
        "AWS_REGION": LOCAL_REGION,
        "AWS_DEFAULT_REGION": LOCAL_REGION,
    }


# --- Server -------------------------------------------------------------------------------


class LocalDynamo:
    """One DynamoDB Local server process, reachable at ``endpoint_url`` once started.

    start() and stop() may be called from any thread (e.g. ``asyncio.to_thread``).
    """

    def __init__(
        self, *, data_dir: Path | None = None, port: int | None = None, cache: Path | None = None
    ) -> None:
        self.data_dir = data_dir
        self.requested_port = port
        self.cache = cache
        self.log_path: Path | None = None
        self._port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:<port>``; valid once start() has returned."""
        if self._port is None:
            raise LocalDynamoError("LocalDynamo has no endpoint yet: call start() first")
        return f"http://127.0.0.1:{self._port}"

    @property
    def pid(self) -> int | None:
        """Process id of the running java, or None when stopped."""
        return self._proc.pid if self._proc is not None else None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Install if needed, launch java and return once it answers ListTables."""
        if self._proc is not None:
            raise LocalDynamoError(
                f"LocalDynamo already runs at {self.endpoint_url}: stop() it first"
            )
        home = ensure_installed(cache=self.cache)
        java = check_java()
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        for attempt in range(1, _PORT_ATTEMPTS + 1):
            port = self._choose_port()
            try:
                self._wait_until_ready(self._launch(java, home, port), port)
            except _PortTaken:
                self._shutdown(keep_log=False)
                if self.requested_port is not None or attempt == _PORT_ATTEMPTS:
                    raise
                continue  # another program took the free port between our check and java's bind
            except BaseException:
                self._shutdown(keep_log=True)
                raise
            self._port = port
            return

    def stop(self) -> None:
        """Terminate the server (SIGKILL after STOP_TIMEOUT s); safe to call repeatedly."""
        # A server that died on its own leaves its log for whoever investigates.
        crashed = self._proc is not None and self._proc.poll() is not None
        self._shutdown(keep_log=crashed)

    def wait(self) -> int:
        """Block until the server exits by itself and return its exit code."""
        if self._proc is None:
            raise LocalDynamoError("LocalDynamo is not running: call start() first")
        return self._proc.wait()

    def output_tail(self) -> str:
        """The last lines of the server's output (stack frames left out), on one line."""
        if self.log_path is None or not self.log_path.exists():
            return "no output"
        text = self.log_path.read_text(errors="replace")
        lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not _is_frame(ln)]
        return " | ".join(lines[-_TAIL_LINES:]) or "no output"

    def _choose_port(self) -> int:
        """The requested port if nothing answers there, else a free loopback port."""
        if self.requested_port is None:
            return _free_port()
        if _is_listening(self.requested_port):
            # Our readiness probe would take another server for ours, so refuse early.
            raise _PortTaken(
                f"port {self.requested_port} is already in use: choose another port or omit it"
            )
        return self.requested_port

    def _launch(self, java: str, home: Path, port: int) -> subprocess.Popen[bytes]:
        """Start java with its output going to a fresh log file."""
        logs = (self.cache if self.cache is not None else cache_root()) / "dynamodb-local" / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f"server-{port}-", suffix=".log", dir=logs)
        self.log_path = Path(name)
        # A file, not a pipe: nobody reads the output while it runs, and a full pipe blocks java.
        self._log = os.fdopen(fd, "wb")
        command = self._command(java, home, port)
        log = self._log
        try:
            self._proc = _SPAWNER.run(
                lambda: subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    # Own session: Ctrl-C reaches only Python, which then stops java in order.
                    start_new_session=True,
                    preexec_fn=_parent_death_hook(),  # noqa: PLW1509 - the hook only calls prctl
                )
            )
        except OSError as exc:
            raise LocalDynamoError(f"cannot start {java} ({exc}): repair the Java install") from exc
        atexit.register(self.stop)
        return self._proc

    def _command(self, java: str, home: Path, port: int) -> list[str]:
        """The java command line; -sharedDb so every access key and region sees one database."""
        storage = (
            ["-inMemory"] if self.data_dir is None else ["-dbPath", str(self.data_dir.resolve())]
        )
        return [
            java,
            *JVM_FLAGS,
            f"-Djava.library.path={home / LIB_NAME}",
            "-jar",
            str(home / JAR_NAME),
            "-port",
            str(port),
            "-disableTelemetry",
            "-sharedDb",
            *storage,
        ]

    def _wait_until_ready(self, proc: subprocess.Popen[bytes], port: int) -> None:
        """Poll until the server answers; raise with its output if it exits or stalls."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            code = proc.poll()
            if code is not None:
                raise self._exit_error(code, port)
            if _answers(port):
                return
            time.sleep(_POLL_INTERVAL)
        raise LocalDynamoError(
            f"DynamoDB Local did not answer on port {port} within {START_TIMEOUT:.0f} s "
            f"({self.output_tail()}): see {self.log_path}; is the machine overloaded?"
        )

    def _exit_error(self, code: int, port: int) -> LocalDynamoError:
        """The error for a server that exited during startup."""
        tail = self.output_tail()
        if "Address already in use" in tail:
            return _PortTaken(f"port {port} is already in use: choose another port or omit it")
        return LocalDynamoError(
            f"DynamoDB Local exited with code {code} during startup ({tail}): see {self.log_path}"
        )

    def _shutdown(self, *, keep_log: bool) -> None:
        """Stop the process if any and close its log, deleting the log unless told to keep it."""
        proc, self._proc = self._proc, None
        atexit.unregister(self.stop)
        if proc is not None:
            _terminate(proc)
        if self._log is not None:
            self._log.close()
            self._log = None
        if not keep_log and self.log_path is not None:
            self.log_path.unlink(missing_ok=True)


class _PortTaken(LocalDynamoError):
    """The server could not bind its port."""


def _is_frame(line: str) -> bool:
    """Whether a log line is a Java stack frame, noise in a one-line message."""
    stripped = line.strip()
    return stripped.startswith("at ") or (stripped.startswith("...") and "more" in stripped)


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, wait up to STOP_TIMEOUT, then SIGKILL; always reap the process."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _free_port() -> int:
    """A port the kernel considers free on loopback right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _is_listening(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=_PROBE_TIMEOUT):
            return True
    except OSError:
        return False


def _answers(port: int) -> bool:
    """Whether DynamoDB Local on port answers a ListTables call with 200."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=_PROBE_TIMEOUT)
    try:
        conn.request("POST", "/", body=b"{}", headers=_PROBE_HEADERS)
        response = conn.getresponse()
        response.read()
        return response.status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


# A process to start, and where to hand the result back to the waiting thread.
_SpawnJob = tuple[Callable[[], subprocess.Popen[bytes]], Future[subprocess.Popen[bytes]]]


class _Spawner:
    """Starts child processes from one daemon thread that lives as long as the process.

    Linux sends the parent-death signal when the *thread* that forked the child ends, so
    forking from a short-lived worker (``asyncio.to_thread``) would kill java with it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: queue.SimpleQueue[_SpawnJob] | None = None

    def run(self, spawn: Callable[[], subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
        """Run spawn on the spawner thread and return its result (or raise its error)."""
        done: Future[subprocess.Popen[bytes]] = Future()
        self._queue().put((spawn, done))
        return done.result()

    def _queue(self) -> queue.SimpleQueue[_SpawnJob]:
        """The job queue, starting the thread on first use."""
        with self._lock:
            if self._jobs is None:
                self._jobs = queue.SimpleQueue()
                worker = threading.Thread(
                    target=_serve_jobs, args=(self._jobs,), name="localdb-spawner", daemon=True
                )
                worker.start()
            return self._jobs


def _serve_jobs(jobs: queue.SimpleQueue[_SpawnJob]) -> None:
    """Run spawn jobs forever: a daemon thread is never joined, so it never ends early."""
    while True:
        spawn, done = jobs.get()
        try:
            done.set_result(spawn())
        except Exception as exc:  # handed to the caller, who raises it in its own thread
            done.set_exception(exc)


_SPAWNER = _Spawner()


def _parent_death_hook() -> Callable[[], None] | None:
    """A preexec_fn that makes Linux SIGKILL the child when the forking thread dies, or None."""
    if not sys.platform.startswith("linux"):
        return None
    # Resolve everything before fork: the child may only make the raw system call.
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    parent = os.getpid()
    kill = int(signal.SIGKILL)

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, kill, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)  # the parent died before prctl took effect: nobody would stop us

    return hook
