"""A lean path for the hot loop: ``Query Select=COUNT`` without the SDK's per-call machinery.

Through aiobotocore a count costs about 1 ms of client CPU, most of it in
work that is the same for every call: validating and serializing parameters,
some thirty event hooks, resolving the endpoint rule set, choosing a signer,
headers kept in an ``email.message.Message``, parsing the reply against the
model. ``LeanReader`` keeps what makes a call the SDK's own and skips what
repeats:

- *The request is the SDK's.* ``lean_reader`` has the client build one
  Query (stopped at ``before-send``, never sent) and keeps its URL (the
  resolved endpoint), its headers (User-Agent and all) and its signing scope.
  Each count then changes only the body, the date, the signature and the
  invocation id. A test checks the bytes on the wire equal the SDK's.
- *Signed as botocore signs* (``QuerySigner``): botocore's clock and its
  canonical forms, applied once to what every Query shares, and the signing
  key kept per day; checked at the first request against botocore's own steps
  (botocore signs every request when they differ). The client's credentials
  are frozen per request, so refreshable ones rotate exactly as in the SDK.
- *Sent on the client's own aiohttp session*: its pool (sized for every
  concurrent call), proxy, TLS settings and timeouts. Network failures become
  the botocore exceptions aiobotocore raises for them.
- *Replies*: the body's CRC32 is checked against DynamoDB's ``x-amz-crc32``
  (a mismatch is a transient ``ChecksumError``, retried like a lost
  connection, so a body damaged on the way is never counted). A 2xx body is
  read with orjson; anything else goes through botocore's own parser and is
  raised as the client's own exception class, so ``is_transient`` and
  ``translate`` see exactly what the SDK would give.

Scans and the table checks stay on the SDK (``SdkReader``, ``Dynamo.check_tables``): they are few.

A safety net (``FallbackReader``, what ``choose_reader`` gives by default):
should DynamoDB refuse a lean request as unauthenticated or malformed, the
same call goes through the SDK; if the SDK's succeeds, the run goes on with
the SDK, and says so once. The reader choice ``sdk`` or ``lean`` forces one path.
"""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import Callable
from typing import Any

import aiohttp
from aiobotocore.parsers import AioResponseParserFactory
from botocore.awsrequest import AWSPreparedRequest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    ProxyConnectionError,
    ReadTimeoutError,
    SSLError,
)
from botocore.httpsession import mask_proxy_url
from yarl import URL

from distro.dynamo import internals
from distro.dynamo.handle import Dynamo
from distro.dynamo.pacing import Lane, TokenBucket
from distro.dynamo.reader import CountPage, Key, ScanPage, SdkReader, count_page, count_request
from distro.dynamo.retry import CRC32_HEADER, PREFLIGHT_POLICY, check_crc32, dynamodb_document
from distro.dynamo.sigv4 import (
    SIGV4,
    UNSIGNABLE,
    QuerySigner,
    Template,
    botocore_headers,
)
from distro.errors import DistroError, Fix, SettingsError
from distro.settings import ReaderChoice, ReadPath, proxy_host_header

OPERATION = "Query"
# How DynamoDB refuses a request it cannot authenticate or read: the lean path's own
# doing, perhaps, if the SDK's request for the same call is accepted.
REFUSED_CODES = frozenset(
    {
        "InvalidSignatureException",
        "UnrecognizedClientException",
        "IncompleteSignatureException",
        "MissingAuthenticationTokenException",
    }
)
FORBIDDEN = 403
# Headers that change from one request to the next; the others are the template's.
_PER_REQUEST = frozenset(
    {
        "x-amz-date",
        "authorization",
        "x-amz-security-token",
        "amz-sdk-invocation-id",
        "content-length",
    }
)
# aiohttp failures, in the groups aiobotocore maps to one botocore exception each.
_CLOSED = (
    aiohttp.ServerDisconnectedError,
    aiohttp.ClientPayloadError,
    aiohttp.http_exceptions.BadStatusLine,
)
_UNREACHABLE = (aiohttp.ClientConnectorError, aiohttp.ClientConnectionError, socket.gaierror)


class _Captured(Exception):
    """Not an error: how the dry run hands back the request the SDK was about to send."""

    def __init__(self, request: AWSPreparedRequest) -> None:
        super().__init__("captured")
        self.request = request


async def lean_reader(
    db: Dynamo, *, bucket: TokenBucket | None = None, shards: bool = False
) -> SdkReader | LeanReader:
    """The fastest reader for *db*: a ``LeanReader`` when it can copy the SDK exactly.

    The lean path makes one attempt per call, like distro's own clients
    (``distro.dynamo.handle.client_config`` turns the SDK's retries off): any other
    client, one that signs with anything but SigV4, or one without an
    aiobotocore HTTP session keeps the plain ``SdkReader``. Either paces every
    attempt through *bucket*, if given.
    """
    sdk = SdkReader(db, bucket=bucket, shards=shards)
    client = db.client
    http = internals.http_session(client)
    retries = getattr(client.meta.config, "retries", None) or {}
    if not internals.can_borrow(http) or retries.get("total_max_attempts") != 1:
        return sdk
    upload = db.tables.upload
    template = await db.call(
        lambda: learn_template(client, upload), what=f"Query of {upload}", policy=PREFLIGHT_POLICY
    )
    if template is None:
        return sdk
    return LeanReader(db, template=template, sdk=sdk, bucket=bucket)


async def choose_reader(
    db: Dynamo,
    *,
    choice: ReaderChoice = "auto",
    on_fallback: Callable[[str], None] = lambda _: None,
    bucket: TokenBucket | None = None,
    shards: bool = False,
) -> SdkReader | LeanReader | FallbackReader:
    """The reader of *db*'s count Queries that *choice* asks for (counting *shards* too, if set).

    ``auto``: the lean path behind the SDK as a safety net (``FallbackReader``),
    or the SDK alone when the lean path cannot copy it; *on_fallback* gets the
    one line to show if the net is ever used. ``sdk``: the SDK. ``lean``: the
    lean path and nothing else; ``SettingsError`` if it cannot copy the SDK.
    Every path paces its attempts through *bucket*, if given.
    """
    if choice == "sdk":
        return SdkReader(db, bucket=bucket, shards=shards)
    reader = await lean_reader(db, bucket=bucket, shards=shards)
    if isinstance(reader, LeanReader):
        if choice == "lean":
            return reader
        return FallbackReader(reader, SdkReader(db, bucket=bucket, shards=shards), on_fallback)
    if choice == "lean":
        raise SettingsError(
            "reader lean: the lean path cannot copy this client's requests "
            "(only SigV4-signed clients that make one attempt per call)",
            setting="reader",
            fix=Fix.READER,
        )
    return reader


def read_path(reader: SdkReader | LeanReader | FallbackReader) -> ReadPath:
    """Which path counted (or counts now) for *reader*."""
    if isinstance(reader, FallbackReader):
        return reader.path
    return "lean" if isinstance(reader, LeanReader) else "sdk"


def refused(exc: BaseException | None) -> bool:
    """True when DynamoDB refused the request itself, its signature or credentials, not the call."""
    if not isinstance(exc, ClientError):
        return False
    code = exc.response.get("Error", {}).get("Code")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code in REFUSED_CODES or status == FORBIDDEN


def refusal(exc: BaseException | None) -> str:
    """The error code (or status) of a refusal, for the line that reports it."""
    assert isinstance(exc, ClientError)
    code = exc.response.get("Error", {}).get("Code")
    return str(code or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode"))


async def learn_template(client: Any, table: str) -> Template | None:
    """Have *client* build (and sign) one count Query, and keep what every Query shares.

    The request is caught at ``before-send`` and never leaves the process.
    None when it is not signed with plain SigV4.
    """

    def capture(request: AWSPreparedRequest, **_: Any) -> None:
        raise _Captured(request)

    event = f"before-send.{client.meta.service_model.service_id.hyphenize()}.{OPERATION}"
    client.meta.events.register_first(event, capture, unique_id="distro-lean")
    try:
        await client.query(**count_request(table, "did:key:template", None))
    except _Captured as captured:
        request = captured.request
    else:  # pragma: no cover - a handler before ours answered; nothing to copy
        return None
    finally:
        client.meta.events.unregister(event, unique_id="distro-lean")
    return _template(request)


def _template(request: AWSPreparedRequest) -> Template | None:
    headers = [(name, _text(value)) for name, value in request.headers.items()]
    authorization = {k.lower(): v for k, v in headers}.get("authorization", "")
    if not authorization.startswith(SIGV4 + " ") or request.method != "POST":
        return None
    fields = dict(part.strip().split("=", 1) for part in authorization[len(SIGV4) :].split(","))
    scope = fields["Credential"].split("/")  # key id / date / region / service / aws4_request
    signable = set(fields["SignedHeaders"].split(";")) | UNSIGNABLE
    kept = [(k, v) for k, v in headers if k.lower() not in _PER_REQUEST]
    return Template(
        url=request.url,
        signed=tuple((k, v) for k, v in kept if k.lower() in signable),
        unsigned=tuple((k, v) for k, v in kept if k.lower() not in signable),
        region=scope[-3],
        service=scope[-2],
    )


def _page_units(page: CountPage) -> float:
    return page.read_units


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


class LeanReader:
    """A ``TableReader`` whose counts take the lean path; scans go through *sdk*."""

    def __init__(
        self,
        db: Dynamo,
        *,
        template: Template,
        sdk: SdkReader,
        bucket: TokenBucket | None = None,
    ) -> None:
        client = db.client
        self._db = db
        self._client = client
        self._pace = None if bucket is None else Lane(bucket, _page_units)
        self._tables = db.tables
        self._template = template
        self._sdk = sdk
        self._what = f"Query of {db.tables.upload}"
        self._signer: QuerySigner | None = None  # made at the first signature: see if_same
        self._signer_tried = False
        self._url = URL(template.url, encoded=True)
        # What aiobotocore works out per request from the URL alone, once.
        http = internals.http_session(client)
        self._http = http
        self._proxy_url, self._proxy_headers = internals.proxy_for(http, template.url)
        if proxy_host_header():
            self._proxy_headers["host"] = self._url.host or ""
        self._parser = AioResponseParserFactory().create_parser(
            client.meta.service_model.resolved_protocol
        )
        self._operation = client.meta.service_model.operation_model(OPERATION)

    async def scan_page(self, segment: int, total_segments: int, start_key: Key | None) -> ScanPage:
        """A Scan page, through the SDK."""
        return await self._sdk.scan_page(segment, total_segments, start_key)

    async def count_page(self, space: str, start_key: Key | None) -> CountPage:
        """Count one page of *space*'s uploads, retried as every DynamoDB call is."""
        # The SDK serializes with json.dumps: the same call gives the same bytes.
        request = count_request(self._tables.upload, space, start_key, shards=self._sdk.shards)
        body = json.dumps(request).encode()
        return await self._db.call(lambda: self._query(body), what=self._what, pace=self._pace)

    async def _query(self, body: bytes) -> CountPage:
        """One attempt: sign, send, read."""
        headers = await self.sign(body)
        session = await internals.aiohttp_session(self._http, self._proxy_url)
        try:
            async with session.request(
                "POST",
                self._url,
                headers=headers,
                data=body,
                proxy=self._proxy_url,
                proxy_headers=self._proxy_headers,
            ) as response:
                content = await response.read()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise self._network_error(exc) from exc
        # A body damaged on the way is retried (CRC32), before it is judged foreign: a flipped
        # brace would otherwise read as another server's page. Then the SDK path's check
        # (``distro.dynamo.retry.refuse_foreign_reply``): a wrong endpoint fails alike on both paths.
        check_crc32(response.headers.get(CRC32_HEADER), content)
        reply = dynamodb_document(response.status, response.headers, content)
        if reply is None or response.status >= 300:
            raise await self._error(response, content)
        # orjson's dicts, read in place: a page's shards are the sizes of its sets.
        return count_page(reply, shards=self._sdk.shards)

    async def sign(self, body: bytes) -> dict[str, str]:
        """The headers of the request carrying *body*, signed now, as the SDK sends them."""
        template = self._template
        credentials = self._client._get_credentials()
        frozen = None if credentials is None else await credentials.get_frozen_credentials()
        if frozen is not None and not self._signer_tried:
            self._signer_tried = True
            self._signer = QuerySigner.if_same(
                template, internals.host_from_url(template.url), frozen
            )
        if frozen is not None and self._signer is not None:
            headers = self._signer.headers(frozen, body)
        else:  # botocore's own signing; without credentials, its NoCredentialsError
            headers = botocore_headers(template, frozen, body)
        headers["amz-sdk-invocation-id"] = str(uuid.uuid4())
        headers.update(template.unsigned)
        headers["Content-Length"] = str(len(body))
        headers["Accept-Encoding"] = "identity"  # as aiobotocore asks: it never decompresses
        return headers

    def _network_error(self, exc: Exception) -> Exception:
        """The botocore exception aiobotocore raises for this aiohttp failure."""
        url = self._template.url
        error: Exception
        if isinstance(exc, aiohttp.ClientSSLError):
            error = SSLError(endpoint_url=url, error=exc)
        elif isinstance(exc, aiohttp.ClientProxyConnectionError | aiohttp.ClientHttpProxyError):
            error = ProxyConnectionError(proxy_url=mask_proxy_url(self._proxy_url), error=exc)
        elif isinstance(exc, _CLOSED):
            error = ConnectionClosedError(error=exc, request=None, endpoint_url=url)
        elif isinstance(exc, aiohttp.ServerTimeoutError):
            late = (
                ConnectTimeoutError if str(exc).lower().startswith("connect") else ReadTimeoutError
            )
            error = late(endpoint_url=url, error=exc)
        elif isinstance(exc, _UNREACHABLE):
            error = EndpointConnectionError(endpoint_url=url, error=exc)
        elif isinstance(exc, TimeoutError):
            error = ReadTimeoutError(endpoint_url=url, error=exc)
        else:
            error = HTTPClientError(error=exc)
        return error

    async def _error(self, response: aiohttp.ClientResponse, content: bytes) -> Exception:
        """The exception the SDK raises for this reply: botocore's parse, the client's class."""
        reply = {
            # As aiobotocore hands them to the parser: lower-case names, last value wins.
            "headers": {k.decode().lower(): v.decode() for k, v in response.raw_headers},
            "status_code": response.status,
            "body": content,
            "context": {"operation_name": OPERATION},
        }
        parsed: dict[str, Any] = await self._parser.parse(reply, self._operation.output_shape)
        code = parsed.get("Error", {}).get("Code")
        shape = self._operation.service_model.shape_for_error_code(code) if code else None
        if shape is not None:
            parsed.update(await self._parser.parse(reply, shape))
        # What the SDK's retry handler notes on every reply when one attempt is all it may make.
        parsed.setdefault("ResponseMetadata", {}).update(RetryAttempts=0, MaxAttemptsReached=True)
        error: Exception = self._client.exceptions.from_code(code)(parsed, OPERATION)
        return error


class FallbackReader:
    """Counts on *lean*; a call DynamoDB refuses there is made again through *sdk*.

    If the SDK's call succeeds, the SDK counts from then on and *on_fallback*
    gets one line saying so; if it fails, its error is the one raised, as if
    the SDK had counted all along. Scans go through *sdk*.
    """

    def __init__(
        self, lean: LeanReader, sdk: SdkReader, on_fallback: Callable[[str], None]
    ) -> None:
        self._lean = lean
        self._sdk = sdk
        self._on_fallback = on_fallback
        self.path: ReadPath = "lean"

    async def scan_page(self, segment: int, total_segments: int, start_key: Key | None) -> ScanPage:
        """A Scan page, through the SDK."""
        return await self._sdk.scan_page(segment, total_segments, start_key)

    async def count_page(self, space: str, start_key: Key | None) -> CountPage:
        """Count one page of *space*'s uploads, on the lean path while DynamoDB accepts it."""
        if self.path == "sdk":
            return await self._sdk.count_page(space, start_key)
        try:
            return await self._lean.count_page(space, start_key)
        except DistroError as error:
            if not refused(error.__cause__):
                raise
            page = await self._sdk.count_page(space, start_key)
            if self.path == "lean":  # several workers may get here at once: say it once
                self.path = "sdk"
                self._on_fallback(
                    f"DynamoDB refused the lean Query path ({refusal(error.__cause__)}) but "
                    "accepted the SDK's request: counting goes on through the SDK"
                )
            return page
