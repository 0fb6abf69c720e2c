"""``distro status`` over production-sized runner tables in DynamoDB Local.

Production size: 130,000 customer records and 300,000 space records, shaped
as the runner writes them (two thirds of the space records ended, a third
under way, one in 30 failed with a reason). The tables are written once per
run into a fresh DynamoDB Local (in memory), then ``distro status --json`` is
run in a child process, several rounds: its wall time and peak RSS are the
figures the goal is about (at most 30 s and 500 MB on this 2-core machine).

    python -m benchmarks.status [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import measure
from distro.dynamo.batch import batch_requests, batch_write
from distro.dynamo.handle import Dynamo
from distro.local.dynamodb import LOCAL_CREDENTIALS, LOCAL_REGION, LocalDynamo, local_client_env
from distro.local.fleet import create_fleet_tables
from distro.settings import Tables

CUSTOMERS = 130_000
SPACES = 300_000
INSTANCES = 100
CUSTOMERS_TABLE = "bench-migration-customers"
PROGRESS_TABLE = "bench-migration-progress"
MB = 1024 * 1024


def _customer(n: int) -> dict[str, Any]:
    status = ("completed", "in-progress", "pending", "failed")[n % 4]
    return {
        "customer": {"S": f"did:mailto:bench.example:customer{n:06d}"},
        "status": {"S": status},
        "totalSpaces": {"N": "3"},
        "completedSpaces": {"N": "0"},
        "totalUploads": {"N": "120"},
        "completedUploads": {"N": "0"},
        "instanceId": {"S": str(n % INSTANCES + 1)},
        "filter": {"NULL": True},
        "assignedAt": {"S": "2026-12-01T00:00:00.000Z"},
        "updatedAt": {"S": "2026-12-02T00:00:00.000Z"},
    }


def _space(n: int) -> dict[str, Any]:
    customer = n % CUSTOMERS
    status = "failed" if n % 30 == 0 else ("completed", "completed", "in-progress")[n % 3]
    return {
        "customer": {"S": f"did:mailto:bench.example:customer{customer:06d}"},
        "space": {"S": f"did:key:z6MkBench{n:08d}"},
        "status": {"S": status},
        "totalUploads": {"N": "40"},
        "completedUploads": {"N": "30" if status != "in-progress" else "20"},
        "lastProcessedUpload": {"S": f"bafybeibenchroot{n:012d}"},
        "instanceId": {"S": str(customer % INSTANCES + 1)},
        "workerId": {"S": "1"},
        "error": {"S": '{"INDEX_MISSING":2}' if status == "failed" else ""},
        "createdAt": {"S": "2026-12-01T00:00:00.000Z"},
        "updatedAt": {"S": f"2026-12-02T{n % 24:02d}:00:00.000Z"},
    }


async def load(endpoint: str) -> None:
    """Create the runner's two tables and write production-sized records into them."""
    tables = Tables("unused-c", "unused-u", LOCAL_REGION, endpoint)
    async with Dynamo.open(tables, pool_size=16, credentials=LOCAL_CREDENTIALS) as db:
        await create_fleet_tables(
            db, customers_table=CUSTOMERS_TABLE, progress_table=PROGRESS_TABLE
        )
        puts = [(CUSTOMERS_TABLE, _customer(n)) for n in range(CUSTOMERS)]
        puts += [(PROGRESS_TABLE, _space(n)) for n in range(SPACES)]
        await batch_write(
            lambda request: db.client.batch_write_item(RequestItems=request),
            batch_requests(puts),
            what="BatchWriteItem",
            concurrency=16,
        )


def status_benchmark(rounds: int) -> dict[str, float]:
    """Load the tables, then time ``distro status --json`` *rounds* times; medians and maxima.

    The tables are loaded by a process of their own: a child forked from a
    process holding the items would count them in its peak RSS until its exec.
    """
    with LocalDynamo() as server, tempfile.TemporaryDirectory(prefix="distro-bench-") as folder:
        loader = [sys.executable, "-m", "benchmarks.status", "--load", server.endpoint_url]
        subprocess.run(loader, check=True)
        argv = [
            sys.executable,
            "-m",
            "distro",
            "status",
            "--json",
            "--endpoint-url",
            server.endpoint_url,
            "--assignments-table",
            CUSTOMERS_TABLE,
            "--progress-table",
            PROGRESS_TABLE,
            "--output-dir",
            str(Path(folder)),
        ]
        env = {**os.environ, **local_client_env()}
        runs = [measure.run_child(argv, env=env).check() for _ in range(rounds)]
    return {
        "wall": measure.median([r.wall for r in runs]),
        "wall_max": max(r.wall for r in runs),
        "cpu": measure.median([r.cpu for r in runs]),
        "peak_rss_mb": max(r.peak_rss for r in runs) / MB,
    }


def status_table(figures: dict[str, float]) -> list[str]:
    """The figures as Markdown lines, with the goals they answer."""
    wall, rss = figures["wall"], figures["peak_rss_mb"]
    return [
        f"`distro status --json` over {CUSTOMERS:,} customer records and {SPACES:,} space "
        f"records ({INSTANCES} instances):",
        "",
        "| figure | value | goal | met |",
        "|---|---|---|---|",
        f"| wall time (median) | {wall:.1f} s (max {figures['wall_max']:.1f} s) | ≤ 30 s | "
        f"{'yes' if figures['wall_max'] <= 30 else 'no'} |",
        f"| CPU time (median) | {figures['cpu']:.1f} s | | |",
        f"| peak RSS | {rss:,.0f} MiB | ≤ 500 MB | {'yes' if rss * MB <= 500e6 else 'no'} |",
    ]


def main(argv: list[str] | None = None) -> int:
    """Run the status benchmark alone and print its figures."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.status", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--load", metavar="ENDPOINT", help="only load the tables there")
    args = parser.parse_args(argv)
    if args.load:
        asyncio.run(load(args.load))
        return 0
    print("\n".join(status_table(status_benchmark(args.rounds))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
