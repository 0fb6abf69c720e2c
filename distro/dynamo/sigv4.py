"""SigV4 for the lean path's one kind of request: botocore's own steps, the fixed part once.

``QuerySigner`` signs every Query of a ``Template`` (what the SDK's request
for the same call holds: its URL and headers) as botocore's ``SigV4Auth``
does, byte for byte; ``if_same`` checks that on a probe before it is used,
and ``botocore_headers`` is botocore signing itself, for when it is not.
botocore's private parts are reached through ``distro.dynamo.internals``.
"""

from __future__ import annotations

from dataclasses import dataclass
from hashlib import sha256
from typing import Any
from urllib.parse import urlsplit

import botocore.auth
from botocore.auth import SIGNED_HEADERS_BLACKLIST, SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest

from distro.dynamo import internals

SIGV4 = "AWS4-HMAC-SHA256"
UNSIGNABLE = frozenset(SIGNED_HEADERS_BLACKLIST)  # headers SigV4 never signs


@dataclass(frozen=True, slots=True)
class Template:
    """What stays the same in every Query the SDK sends: where, which headers, how signed.

    *signed* and *unsigned* are (name, value) pairs in the SDK's order: the
    first are present when the SDK signs, the second are added after.
    """

    url: str
    signed: tuple[tuple[str, str], ...]
    unsigned: tuple[tuple[str, str], ...]
    region: str
    service: str


class SigningKeys:
    """SigV4's signing keys, each derived once per secret, day, region and service.

    botocore derives the key anew for every request: four HMACs out of the five a
    signature takes. The key depends only on those four things, so it is kept
    (the last few: a day's change or a rotated secret makes a new one). The
    derivation is botocore's own steps with its own ``_sign``.
    """

    KEPT = 8

    def __init__(self) -> None:
        self._keys: dict[tuple[str, str, str, str], bytes] = {}

    def key(self, signer: SigV4Auth, secret: str, day: str) -> bytes:
        """The signing key of *signer*'s region and service for *secret* on *day* (YYYYMMDD)."""
        which = (secret, day, *internals.scope_of(signer))
        key = self._keys.get(which)
        if key is None:
            if len(self._keys) >= self.KEPT:
                self._keys.clear()
            region, service = internals.scope_of(signer)
            k_date = internals.sign(signer, f"AWS4{secret}".encode(), day)
            k_region = internals.sign(signer, k_date, region)
            k_service = internals.sign(signer, k_region, service)
            key = self._keys[which] = internals.sign(signer, k_service, "aws4_request")
        return key


class QuerySigner:
    """SigV4 for the lean path's one kind of request, what never changes in it worked out once.

    botocore's ``SigV4Auth.add_auth`` canonicalises the whole request on every
    call: it parses the URL, collects the headers in an ``email.message.Message``,
    trims and sorts them, and derives the signing key with four HMACs. Every
    Query of the lean path has the same URL and the same template headers, so
    botocore's own pieces (its canonical path and query, its header trimming, its
    clock, its ``_sign``) are applied to them once. Each request adds only its
    date, its session token, its body's hash and two HMACs with the kept key
    (``SigningKeys``). ``QuerySigner.if_same`` checks that it signs a probe as
    the steps of botocore's ``add_auth`` do; when it does not, the reader signs
    every request with botocore itself (``botocore_headers``).
    """

    def __init__(self, template: Template, host: str) -> None:
        self._base = SigV4Auth(None, template.service, template.region)
        self._keys = SigningKeys()
        self._headers = dict(template.signed)
        self._scope = f"/{template.region}/{template.service}/aws4_request"
        url = urlsplit(template.url)
        path = internals.canonical_path(self._base, url.path)
        self._head = f"POST\n{path}\n{internals.canonical_query(self._base, url)}\n"
        fixed = {
            name.lower(): internals.header_value(self._base, value)
            for name, value in template.signed
            if name.lower() not in UNSIGNABLE
        }
        fixed.setdefault("host", host)
        self._forms = {token: _canonical_form(fixed, token=token) for token in (False, True)}
        self._token = ("", "")  # the last session token, and its canonical (trimmed) value

    @classmethod
    def if_same(cls, template: Template, host: str, credentials: Any) -> QuerySigner | None:
        """A ``QuerySigner``, if it signs a probe byte for byte as botocore's ``add_auth``
        steps do; else None. A probe that fails either way is a difference too: botocore
        then signs each request, and raises its own error if there is one."""
        stamp = "20260101T235959Z"
        theirs = AWSRequest(
            method="POST", url=template.url, headers=dict(template.signed), data=b"{}"
        )
        try:
            signer = cls(template, host)
            ours = signer.headers(credentials, b"{}", stamp=stamp)
            # add_auth's own steps, at a moment of our choosing: its clock is left alone.
            reference = SigV4Auth(credentials, template.service, template.region)
            theirs.context["timestamp"] = stamp
            internals.sign_as_add_auth(reference, theirs)
        except Exception:  # a probe, not the request: botocore signs that its own way
            return None
        return signer if ours == dict(theirs.headers.items()) else None

    def headers(self, credentials: Any, body: bytes, *, stamp: str | None = None) -> dict[str, str]:
        """The template's signed headers for *body* with the date, token and signature added,
        in the order botocore adds them. *stamp*: the moment (SigV4's format); default now."""
        if stamp is None:
            stamp = botocore.auth.get_current_datetime().strftime(SIGV4_TIMESTAMP)
        token = credentials.token
        pieces, signed = self._forms[bool(token)]
        filled = [
            stamp if piece is _DATE else self._trimmed(token) if piece is _TOKEN else piece
            for piece in pieces
        ]
        canonical = f"{self._head}{''.join(filled)}\n{signed}\n{sha256(body).hexdigest()}"
        day = stamp[:8]
        scope = day + self._scope
        to_sign = f"{SIGV4}\n{stamp}\n{scope}\n{sha256(canonical.encode()).hexdigest()}"
        key = self._keys.key(self._base, credentials.secret_key, day)
        signature = internals.sign(self._base, key, to_sign, hex=True)
        headers = dict(self._headers)
        headers["X-Amz-Date"] = stamp
        if token:
            headers["X-Amz-Security-Token"] = token
        headers["Authorization"] = (
            f"{SIGV4} Credential={credentials.access_key}/{scope}, "
            f"SignedHeaders={signed}, Signature={signature}"
        )
        return headers

    def _trimmed(self, token: str) -> str:
        if self._token[0] != token:  # a token changes only when the credentials refresh
            self._token = (token, internals.header_value(self._base, token))
        return self._token[1]


# Where a request's own date and session token go in a canonical form's pieces.
_DATE = object()
_TOKEN = object()


def _canonical_form(fixed: dict[str, str], *, token: bool) -> tuple[list[Any], str]:
    """The canonical headers of a request (with a session token or without) as pieces, its
    date and token left as slots, and its ``SignedHeaders``: botocore's sort and layout."""
    slots: dict[str, Any] = {"x-amz-date": _DATE}
    if token:
        slots["x-amz-security-token"] = _TOKEN
    values = {**fixed, **slots}
    names = sorted(values)
    pieces: list[Any] = []
    for name in names:
        value = values[name]
        if value is _DATE or value is _TOKEN:
            pieces += [f"{name}:", value, "\n"]
        else:
            pieces.append(f"{name}:{value}\n")
    return pieces, ";".join(names)


def botocore_headers(template: Template, credentials: Any, body: bytes) -> dict[str, str]:
    """The template's headers for *body*, signed by botocore's ``SigV4Auth`` itself."""
    request = AWSRequest(method="POST", url=template.url, headers=dict(template.signed), data=body)
    SigV4Auth(credentials, template.service, template.region).add_auth(request)
    return dict(request.headers.items())
