"""The lean Query path where production runs: real AWS endpoints, proxies, damaged replies.

There is no network here, so the requests are compared where each would go on
the wire: every call aiohttp is asked to make (method, URL, headers in order,
body, proxy) is recorded, and refused before any connection is opened. The
SDK and the lean path make the same call at the same (frozen) time, and the
two records must be equal.
"""

from __future__ import annotations

import datetime
import json
import shutil
import socket
import ssl
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import botocore.auth
import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from aiohttp import web
from aiohttp.abc import ResolveResult
from aiohttp.connector import BaseConnector
from aiohttp.resolver import ThreadedResolver
from faultproxy import JSON_TYPE, FaultProxy, Faults

from distro.dynamo.handle import Dynamo, dynamodb_client
from distro.dynamo.lean import LeanReader, lean_reader
from distro.dynamo.reader import CountPage, Key, SdkReader, TableReader
from distro.errors import CountingFailed, DistroError
from distro.local.dataset import Dataset
from distro.settings import RetryPolicy, Tables

FIXED_TIME = datetime.datetime(2026, 11, 29, 16, 0, 7)
FIXED_ID = uuid.UUID("12345678-1234-5678-9abc-123456789abc")
SPACE = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
ONE_TRY = RetryPolicy(max_tries=1, base=0.0, call_timeout=10.0)


# --- the request where it would go on the wire ---------------------------------------------


@dataclass(frozen=True)
class Wire:
    """One request as aiohttp was about to send it: every header aiohttp adds included."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    proxy: str | None
    proxy_headers: tuple[tuple[str, str], ...]

    def header(self, name: str) -> str:
        return dict((k.lower(), v) for k, v in self.headers)[name.lower()]


class Wiretap:
    """Notes each request at the connector and refuses it: nothing leaves the process."""

    def __init__(self) -> None:
        self.sent: list[Wire] = []

    async def connect(self, connector: BaseConnector, req: Any) -> None:
        body = b"" if req.body == b"" else await req.body.as_bytes()
        proxy_headers = tuple((req.proxy_headers or {}).items())
        self.sent.append(
            Wire(
                req.method,
                str(req.url),
                tuple(req.headers.items()),
                body,
                None if req.proxy is None else str(req.proxy),
                proxy_headers,
            )
        )
        # A refused connection: transient, so the retry policy makes its next attempt.
        raise aiohttp.ClientConnectionError("wiretap: not sent")

    def take(self) -> list[Wire]:
        taken, self.sent = self.sent, []
        return taken


class Clock:
    """botocore's signing clock: a second later at each signature, from a fixed start."""

    def __init__(self) -> None:
        self.ticks = 0

    def __call__(self) -> datetime.datetime:
        self.ticks += 1
        return FIXED_TIME + datetime.timedelta(seconds=self.ticks - 1)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    started = Clock()
    monkeypatch.setattr(botocore.auth, "get_current_datetime", started)
    monkeypatch.setattr(uuid, "uuid4", lambda: FIXED_ID)
    return started


@pytest.fixture
def wiretap(monkeypatch: pytest.MonkeyPatch) -> Wiretap:
    tap = Wiretap()

    async def connect(connector: BaseConnector, req: Any, *_: Any, **__: Any) -> None:
        await tap.connect(connector, req)

    monkeypatch.setattr(BaseConnector, "connect", connect)
    return tap


async def sent_by_both(
    tables: Tables,
    wiretap: Wiretap,
    clock: Clock,
    *,
    space: str = SPACE,
    start_key: Key | None = None,
    policy: RetryPolicy = ONE_TRY,
) -> tuple[list[Wire], list[Wire]]:
    """What the SDK and the lean path send for the same count, from the same clock."""
    async with dynamodb_client(tables, pool_size=4, policy=policy) as client:
        return await sent_by_client(
            client, tables, wiretap, clock, space=space, start_key=start_key, policy=policy
        )


async def sent_by_client(
    client: Any,
    tables: Tables,
    wiretap: Wiretap,
    clock: Clock,
    *,
    space: str = SPACE,
    start_key: Key | None = None,
    policy: RetryPolicy = ONE_TRY,
) -> tuple[list[Wire], list[Wire]]:
    """What *client* sends for one count through the SDK, and then on the lean path."""
    lean = await lean_reader(Dynamo(client, tables, policy))
    assert isinstance(lean, LeanReader)
    assert wiretap.take() == []  # the lean path's dry run sent nothing
    clock.ticks = 0
    with pytest.raises(DistroError):
        await SdkReader(Dynamo(client, tables, policy)).count_page(space, start_key)
    from_sdk = wiretap.take()
    clock.ticks = 0
    with pytest.raises(DistroError):
        await lean.count_page(space, start_key)
    return from_sdk, wiretap.take()


def aws(region: str, consumer: str = "c-consumer", upload: str = "c-upload") -> Tables:
    """Tables as a real run names them: no endpoint URL, the SDK resolves it."""
    return Tables(consumer, upload, region, None)


@pytest.mark.parametrize("region", ["us-east-2", "us-west-2", "eu-central-1"])
async def test_the_sdks_own_endpoint_gets_the_sdks_own_bytes(
    region: str, wiretap: Wiretap, clock: Clock
) -> None:
    sdk, lean = await sent_by_both(aws(region), wiretap, clock)
    assert lean == sdk
    (wire,) = lean
    assert wire.url == f"https://dynamodb.{region}.amazonaws.com/"
    assert wire.header("Host") == f"dynamodb.{region}.amazonaws.com"
    assert wire.header("Authorization").startswith(
        f"AWS4-HMAC-SHA256 Credential=local/20261129/{region}/dynamodb/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature="
    )
    assert wire.proxy is None


async def test_temporary_credentials_send_their_token_as_the_sdk_does(
    wiretap: Wiretap, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ASIAEXAMPLEEXAMPLE")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "IQoJb3JpZ2luX2VjE+/=token-of-an-assumed-role")
    sdk, lean = await sent_by_both(aws("us-west-2"), wiretap, clock)
    assert lean == sdk
    (wire,) = lean
    assert wire.header("X-Amz-Security-Token") == "IQoJb3JpZ2luX2VjE+/=token-of-an-assumed-role"
    assert wire.header("Authorization").startswith(
        "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLEEXAMPLE/20261129/us-west-2/dynamodb/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, Signature="
    )


@pytest.mark.parametrize(
    ("endpoint", "url", "host"),
    [
        (
            "https://ddb.example.internal:8443",
            "https://ddb.example.internal:8443/",
            "ddb.example.internal:8443",
        ),
        (
            "https://gateway.example.internal/dynamodb/v1",
            "https://gateway.example.internal/dynamodb/v1",
            "gateway.example.internal",
        ),
        (
            "http://127.0.0.1:18000/some/path/",
            "http://127.0.0.1:18000/some/path/",
            "127.0.0.1:18000",
        ),
    ],
)
async def test_an_endpoint_with_a_port_or_a_path_gets_the_sdks_bytes(
    endpoint: str, url: str, host: str, wiretap: Wiretap, clock: Clock
) -> None:
    sdk, lean = await sent_by_both(Tables("c", "u", "us-east-2", endpoint), wiretap, clock)
    assert lean == sdk
    (wire,) = lean
    assert (wire.url, wire.header("Host")) == (url, host)


FIPS_DUALSTACK = [
    ({"AWS_USE_FIPS_ENDPOINT": "true"}, "", "https://dynamodb-fips.us-east-2.amazonaws.com/"),
    ({"AWS_USE_DUALSTACK_ENDPOINT": "true"}, "", "https://dynamodb.us-east-2.api.aws/"),
    (
        {"AWS_USE_FIPS_ENDPOINT": "true", "AWS_USE_DUALSTACK_ENDPOINT": "true"},
        "",
        "https://dynamodb-fips.us-east-2.api.aws/",
    ),
    ({}, "use_fips_endpoint = true\n", "https://dynamodb-fips.us-east-2.amazonaws.com/"),
    ({}, "use_dualstack_endpoint = true\n", "https://dynamodb.us-east-2.api.aws/"),
]


@pytest.mark.parametrize(
    "case",
    FIPS_DUALSTACK,
    ids=["fips env", "dualstack env", "both env", "fips config", "dualstack config"],
)
async def test_fips_and_dualstack_endpoints_get_the_sdks_bytes(
    case: tuple[dict[str, str], str, str],
    wiretap: Wiretap,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    environ, config, url = case
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    if config:
        (tmp_path / "config").write_text("[default]\n" + config)
        monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    sdk, lean = await sent_by_both(aws("us-east-2"), wiretap, clock)
    assert lean == sdk
    assert [wire.url for wire in lean] == [url]


# Every character DynamoDB allows in a table name, and a DID with what JSON must escape.
LONGEST_TABLE = ("azAZ09_.-" * 29)[:255]
ODD_SPACE = 'did:key:"quoted"\\back\\slash/\x00\x01\x1f\x7f\u00e9\u2028\ufeff\U0001d11e\U0001f600'


@pytest.mark.parametrize(
    ("upload", "space", "start_key"),
    [
        ("a.-", SPACE, None),
        (LONGEST_TABLE, SPACE, None),
        ("Upload_Table-2026.v1", ODD_SPACE, None),
        ("u-_.", ODD_SPACE, {"space": {"S": ODD_SPACE}, "root": {"S": "bafy\u00e9\U0001d11e"}}),
    ],
    ids=["shortest table", "longest table", "odd DID", "odd DID and key"],
)
async def test_every_allowed_character_gets_the_sdks_bytes(
    upload: str, space: str, start_key: Key | None, wiretap: Wiretap, clock: Clock
) -> None:
    tables = aws("us-east-2", upload=upload)
    sdk, lean = await sent_by_both(tables, wiretap, clock, space=space, start_key=start_key)
    assert lean == sdk
    (wire,) = lean
    sent = json.loads(wire.body)
    assert sent["TableName"] == upload
    assert sent["ExpressionAttributeValues"] == {":space": {"S": space}}
    assert sent.get("ExclusiveStartKey") == start_key


async def test_each_retry_is_signed_afresh_as_the_sdk_signs_it(
    wiretap: Wiretap, clock: Clock
) -> None:
    policy = RetryPolicy(max_tries=3, base=0.0, call_timeout=10.0)
    sdk, lean = await sent_by_both(aws("us-east-2"), wiretap, clock, policy=policy)
    assert lean == sdk
    assert [wire.header("X-Amz-Date") for wire in lean] == [
        "20261129T160007Z",
        "20261129T160008Z",
        "20261129T160009Z",
    ]
    assert len({wire.header("Authorization") for wire in lean}) == 3


# --- proxies ------------------------------------------------------------------------------

PROXY = "http://proxy-user:proxy%40secret@127.0.0.1:3128"


@pytest.mark.parametrize(
    "case",
    [
        ({"HTTPS_PROXY": PROXY}, None, PROXY),
        ({"https_proxy": PROXY}, None, PROXY),
        ({"HTTPS_PROXY": PROXY, "NO_PROXY": ".amazonaws.com"}, None, None),
        ({"HTTP_PROXY": PROXY}, None, None),  # an https endpoint ignores the http proxy
        ({"HTTP_PROXY": PROXY}, "http://ddb.example.internal:8000", PROXY),
        (
            {"HTTP_PROXY": PROXY, "NO_PROXY": "example.internal"},
            "http://ddb.example.internal:8000",
            None,
        ),
    ],
    ids=[
        "HTTPS_PROXY",
        "https_proxy",
        "NO_PROXY",
        "HTTP_PROXY on https",
        "HTTP_PROXY",
        "NO_PROXY on http",
    ],
)
async def test_the_proxy_settings_choose_the_same_proxy(
    case: tuple[dict[str, str], str | None, str | None],
    wiretap: Wiretap,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    environ, endpoint, proxy = case
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    tables = Tables("c-consumer", "c-upload", "us-east-2", endpoint)
    sdk, lean = await sent_by_both(tables, wiretap, clock)
    assert lean == sdk
    assert [wire.proxy for wire in lean] == [proxy]


async def test_the_clients_own_proxy_settings_are_the_lean_paths(
    wiretap: Wiretap, clock: Clock
) -> None:
    # distro's clients set no proxies, but a client that does is copied as well.
    config = AioConfig(
        proxies={"https": PROXY},
        proxies_config={"proxy_use_forwarding_for_https": False},
        retries={"mode": "standard", "total_max_attempts": 1},
    )
    tables = aws("eu-central-1")
    async with get_session().create_client(
        "dynamodb", region_name=tables.region, config=config
    ) as client:
        sdk, lean = await sent_by_client(client, tables, wiretap, clock)
    assert lean == sdk
    assert [wire.proxy for wire in lean] == [PROXY]


@dataclass(frozen=True)
class Passed:
    """One request as a forward proxy (or the server itself) received it."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


class CountServer:
    """A local HTTP server that notes what reaches it and answers like a count Query.

    As a forward proxy it receives the absolute URL of the endpoint behind it.
    """

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self.passed: list[Passed] = []
        self.url = ""
        self._ssl_context = ssl_context
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> CountServer:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self._ssl_context).start()
        scheme = "https" if self._ssl_context else "http"
        self.url = f"{scheme}://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        target = str(request.url)  # through a proxy: the absolute URL of the request line
        self.passed.append(Passed(request.method, target, tuple(request.headers.items()), body))
        reply = {"Count": 3, "ScannedCount": 3, "ConsumedCapacity": {"CapacityUnits": 0.5}}
        return web.Response(body=json.dumps(reply).encode(), content_type=JSON_TYPE)


async def count_through_both(tables: Tables, clock: Clock) -> tuple[CountPage, CountPage]:
    """One count through the SDK, then one on the lean path, each signed at the same time."""
    async with dynamodb_client(tables, pool_size=4, policy=ONE_TRY) as client:
        lean = await lean_reader(Dynamo(client, tables, ONE_TRY))
        assert isinstance(lean, LeanReader)
        clock.ticks = 0
        by_sdk = await SdkReader(Dynamo(client, tables, ONE_TRY)).count_page(SPACE, None)
        clock.ticks = 0
        return by_sdk, await lean.count_page(SPACE, None)


async def test_both_paths_go_through_the_proxy(
    clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with CountServer() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        # Resolvable by the proxy alone: a request that bypassed it could not be answered.
        tables = Tables("c-consumer", "c-upload", "us-east-2", "http://dynamodb.invalid:8000")
        pages = await count_through_both(tables, clock)
    assert pages == (CountPage(3, None, 0.5), CountPage(3, None, 0.5))
    sdk, lean = proxy.passed
    assert lean.target == sdk.target == "http://dynamodb.invalid:8000/"
    assert dict(lean.headers)["Host"] == "dynamodb.invalid:8000"
    assert lean == sdk


async def test_no_proxy_sends_both_paths_around_the_proxy(
    clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with CountServer() as proxy, CountServer() as server:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        tables = Tables("c-consumer", "c-upload", "us-east-2", server.url)
        pages = await count_through_both(tables, clock)
    assert pages == (CountPage(3, None, 0.5), CountPage(3, None, 0.5))
    assert proxy.passed == []
    sdk, lean = server.passed
    assert lean == sdk
    assert lean.target == server.url + "/"


# --- over TLS, to the SDK's own host name -----------------------------------------------------

AWS_HOSTS = ("dynamodb.us-east-2.amazonaws.com", "dynamodb-fips.us-west-2.amazonaws.com")


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A throwaway CA, and a certificate it signed for AWS's host names: (ca, cert, key)."""
    if shutil.which("openssl") is None:  # pragma: no cover - every CI image has it
        pytest.skip("needs the openssl command to make a test CA")
    folder = tmp_path_factory.mktemp("tls")
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    (folder / "ext.cnf").write_text(
        "subjectAltName=" + ",".join(f"DNS:{host}" for host in AWS_HOSTS) + "\n"
        "extendedKeyUsage=serverAuth\n"
    )
    commands = [
        [
            *("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2"),
            *("-subj", "/CN=distro test CA", "-addext", "basicConstraints=critical,CA:TRUE"),
            *("-addext", "keyUsage=critical,keyCertSign,cRLSign"),
        ],
        ["req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=dynamodb"],
        [
            *("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key"),
            *("-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf"),
        ],
    ]
    for command in commands:
        subprocess.run(["openssl", *command], cwd=folder, check=True, capture_output=True)
    return folder / "ca.pem", folder / "server.pem", folder / "server.key"


@pytest.fixture
async def aws_over_tls(
    certificates: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[CountServer]:
    """A count server on loopback that AWS's host names resolve to, with a certificate for them.

    The client trusts the test CA through ``AWS_CA_BUNDLE``, as a user's client
    trusts a corporate one; nothing else about the connection is changed.
    """
    ca, cert, key = certificates
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    monkeypatch.setenv("AWS_CA_BUNDLE", str(ca))
    async with CountServer(ssl_context=context) as server:
        port = int(server.url.rsplit(":", 1)[1])
        resolve = ThreadedResolver.resolve

        async def to_loopback(
            resolver: ThreadedResolver, host: str, *args: Any, **kwargs: Any
        ) -> list[ResolveResult]:
            if host not in AWS_HOSTS:
                return await resolve(resolver, host, *args, **kwargs)
            return [
                ResolveResult(
                    hostname=host,
                    host="127.0.0.1",
                    port=port,
                    family=socket.AF_INET,
                    proto=0,
                    flags=socket.AI_NUMERICHOST,
                )
            ]

        monkeypatch.setattr(ThreadedResolver, "resolve", to_loopback)
        yield server


@pytest.mark.parametrize(
    ("region", "fips"), [("us-east-2", False), ("us-west-2", True)], ids=["plain", "fips"]
)
async def test_over_tls_the_server_reads_the_same_bytes_from_both_paths(
    aws_over_tls: CountServer,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    region: str,
    fips: bool,
) -> None:
    if fips:
        monkeypatch.setenv("AWS_USE_FIPS_ENDPOINT", "true")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "token-of-the-session")
    pages = await count_through_both(aws(region), clock)
    assert pages == (CountPage(3, None, 0.5), CountPage(3, None, 0.5))
    sdk, lean = aws_over_tls.passed
    assert lean == sdk
    host = f"dynamodb{'-fips' if fips else ''}.{region}.amazonaws.com"
    assert lean.target == f"https://{host}/"
    assert dict(lean.headers)["Host"] == host
    assert dict(lean.headers)["X-Amz-Security-Token"] == "token-of-the-session"


async def pages(reader: TableReader, space: str) -> list[CountPage]:
    found, key = [], None
    while True:
        page = await reader.count_page(space, key)
        found.append(page)
        key = page.next_key
        if key is None:
            return found


# --- damaged replies: DynamoDB's x-amz-crc32 -----------------------------------------------


@pytest.fixture
def proxy(dynamo: Any) -> Iterator[FaultProxy]:
    with FaultProxy(dynamo.endpoint_url, Faults()) as started:
        yield started


def through(proxy: FaultProxy, loaded: tuple[Dataset, Tables]) -> Tables:
    tables = loaded[1]
    return Tables(tables.consumer, tables.upload, tables.region, proxy.url)


@pytest.mark.db
async def test_a_damaged_reply_is_retried_once_and_never_counted(
    proxy: FaultProxy, loaded: tuple[Dataset, Tables]
) -> None:
    dataset, _ = loaded
    space = max(dataset.uploads, key=dataset.uploads.__getitem__)
    tables = through(proxy, loaded)
    policy = RetryPolicy(max_tries=3, base=0.0, call_timeout=10.0)
    async with dynamodb_client(tables, pool_size=4, policy=policy) as client:
        lean = await lean_reader(Dynamo(client, tables, policy))
        assert isinstance(lean, LeanReader)
        proxy.faults = Faults(corrupt=1.0, max_faults=1, operations=frozenset({"Query"}))
        found = await pages(lean, space)
    assert sum(page.count for page in found) == dataset.uploads[space]
    assert proxy.counts["corrupt"] == 1
    # Every page once, and the damaged one once more.
    assert proxy.counts["forwarded:Query"] == len(found) + 1


@pytest.mark.db
async def test_a_reply_damaged_on_every_attempt_fails_in_one_line(
    proxy: FaultProxy, loaded: tuple[Dataset, Tables]
) -> None:
    tables = through(proxy, loaded)
    policy = RetryPolicy(max_tries=2, base=0.0, call_timeout=10.0)
    async with dynamodb_client(tables, pool_size=4, policy=policy) as client:
        lean = await lean_reader(Dynamo(client, tables, policy))
        proxy.faults = Faults(corrupt=1.0, operations=frozenset({"Query"}))
        with pytest.raises(CountingFailed) as caught:
            await lean.count_page(SPACE, None)
    assert str(caught.value) == (
        "Query of it-upload: every reply arrived damaged (its CRC32 did not match), so nothing "
        "was counted from it; check the network or proxy between here and DynamoDB, then run "
        "the same command again to resume"
    )
    assert proxy.counts["corrupt"] == 2


@pytest.mark.db
async def test_the_sdk_path_retries_a_damaged_count_too(
    proxy: FaultProxy, loaded: tuple[Dataset, Tables]
) -> None:
    # The safety net and --reader sdk count through the SDK.
    dataset, _ = loaded
    space = max(dataset.uploads, key=dataset.uploads.__getitem__)
    tables = through(proxy, loaded)
    policy = RetryPolicy(max_tries=3, base=0.0, call_timeout=10.0)
    async with dynamodb_client(tables, pool_size=4, policy=policy) as client:
        sdk = SdkReader(Dynamo(client, tables, policy))
        proxy.faults = Faults(corrupt=1.0, max_faults=1, operations=frozenset({"Query"}))
        found = await pages(sdk, space)
    assert sum(page.count for page in found) == dataset.uploads[space]
    assert proxy.counts["corrupt"] == 1
    assert proxy.counts["forwarded:Query"] == len(found) + 1


@pytest.mark.db
async def test_a_damaged_scan_page_is_retried(
    proxy: FaultProxy, loaded: tuple[Dataset, Tables]
) -> None:
    tables = through(proxy, loaded)
    policy = RetryPolicy(max_tries=3, base=0.0, call_timeout=10.0)
    async with dynamodb_client(tables, pool_size=4, policy=policy) as client:
        sdk = SdkReader(Dynamo(client, tables, policy))
        undamaged = await sdk.scan_page(0, 4, None)
        proxy.faults = Faults(corrupt=1.0, max_faults=1, operations=frozenset({"Scan"}))
        assert await sdk.scan_page(0, 4, None) == undamaged
    assert proxy.counts["corrupt"] == 1
    assert proxy.counts["forwarded:Scan"] == 3  # the undamaged page, the damaged one, its retry
