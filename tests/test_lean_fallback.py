"""The safety net: a lean Query DynamoDB refuses goes through the SDK, and ``--reader``.

DynamoDB Local accepts any signature, so the fault proxy plays the part of a
DynamoDB that refuses them (``reject_signature``): only the first Query
(``max_faults=1``), as if only the lean path's request were wrong, or every
Query, as if the credentials were.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore
import orjson
import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import ClientError
from faultproxy import FaultProxy, Faults
from helpers import Result, invoke, table_args
from test_pipeline import assert_matches_truth

from distro.checkpoint import Checkpoint
from distro.count import count
from distro.dynamo.handle import Dynamo, dynamodb_client
from distro.dynamo.lean import FallbackReader, LeanReader, choose_reader, refused
from distro.dynamo.reader import SdkReader
from distro.errors import CountingFailed, CredentialsRejected, SettingsError
from distro.files import PlanFolder
from distro.flags import with_flags
from distro.local.dataset import Dataset
from distro.progress import Progress
from distro.settings import CountSettings, RetryPolicy, Tables

ONE_TRY = RetryPolicy(max_tries=1, base=0.0, call_timeout=10.0)
QUERIES = frozenset({"Query"})
FALLBACK_LINE = (
    "DynamoDB refused the lean Query path (InvalidSignatureException) but accepted the "
    "SDK's request: counting goes on through the SDK"
)
# distro's translation of the refusal the SDK gets: what the run ends with.
REFUSED_LINE = (
    "Query of it-upload: DynamoDB rejected the request signature (InvalidSignatureException): "
    "check the secret access key (AWS_SECRET_ACCESS_KEY or the profile's aws_secret_access_key)"
)


def client_error(code: str, status: int) -> ClientError:
    reply: Any = {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {}}
    reply["ResponseMetadata"]["HTTPStatusCode"] = status
    return ClientError(reply, "Query")


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("InvalidSignatureException", 400, True),
        ("UnrecognizedClientException", 400, True),
        ("IncompleteSignatureException", 400, True),
        ("MissingAuthenticationTokenException", 403, True),
        ("", 403, True),  # a bare 403, as a proxy or a gateway may send it
        ("AccessDeniedException", 400, False),  # the policy, not the request: the SDK gets it too
        ("ValidationException", 400, False),
        ("ThrottlingException", 400, False),
        ("InternalServerError", 500, False),
    ],
)
def test_refused_means_the_request_itself_was_not_accepted(
    code: str, status: int, expected: bool
) -> None:
    assert refused(client_error(code, status)) is expected


def test_only_client_errors_are_refusals() -> None:
    assert refused(None) is False
    assert refused(TimeoutError()) is False


# --- against DynamoDB Local, behind the fault proxy ----------------------------------------

pytestmark_db = pytest.mark.db


@pytest.fixture
def proxy(dynamo: Any) -> Iterator[FaultProxy]:
    with FaultProxy(dynamo.endpoint_url, Faults()) as started:
        yield started


def through(proxy: FaultProxy, loaded: tuple[Dataset, Tables]) -> Tables:
    tables = loaded[1]
    return Tables(tables.consumer, tables.upload, tables.region, proxy.url)


@pytestmark_db
async def test_a_refused_lean_query_goes_through_the_sdk_and_the_run_goes_on(
    proxy: FaultProxy, loaded: tuple[Dataset, Tables], tmp_path: Path
) -> None:
    dataset, _ = loaded
    tables = through(proxy, loaded)
    settings = CountSettings(tables=tables)
    notices: list[str] = []
    async with dynamodb_client(tables, pool_size=24, policy=ONE_TRY) as client:
        reader = await choose_reader(Dynamo(client, tables, ONE_TRY), on_fallback=notices.append)
        assert isinstance(reader, FallbackReader)
        proxy.faults = Faults(reject_signature=1.0, max_faults=1, operations=QUERIES)
        tally = await count(
            settings,
            reader,
            checkpoint=Checkpoint.open(PlanFolder(tmp_path), settings, restart=True),
            progress=Progress(),
        )
    assert_matches_truth(tally, dataset)
    assert reader.path == "sdk"
    assert notices == [FALLBACK_LINE]
    assert proxy.counts["reject_signature"] == 1


@pytestmark_db
async def test_when_the_sdk_is_refused_too_the_error_is_the_sdks(
    proxy: FaultProxy, loaded: tuple[Dataset, Tables]
) -> None:
    space = next(iter(loaded[0].uploads))
    tables = through(proxy, loaded)
    notices: list[str] = []
    async with dynamodb_client(tables, pool_size=4, policy=ONE_TRY) as client:
        reader = await choose_reader(Dynamo(client, tables, ONE_TRY), on_fallback=notices.append)
        assert isinstance(reader, FallbackReader)
        proxy.faults = Faults(reject_signature=1.0, operations=QUERIES)
        with pytest.raises(CredentialsRejected) as from_net:
            await reader.count_page(space, None)
        with pytest.raises(CredentialsRejected) as from_sdk:
            await SdkReader(Dynamo(client, tables, ONE_TRY)).count_page(space, None)
    assert str(from_net.value) == str(from_sdk.value) == REFUSED_LINE
    assert reader.path == "lean"
    assert notices == []
    assert proxy.counts["reject_signature"] == 3  # lean, the net's SDK call, the plain SDK


@pytestmark_db
async def test_other_failures_do_not_switch_paths(
    proxy: FaultProxy, loaded: tuple[Dataset, Tables]
) -> None:
    space = next(iter(loaded[0].uploads))
    tables = through(proxy, loaded)
    async with dynamodb_client(tables, pool_size=4, policy=ONE_TRY) as client:
        reader = await choose_reader(Dynamo(client, tables, ONE_TRY))
        proxy.faults = Faults(throttle=1.0, operations=QUERIES)
        with pytest.raises(CountingFailed):
            await reader.count_page(space, None)
    assert isinstance(reader, FallbackReader)
    assert reader.path == "lean"
    assert proxy.counts["throttle"] == 1  # no second call through the SDK


@pytestmark_db
async def test_reader_choices_give_their_paths(loaded: tuple[Dataset, Tables]) -> None:
    tables = loaded[1]
    async with dynamodb_client(tables, pool_size=4) as client:
        assert type(await choose_reader(Dynamo(client, tables, ONE_TRY), choice="sdk")) is SdkReader
        assert (
            type(await choose_reader(Dynamo(client, tables, ONE_TRY), choice="lean")) is LeanReader
        )
        assert type(await choose_reader(Dynamo(client, tables, ONE_TRY))) is FallbackReader


async def test_forcing_the_lean_path_on_a_client_it_cannot_copy_is_a_usage_error() -> None:
    config = AioConfig(signature_version=botocore.UNSIGNED)
    tables = Tables("c", "u", "us-east-2", "http://127.0.0.1:9")
    async with get_session().create_client(
        "dynamodb", region_name="us-east-2", endpoint_url=tables.endpoint_url, config=config
    ) as client:
        assert type(await choose_reader(Dynamo(client, tables, ONE_TRY))) is SdkReader
        with pytest.raises(SettingsError) as caught:
            await choose_reader(Dynamo(client, tables, ONE_TRY), choice="lean")
    assert with_flags(caught.value) == (
        "--reader lean: the lean path cannot copy this client's requests (only SigV4-signed "
        "clients that make one attempt per call); use --reader auto or sdk"
    )


# --- the command line --------------------------------------------------------------------


def analyze(tables: Tables, tmp_path: Path, *args: str) -> Result:
    return invoke(
        "analyze",
        *table_args(tables),
        *("--output-dir", tmp_path),
        *args,
        env={"DISTRO_RETRY_BASE": "0"},
    )


@pytestmark_db
def test_analyze_says_in_one_line_that_it_left_the_lean_path(
    proxy: FaultProxy, loaded: tuple[Dataset, Tables], tmp_path: Path
) -> None:
    dataset, _ = loaded
    proxy.faults = Faults(reject_signature=1.0, max_faults=1, operations=QUERIES)
    result = analyze(through(proxy, loaded), tmp_path, "--json")
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [f"Note: {FALLBACK_LINE}"]
    document = orjson.loads(result.stdout)
    assert document["dataQuality"]["readPath"] == "sdk"
    assert document["totals"]["uploads"] == dataset.truth().total_uploads


@pytestmark_db
@pytest.mark.parametrize(
    ("reader", "path", "row"),
    [
        ("auto", "lean", "the lean Query path"),
        ("sdk", "sdk", "the SDK (aiobotocore)"),
        ("lean", "lean", "the lean Query path"),
    ],
)
def test_the_report_says_which_path_counted(
    loaded: tuple[Dataset, Tables], tmp_path: Path, reader: str, path: str, row: str
) -> None:
    tables = loaded[1]
    as_json = analyze(tables, tmp_path, "--reader", reader, "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert orjson.loads(as_json.stdout)["dataQuality"]["readPath"] == path
    report = analyze(tables, tmp_path, "--reader", reader)
    assert report.returncode == 0, report.stderr
    assert re.search(f"^Uploads counted through +{re.escape(row)}$", report.stdout, re.MULTILINE)


@pytestmark_db
def test_a_forced_lean_path_has_no_safety_net(
    proxy: FaultProxy, loaded: tuple[Dataset, Tables], tmp_path: Path
) -> None:
    proxy.faults = Faults(reject_signature=1.0, max_faults=1, operations=QUERIES)
    result = analyze(through(proxy, loaded), tmp_path, "--reader", "lean")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"Error: {REFUSED_LINE}"]


@pytestmark_db
def test_a_run_the_sdk_is_refused_in_too_fails_with_the_sdks_error(
    proxy: FaultProxy, loaded: tuple[Dataset, Tables], tmp_path: Path
) -> None:
    proxy.faults = Faults(reject_signature=1.0, operations=QUERIES)
    result = analyze(through(proxy, loaded), tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"Error: {REFUSED_LINE}"]
