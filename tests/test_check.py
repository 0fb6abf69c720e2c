"""``distro check``: one DescribeTable per table and one count on each path, compared.

Run as a user runs it, against DynamoDB Local, directly or behind the fault
proxy playing a DynamoDB that refuses signatures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from faultproxy import FaultProxy, Faults
from helpers import Result, invoke, run, table_args

from distro.check import PROBE_SPACE, Comparison
from distro.dynamo.handle import Dynamo, dynamodb_client
from distro.dynamo.reader import CountPage, SdkReader
from distro.local.dataset import Dataset
from distro.settings import DEFAULT_POLICY, Tables

QUERIES = frozenset({"Query"})


def check(tables: Tables, *args: str, runner: Callable[..., Result] = invoke) -> Result:
    """``distro check`` on *tables*, in-process unless *runner* says otherwise."""
    return runner("check", *table_args(tables, quiet=False), *args, env={"DISTRO_RETRY_BASE": "0"})


@pytest.fixture
def proxy(dynamo: Any) -> Iterator[FaultProxy]:
    with FaultProxy(dynamo.endpoint_url, Faults()) as started:
        yield started


def through(proxy: FaultProxy, loaded: tuple[Dataset, Tables]) -> Tables:
    tables = loaded[1]
    return Tables(tables.consumer, tables.upload, tables.region, proxy.url)


async def first_page(tables: Tables, space: str) -> CountPage:
    async with dynamodb_client(tables, pool_size=2) as client:
        return await SdkReader(Dynamo(client, tables, DEFAULT_POLICY)).count_page(space, None)


@pytest.mark.db
async def test_both_paths_agree_on_a_real_space(
    proxy: FaultProxy, loaded: tuple[Dataset, Tables]
) -> None:
    dataset, tables = loaded
    space = min((s for s in dataset.uploads if dataset.uploads[s]), key=dataset.uploads.__getitem__)
    page = await first_page(tables, space)
    assert page.count == dataset.uploads[space]
    # A real process: check's one run end to end (and this test's loop rules out in-process).
    result = check(through(proxy, loaded), "--space", space, runner=run)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        f"OK: the SDK and the lean Query path agree on {space} in it-upload: "
        f"{page.count:,} uploads for {page.read_units:g} read units each; tables it-consumer "
        "and it-upload are readable\n"
    )
    assert result.stderr == ""
    # One DescribeTable of each table, one Query on each path, nothing else.
    assert proxy.counts == {"forwarded:DescribeTable": 2, "forwarded:Query": 2}


@pytest.mark.db
def test_the_probe_space_costs_one_query_each(loaded: tuple[Dataset, Tables]) -> None:
    result = check(loaded[1])
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(
        f"OK: the SDK and the lean Query path agree on {PROBE_SPACE} in it-upload: 0 uploads for "
    )


@pytest.mark.db
def test_a_refused_lean_path_fails_the_check_in_one_line(
    proxy: FaultProxy, loaded: tuple[Dataset, Tables]
) -> None:
    proxy.faults = Faults(reject_signature=1.0, max_faults=1, operations=QUERIES)
    result = check(through(proxy, loaded))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "Error: DynamoDB refused the lean Query path on it-upload (InvalidSignatureException) "
        "but accepted the SDK's: analyze and generate would count through the SDK; run analyze "
        "and generate with --reader sdk"
    ]
    assert proxy.counts["forwarded:Query"] == 1  # the SDK's


@pytest.mark.db
def test_when_both_are_refused_the_error_is_the_sdks(
    proxy: FaultProxy, loaded: tuple[Dataset, Tables]
) -> None:
    proxy.faults = Faults(reject_signature=1.0, operations=QUERIES)
    result = check(through(proxy, loaded))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "Error: Query of it-upload: DynamoDB rejected the request signature "
        "(InvalidSignatureException): check the secret access key (AWS_SECRET_ACCESS_KEY "
        "or the profile's aws_secret_access_key)"
    ]


@pytest.mark.db
def test_a_missing_table_fails_before_any_query(
    proxy: FaultProxy, loaded: tuple[Dataset, Tables]
) -> None:
    tables = through(proxy, loaded)
    result = check(Tables(tables.consumer, "no-such-upload", tables.region, tables.endpoint_url))
    assert result.returncode == 1
    assert result.stderr.startswith("Error: DescribeTable no-such-upload: table not found (")
    assert len(result.stderr.splitlines()) == 1
    assert proxy.counts["forwarded:Query"] == 0


TABLES = Tables("c", "u", "us-east-2", None)


def test_different_counts_disagree_in_one_line() -> None:
    comparison = Comparison(TABLES, "did:key:z", CountPage(3, None, 0.5), CountPage(4, None, 0.5))
    assert not comparison.agree
    assert comparison.describe() == (
        "the SDK and the lean Query path disagree on did:key:z in u: the SDK counted 3 uploads "
        "for 0.5 read units, the lean path 4 uploads for 0.5 read units"
    )
    assert comparison.advice == "sdk"  # the CLI adds "; run analyze and generate with --reader sdk"


def test_different_read_units_disagree() -> None:
    comparison = Comparison(TABLES, "did:key:z", CountPage(3, None, 0.5), CountPage(3, None, 1.0))
    assert not comparison.agree


def test_a_client_without_the_lean_path_passes_and_says_so() -> None:
    comparison = Comparison(TABLES, "did:key:z", CountPage(3, None, 0.5), None)
    assert comparison.agree
    assert comparison.describe() == (
        "the lean Query path cannot copy this client's requests; the SDK counted 3 uploads for "
        "0.5 read units of did:key:z in u, and analyze and generate count through it"
    )
