"""The lean count path: the SDK's own request, the SDK's own failures, the exact counts.

Every test compares the lean path with the SDK doing the same thing: the bytes
on the wire (caught by a local HTTP server, at a fixed time and invocation id),
the exception a fault turns into (through the fault proxy), and every page of
every space of the session's dataset.
"""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore
import botocore.auth
import pytest
from aiobotocore.config import AioConfig
from aiobotocore.credentials import AioRefreshableCredentials
from aiobotocore.session import get_session
from aiohttp import web
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError
from faultproxy import FaultProxy, Faults
from test_pipeline import assert_matches_truth

from distro.checkpoint import Checkpoint
from distro.count import count
from distro.dynamo.handle import Dynamo, dynamodb_client
from distro.dynamo.lean import LeanReader, lean_reader
from distro.dynamo.reader import CountPage, Key, SdkReader, TableReader, count_request
from distro.dynamo.retry import is_transient, translate
from distro.dynamo.sigv4 import QuerySigner, Template, botocore_headers
from distro.errors import CredentialsMissing, DistroError, TableNotFound
from distro.files import PlanFolder
from distro.local.dataset import Dataset
from distro.progress import Progress
from distro.settings import DEFAULT_POLICY, CountSettings, RetryPolicy, Tables

FIXED_TIME = datetime.datetime(2026, 11, 29, 16, 0, 7)
FIXED_ID = uuid.UUID("12345678-1234-5678-9abc-123456789abc")
SPACE = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
ONE_TRY = RetryPolicy(max_tries=1, base=0.0, call_timeout=10.0)


# --- the request on the wire ---------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """One request as the server read it."""

    method: str
    path: str
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes


class Recorder:
    """A local HTTP server that notes every request and answers like a count Query."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> Recorder:
        app = web.Application()
        app.router.add_post("/", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.seen.append(Seen(request.method, request.path_qs, tuple(request.raw_headers), body))
        reply = {"Count": 3, "ScannedCount": 3, "ConsumedCapacity": {"CapacityUnits": 0.5}}
        return web.Response(
            body=json.dumps(reply).encode(), content_type="application/x-amz-json-1.0"
        )


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same signing time and invocation id for every request."""
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: FIXED_TIME)
    monkeypatch.setattr(uuid, "uuid4", lambda: FIXED_ID)


@pytest.fixture
async def recorder() -> AsyncIterator[Recorder]:
    async with Recorder() as started:
        yield started


def recorder_tables(recorder: Recorder) -> Tables:
    return Tables("wire-consumer", "wire-upload", "us-east-2", recorder.url)


@pytest.mark.parametrize(
    "start_key",
    [
        None,
        {"space": {"S": SPACE}, "root": {"S": "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oc"}},
    ],
)
@pytest.mark.usefixtures("frozen")
async def test_the_signed_request_is_byte_for_byte_the_sdks(
    recorder: Recorder, start_key: Key | None
) -> None:
    tables = recorder_tables(recorder)
    async with dynamodb_client(tables, pool_size=4) as client:
        lean = await lean_reader(Dynamo(client, tables, DEFAULT_POLICY))
        assert isinstance(lean, LeanReader)
        await client.query(**count_request(tables.upload, SPACE, start_key))
        page = await lean.count_page(SPACE, start_key)
    assert isinstance(lean._signer, QuerySigner)  # signed by distro's signer, not botocore's
    sdk, ours = recorder.seen
    assert ours == sdk
    headers = dict(ours.headers)
    assert headers[b"X-Amz-Date"] == b"20261129T160007Z"
    assert headers[b"Authorization"].startswith(
        b"AWS4-HMAC-SHA256 Credential=local/20261129/us-east-2/dynamodb/aws4_request, "
        b"SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature="
    )
    assert headers[b"amz-sdk-invocation-id"] == str(FIXED_ID).encode()
    assert json.loads(ours.body) == count_request(tables.upload, SPACE, start_key)
    assert page == CountPage(3, None, 0.5)


@pytest.mark.usefixtures("frozen")
async def test_a_session_token_is_sent_and_signed_as_the_sdk_does(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SESSION_TOKEN", "token-of-the-session")
    tables = recorder_tables(recorder)
    async with dynamodb_client(tables, pool_size=4) as client:
        lean = await lean_reader(Dynamo(client, tables, DEFAULT_POLICY))
        await client.query(**count_request(tables.upload, SPACE, None))
        await lean.count_page(SPACE, None)
    sdk, ours = recorder.seen
    assert ours == sdk
    headers = dict(ours.headers)
    assert headers[b"X-Amz-Security-Token"] == b"token-of-the-session"
    assert b"x-amz-security-token" in headers[b"Authorization"]


async def test_rotated_credentials_sign_the_next_request(recorder: Recorder) -> None:
    tables = recorder_tables(recorder)
    issued: list[str] = []

    async def refresh() -> dict[str, str]:
        key = f"KEY{len(issued)}"
        issued.append(key)
        # Already inside the mandatory refresh window: every use refreshes.
        expiry = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=1)
        return {
            "access_key": key,
            "secret_key": "secret",
            "token": f"token-{key}",
            "expiry_time": expiry.isoformat(),
        }

    async with dynamodb_client(tables, pool_size=4) as client:
        lean = await lean_reader(Dynamo(client, tables, DEFAULT_POLICY))
        client._request_signer._credentials = AioRefreshableCredentials.create_from_metadata(
            await refresh(), refresh_using=refresh, method="test"
        )
        await lean.count_page(SPACE, None)
        await lean.count_page(SPACE, None)
    first, second = (dict(seen.headers) for seen in recorder.seen)
    assert b"Credential=KEY1/" in first[b"Authorization"]
    assert first[b"X-Amz-Security-Token"] == b"token-KEY1"
    assert b"Credential=KEY2/" in second[b"Authorization"]
    assert second[b"X-Amz-Security-Token"] == b"token-KEY2"


async def test_no_credentials_is_the_sdks_error(recorder: Recorder) -> None:
    tables = recorder_tables(recorder)
    async with dynamodb_client(tables, pool_size=4) as client:
        lean = await lean_reader(Dynamo(client, tables, ONE_TRY))
        client._request_signer._credentials = None
        with pytest.raises(CredentialsMissing):
            await lean.count_page(SPACE, None)
        with pytest.raises(CredentialsMissing):
            await SdkReader(Dynamo(client, tables, ONE_TRY)).count_page(SPACE, None)
    assert recorder.seen == []


async def test_a_client_that_does_not_sign_with_sigv4_keeps_the_sdk(recorder: Recorder) -> None:
    config = AioConfig(signature_version=botocore.UNSIGNED)
    async with get_session().create_client(
        "dynamodb", region_name="us-east-2", endpoint_url=recorder.url, config=config
    ) as client:
        reader = await lean_reader(Dynamo(client, recorder_tables(recorder), DEFAULT_POLICY))
        assert type(reader) is SdkReader
        assert (await reader.count_page(SPACE, None)).count == 3
    assert len(recorder.seen) == 1  # the dry run sent nothing


async def test_a_client_that_retries_by_itself_keeps_the_sdk(recorder: Recorder) -> None:
    # One attempt per call is what the lean path copies; a client with SDK retries is not that.
    config = AioConfig(retries={"mode": "standard", "total_max_attempts": 3})
    async with get_session().create_client(
        "dynamodb", region_name="us-east-2", endpoint_url=recorder.url, config=config
    ) as client:
        reader = await lean_reader(Dynamo(client, recorder_tables(recorder), DEFAULT_POLICY))
        assert type(reader) is SdkReader
    assert recorder.seen == []


async def test_an_unreachable_endpoint_is_the_same_error(unused_tcp_port: int) -> None:
    tables = Tables("x-consumer", "x-upload", "us-east-2", f"http://127.0.0.1:{unused_tcp_port}")
    async with readers(tables, ONE_TRY) as (sdk, lean):
        from_sdk = await failure(lambda: sdk.count_page(SPACE, None))
        from_lean = await failure(lambda: lean.count_page(SPACE, None))
    same_failure(from_sdk, from_lean)
    assert type(from_lean).__name__ == "EndpointConnectionError"
    assert is_transient(from_lean)


# --- failures, compared with the SDK's -----------------------------------------------------

pytest_db = pytest.mark.db


@pytest.fixture
def proxy(dynamo: Any) -> Iterator[FaultProxy]:
    with FaultProxy(dynamo.endpoint_url, Faults()) as started:
        yield started


Attempt = Callable[[], Awaitable[CountPage]]


async def failure(attempt: Attempt) -> BaseException:
    """The exception one attempt ends with, unwrapped from distro's translation."""
    with pytest.raises(DistroError) as caught:
        await attempt()
    cause = caught.value.__cause__
    assert cause is not None
    return cause


def same_failure(sdk: BaseException, lean: BaseException) -> None:
    """The two exceptions are interchangeable for distro: type, response, verdict, message."""
    assert type(lean) is type(sdk)
    assert is_transient(lean) == is_transient(sdk)
    assert str(translate(lean, what="Q")) == str(translate(sdk, what="Q"))
    if isinstance(sdk, ClientError):
        assert isinstance(lean, ClientError)
        assert str(lean) == str(sdk)
        assert comparable(lean.response) == comparable(sdk.response)


# Reply headers that differ between any two replies of a server.
PER_REPLY = frozenset({"date", "x-amzn-requestid", "x-amz-crc32", "content-length"})


def comparable(response: dict[str, Any]) -> dict[str, Any]:
    """*response* with the values that differ between two replies replaced by their presence."""
    metadata = dict(response["ResponseMetadata"])
    headers = metadata.pop("HTTPHeaders", {})
    metadata["HTTPHeaders"] = {k: "*" if k in PER_REPLY else v for k, v in headers.items()}
    if "RequestId" in metadata:
        metadata["RequestId"] = "*"
    return {**response, "ResponseMetadata": metadata}


@asynccontextmanager
async def readers(
    tables: Tables, policy: RetryPolicy, client_policy: RetryPolicy | None = None
) -> AsyncIterator[tuple[SdkReader, LeanReader]]:
    """An SDK reader and a lean one on the same client, whose timeouts follow *client_policy*."""
    async with dynamodb_client(tables, pool_size=4, policy=client_policy or policy) as client:
        lean = await lean_reader(Dynamo(client, tables, policy))
        assert isinstance(lean, LeanReader)
        yield SdkReader(Dynamo(client, tables, policy)), lean


def through(proxy: FaultProxy, loaded: tuple[Dataset, Tables]) -> Tables:
    tables = loaded[1]
    return Tables(tables.consumer, tables.upload, tables.region, proxy.url)


@pytest_db
@pytest.mark.parametrize("seed", range(6))
async def test_throttling_is_the_same_client_error(
    proxy: FaultProxy, loaded: tuple[Dataset, Tables], seed: int
) -> None:
    space = next(iter(loaded[0].uploads))
    async with readers(through(proxy, loaded), ONE_TRY) as (sdk, lean):
        proxy.faults = Faults(throttle=1.0, seed=seed)
        from_sdk = await failure(lambda: sdk.count_page(space, None))
        proxy.faults = Faults(throttle=1.0, seed=seed)  # the same code again
        from_lean = await failure(lambda: lean.count_page(space, None))
    same_failure(from_sdk, from_lean)
    assert isinstance(from_lean, ClientError)
    assert is_transient(from_lean)
    assert proxy.counts["throttle"] == 2


@pytest_db
@pytest.mark.parametrize("seed", range(4))  # draws both a JSON 500 and a bare 503
async def test_server_errors_are_the_same_client_error(
    proxy: FaultProxy, loaded: tuple[Dataset, Tables], seed: int
) -> None:
    space = next(iter(loaded[0].uploads))
    async with readers(through(proxy, loaded), ONE_TRY) as (sdk, lean):
        proxy.faults = Faults(server_error=1.0, seed=seed)
        from_sdk = await failure(lambda: sdk.count_page(space, None))
        proxy.faults = Faults(server_error=1.0, seed=seed)
        from_lean = await failure(lambda: lean.count_page(space, None))
    same_failure(from_sdk, from_lean)
    assert isinstance(from_lean, ClientError)
    assert from_lean.response["ResponseMetadata"]["HTTPStatusCode"] in (500, 503)
    assert is_transient(from_lean)


@pytest_db
async def test_a_dropped_connection_is_the_same_error(
    proxy: FaultProxy, loaded: tuple[Dataset, Tables]
) -> None:
    space = next(iter(loaded[0].uploads))
    proxy.faults = Faults(drop=1.0)
    async with readers(through(proxy, loaded), ONE_TRY) as (sdk, lean):
        from_sdk = await failure(lambda: sdk.count_page(space, None))
        from_lean = await failure(lambda: lean.count_page(space, None))
    same_failure(from_sdk, from_lean)
    assert isinstance(from_lean, ConnectionClosedError)
    assert is_transient(from_lean)


@pytest_db
@pytest.mark.parametrize(
    ("deadline", "read_timeout", "error"),
    [(0.3, 10.0, TimeoutError), (10.0, 0.3, ReadTimeoutError)],
    ids=["distro's deadline first", "the HTTP session's read timeout first"],
)
async def test_a_reply_past_a_timeout_is_the_same_error(
    proxy: FaultProxy,
    loaded: tuple[Dataset, Tables],
    deadline: float,
    read_timeout: float,
    error: type[Exception],
) -> None:
    space = next(iter(loaded[0].uploads))
    # Held far past both timeouts, so a busy machine cannot let the reply win the race.
    proxy.faults = Faults(delay=1.0, delay_seconds=30.0)
    policy = RetryPolicy(max_tries=1, base=0.0, call_timeout=deadline)
    client_policy = RetryPolicy(call_timeout=read_timeout)
    async with readers(through(proxy, loaded), policy, client_policy) as (sdk, lean):
        from_sdk = await failure(lambda: sdk.count_page(space, None))
        from_lean = await failure(lambda: lean.count_page(space, None))
    same_failure(from_sdk, from_lean)
    assert isinstance(from_lean, error)
    assert is_transient(from_lean)


@pytest_db
async def test_a_missing_table_is_the_same_error(loaded: tuple[Dataset, Tables]) -> None:
    tables = loaded[1]
    missing = Tables(tables.consumer, "no-such-upload-table", tables.region, tables.endpoint_url)
    async with readers(missing, ONE_TRY) as (sdk, lean):
        with pytest.raises(TableNotFound) as from_sdk:
            await sdk.count_page(SPACE, None)
        with pytest.raises(TableNotFound) as from_lean:
            await lean.count_page(SPACE, None)
    assert str(from_lean.value) == str(from_sdk.value)
    same_failure(
        from_sdk.value.__cause__ or from_sdk.value, from_lean.value.__cause__ or from_lean.value
    )
    assert type(from_lean.value.__cause__).__name__ == "ResourceNotFoundException"


@pytest_db
async def test_faults_are_retried_and_the_counts_stay_exact(
    proxy: FaultProxy, loaded: tuple[Dataset, Tables], tmp_path: Path
) -> None:
    dataset, _ = loaded
    tables = through(proxy, loaded)
    proxy.faults = Faults(
        throttle=0.15, server_error=0.1, drop=0.05, seed=3, operations=frozenset({"Query"})
    )
    policy = RetryPolicy(max_tries=30, base=0.0, call_timeout=10.0)
    settings = CountSettings(tables=tables)
    async with dynamodb_client(tables, pool_size=24, policy=policy) as client:
        reader = await lean_reader(Dynamo(client, tables, policy))
        assert isinstance(reader, LeanReader)
        tally = await count(
            settings,
            reader,
            checkpoint=Checkpoint.open(PlanFolder(tmp_path), settings, restart=True),
            progress=Progress(),
        )
    assert_matches_truth(tally, dataset)
    assert proxy.counts["throttle"] > 0
    assert proxy.counts["server_error"] > 0
    assert proxy.counts["drop"] > 0


# --- the counts ----------------------------------------------------------------------------


async def pages(reader: TableReader, space: str) -> list[CountPage]:
    found, key = [], None
    while True:
        page = await reader.count_page(space, key)
        found.append(page)
        key = page.next_key
        if key is None:
            return found


@pytest_db
async def test_every_page_of_every_space_equals_the_sdks(loaded: tuple[Dataset, Tables]) -> None:
    dataset, tables = loaded
    biggest = max(dataset.uploads, key=dataset.uploads.__getitem__)
    async with readers(tables, DEFAULT_POLICY) as (sdk, lean):
        for space in dataset.uploads:
            ours = await pages(lean, space)
            assert ours == await pages(sdk, space)
            assert sum(page.count for page in ours) == dataset.uploads[space]
        assert len(await pages(lean, biggest)) > 1, "the whale's biggest space takes several pages"


@pytest_db
async def test_count_uploads_with_the_lean_reader_equals_the_truth(
    loaded: tuple[Dataset, Tables], tmp_path: Path
) -> None:
    dataset, tables = loaded
    settings = CountSettings(tables=tables)
    async with dynamodb_client(tables, pool_size=24) as client:
        db = Dynamo(client, tables, DEFAULT_POLICY)
        reader = await lean_reader(db)
        await db.check_tables()
        progress = Progress()
        tally = await count(
            settings,
            reader,
            checkpoint=Checkpoint.open(PlanFolder(tmp_path), settings, restart=True),
            progress=progress,
        )
    assert_matches_truth(tally, dataset)
    assert progress.queries > progress.spaces_counted  # big spaces took several pages


# --- distro's signer against botocore's -------------------------------------------------------


SIGNED_HOSTS = (
    ("us-east-1", "https://dynamodb.us-east-1.amazonaws.com/"),
    ("us-east-1", "https://dynamodb-fips.us-east-1.amazonaws.com/"),  # FIPS
    ("us-east-2", "https://dynamodb.us-east-2.api.aws/"),  # dual-stack
    ("eu-west-3", "https://dynamodb.eu-west-3.amazonaws.com/"),
    ("ap-southeast-2", "https://dynamodb.ap-southeast-2.amazonaws.com/"),
    ("us-gov-west-1", "https://dynamodb.us-gov-west-1.amazonaws.com/"),
    ("cn-north-1", "https://dynamodb.cn-north-1.amazonaws.com.cn/"),
    ("us-east-2", "http://127.0.0.1:8000/"),  # a custom endpoint
    ("us-east-2", "https://gateway.example:8443/dynamo/./v1/"),  # a port and a path
)
TEMPLATE_HEADERS = (
    ("X-Amz-Target", "DynamoDB_20120810.Query"),
    ("Content-Type", "application/x-amz-json-1.0"),
    ("User-Agent", "distro-test  Botocore/1.40"),  # not signed, and its spaces untouched
    ("amz-sdk-request", "attempt=1;  max=1"),  # signed, its spaces trimmed
)


def template_of(
    region: str, url: str, headers: tuple[tuple[str, str], ...] = TEMPLATE_HEADERS
) -> Template:
    return Template(url=url, signed=headers, unsigned=(), region=region, service="dynamodb")


def test_the_signer_signs_byte_for_byte_as_botocore(monkeypatch: pytest.MonkeyPatch) -> None:
    """Over many requests, in many regions and endpoints, the clock crossing midnight UTC and
    the credentials refreshing mid-run (temporary ones with a session token, then long-term
    keys without), every header equals botocore's own ``add_auth``, in the same order."""
    clock = [datetime.datetime(2026, 12, 4, 23, 59, 0)]
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: clock[0])
    signers = {
        (region, url): QuerySigner(template_of(region, url), url.split("/")[2])
        for region, url in SIGNED_HOSTS
    }
    signed = 0
    for n in range(360):
        clock[0] += datetime.timedelta(seconds=1)  # 23:59:01 ... 00:05:00, the next day
        rotation = n // 50  # the credentials refresh every 50 requests
        token = f"token {rotation}  with  spaces" if rotation % 2 == 0 else None
        credentials = Credentials(
            f"ASIAKEY{rotation}", f"secret/{rotation}+key", token
        ).get_frozen_credentials()
        region, url = SIGNED_HOSTS[n % len(SIGNED_HOSTS)]
        body = json.dumps(count_request("wire-upload", f"{SPACE}{n}", None)).encode()
        ours = signers[region, url].headers(credentials, body)
        theirs = AWSRequest(method="POST", url=url, headers=dict(TEMPLATE_HEADERS), data=body)
        botocore.auth.SigV4Auth(credentials, "dynamodb", region).add_auth(theirs)
        assert list(ours.items()) == list(theirs.headers.items()), n
        signed += 1
    assert signed == 360
    assert clock[0].date() == datetime.date(2026, 12, 5)


def test_a_probe_botocore_fails_leaves_the_signing_to_botocore(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Should botocore's steps fail on the probe (a botocore of another shape), the probe
    answers None rather than failing the run: botocore signs each request, its own way."""

    def broken(*_: Any) -> None:
        raise AttributeError("a botocore of another shape")

    monkeypatch.setattr(botocore.auth.SigV4Auth, "_modify_request_before_signing", broken)
    credentials = Credentials("AKID", "secret").get_frozen_credentials()
    region, url = SIGNED_HOSTS[0]
    assert QuerySigner.if_same(template_of(region, url), url.split("/")[2], credentials) is None


def test_a_request_botocore_signs_otherwise_is_signed_by_botocore() -> None:
    """A template with a ``Date`` header is signed by that date, not ``X-Amz-Date``: the probe
    sees the difference, and botocore signs each request."""
    credentials = Credentials("AKID", "secret").get_frozen_credentials()
    region, url = SIGNED_HOSTS[0]
    usual = template_of(region, url)
    assert QuerySigner.if_same(usual, url.split("/")[2], credentials) is not None
    dated = template_of(region, url, (*TEMPLATE_HEADERS, ("Date", "Fri, 04 Dec 2026 10:00:00 GMT")))
    assert QuerySigner.if_same(dated, url.split("/")[2], credentials) is None
    headers = botocore_headers(dated, credentials, b"{}")
    assert "X-Amz-Date" not in headers
    assert (
        "SignedHeaders=amz-sdk-request;content-type;date;host;x-amz-target,"
        in headers["Authorization"]
    )
