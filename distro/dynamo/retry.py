"""What a DynamoDB failure means, and how long distro keeps trying.

Retries: distro retries every DynamoDB call itself, with ``backoff`` (exponential,
full jitter, bounded by attempts and by total time), and turns the SDK's own
retries off (``total_max_attempts=1``, see ``distro.dynamo.handle``). Two layers
of retries would multiply: botocore's legacy mode alone makes 10 attempts
without jitter, and under it each of our attempts would become ten. One layer
also means one place that knows which errors are worth another try, including
``RequestLimitExceeded``, which botocore's legacy mode does not retry. Each call
also gets its own deadline, because a call can otherwise wait forever for a
pooled connection.

What a failure means is decided once, in ``translate``: a mistake in the AWS
configuration can surface when the client is made, or inside a call when
credentials are first resolved or refreshed (also in ``lean``'s own
signing), and every one of those places sends it through ``translate``. A
reply that is not DynamoDB's (a web page, a gateway's error page) is caught
by ``dynamodb_document`` on both read paths before anything parses it, and a
reply damaged on the way by its CRC32 (``check_crc32``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from binascii import crc32
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import backoff
import orjson
from botocore.exceptions import (
    BotoCoreError,
    ChecksumError,
    ClientError,
    ConfigParseError,
    ConnectionClosedError,
    ConnectionError,
    CredentialRetrievalError,
    HTTPClientError,
    IncompleteReadError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
    SSOError,
    TokenRetrievalError,
)

from distro.errors import (
    AccessDenied,
    AwsConfigError,
    CountingFailed,
    CredentialsMissing,
    CredentialsRejected,
    CredentialsUnavailable,
    DistroError,
    EndpointUnreachable,
    Fix,
    NotDynamoDB,
    SsoLoginNeeded,
    TableNotFound,
)
from distro.settings import RetryPolicy, aws_profile, secret_values

T = TypeVar("T")
# Wraps every attempt of a call, retries included, outside its deadline: it may
# wait before the attempt and account for it after (``distro.dynamo.pacing.Lane``).
Pace = Callable[[Callable[[], Awaitable[T]]], Awaitable[T]]

# distro reports every failure in one line; botocore would also log some of them (a failed
# credential refresh) with a traceback, through logging's last-resort handler on stderr.
for _sdk_logger in ("botocore", "aiobotocore"):
    logging.getLogger(_sdk_logger).addHandler(logging.NullHandler())

RETRYABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
# DynamoDB's words for credentials it will not take, each with the one thing to check.
REJECTED_CREDENTIALS = {
    "UnrecognizedClientException": (
        "DynamoDB does not recognise the access key",
        "check the access key ID (AWS_ACCESS_KEY_ID or the profile's aws_access_key_id)",
    ),
    "InvalidSignatureException": (
        "DynamoDB rejected the request signature",
        "check the secret access key (AWS_SECRET_ACCESS_KEY or the profile's "
        "aws_secret_access_key)",
    ),
    "ExpiredTokenException": (
        "the AWS session token has expired",
        "refresh the session token (new temporary credentials, or `aws sso login`)",
    ),
}
# Environment variables whose values must never reach a message.
# Shorter values are dummies (DynamoDB Local's "local"); masking them would garble messages.
MIN_SECRET_LENGTH = 12
_USERINFO = re.compile(r"(?<=://)[^/@\s\"']+@")
_ACCESS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")
JSON_OBJECT_START = b"{"


# Checking the tables before a run should fail fast when nothing answers.
PREFLIGHT_POLICY = RetryPolicy(max_tries=3, max_time=15.0, base=0.2, call_timeout=10.0)


class ForeignReply(Exception):
    """A reply no DynamoDB sends (an HTML page, plain text, an empty 2xx): a wrong endpoint."""

    def __init__(self, status: int, content_type: str) -> None:
        super().__init__(f"HTTP {status}, {content_type or 'no content type'}")
        self.status = status


def dynamodb_document(
    status: int, headers: Mapping[str, str], body: bytes
) -> dict[str, Any] | None:
    """The JSON object of a reply with *status*, *headers* and *body*; None for a bare 5xx.

    DynamoDB answers every call with a JSON object, and names the type of
    every error (``__type`` or ``x-amzn-ErrorType``). Anything else raises
    ``ForeignReply``, so a wrong endpoint is not mistaken for an empty table
    or a throttling DynamoDB. A 5xx without a body is what a load balancer in
    front of DynamoDB sends, and stays a server error.
    """
    if not body and status >= 500:
        return None
    document = _json_object(body)
    if document is None or (status >= 300 and not _names_its_error(document, headers)):
        raise ForeignReply(status, _header(headers, "content-type").split(";")[0])
    return document


def _json_object(body: bytes) -> dict[str, Any] | None:
    if body[:1] != JSON_OBJECT_START:  # spares parsing an HTML page
        return None
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _names_its_error(document: dict[str, Any], headers: Mapping[str, str]) -> bool:
    return "__type" in document or bool(_header(headers, "x-amzn-errortype"))


def _header(headers: Mapping[str, str], name: str) -> str:
    """The value of header *name* (lower case) in *headers*, whatever their case; "" if absent."""
    return next((value for key, value in headers.items() if key.lower() == name), "")


def refuse_foreign_reply(response_dict: dict[str, Any], **_: Any) -> None:
    """A ``before-parse`` hook: raise ``ForeignReply`` before botocore reads a wrong endpoint's reply."""
    dynamodb_document(response_dict["status_code"], response_dict["headers"], response_dict["body"])


def is_transient(exc: BaseException) -> bool:
    """True for failures another attempt may cure: throttling, 5xx, timeouts, lost connections.

    A reply whose body fails DynamoDB's CRC32 was damaged on the way: botocore retries it too.
    """
    if isinstance(exc, ForeignReply):
        # A gateway's 5xx page (502, 503, 504) is what a proxy in front of a restarting
        # DynamoDB sends: worth another try. Any other foreign reply (a web page with 200,
        # a 404) comes from the wrong server, and asking again cannot change that.
        return exc.status >= 500
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return error.get("Code") in RETRYABLE_CODES or status >= 500
    return isinstance(
        exc,
        TimeoutError
        | ConnectionError
        | HTTPClientError
        | IncompleteReadError
        | OSError
        | ChecksumError,
    )


async def call_with_retry(
    policy: RetryPolicy,
    operation: Callable[[], Awaitable[T]],
    *,
    what: str,
    pace: Pace[T] | None = None,
) -> T:
    """Run *operation* under *policy*; translate the final failure into a ``DistroError``.

    *what* names the call in messages (``"Query on staging-w3infra-upload"``);
    *pace*, if given, wraps each attempt (its wait is not part of the deadline).
    """
    try:
        result: T = await _retrier(policy)(operation, policy.call_timeout, pace)
        return result
    except DistroError:
        raise
    except Exception as exc:
        raise translate(exc, what=what) from exc


async def _attempt(
    operation: Callable[[], Awaitable[T]], deadline: float, pace: Pace[T] | None = None
) -> T:
    if pace is not None:
        return await pace(lambda: _attempt(operation, deadline))
    async with asyncio.timeout(deadline):
        return await operation()


@functools.cache
def _retrier(policy: RetryPolicy) -> Callable[..., Awaitable[Any]]:
    # Built once per policy: decorating on every call would cost more than the call's own work.
    return backoff.on_exception(
        backoff.expo,
        Exception,
        giveup=lambda exc: not is_transient(exc),
        max_tries=policy.max_tries,
        max_time=policy.max_time,
        jitter=backoff.full_jitter,
        raise_on_giveup=True,
        logger=None,
        factor=policy.base,
        max_value=policy.cap,
    )(_attempt)


def translate(exc: BaseException, *, what: str) -> DistroError:
    """Turn an SDK or network failure into one line that names problem and fix.

    *what* names the call (``"Scan of staging-w3infra-consumer"``). The line
    holds no secret: see ``redact``.
    """
    error = _setup_error(exc)
    if error is None and isinstance(exc, ClientError):
        error = _refusal(exc, what=what)
    if error is None:
        error = _failure(exc, what=what)
    return type(error)(redact(" ".join(str(error).split())), setting=error.setting, fix=error.fix)


def redact(text: str) -> str:
    """*text* without secrets: a URL's user and password, access keys, secret keys, tokens."""
    text = _USERINFO.sub("***@", text)
    for value in secret_values():
        if len(value) >= MIN_SECRET_LENGTH:
            text = text.replace(value, "***")
    return _ACCESS_KEY_ID.sub("***", text)


def _setup_error(exc: BaseException) -> DistroError | None:  # noqa: PLR0911 - a table of cases
    """The one line for a mistake in the AWS configuration, or None if *exc* is not one."""
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return CredentialsMissing(
            "no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
        )
    if isinstance(exc, ProfileNotFound):
        return AwsConfigError(
            f"AWS profile {exc.kwargs.get('profile')!r} is not in the AWS config files: set "
            "AWS_PROFILE to a profile that `aws configure list-profiles` lists"
        )
    if isinstance(exc, ConfigParseError):
        return AwsConfigError(
            f"cannot parse the AWS config file {exc.kwargs.get('path')}: fix its syntax "
            "(sections look like [default] or [profile NAME], then key = value lines)"
        )
    if isinstance(exc, SSOError | TokenRetrievalError):
        profile = aws_profile()
        return SsoLoginNeeded(
            f"AWS profile {profile!r} needs an SSO login (its SSO token is missing or expired): "
            f"run `aws sso login --profile {profile}`"
        )
    if isinstance(exc, CredentialRetrievalError):
        detail = exc.kwargs.get("error_msg", "").strip() or "no message"
        if exc.kwargs.get("provider") == "custom-process":
            return CredentialsUnavailable(
                f"the credential_process of AWS profile {aws_profile()!r} failed ({detail}): run "
                "that command by hand to see why, then fix it or the profile"
            )
        return CredentialsUnavailable(
            f"cannot get AWS credentials from {exc.kwargs.get('provider')} ({detail}): "
            "check the AWS profile and its credential settings"
        )
    return None


def _refusal(exc: ClientError, *, what: str) -> DistroError:
    """The one line for an error reply of DynamoDB's own."""
    error = exc.response.get("Error", {})
    code, message = error.get("Code", "?"), error.get("Message", "")
    if code == "ResourceNotFoundException":
        return TableNotFound(f"{what}: table not found ({message})", fix=Fix.TABLE_NAME)
    if code == "AccessDeniedException":
        action = f"dynamodb:{exc.operation_name}"
        return AccessDenied(
            f"{what}: access denied: these credentials may not call {action} on that table; "
            f"allow {action} on it in their IAM policy ({message})"
        )
    if code in REJECTED_CREDENTIALS:
        problem, fix = REJECTED_CREDENTIALS[code]
        return CredentialsRejected(f"{what}: {problem} ({code}): {fix}")
    if is_transient(exc):
        return CountingFailed(
            f"{what} kept failing after every retry: {code}: {message}; run the same "
            "command again to resume",
            fix=Fix.THROTTLING,
        )
    return DistroError(f"{what} was refused: {code}: {message}")


def _failure(exc: BaseException, *, what: str) -> DistroError:  # noqa: PLR0911 - a table of cases
    """The one line for a failure that is not a reply of DynamoDB's."""
    if isinstance(exc, ForeignReply):
        return NotDynamoDB(
            f"{what}: the endpoint did not answer like DynamoDB ({exc})", fix=Fix.ENDPOINT
        )
    if _hung_up_on_plain_http(exc):
        return CountingFailed(
            f"{what}: the endpoint hung up without a reply on every attempt, so it did not "
            "answer like DynamoDB",
            fix=Fix.HTTPS,
        )
    if isinstance(exc, ChecksumError):
        return CountingFailed(
            f"{what}: every reply arrived damaged (its CRC32 did not match), so nothing was "
            "counted from it; check the network or proxy between here and DynamoDB, then run "
            "the same command again to resume"
        )
    if isinstance(exc, ConnectionError):
        return EndpointUnreachable(f"{what}: cannot connect to DynamoDB ({exc})", fix=Fix.NETWORK)
    if isinstance(exc, TimeoutError | HTTPClientError | IncompleteReadError | OSError):
        return CountingFailed(
            f"{what} kept timing out or losing its connection ({exc!r}); check the network "
            "and run the same command again to resume"
        )
    if isinstance(exc, BotoCoreError):
        return DistroError(f"{what}: {exc}")
    return DistroError(f"{what}: unexpected {type(exc).__name__}: {exc}")


def _hung_up_on_plain_http(exc: BaseException) -> bool:
    # What a TLS server does to a plain-HTTP request: it hangs up without a byte in reply.
    return isinstance(exc, ConnectionClosedError) and str(
        exc.kwargs.get("endpoint_url", "")
    ).startswith("http://")


CRC32_HEADER = "x-amz-crc32"  # DynamoDB's checksum of every reply's body


def check_crc32(expected: str | None, body: bytes) -> None:
    """Raise ``ChecksumError`` when *body* does not have the CRC32 DynamoDB sent as *expected*.

    As botocore checks DynamoDB replies: over the raw bytes, and skipped when
    the header is absent (DynamoDB Local and some proxies leave it out).
    """
    if expected is None:
        return
    actual = crc32(body) & 0xFFFFFFFF
    # A header that is not a number was damaged too (or is not DynamoDB's): never a crash.
    wanted = int(expected) if expected.isdigit() else -1
    if actual != wanted:
        raise ChecksumError(checksum_type="crc32", expected_checksum=wanted, actual_checksum=actual)


def check_reply_crc32(response_dict: dict[str, Any], **_: Any) -> None:
    """A ``before-parse`` hook: raise ``ChecksumError`` for a reply damaged on the way."""
    # With one attempt per call, botocore's standard mode only counts a CRC32 mismatch as a
    # reason to retry, then returns the damaged reply: checked here, before it is parsed.
    body = response_dict.get("body")
    if isinstance(body, bytes):
        check_crc32(response_dict["headers"].get(CRC32_HEADER), body)
