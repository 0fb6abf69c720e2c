"""The one DynamoDB handle: a client, the tables it reads and the retry policy, opened once.

``Dynamo`` is what every stage that talks to DynamoDB is given, the way an
httpx ``Client`` holds its transport and configuration: the readers, the
lean Query path, the tracking records, ``distro check`` and the demo's
seeding all take it instead of a (client, tables, policy) triple. It makes
the client (``dynamodb_client``: one pool for every concurrent call, no SDK
retries, replies checked before botocore parses them), runs calls under the
policy (``call``) and checks tables before a run (``check_table``). The
readers take a handle; the call sites choose one (``distro.dynamo.lean``).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aioboto3
import orjson
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession
from botocore.exceptions import BotoCoreError, InvalidRegionError
from botocore.loaders import Loader, create_loader

from distro.dynamo.retry import (
    PREFLIGHT_POLICY,
    Pace,
    call_with_retry,
    check_reply_crc32,
    redact,
    refuse_foreign_reply,
    translate,
)
from distro.errors import Fix, SettingsError, TableNotFound, TableSchemaMismatch
from distro.options import Connection
from distro.settings import DEFAULT_POLICY, Credentials, RetryPolicy, Tables

T = TypeVar("T")

CONSUMER_KEYS = {"subscription": "HASH", "provider": "RANGE"}
UPLOAD_KEYS = {"space": "HASH", "root": "RANGE"}


def client_config(*, pool_size: int, policy: RetryPolicy = DEFAULT_POLICY) -> AioConfig:
    """SDK settings: a pool of *pool_size* connections, and no SDK retries.

    aiobotocore's default pool holds 10 connections, which would queue 20
    counting tasks behind each other; retries are ``distro.dynamo.retry``'s.
    """
    return AioConfig(
        max_pool_connections=pool_size,
        retries={"mode": "standard", "total_max_attempts": 1},
        connect_timeout=min(10.0, policy.call_timeout),
        read_timeout=policy.call_timeout,
        tcp_keepalive=True,
    )


@asynccontextmanager
async def dynamodb_client(
    tables: Tables,
    *,
    pool_size: int,
    policy: RetryPolicy = DEFAULT_POLICY,
    credentials: Credentials | None = None,
    raw_scan_items: bool = False,
) -> AsyncIterator[Any]:
    """Yield a low-level DynamoDB client for *tables*' region and endpoint.

    Without *credentials* the SDK finds them (profile, environment, SSO). The
    client refuses replies that are not DynamoDB's and replies damaged on the way.
    """
    async with AsyncExitStack() as stack:
        try:
            # The profile and its files are read here, and the credentials resolved.
            sdk = _sdk_session()
            session = aioboto3.Session(
                botocore_session=sdk, region_name=tables.region, **_keys(credentials)
            )
            _drop_repeated_paths(sdk)
            client = await stack.enter_async_context(
                session.client(
                    "dynamodb",
                    endpoint_url=tables.endpoint_url,
                    config=client_config(pool_size=pool_size, policy=policy),
                    # Plain HTTP has no certificate to check: loading the CA bundle anyway
                    # costs each client about 17 ms of CPU (DynamoDB Local, the demo).
                    verify=False if _is_plain_http(tables.endpoint_url) else None,
                )
            )
        except InvalidRegionError:
            raise SettingsError(
                f"region {tables.region!r} is not a region name: use one like us-west-2",
                setting="region",
            ) from None
        except ValueError as exc:  # botocore's word for an endpoint it cannot parse
            raise SettingsError(
                redact(
                    f"endpoint_url {tables.endpoint_url!r} is not a URL ({exc}): "
                    "use one like http://127.0.0.1:8000"
                ),
                setting="endpoint_url",
            ) from None
        except BotoCoreError as exc:
            raise translate(exc, what="creating the DynamoDB client") from None
        _refuse_userinfo(client.meta.endpoint_url)
        # The checksum first: a damaged DynamoDB reply is retried, not judged foreign for a
        # flipped brace. A wrong endpoint's page carries no checksum, so it is named next.
        client.meta.events.register("before-parse.dynamodb", check_reply_crc32)
        client.meta.events.register("before-parse.dynamodb", refuse_foreign_reply)
        if raw_scan_items:  # after the two checks: they read the body as it arrived
            client.meta.events.register("before-parse.dynamodb", scan_items_as_sent)
        yield client


def scan_items_as_sent(
    response_dict: dict[str, Any],
    customized_response_dict: dict[str, Any],
    operation_model: Any,
    **_: Any,
) -> None:
    """A ``before-parse`` hook: hand a Scan page's items over as DynamoDB sent them.

    botocore walks every attribute of every item against the service model,
    most of a big Scan's client time. DynamoDB already sends the items in the
    shape its low-level client returns (``{"S": ...}``, ``{"N": "5"}``), binary
    values apart (base64 text, not bytes), so the items are read here with
    orjson, taken out of the body botocore parses, and merged back after it.
    For the runner's tables, which hold no binary value, the result is the same.
    """
    if operation_model.name != "Scan" or response_dict.get("status_code", 500) >= 300:
        return
    body = response_dict.get("body")
    if not isinstance(body, bytes) or not body:
        return
    document = orjson.loads(body)
    if not isinstance(document, dict) or not isinstance(document.get("Items"), list):
        return
    customized_response_dict["Items"] = document.pop("Items")
    response_dict["body"] = orjson.dumps(document)


def _sdk_session() -> AioSession:
    """A new SDK session (its own profile, credentials and region) reading the process's loader.

    The loader parses the SDK's data files (the endpoints, DynamoDB's model and
    rules): about 40 ms of CPU a client. One per process and data path parses
    them once, for ``status --watch``'s every refresh and the demo's several clients.
    """
    session = AioSession()
    session.register_component(
        "data_loader", _data_loader(session.get_config_variable("data_path"))
    )
    return session


@functools.cache
def _data_loader(data_path: str | None) -> Loader:
    return create_loader(data_path)


def _drop_repeated_paths(sdk: AioSession) -> None:
    """boto3 appends its own data folder to the loader's paths at each session: keep one."""
    paths = sdk.get_component("data_loader").search_paths
    paths[:] = dict.fromkeys(paths)


def _keys(credentials: Credentials | None) -> dict[str, str]:
    if credentials is None:
        return {}
    return {
        "aws_access_key_id": credentials.access_key_id,
        "aws_secret_access_key": credentials.secret_access_key,
    }


def _is_plain_http(endpoint_url: str | None) -> bool:
    return endpoint_url is not None and urlsplit(endpoint_url).scheme.lower() == "http"


def _refuse_userinfo(endpoint_url: str) -> None:
    """Refuse an endpoint with a user or password: every request is signed with AWS keys.

    aiohttp would turn the URL's password into an Authorization header of its
    own, which clashes with the signature's, and fail every call.
    """
    parts = urlsplit(endpoint_url)
    if parts.username is not None or parts.password is not None:
        raise SettingsError(
            redact(
                f"the endpoint URL {endpoint_url} holds a user name or password, which DynamoDB "
                "does not use (requests are signed with the AWS credentials): remove them"
            )
        )


class Dynamo:
    """A DynamoDB *client* for *tables*, whose calls run under *policy*.

    Made by ``Dynamo.open`` for a run; tests may wrap a client of their own.
    """

    def __init__(self, client: Any, tables: Tables, policy: RetryPolicy = DEFAULT_POLICY) -> None:
        self.client = client
        self.tables = tables
        self.policy = policy

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        tables: Tables,
        *,
        pool_size: int,
        policy: RetryPolicy = DEFAULT_POLICY,
        credentials: Credentials | None = None,
        raw_scan_items: bool = False,
    ) -> AsyncIterator[Dynamo]:
        """Yield a handle whose client holds *pool_size* connections (see ``dynamodb_client``).

        With *raw_scan_items*, Scan items skip botocore's parser (``scan_items_as_sent``).
        """
        async with dynamodb_client(
            tables,
            pool_size=pool_size,
            policy=policy,
            credentials=credentials,
            raw_scan_items=raw_scan_items,
        ) as client:
            yield cls(client, tables, policy)

    @classmethod
    def connect(
        cls, connection: Connection, *, pool_size: int, raw_scan_items: bool = False
    ) -> AbstractAsyncContextManager[Dynamo]:
        """``open`` the tables of *connection*, under its retry policy, with its credentials:
        the connection is passed whole, never unpacked at the call sites."""
        return cls.open(
            connection.tables,
            pool_size=pool_size,
            policy=connection.policy,
            credentials=connection.credentials,
            raw_scan_items=raw_scan_items,
        )

    async def call(
        self,
        operation: Callable[[], Awaitable[T]],
        *,
        what: str,
        pace: Pace[T] | None = None,
        policy: RetryPolicy | None = None,
    ) -> T:
        """Run *operation* under the handle's policy (or *policy*); *what* names it in messages."""
        return await call_with_retry(policy or self.policy, operation, what=what, pace=pace)

    async def check_table(
        self,
        name: str,
        keys: dict[str, str],
        *,
        fix: Fix = Fix.TABLES,
        missing: Fix | None = None,
    ) -> None:
        """Fail early, in one line, if table *name* is missing, unreadable or not keyed by *keys*.

        *fix* is the advice for a table keyed otherwise, *missing* for one not
        found (default: to check the environment, the table options and the region).
        """
        try:
            reply = await self.call(
                lambda: self.client.describe_table(TableName=name),
                what=f"DescribeTable {name}",
                policy=PREFLIGHT_POLICY,
            )
        except TableNotFound as absent:
            if missing is None:
                raise
            raise TableNotFound(str(absent), fix=missing) from None
        schema = {k["AttributeName"]: k["KeyType"] for k in reply["Table"]["KeySchema"]}
        if schema != keys:
            raise TableSchemaMismatch(
                f"table {name} has key schema {schema}, expected {keys}", fix=fix
            )

    async def check_tables(self) -> None:
        """Check the Consumer and the Upload table (``check_table``), both at once.

        DynamoDB Local takes a quarter of a second per call on a big table; a
        failure of the Consumer table's check is the one reported when both
        fail, as if they ran in turn.
        """
        checks = [
            asyncio.ensure_future(self.check_table(name, keys))
            for name, keys in (
                (self.tables.consumer, CONSUMER_KEYS),
                (self.tables.upload, UPLOAD_KEYS),
            )
        ]
        try:
            for check in checks:
                await check
        finally:
            for check in checks:
                check.cancel()
            # Collect the other check's outcome, so no failure goes unretrieved.
            await asyncio.gather(*checks, return_exceptions=True)
