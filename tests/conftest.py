"""Shared test setup: no test can reach a real AWS account; one DynamoDB Local per session."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from distro.dynamo.handle import Dynamo, dynamodb_client
from distro.local.dataset import Dataset, create_tables, generate, load
from distro.local.dynamodb import LocalDynamo, local_client_env
from distro.settings import Tables

# Settings that could lead a client to real credentials, a real endpoint or real tables.
REAL_AWS_SETTINGS = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "STORACHA_ENV",
    "CONSUMER_TABLE_NAME",
    "UPLOAD_TABLE_NAME",
)


def isolate_from_aws() -> None:
    """Drop real AWS settings from the environment and put DynamoDB Local's dummies in."""
    for name in list(os.environ):
        if name in REAL_AWS_SETTINGS or name.startswith("AWS_ENDPOINT_URL"):
            del os.environ[name]
    os.environ.update(local_client_env())
    # Profiles in ~/.aws could still name a real endpoint or role: read no files at all.
    os.environ["AWS_CONFIG_FILE"] = os.devnull
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    # A test that removes the dummy keys must not make botocore ask the EC2 metadata service.
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"


# At import, before any test module is collected, so not even import-time code sees them.
isolate_from_aws()
# rich fixes colour, and a width from COLUMNS/LINES, when distro.console makes its consoles
# (nothing above imports it). xdist workers inherit COLUMNS=80: without it the width stays
# live, so an in-process run may widen its lines as a subprocess would; and the output is
# plain text whatever the terminal the suite was started from.
for _name in ("COLUMNS", "LINES", "FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE"):
    os.environ.pop(_name, None)
# A shell starts a background job (``make test &``, a CI step) with SIGINT ignored, and a
# child inherits that: the distro processes the interrupt tests signal would never see it.
# A handler of our own is reset to the default in a child, where Ctrl-C works again.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# Each xdist worker runs its own DynamoDB Local (a JVM of a few hundred MB): more workers
# than this would trade memory for little speed.
MAX_WORKERS = 4


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """``make test`` leaves the browser tests out (``-m 'not browser'``) without importing them:
    their driver is installed by ``make test-browser`` only."""
    if collection_path.name == "browser" and "not browser" in config.getoption("markexpr"):
        return True
    return None


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: one worker per usable core, at most ``MAX_WORKERS``."""
    return max(1, min(len(os.sched_getaffinity(0)), MAX_WORKERS))


@pytest.fixture(scope="session")
def dynamo() -> Iterator[LocalDynamo]:
    """One in-memory DynamoDB Local per session, so per xdist worker (tests using it are marked db)."""
    with LocalDynamo() as server:
        yield server


@pytest.fixture(scope="session")
def loaded(dynamo: LocalDynamo) -> tuple[Dataset, Tables]:
    """A synthetic dataset loaded once per session into its own pair of tables."""
    dataset = generate(customers=150, seed=11)
    tables = Tables("it-consumer", "it-upload", "us-east-2", dynamo.endpoint_url)

    async def seed() -> None:
        async with dynamodb_client(tables, pool_size=8) as client:
            await create_tables(
                Dynamo(client, tables),
                consumer_table=tables.consumer,
                upload_table=tables.upload,
                replace=True,
            )
            await load(
                Dynamo(client, tables),
                dataset,
                consumer_table=tables.consumer,
                upload_table=tables.upload,
            )

    asyncio.run(seed())
    return dataset, tables
