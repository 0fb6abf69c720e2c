"""The SDK internals the lean path reaches are all there, and a moved one is named plainly.

pyproject.toml bounds botocore and aiobotocore at the versions tested; an upgrade
past them that moves an internal fails here, with the attribute, what it was
for and the installed versions, while the lean path itself falls back to the SDK.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiobotocore
import botocore
import pytest
from aiobotocore.httpsession import AIOHTTPSession
from aiobotocore.session import AioSession
from botocore.auth import SigV4Auth

from distro.dynamo import internals
from distro.dynamo.handle import Dynamo, client_config
from distro.dynamo.lean import lean_reader
from distro.dynamo.reader import SdkReader
from distro.settings import DEFAULT_POLICY, Tables

VERSIONS = f"botocore {botocore.__version__}, aiobotocore {aiobotocore.__version__}"


@pytest.fixture
async def client() -> AsyncIterator[Any]:
    """A DynamoDB client as distro makes one, never sending a request."""
    session = AioSession()
    async with session.create_client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=client_config(pool_size=1),
    ) as made:
        yield made


async def test_every_internal_the_lean_path_reaches_is_installed(client: Any) -> None:
    assert internals.missing(client) == []
    assert len(internals.INTERNALS) == 12


async def test_a_moved_internal_is_named_with_what_it_was_for_and_the_versions(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(SigV4Auth, "_sign")
    assert internals.missing(client) == [
        f"SigV4Auth._sign is gone in {VERSIONS}: it gave the HMAC of each step of SigV4's key "
        "and signature"
    ]


async def test_without_the_sdks_session_to_borrow_the_lean_path_keeps_the_sdk(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(AIOHTTPSession, "_get_session")
    assert internals.missing(client)[0].startswith("AIOHTTPSession._get_session is gone")
    db = Dynamo(client, Tables("c", "u", "us-east-1", "http://127.0.0.1:9"), DEFAULT_POLICY)
    assert isinstance(await lean_reader(db), SdkReader)  # no request sent, no error raised
