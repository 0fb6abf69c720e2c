"""The pipeline against DynamoDB Local: every number equals the dataset's truth."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest
from helpers import CHECKPOINT_NAME, read_plan, without_created_at

from distro.balance import plan
from distro.checkpoint import Checkpoint
from distro.count import count
from distro.dynamo.handle import Dynamo, dynamodb_client
from distro.dynamo.reader import CountPage, Key, ScanPage, SdkReader
from distro.errors import CheckpointMismatch
from distro.files import PlanFolder
from distro.flags import with_flags
from distro.local.dataset import Dataset
from distro.pipeline import checkpoint_until_committed, commit_plan, count_tables
from distro.progress import Progress
from distro.settings import DEFAULT_POLICY, CountSettings, CustomerFilter, Tables, Throughput
from distro.tally import Tally

pytestmark = pytest.mark.db


async def counted(
    settings: CountSettings, output_dir: Path, *, split_for: int | None = None
) -> Tally:
    """The counting stage over DynamoDB, as analyze composes it (the checkpoint removed after)."""
    with checkpoint_until_committed(PlanFolder(output_dir), settings, restart=False) as checkpoint:
        return await count_tables(settings, checkpoint, Progress(), split_for=split_for)


async def generated(settings: CountSettings, output_dir: Path, instances: int) -> Tally:
    """Count, plan and commit the files, as generate composes the stages."""
    folder = PlanFolder(output_dir)
    with checkpoint_until_committed(folder, settings, restart=False) as checkpoint:
        tally = await count_tables(settings, checkpoint, Progress())
        await commit_plan(
            plan(tally, instances), folder, settings=settings, throughput=Throughput()
        )
    return tally


def assert_matches_truth(tally: Any, dataset: Dataset, **filters: Any) -> None:
    truth = dataset.truth(**filters)
    assert {c.customer: c.uploads for c in tally.customers} == dict(truth.uploads_by_customer)
    assert {c.customer: c.spaces for c in tally.customers} == dict(
        truth.spaces_with_uploads_by_customer
    )
    assert tally.orphan_rows == truth.orphan_rows
    assert tally.skipped == truth.skipped_customers
    assert tally.filtered == truth.filtered_customers
    assert tally.below_min_uploads == truth.below_min_uploads
    planned = truth.uploads_by_customer.keys()
    claims = [(r.space, r.customer) for r in dataset.consumer_rows if r.customer in planned]
    claimants: dict[str, set[str | None]] = {}
    for space, customer in claims:
        claimants.setdefault(space, set()).add(customer)
    assert tally.shared_spaces == {s for s, who in claimants.items() if len(who) > 1}
    assert tally.shared_spaces <= truth.shared_spaces


async def test_counts_equal_the_truth(loaded: tuple[Dataset, Tables], tmp_path: Path) -> None:
    dataset, tables = loaded
    tally = await counted(CountSettings(tables=tables), tmp_path)
    planned = plan(tally, 5)
    assert_matches_truth(tally, dataset)
    truth = dataset.truth()
    assert tally.total_uploads == truth.total_uploads
    assert tally.rows_scanned == len(dataset.consumer_rows)
    empty = {s for c in truth.uploads_by_customer for s in _spaces(dataset, c)}
    assert tally.empty_spaces == sum(1 for s in empty if dataset.uploads[s] == 0)
    assert sorted(c.customer for i in planned.instances for c in i.customers) == sorted(
        truth.uploads_by_customer
    )
    assert list(tmp_path.iterdir()) == []  # no files written, checkpoint removed


@pytest.mark.parametrize("segments", [1, 3, 10])
async def test_filters_and_segments(
    loaded: tuple[Dataset, Tables], tmp_path: Path, segments: int
) -> None:
    dataset, tables = loaded
    include = ("gmail.com", "storacha.network")
    settings = CountSettings(
        tables=tables,
        customer_filter=CustomerFilter(include=include),
        parallel_segments=segments,
        min_uploads=10,
    )
    tally = await counted(settings, tmp_path)
    assert_matches_truth(tally, dataset, include=include, min_uploads=10)
    assert tally.customers, "the filter should keep some customers"


class RecordingReader:
    """Passes calls to a real reader, noting every space queried; can fail after a number."""

    def __init__(self, inner: SdkReader, fail_after: int | None = None) -> None:
        self.inner = inner
        self.queried: list[str] = []
        self.fail_after = fail_after

    async def scan_page(self, segment: int, total_segments: int, start_key: Key | None) -> ScanPage:
        return await self.inner.scan_page(segment, total_segments, start_key)

    async def count_page(self, space: str, start_key: Key | None) -> CountPage:
        if self.fail_after is not None and len(self.queried) >= self.fail_after:
            raise RuntimeError("stopped on purpose")
        if start_key is None:
            self.queried.append(space)
        return await self.inner.count_page(space, start_key)


async def test_resume_counts_nothing_twice(loaded: tuple[Dataset, Tables], tmp_path: Path) -> None:
    dataset, tables = loaded
    settings = CountSettings(tables=tables, concurrency=4)
    async with dynamodb_client(tables, pool_size=8) as client:
        sdk = SdkReader(Dynamo(client, tables, DEFAULT_POLICY))
        first = RecordingReader(sdk, fail_after=120)
        checkpoint = Checkpoint.open(PlanFolder(tmp_path), settings, restart=False)
        with pytest.raises(ExceptionGroup):
            await count(settings, first, checkpoint=checkpoint, progress=Progress())
        saved = journal_counts(tmp_path / CHECKPOINT_NAME)
        # Only spaces in flight when the run stopped are lost; every saved count is exact.
        assert set(saved) <= set(first.queried)
        assert len(saved) >= len(first.queried) - settings.concurrency
        assert all(dataset.uploads[space] == n for space, n in saved.items())

        second = RecordingReader(sdk)
        resumed = Checkpoint.open(PlanFolder(tmp_path), settings, restart=False)
        tally = await count(settings, second, checkpoint=resumed, progress=Progress())
    assert not set(second.queried) & set(saved), "a checkpointed space was queried again"
    assert len(second.queried) == len(set(second.queried))
    assert tally.spaces_resumed == len(saved)
    assert tally.spaces_counted == len(second.queried)
    assert_matches_truth(tally, dataset)
    assert (tmp_path / CHECKPOINT_NAME).exists()  # removing it is run()'s job, after the plan


def journal_counts(path: Path) -> dict[str, int]:
    """Every count in the checkpoint journal at *path*, by space DID (later lines win)."""
    counts: dict[str, int] = {}
    for line in path.read_bytes().splitlines()[1:]:
        counts.update(orjson.loads(line)["counts"])
    return counts


def _spaces(dataset: Dataset, customer: str) -> set[str]:
    return {row.space for row in dataset.consumer_rows if row.customer == customer}


async def test_a_resumed_run_writes_the_files_of_an_uninterrupted_one(
    loaded: tuple[Dataset, Tables], tmp_path: Path
) -> None:
    """The compact resume (fingerprints and counts in arrays) gives back every count exactly."""
    dataset, tables = loaded
    settings = CountSettings(tables=tables, concurrency=4)
    whole = await generated(settings, tmp_path / "whole", 5)
    async with dynamodb_client(tables, pool_size=8) as client:
        stopped = RecordingReader(SdkReader(Dynamo(client, tables, DEFAULT_POLICY)), fail_after=120)
        checkpoint = Checkpoint.open(PlanFolder(tmp_path / "resumed"), settings, restart=False)
        with pytest.raises(ExceptionGroup):
            await count(settings, stopped, checkpoint=checkpoint, progress=Progress())
    saved = journal_counts(tmp_path / "resumed" / CHECKPOINT_NAME)
    assert all(dataset.uploads[space] == n for space, n in saved.items())
    resumed = Checkpoint.open(PlanFolder(tmp_path / "resumed"), settings, restart=False)
    assert len(resumed.resumed) == len(saved) >= 120 - settings.concurrency
    assert {space: resumed.resumed.get(space) for space in saved} == saved
    again = await generated(settings, tmp_path / "resumed", 5)
    assert again.spaces_resumed == len(saved)
    assert set(again.customers) == set(whole.customers)
    assert without_created_at(read_plan(tmp_path / "resumed")) == without_created_at(
        read_plan(tmp_path / "whole")
    )


async def test_a_checkpoint_of_another_endpoint_is_refused(
    loaded: tuple[Dataset, Tables], tmp_path: Path
) -> None:
    """Same table names and region at another endpoint: its counts are not ours."""
    _, tables = loaded
    settings = CountSettings(tables=tables, concurrency=4)
    async with dynamodb_client(tables, pool_size=8) as client:
        stopped = RecordingReader(SdkReader(Dynamo(client, tables, DEFAULT_POLICY)), fail_after=50)
        checkpoint = Checkpoint.open(PlanFolder(tmp_path), settings, restart=False)
        with pytest.raises(ExceptionGroup):
            await count(settings, stopped, checkpoint=checkpoint, progress=Progress())
    assert journal_counts(tmp_path / CHECKPOINT_NAME)
    # Another name of the same server: another endpoint to the checkpoint, as another
    # DynamoDB would be (a second DynamoDB Local would cost this test 4 s, and add no check).
    other = tables.endpoint_url.replace("127.0.0.1", "localhost")
    there = replace(tables, endpoint_url=other)
    with pytest.raises(CheckpointMismatch) as caught:
        await generated(replace(settings, tables=there), tmp_path, 5)
    assert with_flags(caught.value) == (
        f"{tmp_path / CHECKPOINT_NAME} was made with other tables, endpoint or filters"
        f" (endpoint: {tables.endpoint_url!r} != {other!r}):"
        " run the same command as before to resume, or add --restart to discard it"
    )
    assert not read_plan(tmp_path)
