"""distro's own counting loop, in a child process, with one reader or the other.

    python -m benchmarks.readers --endpoint URL --reader lean|sdk

runs ``distro.count.count`` (scan, count, checkpoint; no report)
on the benchmark tables with the ``LeanReader`` of ``distro.dynamo.lean`` or
the plain ``SdkReader``, and prints one JSON object: Query requests, wall
and CPU time of the loop, and what the checkpoint's flushes cost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import data
from benchmarks.scale import TimedCheckpoint
from distro.checkpoint import Checkpoint
from distro.count import count as count_stage
from distro.dynamo import lean
from distro.dynamo.handle import Dynamo, dynamodb_client
from distro.dynamo.lean import lean_reader
from distro.dynamo.reader import SdkReader, TableReader
from distro.files import PlanFolder
from distro.progress import Progress
from distro.settings import DEFAULT_POLICY, CountSettings, Tables

CONCURRENCY = 20
SEGMENTS = 4


class Split:
    """CPU seconds spent signing and parsing, by wrapping the lean path's own functions.

    The rest of the loop's CPU is sending: aiohttp, the retry wrapper, the pacing, asyncio.
    """

    def __init__(self) -> None:
        self.signing = 0.0
        self.parsing = 0.0

    def install(self) -> None:
        sign = lean.LeanReader.sign

        async def timed_sign(reader: lean.LeanReader, body: bytes) -> dict[str, str]:
            started = time.thread_time()
            headers = await sign(reader, body)  # static credentials: it never suspends
            self.signing += time.thread_time() - started
            return headers

        lean.LeanReader.sign = timed_sign  # type: ignore[method-assign]
        for name in ("check_crc32", "dynamodb_document", "count_page"):
            setattr(lean, name, self._parse(getattr(lean, name)))

    def _parse(self, function: Any) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return function(*args, **kwargs)
            finally:
                self.parsing += time.thread_time() - started

        return timed


async def count(tables: Tables, kind: str, folder: Path, split: Split) -> dict[str, Any]:
    """One count of the benchmark tables with the reader *kind*."""
    settings = CountSettings(tables=tables, concurrency=CONCURRENCY, parallel_segments=SEGMENTS)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    async with dynamodb_client(tables, pool_size=CONCURRENCY + SEGMENTS) as client:
        reader: TableReader
        if kind == "lean":
            reader = await lean_reader(Dynamo(client, tables, DEFAULT_POLICY))
        else:
            reader = SdkReader(Dynamo(client, tables, DEFAULT_POLICY))
        checkpoint = TimedCheckpoint(Checkpoint.open(PlanFolder(folder), settings, restart=True))
        progress = Progress()
        tally = await count_stage(settings, reader, checkpoint=checkpoint, progress=progress)
    return {
        "reader": type(reader).__name__,
        "requests": progress.queries,
        "uploads": tally.total_uploads,
        "loop_wall": time.perf_counter() - wall0,
        "loop_cpu": time.process_time() - cpu0,
        "flushes": len(checkpoint.flushes),
        "flush_seconds": sum(f[2] for f in checkpoint.flushes),
        "signing_cpu": split.signing,
        "parsing_cpu": split.parsing,
    }


def main(argv: list[str] | None = None) -> int:
    """Count once and print the figures as JSON."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.readers")
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--reader", choices=("lean", "sdk"), required=True)
    args = parser.parse_args(argv)
    tables = Tables(*data.TABLES, region=data.REGION, endpoint_url=args.endpoint)
    split = Split()
    if args.reader == "lean":
        split.install()
    with tempfile.TemporaryDirectory(prefix="distro-bench-") as folder:
        result = asyncio.run(count(tables, args.reader, Path(folder), split))
    json.dump(result, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
