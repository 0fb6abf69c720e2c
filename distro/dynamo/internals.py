"""The SDK's private parts that the lean Query path relies on, touched here and nowhere else.

The lean path (``distro.dynamo.lean``) sends the SDK's own request, signed as
botocore signs it, on aiobotocore's own connection pool. For that it needs
a few of their private attributes and functions. Each is reached through a
function below, with a comment saying what it is for. ``INTERNALS`` lists
them for ``missing``, which a test runs against the installed versions. The
lean path does not need ``missing`` at run time: when an internal has moved,
``lean_reader`` keeps the SDK's reader (no HTTP session to borrow), and
``QuerySigner.if_same`` hands the signing back to botocore. pyproject.toml
bounds botocore and aiobotocore at the versions tested.
"""

from __future__ import annotations

from typing import Any

import aiobotocore
import botocore
import botocore.auth
from aiobotocore.httpsession import AIOHTTPSession
from botocore.auth import SigV4Auth

# (where, attribute, what distro uses it for): every private name reached below.
INTERNALS: tuple[tuple[str, str, str], ...] = (
    ("client", "_endpoint", "the client's HTTP session: its pool, TLS and proxies"),
    ("AIOHTTPSession", "_get_session", "the aiohttp session of a proxy, as the SDK makes it"),
    ("AIOHTTPSession", "_proxy_config", "the proxy and its headers for the endpoint's URL"),
    ("SigV4Auth", "_sign", "the HMAC of each step of SigV4's key and signature"),
    ("SigV4Auth", "_region_name", "the region a signing key is derived for"),
    ("SigV4Auth", "_service_name", "the service a signing key is derived for"),
    ("SigV4Auth", "_normalize_url_path", "the canonical path, worked out once"),
    ("SigV4Auth", "_canonical_query_string_url", "the canonical query, worked out once"),
    ("SigV4Auth", "_header_value", "botocore's trimming of a header's value"),
    ("SigV4Auth", "_modify_request_before_signing", "add_auth's first step, for the probe"),
    ("SigV4Auth", "_inject_signature_to_request", "add_auth's last step, for the probe"),
    ("botocore.auth", "_host_from_url", "the Host header botocore signs"),
)


def http_session(client: Any) -> Any:
    """The aiobotocore HTTP session of *client* (None when it has none): its ``_endpoint``."""
    return getattr(getattr(client, "_endpoint", None), "http_session", None)


def can_borrow(http: Any) -> bool:
    """Whether *http* hands out its aiohttp sessions (``_get_session``): the lean path sends on
    the SDK's own pool, with its limits, TLS and proxies, or not at all."""
    return hasattr(http, "_get_session")


async def aiohttp_session(http: Any, proxy_url: str | None) -> Any:
    """The aiohttp session *http* sends through *proxy_url* on (``_get_session``)."""
    return await http._get_session(proxy_url)


def proxy_for(http: Any, url: str) -> tuple[str | None, dict[str, str]]:
    """The proxy *http* uses for *url*, and its headers (``_proxy_config``)."""
    config = http._proxy_config
    return config.proxy_url_for(url), dict(config.proxy_headers_for(url))


def sign(signer: SigV4Auth, key: bytes, message: str, *, hex: bool = False) -> Any:
    """botocore's HMAC-SHA256 step (``_sign``), as its SigV4 uses it."""
    return signer._sign(key, message, hex=hex)


def scope_of(signer: SigV4Auth) -> tuple[str, str]:
    """The region and service *signer* signs for (``_region_name``, ``_service_name``)."""
    return signer._region_name, signer._service_name


def canonical_path(signer: SigV4Auth, path: str) -> str:
    """botocore's canonical form of a URL's path (``_normalize_url_path``)."""
    return str(signer._normalize_url_path(path))


def canonical_query(signer: SigV4Auth, url: Any) -> str:
    """botocore's canonical query string of a split URL (``_canonical_query_string_url``)."""
    return str(signer._canonical_query_string_url(url))


def header_value(signer: SigV4Auth, value: str) -> str:
    """A header's value trimmed as botocore signs it (``_header_value``)."""
    return str(signer._header_value(value))


def sign_as_add_auth(signer: SigV4Auth, request: Any) -> None:
    """``add_auth``'s own steps on *request*, with the timestamp the request's context holds
    (``_modify_request_before_signing``, ``_inject_signature_to_request``): its clock is left
    alone."""
    signer._modify_request_before_signing(request)
    to_sign = signer.string_to_sign(request, signer.canonical_request(request))
    signer._inject_signature_to_request(request, signer.signature(to_sign, request))


def host_from_url(url: str) -> str:
    """The Host header botocore signs for *url* (``botocore.auth._host_from_url``)."""
    return str(botocore.auth._host_from_url(url))


def missing(client: Any) -> list[str]:
    """The internals of ``INTERNALS`` the installed SDK lacks, one line each naming the
    attribute, what it was for, and the versions installed; *client*: a DynamoDB client."""
    owners: dict[str, Any] = {
        "client": client,
        "AIOHTTPSession": AIOHTTPSession,
        "SigV4Auth": SigV4Auth(None, "dynamodb", "us-east-1"),
        "botocore.auth": botocore.auth,
    }
    versions = f"botocore {botocore.__version__}, aiobotocore {aiobotocore.__version__}"
    found = []
    for owner, name, use in INTERNALS:
        held = owners[owner]
        # An instance attribute of the HTTP session is set in its constructor: look there.
        if owner == "AIOHTTPSession" and name == "_proxy_config":
            held = http_session(client)
        if not hasattr(held, name):
            found.append(f"{owner}.{name} is gone in {versions}: it gave {use}")
    return found
