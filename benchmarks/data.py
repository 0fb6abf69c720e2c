"""The benchmark dataset: generated once, loaded into a DynamoDB Local data folder, cached.

Seeding DynamoDB Local runs at a few thousand items a second, so the loaded
folder is kept under ``.cache/bench/<key>/`` and reused. The key holds the
dataset's parameters, its seed and a digest of the generator's source, so a
changed generator (or shape) loads a fresh folder. A folder only counts as
ready once its ``ready.json`` marker exists, which is written after the load
completed and the server stopped cleanly.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from distro.dynamo.handle import Dynamo, dynamodb_client
from distro.local.dataset import Dataset, Shape, create_tables, generate, load
from distro.local.dynamodb import LocalDynamo, local_client_env
from distro.local.install import cache_root
from distro.settings import DEFAULT_SKIP, Tables

CUSTOMERS = 2040
SEED = 7
# 145 uploads per customer on average gives ~300k uploads, the size of the dataset.
SHAPE = Shape(uploads_per_customer=145.0)
TABLES = ("bench-consumer", "bench-upload")
REGION = local_client_env()["AWS_REGION"]
LOAD_CONCURRENCY = 8
READY = "ready.json"


@dataclass(frozen=True, slots=True)
class BenchData:
    """A generated dataset, where its loaded DynamoDB Local folder lives, and the spaces to count."""

    dataset: Dataset
    folder: Path
    spaces: tuple[str, ...]  # every space distro counts with the default filters
    uploads: int  # their uploads: what the Query counts add up to
    customer_uploads: int  # the report's total: a space claimed twice counts for both

    @property
    def db_dir(self) -> Path:
        """The DynamoDB Local data folder."""
        return self.folder / "db"

    def tables(self, endpoint_url: str) -> Tables:
        """The benchmark tables on a server at *endpoint_url*."""
        return Tables(*TABLES, region=REGION, endpoint_url=endpoint_url)


def prepare(
    *, customers: int = CUSTOMERS, seed: int = SEED, shape: Shape = SHAPE, log: bool = True
) -> BenchData:
    """Generate the dataset and make sure a loaded data folder for it exists."""
    dataset = generate(customers=customers, seed=seed, shape=shape)
    truth = dataset.truth(skip=DEFAULT_SKIP)
    planned = truth.uploads_by_customer.keys()
    spaces = tuple(sorted({r.space for r in dataset.consumer_rows if r.customer in planned}))
    data = BenchData(
        dataset=dataset,
        folder=cache_root() / "bench" / _key(dataset, customers, seed, shape),
        spaces=spaces,
        uploads=sum(dataset.uploads[s] for s in spaces),
        customer_uploads=truth.total_uploads,
    )
    if not (data.folder / READY).is_file():
        _build(data, log=log)
    return data


def _key(dataset: Dataset, customers: int, seed: int, shape: Shape) -> str:
    """A name for the loaded folder that changes whenever what gets loaded changes.

    It digests the parameters, every consumer row, every space's count and the
    items of a few spaces (their size decides how Query pages split), so a
    change in the generator loads a new folder, and an edit elsewhere does not.
    """
    digest = hashlib.sha256(
        json.dumps({"customers": customers, "seed": seed, "shape": asdict(shape)}).encode()
    )
    for row in dataset.consumer_rows:
        digest.update(f"{row.subscription} {row.provider} {row.space} {row.customer}\n".encode())
    for space, uploads in sorted(dataset.uploads.items()):
        digest.update(f"{space} {uploads}\n".encode())
    for space in sorted(dataset.uploads)[:3]:
        for item in dataset.upload_items(space):
            digest.update(json.dumps(item, sort_keys=True).encode())
    return f"c{customers}-s{seed}-{digest.hexdigest()[:16]}"


def _build(data: BenchData, *, log: bool) -> None:
    """Load the dataset into a fresh data folder; mark it ready only when complete."""
    shutil.rmtree(data.folder, ignore_errors=True)
    data.db_dir.mkdir(parents=True)
    items = data.dataset.total_items
    if log:
        print(f"Loading the benchmark dataset ({items:,} items) into {data.db_dir} ...", flush=True)
    started = time.perf_counter()
    with LocalDynamo(data_dir=data.db_dir) as server:
        asyncio.run(_load(data, data.tables(server.endpoint_url)))
    seconds = time.perf_counter() - started
    marker = {"items": items, "seconds": round(seconds, 1), "spaces": len(data.spaces)}
    (data.folder / READY).write_text(json.dumps(marker) + "\n")
    if log:
        print(f"Loaded in {seconds:.0f} s ({items / seconds:,.0f} items/s)", flush=True)


async def _load(data: BenchData, tables: Tables) -> None:
    async with dynamodb_client(tables, pool_size=LOAD_CONCURRENCY) as client:
        await create_tables(
            Dynamo(client, tables),
            consumer_table=tables.consumer,
            upload_table=tables.upload,
            replace=True,
        )
        await load(
            Dynamo(client, tables),
            data.dataset,
            consumer_table=tables.consumer,
            upload_table=tables.upload,
            concurrency=LOAD_CONCURRENCY,
        )


if __name__ == "__main__":
    import os

    os.environ.update(local_client_env())
    ready = prepare()
    print(ready.folder, len(ready.spaces), "spaces", ready.uploads, "uploads")
