"""A fault-injection HTTP proxy on loopback, between distro and DynamoDB Local.

DynamoDB Local never throttles, never fails and never loses a connection, so on
its own it cannot show that distro survives the failures real DynamoDB produces.
This proxy sits in the middle and, per request and with chosen probabilities,
answers in DynamoDB's own words instead of forwarding: a throttling error, a
server error, a dropped connection, a reply held past the client's read
timeout, an empty Scan page that still carries a ``LastEvaluatedKey``, a
reply whose body was damaged on the way (its ``x-amz-crc32`` left as it was),
or a refusal of the request's signature.

DynamoDB's JSON protocol makes this simple: every call is ``POST /`` with the
operation in ``X-Amz-Target`` and a JSON body. Requests are forwarded with
their signature untouched, which works because DynamoDB Local does not check
signatures.

The server runs in a daemon thread with its own event loop, so synchronous and
asynchronous tests alike can use it::

    with FaultProxy(dynamo.endpoint_url, Faults(throttle=0.2)) as proxy:
        ...  # point the client at proxy.url
        assert proxy.counts["throttle"] > 0
"""

from __future__ import annotations

import asyncio
import collections
import json
import random
import threading
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

TARGET_PREFIX = "DynamoDB_20120810."
ERROR_PREFIX = "com.amazonaws.dynamodb.v20120810#"
JSON_TYPE = "application/x-amz-json-1.0"

# The codes and messages real DynamoDB uses, so the client parses them as it would in production.
THROTTLE_MESSAGES = {
    "ProvisionedThroughputExceededException": (
        "The level of configured provisioned throughput for the table was exceeded. "
        "Consider increasing your provisioning level with the UpdateTable API."
    ),
    "ThrottlingException": "Rate of requests exceeds the allowed throughput.",
    "RequestLimitExceeded": "Throughput exceeds the current throughput limit for your account.",
}
THROTTLE_CODES = tuple(THROTTLE_MESSAGES)
SIGNATURE_MESSAGE = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)
SERVER_ERROR_STATUSES = (500, 503)

# Headers that describe one hop rather than the message, or that aiohttp computes itself.
_HOP_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "upgrade",
    }
)

# Generous: DynamoDB Local answers in milliseconds; this only stops a wedged upstream hanging a test.
_UPSTREAM_TIMEOUT = aiohttp.ClientTimeout(total=60)
# How long stop() lets in-flight forwards finish before aiohttp cancels them.
_SHUTDOWN_TIMEOUT = 5.0
_START_TIMEOUT = 10.0
_JOIN_TIMEOUT = _SHUTDOWN_TIMEOUT + 5.0


@dataclass(frozen=True)
class Faults:
    """Per-request probabilities, each in [0, 1]; applied only to the operations in `operations`.

    One random draw per request picks at most one fault, so each probability is
    exact (``throttle=0.3`` throttles 30% of the requests) and together they may
    not exceed 1. ``empty_scan_page`` only applies to a Scan continuation (a body
    with ``ExclusiveStartKey``); when drawn for any other request, that request
    is forwarded unchanged.
    """

    throttle: float = 0.0
    """Reply 400 with a throttling code (ProvisionedThroughputExceededException,
    ThrottlingException or RequestLimitExceeded; the generator picks)."""
    server_error: float = 0.0
    """Reply 500 InternalServerError, or a bare 503 with no body."""
    drop: float = 0.0
    """Read the request, then close the connection without any reply."""
    delay: float = 0.0
    """Hold the request for `delay_seconds` before forwarding it."""
    delay_seconds: float = 2.0
    empty_scan_page: float = 0.0
    """Answer a Scan continuation with an empty page whose LastEvaluatedKey is the
    request's ExclusiveStartKey, without forwarding: legal in DynamoDB, and a
    client that treats an empty page as the end loses the rest of the segment."""
    corrupt: float = 0.0
    """Forward, then damage the reply's body: one digit of its ``Count`` changed (or,
    without one, its last byte flipped), its ``x-amz-crc32`` header left as it came."""
    reject_signature: float = 0.0
    """Reply 400 InvalidSignatureException, as DynamoDB refuses a signature it does
    not accept, without forwarding."""
    max_faults: int | None = None
    """Inject at most this many faults in all (None: no limit); later requests are
    forwarded unchanged. ``Faults(corrupt=1.0, max_faults=1)`` damages the first reply."""
    operations: frozenset[str] = frozenset({"Scan", "Query"})
    seed: int = 0

    def __post_init__(self) -> None:
        for kind, probability in self.probabilities().items():
            if not 0.0 <= probability <= 1.0:
                raise ValueError(f"Faults.{kind} must be in [0, 1], got {probability}")
        total = sum(self.probabilities().values())
        # The tolerance forgives float sums such as 0.1 + 0.2 + 0.7.
        if total > 1.0 + 1e-9:
            raise ValueError(f"the fault probabilities add up to {total}, more than 1")
        if self.delay_seconds < 0:
            raise ValueError(f"Faults.delay_seconds must be >= 0, got {self.delay_seconds}")

    def probabilities(self) -> dict[str, float]:
        """Each fault's probability, in the order they share out one random draw."""
        return {
            "throttle": self.throttle,
            "server_error": self.server_error,
            "drop": self.drop,
            "delay": self.delay,
            "empty_scan_page": self.empty_scan_page,
            "corrupt": self.corrupt,
            "reject_signature": self.reject_signature,
        }


FAULT_KINDS = tuple(Faults().probabilities())
"""The names of the faults, as `FaultProxy.counts` keys them."""


@dataclass(frozen=True)
class _Decision:
    """What to do with one request: `fault` is None to forward it unchanged."""

    fault: str | None = None
    code: str = ""  # the throttling code for "throttle"
    status: int = 0  # 500 or 503 for "server_error"
    seconds: float = 0.0  # how long "delay" holds the request


class FaultProxy:
    """A loopback HTTP proxy that injects `faults` into the calls it forwards to `upstream`.

    `counts` tallies each fault injected (by the names in FAULT_KINDS) and each
    request forwarded (``"forwarded:<Operation>"``; a delayed request counts as
    both); ``"upstream_error"`` counts calls the upstream failed to answer, which
    get a 502. Assigning `faults` takes effect for the next request and restarts
    the random sequence (and the `max_faults` allowance) from the new seed.
    """

    def __init__(self, upstream: str, faults: Faults) -> None:
        self.upstream = upstream.rstrip("/")
        self.url = ""
        self.counts: collections.Counter[str] = collections.Counter()
        # One lock for the generator and the counts: handlers run on the proxy's
        # loop while tests read and reassign from their own thread.
        self._lock = threading.Lock()
        self._faults = faults
        self._rng = random.Random(faults.seed)
        self._injected = 0  # faults drawn since `faults` was assigned, for max_faults
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._session: aiohttp.ClientSession | None = None
        self._error: BaseException | None = None

    @property
    def faults(self) -> Faults:
        """The faults applied to the next request."""
        return self._faults

    @faults.setter
    def faults(self, faults: Faults) -> None:
        # Reseeding makes a run after the assignment repeatable on its own.
        with self._lock:
            self._faults = faults
            self._rng = random.Random(faults.seed)
            self._injected = 0

    # --- lifecycle (called from the test's thread) ---

    def start(self) -> None:
        """Start serving on 127.0.0.1 in a daemon thread; return once it listens."""
        if self._thread is not None:
            raise RuntimeError("FaultProxy already started")
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name="faultproxy", daemon=True
        )
        self._thread.start()
        if not ready.wait(_START_TIMEOUT):
            raise RuntimeError(f"FaultProxy did not start within {_START_TIMEOUT} s")
        if self._error is not None:
            self._thread.join()
            raise RuntimeError("FaultProxy failed to start") from self._error

    def stop(self) -> None:
        """Stop the server, close the upstream session and join the thread."""
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None:
            return
        if loop is not None and stopping is not None and thread.is_alive():
            loop.call_soon_threadsafe(stopping.set)
        thread.join(_JOIN_TIMEOUT)
        if thread.is_alive():
            raise RuntimeError("FaultProxy thread did not stop")
        self._thread = self._loop = None
        if self._error is not None:
            raise RuntimeError("FaultProxy failed while serving") from self._error

    def __enter__(self) -> FaultProxy:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- the proxy's own thread and loop ---

    def _run(self, ready: threading.Event) -> None:
        # asyncio.run cancels leftover tasks and closes the loop, so nothing leaks a warning.
        try:
            asyncio.run(self._serve(ready))
        except BaseException as exc:  # an escaping exception would become a thread warning
            self._error = exc
        finally:
            ready.set()

    async def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._session = _upstream_session()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(
            app, handle_signals=False, access_log=None, shutdown_timeout=_SHUTDOWN_TIMEOUT
        )
        try:
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            self.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
            ready.set()
            await self._stopping.wait()
        finally:
            # Handlers finish (or are cancelled) before the session they use is closed.
            await runner.cleanup()
            await self._session.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        """Serve one call: reply with the drawn fault, or forward the call."""
        body = await request.read()
        operation = request.headers.get("X-Amz-Target", "").removeprefix(TARGET_PREFIX)
        decision = self._decide(operation)
        if decision.fault == "drop":
            return self._drop(request)
        reply = self._fake_reply(decision, operation, body)
        if reply is not None:
            return reply
        if decision.fault == "delay" and not await self._hold(decision.seconds):
            # Stopping: end the held request rather than make stop() wait it out.
            return _hang_up(request)
        reply = await self._forward(request, operation, body)
        if decision.fault == "corrupt" and reply.status < 300:
            self._count("corrupt")
            reply.body = _damaged(reply.body)
        return reply

    def _fake_reply(self, decision: _Decision, operation: str, body: bytes) -> web.Response | None:
        """The proxy's own answer for a drawn fault that replies, or None to go upstream."""
        reply: web.Response | None = None
        if decision.fault == "throttle":
            reply = _error_reply(400, decision.code, THROTTLE_MESSAGES[decision.code])
        elif decision.fault == "server_error":
            reply = _server_error_reply(decision.status)
        elif decision.fault == "empty_scan_page":
            reply = _empty_scan_page(operation, body)
        elif decision.fault == "reject_signature":
            reply = _error_reply(400, "InvalidSignatureException", SIGNATURE_MESSAGE)
        if reply is not None:
            assert decision.fault is not None
            self._count(decision.fault)
        return reply

    def _decide(self, operation: str) -> _Decision:
        """Draw this request's fault; requests outside `operations` draw nothing."""
        with self._lock:
            faults = self._faults
            if operation not in faults.operations:
                return _Decision()
            if faults.max_faults is not None and self._injected >= faults.max_faults:
                return _Decision()
            # One draw split into consecutive slices, one per fault, keeps each probability exact.
            draw = self._rng.random()
            for kind, probability in faults.probabilities().items():
                draw -= probability
                if draw < 0:
                    self._injected += 1
                    return self._detail(kind)
            return _Decision()

    def _detail(self, kind: str) -> _Decision:
        """Complete a drawn fault with its variant; called with the lock held."""
        if kind == "throttle":
            return _Decision(kind, code=self._rng.choice(THROTTLE_CODES))
        if kind == "server_error":
            return _Decision(kind, status=self._rng.choice(SERVER_ERROR_STATUSES))
        if kind == "delay":
            # Taken with the draw, so reassigning `faults` cannot change a decision already made.
            return _Decision(kind, seconds=self._faults.delay_seconds)
        return _Decision(kind)

    def _count(self, key: str) -> None:
        with self._lock:
            self.counts[key] += 1

    def _drop(self, request: web.Request) -> web.StreamResponse:
        """The "drop" fault: the request was read, and no reply ever comes."""
        self._count("drop")
        return _hang_up(request)

    async def _hold(self, seconds: float) -> bool:
        """Wait `seconds`; False if the proxy began stopping meanwhile."""
        self._count("delay")
        assert self._stopping is not None
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            return True
        return False

    async def _forward(self, request: web.Request, operation: str, body: bytes) -> web.Response:
        """Send the call upstream as it came and return the reply as it came."""
        assert self._session is not None
        headers = _end_to_end(request.headers)
        try:
            async with self._session.request(
                request.method, self.upstream + request.path_qs, data=body, headers=headers
            ) as reply:
                payload = await reply.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            self._count("upstream_error")
            return web.Response(status=502, text=f"faultproxy: upstream failed: {exc!r}")
        self._count(f"forwarded:{operation or '?'}")
        return web.Response(status=reply.status, body=payload, headers=_end_to_end(reply.headers))


def _hang_up(request: web.Request) -> web.StreamResponse:
    """Close the connection with no reply: the client sees the server disconnect."""
    if request.transport is not None:
        request.transport.close()
    # aiohttp fails to write this to the closed transport and treats that as a client
    # disconnect: no reply reaches the wire and nothing is logged.
    return web.Response(status=204)


def _upstream_session() -> aiohttp.ClientSession:
    """The one session that forwards every call, created on the proxy's loop."""
    return aiohttp.ClientSession(
        # The client's own pool bounds the concurrency; the proxy should not queue on top of it.
        connector=aiohttp.TCPConnector(limit=0),
        timeout=_UPSTREAM_TIMEOUT,
        # Forward only the headers the client sent, and the reply's bytes exactly as they came,
        # so botocore's checks (such as DynamoDB's x-amz-crc32) see what the server sent.
        skip_auto_headers=("Accept", "Accept-Encoding", "User-Agent", "Content-Type"),
        auto_decompress=False,
    )


def _end_to_end(headers: Any) -> CIMultiDict[str]:
    """The headers that belong to the message, without the per-hop ones."""
    return CIMultiDict((k, v) for k, v in headers.items() if k.lower() not in _HOP_HEADERS)


def _json_reply(status: int, document: dict[str, Any]) -> web.Response:
    return web.Response(status=status, body=json.dumps(document).encode(), content_type=JSON_TYPE)


def _error_reply(status: int, code: str, message: str) -> web.Response:
    """An error in DynamoDB's JSON shape, which botocore parses into a ClientError."""
    return _json_reply(status, {"__type": ERROR_PREFIX + code, "message": message})


def _server_error_reply(status: int) -> web.Response:
    if status == 503:
        # A bare 503, as a load balancer sends it: no body, so the client only has the status.
        return web.Response(status=503)
    return _error_reply(500, "InternalServerError", "Internal server error")


def _damaged(body: Any) -> bytes:
    """*body* with the first digit of its ``Count`` changed, or else its last byte flipped.

    Still valid JSON with another count: only the checksum can tell.
    """
    damaged = bytearray(body)
    at = damaged.find(b'"Count":')
    if at >= 0:
        at += len(b'"Count":')
        while damaged[at : at + 1] == b" ":
            at += 1
        damaged[at] = ord("0") + (damaged[at] - ord("0") + 1) % 10
    else:
        damaged[-1] ^= 0x01
    return bytes(damaged)


def _empty_scan_page(operation: str, body: bytes) -> web.Response | None:
    """An empty page that continues from where a Scan continuation started; else None."""
    if operation != "Scan":
        return None
    request = json.loads(body or b"{}")
    if "ExclusiveStartKey" not in request:
        # A first page cannot be faked: it has no key to continue from.
        return None
    page: dict[str, Any] = {"Count": 0, "ScannedCount": 0}
    # Select=COUNT pages carry no Items member at all.
    if request.get("Select") != "COUNT":
        page["Items"] = []
    page["LastEvaluatedKey"] = request["ExclusiveStartKey"]
    return _json_reply(200, page)


# --- canned replies: a chosen answer for chosen calls ------------------------------------------


@dataclass(frozen=True)
class Canned:
    """A reply the proxy sends instead of forwarding each call to `operations` on `table`.

    `table` None matches every table; otherwise the call's TableName (or a
    BatchWriteItem's RequestItems) must name it. `error` builds a DynamoDB
    error; any other body (an HTML page, plain text) is sent as given.
    """

    operations: frozenset[str]
    status: int
    body: bytes
    content_type: str = JSON_TYPE
    table: str | None = None

    @classmethod
    def error(
        cls,
        operations: frozenset[str],
        code: str,
        message: str,
        *,
        status: int = 400,
        table: str | None = None,
    ) -> Canned:
        """DynamoDB's own error reply with *code* and *message*."""
        body = json.dumps({"__type": ERROR_PREFIX + code, "message": message}).encode()
        return cls(operations, status, body, table=table)

    def matches(self, operation: str, body: bytes) -> bool:
        """Whether the call to *operation* with request *body* gets this reply."""
        if operation not in self.operations:
            return False
        if self.table is None:
            return True
        request = json.loads(body or b"{}")
        return self.table == request.get("TableName") or self.table in request.get(
            "RequestItems", {}
        )


class CannedProxy(FaultProxy):
    """A FaultProxy that answers the calls `canned` matches itself (counted as ``"canned"``)."""

    def __init__(self, upstream: str, faults: Faults, *, canned: Canned) -> None:
        super().__init__(upstream, faults)
        self.canned = canned

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()  # aiohttp keeps the body, so the proxy reads it again
        operation = request.headers.get("X-Amz-Target", "").removeprefix(TARGET_PREFIX)
        if not self.canned.matches(operation, body):
            return await super()._handle(request)
        self._count("canned")
        return web.Response(
            status=self.canned.status,
            body=self.canned.body,
            headers={"Content-Type": self.canned.content_type},
        )
