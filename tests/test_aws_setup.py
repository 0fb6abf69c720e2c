"""AWS configuration mistakes, rejected credentials and endpoints that are not DynamoDB.

Every case runs the real CLI (in-process with exactly its environment, which botocore
reads when the run makes its session; one case in a subprocess) and expects one exact
line on stderr, exit 1 and no traceback. Profiles come from temporary
``AWS_CONFIG_FILE`` / ``AWS_SHARED_CREDENTIALS_FILE`` files (with ``HOME`` in a
temporary folder, so no real SSO cache is read); DynamoDB's refusals come from
the fault proxy's canned replies; foreign endpoints are small aiohttp servers
on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import ssl
import subprocess
import threading
import uuid
from collections.abc import Mapping
from pathlib import Path

import pytest
from aiobotocore.credentials import AioRefreshableCredentials
from aiohttp import web
from botocore.exceptions import SSOTokenLoadError
from faultproxy import JSON_TYPE, Canned, CannedProxy, Faults
from helpers import Result, assert_one_line_error, invoke, run
from test_tracking_table import create_table

from distro.dynamo.handle import Dynamo, dynamodb_client
from distro.dynamo.lean import LeanReader, lean_reader
from distro.dynamo.reader import SdkReader
from distro.errors import DistroError, NotDynamoDB, SsoLoginNeeded
from distro.flags import with_flags
from distro.local.dataset import Dataset
from distro.local.dynamodb import LocalDynamo
from distro.settings import RetryPolicy, Tables

NOWHERE = "http://127.0.0.1:1"  # nothing listens: these errors come before any call is sent
FAST_RETRIES = {"DISTRO_RETRY_BASE": "0"}
PROFILE_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def run_cli(*args: str | Path, env: Mapping[str, str]) -> Result:
    """The CLI in-process with exactly *env*: botocore reads it when the run makes its session."""
    return invoke(*args, base=env)


def only_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a run that failed with exit 1."""
    assert_one_line_error(result, 1)
    return result.stderr.strip()


def table_args(tables: Tables, endpoint: str) -> list[str]:
    return [
        "--endpoint-url",
        endpoint,
        "--consumer-table",
        tables.consumer,
        "--upload-table",
        tables.upload,
        "--quiet",
    ]


# --- the AWS config files --------------------------------------------------------------------


def profile_env(home: Path, config: str = "", credentials: str = "", **more: str) -> dict[str, str]:
    """The environment of a run that takes its credentials from the files written here."""
    (home / "config").write_text(config)
    (home / "credentials").write_text(credentials)
    env = {k: v for k, v in os.environ.items() if k not in PROFILE_VARIABLES}
    return env | {
        "HOME": str(home),
        "AWS_CONFIG_FILE": str(home / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
        **more,
    }


SSO_PROFILE = """\
[profile legacy]
sso_start_url = https://example.awsapps.com/start
sso_region = us-east-1
sso_account_id = 123456789012
sso_role_name = Reader

[profile modern]
sso_session = corp
sso_account_id = 123456789012
sso_role_name = Reader

[sso-session corp]
sso_start_url = https://example.awsapps.com/start
sso_region = us-east-1
"""


def test_an_unknown_profile_is_named(tmp_path: Path) -> None:
    env = profile_env(tmp_path, "[profile real]\nregion = us-east-2\n", AWS_PROFILE="nope")
    # A real process: one AWS setup mistake read from the environment end to end.
    assert only_line(run("analyze", "--endpoint-url", NOWHERE, base=env)) == (
        "Error: AWS profile 'nope' is not in the AWS config files: set AWS_PROFILE to a "
        "profile that `aws configure list-profiles` lists"
    )


@pytest.mark.parametrize("broken", ["config", "credentials"])
def test_a_malformed_config_or_credentials_file_is_named(tmp_path: Path, broken: str) -> None:
    files = {"config": "", "credentials": ""} | {broken: "[default\naws_access_key_id = x\n"}
    env = profile_env(tmp_path, files["config"], files["credentials"])
    assert only_line(run_cli("analyze", "--endpoint-url", NOWHERE, env=env)) == (
        f"Error: cannot parse the AWS config file {tmp_path / broken}: fix its syntax "
        "(sections look like [default] or [profile NAME], then key = value lines)"
    )


@pytest.mark.parametrize(
    ("profile", "expired"), [("legacy", False), ("modern", False), ("modern", True)]
)
def test_an_sso_profile_without_a_valid_token_needs_a_login(
    tmp_path: Path, profile: str, expired: bool
) -> None:
    env = profile_env(tmp_path, SSO_PROFILE, AWS_PROFILE=profile)
    if expired:
        # The SDK caches an sso-session's token under the SHA-1 of the session's name.
        cache = tmp_path / ".aws" / "sso" / "cache"
        cache.mkdir(parents=True)
        token = {
            "startUrl": "https://example.awsapps.com/start",
            "region": "us-east-1",
            "accessToken": "stale",
            "expiresAt": "2020-01-01T00:00:00Z",
        }
        (cache / f"{hashlib.sha1(b'corp').hexdigest()}.json").write_text(json.dumps(token))
    assert only_line(run_cli("analyze", "--endpoint-url", NOWHERE, env=env)) == (
        f"Error: AWS profile {profile!r} needs an SSO login (its SSO token is missing or "
        f"expired): run `aws sso login --profile {profile}`"
    )


def test_a_failing_credential_process_is_named(tmp_path: Path) -> None:
    script = tmp_path / "get-keys"
    script.write_text("#!/bin/sh\necho 'vault is sealed' >&2\nexit 3\n")
    script.chmod(0o755)
    config = f"[profile scripted]\ncredential_process = {script}\n"
    env = profile_env(tmp_path, config, AWS_PROFILE="scripted")
    assert only_line(run_cli("analyze", "--endpoint-url", NOWHERE, env=env)) == (
        "Error: the credential_process of AWS profile 'scripted' failed (vault is sealed): "
        "run that command by hand to see why, then fix it or the profile"
    )


# --- DynamoDB refusing the credentials or the call -------------------------------------------


@pytest.mark.db
@pytest.mark.parametrize(
    ("code", "says"),
    [
        (
            "UnrecognizedClientException",
            "DynamoDB does not recognise the access key (UnrecognizedClientException): check "
            "the access key ID (AWS_ACCESS_KEY_ID or the profile's aws_access_key_id)",
        ),
        (
            "InvalidSignatureException",
            "DynamoDB rejected the request signature (InvalidSignatureException): check the "
            "secret access key (AWS_SECRET_ACCESS_KEY or the profile's aws_secret_access_key)",
        ),
        (
            "ExpiredTokenException",
            "the AWS session token has expired (ExpiredTokenException): refresh the session "
            "token (new temporary credentials, or `aws sso login`)",
        ),
    ],
)
def test_rejected_credentials_say_what_to_check(
    loaded: tuple[Dataset, Tables], code: str, says: str
) -> None:
    _, tables = loaded
    assert tables.endpoint_url is not None
    # Only the Consumer table's check is refused: the two checks run at once, and the
    # refusal cancels the other, which may or may not have been sent by then.
    canned = Canned.error(
        frozenset({"DescribeTable"}), code, "The security token is invalid.", table=tables.consumer
    )
    with CannedProxy(tables.endpoint_url, Faults(), canned=canned) as proxy:
        result = run_cli("analyze", *table_args(tables, proxy.url), env=os.environ)
        canned_calls = proxy.counts["canned"]
    assert only_line(result) == f"Error: DescribeTable {tables.consumer}: {says}"
    assert canned_calls == 1, "a refusal is not retried"


DENIED = "User: arn:aws:iam::123456789012:user/planner is not authorized to perform: {}"


@pytest.mark.db
@pytest.mark.parametrize(
    ("operation", "which", "what"),
    [
        ("DescribeTable", "upload", "DescribeTable {}"),
        ("Scan", "consumer", "Scan of {}"),
        ("Query", "upload", "Query of {}"),
    ],
)
def test_access_denied_on_a_read_names_the_action_and_the_table(
    loaded: tuple[Dataset, Tables], operation: str, which: str, what: str
) -> None:
    _, tables = loaded
    assert tables.endpoint_url is not None
    table = tables.consumer if which == "consumer" else tables.upload
    action = f"dynamodb:{operation}"
    canned = Canned.error(
        frozenset({operation}), "AccessDeniedException", DENIED.format(action), table=table
    )
    # One segment and one counter: exactly one call meets the refusal, and it is not retried.
    one_at_a_time = ["--parallel-segments", "1", "--concurrency", "1"]
    with CannedProxy(tables.endpoint_url, Faults(), canned=canned) as proxy:
        result = run_cli("analyze", *table_args(tables, proxy.url), *one_at_a_time, env=os.environ)
        canned_calls = proxy.counts["canned"]
    assert only_line(result) == (
        f"Error: {what.format(table)}: access denied: these credentials may not call {action} "
        f"on that table; allow {action} on it in their IAM policy ({DENIED.format(action)})"
    )
    assert canned_calls == 1


@pytest.mark.db
@pytest.mark.parametrize(
    ("operation", "what"),
    [("DescribeTable", "DescribeTable {}"), ("PutItem", "PutItem on {}")],
)
def test_access_denied_on_the_assignments_table_names_the_action_and_the_table(
    dynamo: LocalDynamo, loaded: tuple[Dataset, Tables], tmp_path: Path, operation: str, what: str
) -> None:
    _, tables = loaded
    table = f"denied-{operation.lower()}-{uuid.uuid4().hex[:8]}"
    asyncio.run(create_table(dynamo.endpoint_url, table))
    action = f"dynamodb:{operation}"
    canned = Canned.error(
        frozenset({operation}), "AccessDeniedException", DENIED.format(action), table=table
    )
    args = ["--instances", "2", "--output-dir", tmp_path, "--assignments-table", table]
    with CannedProxy(dynamo.endpoint_url, Faults(), canned=canned) as proxy:
        result = run_cli("generate", *table_args(tables, proxy.url), *args, env=os.environ)
        canned_calls = proxy.counts["canned"]
    assert only_line(result) == (
        f"Error: {what.format(table)}: access denied: these credentials may not call {action} "
        f"on that table; allow {action} on it in their IAM policy ({DENIED.format(action)})"
    )
    # The table is described once; each write in flight meets the refusal once, unretried.
    assert canned_calls == 1 if operation == "DescribeTable" else 1 <= canned_calls <= 16


# --- endpoints that are not DynamoDB --------------------------------------------------------

PAGE = b"<html><body><h1>Welcome to nginx!</h1>" + b"<p>lorem ipsum</p>" * 200 + b"</body></html>"


class Server:
    """A web server on 127.0.0.1, in a thread, answering every request alike; TLS with *tls*.

    ``tables`` counts the requests per TableName in their bodies.
    """

    def __init__(
        self, status: int, body: bytes, content_type: str, tls: ssl.SSLContext | None = None
    ) -> None:
        self.reply = (status, body, content_type)
        self.tls = tls
        self.url = ""
        self.tables: dict[str, int] = {}
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(),), daemon=True)

    async def _handle(self, request: web.Request) -> web.Response:
        try:
            table = str(json.loads(await request.read()).get("TableName"))
        except ValueError:
            table = "?"
        self.tables[table] = self.tables.get(table, 0) + 1
        status, body, content_type = self.reply
        return web.Response(status=status, body=body, headers={"Content-Type": content_type})

    async def _serve(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=self.tls).start()
        self.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await runner.cleanup()

    def __enter__(self) -> Server:
        self._thread.start()
        assert self._ready.wait(10), "the test server did not start"
        return self

    def __exit__(self, *_: object) -> None:
        assert self._loop is not None
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


@pytest.mark.parametrize(
    ("status", "body", "content_type", "attempts"),
    [
        (200, PAGE, "text/html", 1),  # a web page where DynamoDB should be
        (404, b"404 page not found", "text/plain", 1),
        (200, b"OK", JSON_TYPE, 1),  # DynamoDB's content type, but not JSON
        (200, b"", JSON_TYPE, 1),  # an empty 200: DynamoDB always answers a JSON object
        (404, b'{"message": "Not Found"}', "application/json", 1),  # JSON, but no error type
        (502, PAGE, "text/html", 3),  # a gateway's page: retried (3 tries for a table check)
    ],
    ids=["200-html", "404-text", "200-not-json", "200-empty", "404-json", "502-html"],
)
def test_an_endpoint_that_is_not_dynamodb_is_named_without_its_body(
    status: int, body: bytes, content_type: str, attempts: int
) -> None:
    tables = Tables("web-consumer", "web-upload", "us-east-2")
    with Server(status, body, content_type) as server:
        result = run_cli("analyze", *table_args(tables, server.url), env=os.environ | FAST_RETRIES)
    assert only_line(result) == (
        f"Error: DescribeTable web-consumer: the endpoint did not answer like DynamoDB (HTTP "
        f"{status}, {content_type}): check --endpoint-url (or AWS_ENDPOINT_URL) and --region"
    )
    assert server.tables["web-consumer"] == attempts


@pytest.fixture(scope="module")
def tls_context(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    """A server context with a throwaway self-signed certificate made by the openssl CLI."""
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    made = subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        capture_output=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip(f"openssl cannot make a certificate: {made.stderr.decode()}")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def test_a_tls_server_on_a_plain_http_url_is_named(tls_context: ssl.SSLContext) -> None:
    tables = Tables("tls-consumer", "tls-upload", "us-east-2")
    with Server(200, b"{}", JSON_TYPE, tls=tls_context) as server:
        result = run_cli("analyze", *table_args(tables, server.url), env=os.environ | FAST_RETRIES)
    # A TLS server hangs up on plain HTTP without a byte: to the client, a dropped connection.
    assert only_line(result) == (
        "Error: DescribeTable tls-consumer: the endpoint hung up without a reply on every "
        "attempt, so it did not answer like DynamoDB: if it serves HTTPS, use an https:// "
        "--endpoint-url; otherwise check the network and run the same command again to resume"
    )


@pytest.mark.db
@pytest.mark.parametrize(
    ("status", "body", "content_type", "attempts"),
    [(200, PAGE, "text/html", 1), (502, PAGE, "text/html", 10)],
    ids=["200-html", "502-html"],
)
def test_a_foreign_reply_to_the_lean_count_query_is_named(
    loaded: tuple[Dataset, Tables], status: int, body: bytes, content_type: str, attempts: int
) -> None:
    _, tables = loaded
    assert tables.endpoint_url is not None
    canned = Canned(frozenset({"Query"}), status, body, content_type)
    with CannedProxy(tables.endpoint_url, Faults(), canned=canned) as proxy:
        result = run_cli(
            "analyze",
            *table_args(tables, proxy.url),
            *("--concurrency", "1"),
            env=os.environ | FAST_RETRIES,
        )
        canned_calls = proxy.counts["canned"]
    assert only_line(result) == (
        f"Error: Query of {tables.upload}: the endpoint did not answer like DynamoDB (HTTP "
        f"{status}, {content_type}): check --endpoint-url (or AWS_ENDPOINT_URL) and --region"
    )
    assert canned_calls == attempts, "a 5xx page is retried (10 tries), any other is not"


@pytest.mark.db
@pytest.mark.parametrize("status", [200, 404, 502])
async def test_both_read_paths_refuse_a_foreign_reply_alike(
    loaded: tuple[Dataset, Tables], status: int
) -> None:
    _, tables = loaded
    assert tables.endpoint_url is not None
    policy = RetryPolicy(max_tries=2, base=0.0)
    canned = Canned(frozenset({"Query"}), status, PAGE, "text/html")
    failures: list[DistroError] = []
    with CannedProxy(tables.endpoint_url, Faults(), canned=canned) as proxy:
        proxied = Tables(tables.consumer, tables.upload, tables.region, proxy.url)
        async with dynamodb_client(proxied, pool_size=2, policy=policy) as client:
            lean = await lean_reader(Dynamo(client, proxied, policy))
            assert isinstance(lean, LeanReader)
            for reader in (SdkReader(Dynamo(client, proxied, policy)), lean):
                with pytest.raises(NotDynamoDB) as refused:
                    await reader.count_page("did:key:z6MkForeign", None)
                failures.append(refused.value)
        canned_calls = proxy.counts["canned"]
    assert (
        with_flags(failures[0])
        == with_flags(failures[1])
        == (
            f"Query of {tables.upload}: the endpoint did not answer like DynamoDB (HTTP {status}, "
            "text/html): check --endpoint-url (or AWS_ENDPOINT_URL) and --region"
        )
    )
    assert canned_calls == 2 * (2 if status >= 500 else 1)


# --- no secret in any output -----------------------------------------------------------------

SECRETS = {
    "AWS_ACCESS_KEY_ID": "AKIAQWERTYUIOPASDFGH",
    "AWS_SECRET_ACCESS_KEY": "Zx9/SecretAccessKeyOnlyDistroTestsUse+0001",
    "AWS_SESSION_TOKEN": "IQoJb3JpZ2luX2VjSessionTokenOnlyDistroTestsUse",
}
PASSWORD = "hunter2-endpoint-password"


def leaks(result: subprocess.CompletedProcess[str], folder: Path) -> list[str]:
    """Where a secret shows up: stdout, stderr, or the name of a file under *folder*."""
    outputs = {"stdout": result.stdout, "stderr": result.stderr}
    outputs |= {str(p): p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file()}
    return [
        f"{secret} in {where}"
        for where, text in outputs.items()
        for secret in (*SECRETS.values(), PASSWORD)
        if secret in text
    ]


@pytest.mark.db
def test_no_secret_reaches_any_output(loaded: tuple[Dataset, Tables], tmp_path: Path) -> None:
    _, tables = loaded
    assert tables.endpoint_url is not None
    env = os.environ | SECRETS | FAST_RETRIES
    report = ["--json", "--report-html", tmp_path / "report.html"]
    ok = run_cli(
        "generate",
        *table_args(tables, tables.endpoint_url),
        *("--instances", "2", "--output-dir", tmp_path / "ok", *report),
        env=env,
    )
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "ok" / "distribution-staging.json").exists()

    # A refusal that quotes the key and the token back, after some spaces were counted and
    # checkpointed: the message is masked, and the checkpoint holds neither.
    echoed = f"The key {SECRETS['AWS_ACCESS_KEY_ID']} with token {SECRETS['AWS_SESSION_TOKEN']}"
    canned = Canned.error(frozenset({"Query"}), "UnrecognizedClientException", echoed)
    with CannedProxy(tables.endpoint_url, Faults(), canned=canned) as proxy:
        refused = run_cli(
            "analyze",
            *table_args(tables, proxy.url),
            *("--output-dir", tmp_path / "refused"),
            env=env,
        )
    assert only_line(refused) == (
        f"Error: Query of {tables.upload}: DynamoDB does not recognise the access key "
        "(UnrecognizedClientException): check the access key ID (AWS_ACCESS_KEY_ID or the "
        "profile's aws_access_key_id)"
    )

    # A password in the endpoint URL is never used, and never shown.
    endpoint = tables.endpoint_url.replace("http://", f"http://planner:{PASSWORD}@")
    with_password = run_cli(
        "analyze", *table_args(tables, endpoint), "--output-dir", tmp_path / "pw", env=env
    )
    assert with_password.returncode == 2
    assert with_password.stderr.strip() == (
        f"Error: the endpoint URL {endpoint.replace(f'planner:{PASSWORD}', '***')} holds a user "
        "name or password, which DynamoDB does not use (requests are signed with the AWS "
        "credentials): remove them"
    )
    found = leaks(ok, tmp_path / "ok") + leaks(refused, tmp_path) + leaks(with_password, tmp_path)
    assert not found


@pytest.mark.db
async def test_an_sso_token_expiring_mid_run_is_one_line_on_both_read_paths(
    loaded: tuple[Dataset, Tables], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Credentials that must be refreshed before a call, when the refresh needs an SSO login.

    The lean path resolves them itself (``LeanReader.sign``), the SDK inside the call.
    """
    _, tables = loaded
    policy = RetryPolicy(max_tries=3, base=0.0)

    async def refresh() -> dict[str, str]:
        raise SSOTokenLoadError(error_msg="Token for corp does not exist")

    expired = AioRefreshableCredentials.create_from_metadata(
        {"access_key": "k", "secret_key": "s", "token": "t", "expiry_time": "2020-01-01T00:00:00Z"},
        refresh_using=refresh,
        method="sso",
    )
    async with dynamodb_client(tables, pool_size=2, policy=policy) as client:
        lean = await lean_reader(Dynamo(client, tables, policy))
        assert isinstance(lean, LeanReader)
        client._request_signer._credentials = expired  # what the client refreshes before a call
        monkeypatch.setenv("AWS_PROFILE", "reader")  # the profile the message names
        messages = []
        for reader in (SdkReader(Dynamo(client, tables, policy)), lean):
            with pytest.raises(SsoLoginNeeded) as refused:
                await reader.count_page("did:key:z6MkAnySpace", None)
            messages.append(str(refused.value))
    assert messages == 2 * [
        "AWS profile 'reader' needs an SSO login (its SSO token is missing or expired): "
        "run `aws sso login --profile reader`"
    ]
