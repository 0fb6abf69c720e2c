"""``analyze --count-shards`` against plain ``analyze``, on a dataset built in the run.

    python -m benchmarks.shards [--customers N] [--rounds R]

The cached benchmark dataset of ``make bench`` is rebuilt whenever the
generator changes (10-30 minutes); this builds a smaller one in an in-memory
DynamoDB Local instead, then runs both commands alternately, each in its own
process, and prints the medians (wall, client CPU, client CPU per Query page)
as one JSON object. The pages are counted once, with distro's own counting loop.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path

from benchmarks import measure
from benchmarks.__main__ import distro_command, isolate_from_aws
from benchmarks.data import REGION, TABLES
from distro.count import count_space
from distro.dynamo.handle import Dynamo, dynamodb_client
from distro.dynamo.lean import lean_reader
from distro.local.dataset import Dataset, create_tables, generate, load
from distro.local.dynamodb import LocalDynamo
from distro.progress import Progress
from distro.settings import Tables


async def _load(dataset: Dataset, tables: Tables) -> None:
    async with dynamodb_client(tables, pool_size=8) as client:
        db = Dynamo(client, tables)
        await create_tables(db, consumer_table=TABLES[0], upload_table=TABLES[1], replace=True)
        await load(db, dataset, consumer_table=TABLES[0], upload_table=TABLES[1], concurrency=8)


async def _pages(dataset: Dataset, tables: Tables) -> int:
    """Query pages one count of every space takes (the same with the projection)."""
    progress = Progress()
    async with dynamodb_client(tables, pool_size=4) as client:
        reader = await lean_reader(Dynamo(client, tables))
        for space in dataset.uploads:
            await count_space(reader, space, progress)
    return progress.queries


def main(argv: list[str] | None = None) -> int:
    """Build, load, measure; print the figures as JSON."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.shards", description=__doc__)
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    isolate_from_aws()
    dataset = generate(customers=args.customers, seed=7)
    work = Path(tempfile.mkdtemp(prefix="distro-bench-shards-"))
    with LocalDynamo() as server:
        tables = Tables(*TABLES, region=REGION, endpoint_url=server.endpoint_url)
        asyncio.run(_load(dataset, tables))
        pages = asyncio.run(_pages(dataset, tables))
        plain = [*distro_command(server.endpoint_url, work / "plain"), "--restart"]
        shards = [*distro_command(server.endpoint_url, work / "shards"), "--restart"]
        shards.append("--count-shards")
        measure.run_child(plain).check()  # warm the server
        runs: dict[str, list[measure.ChildRun]] = {"plain": [], "shards": []}
        for number in range(args.rounds):
            order = ("plain", "shards") if number % 2 == 0 else ("shards", "plain")
            for name in order:
                runs[name].append(measure.run_child(plain if name == "plain" else shards).check())
    med = measure.median
    figures = {
        name: {
            "wall": med([r.wall for r in rounds]),
            "cpu": med([r.cpu for r in rounds]),
            "cpu_per_page_ms": med([r.cpu for r in rounds]) / pages * 1000,
            "walls": [round(r.wall, 2) for r in rounds],
        }
        for name, rounds in runs.items()
    }
    result = {
        "customers": args.customers,
        "uploads": dataset.total_uploads,
        "spaces": len(dataset.uploads),
        "pages": pages,
        "rounds": args.rounds,
        **figures,
        "wall_ratio": figures["shards"]["wall"] / figures["plain"]["wall"],
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
