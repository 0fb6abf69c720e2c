"""The pipeline's own cost, with no database: an instant fake reader at millions of spaces.

Each measurement runs in a fresh child process (``python -m benchmarks.scale
KIND ...``) that prints one JSON object, so its peak RSS is its own:

- ``pipeline``: ``distro.count.count`` over a synthetic Consumer
  table whose reader answers at once, then the plan (``balance``). The
  reader's own cost (making the rows) is measured alone and reported apart.
  The checkpoint is timed flush by flush.
- ``resume``: the same run resumed from a checkpoint that holds every space
  (written beforehand by a child of its own, ``journal``, so that writing it
  is not in the figure): loading the journal, the scan looking every space
  up in it, and the plan.
- ``balance``: ``distro.balance.balance`` on random customers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from distro import aio
from distro.balance import balance
from distro.checkpoint import Checkpoint
from distro.count import count
from distro.dynamo.reader import CountPage, Key, ScanPage
from distro.files import PlanFolder
from distro.progress import Progress
from distro.settings import CountSettings, Tables
from distro.tally import CustomerLoad

PAGE_ROWS = 1_000  # spaces per Scan page (a real 1 MB page holds a few thousand rows)
DOMAINS = ("gmail.com", "gmail.com", "example.org", "storacha.network", "proton.me", "outlook.com")
PLAN_INSTANCES = 100
JOURNAL_LINE_SPACES = 115_000  # spaces per journal line: what a 1 s flush of a fast run holds


class SyntheticReader:
    """An instant ``TableReader`` over *spaces* spaces of *customers* customers.

    Space *i* belongs to customer ``i % customers``, so a customer's rows are
    spread over the whole scan as in a real one. About 8 % of spaces have a
    second provider row, 1 % are also claimed by the next customer, one row
    in 300 is a legacy row without customer, and a third of the spaces are
    empty. Rows are made page by page: nothing but the pipeline holds them.
    """

    def __init__(self, spaces: int, customers: int) -> None:
        self.spaces = spaces
        self.customers = customers
        self.names = [f"did:mailto:{DOMAINS[c % len(DOMAINS)]}:user{c}" for c in range(customers)]

    async def scan_page(self, segment: int, total_segments: int, start_key: Key | None) -> ScanPage:
        """The next page of *segment*: its spaces cut in pages of PAGE_ROWS."""
        end = self.spaces * (segment + 1) // total_segments
        start = (
            self.spaces * segment // total_segments
            if start_key is None
            else int(start_key["i"]["N"])
        )
        stop = min(start + PAGE_ROWS, end)
        rows = self.rows(start, stop)
        next_key = {"i": {"N": str(stop)}} if stop < end else None
        return ScanPage(rows, next_key, 128.0)

    def rows(self, start: int, stop: int) -> list[tuple[str | None, str | None]]:
        """The Consumer rows of spaces *start* to *stop*."""
        rows: list[tuple[str | None, str | None]] = []
        names, customers = self.names, self.customers
        for i in range(start, stop):
            space = space_did(i)
            owner = names[i % customers]
            rows.append((space, owner))
            if i % 12 == 0:
                rows.append((space, owner))  # the same space with a second provider
            if i % 100 == 1:
                rows.append((space, names[(i + 1) % customers]))
            if i % 300 == 2:
                rows.append((space, None))
        return rows

    async def count_page(self, space: str, start_key: Key | None) -> CountPage:
        """The count of *space*, at once, in one page."""
        return CountPage(uploads_of(int(space[12:])), None, 0.5)


def space_did(i: int) -> str:
    """The DID of synthetic space *i* (``count_page`` reads *i* back from it)."""
    return f"did:key:z6Mk{i:044d}"


def uploads_of(i: int) -> int:
    """The synthetic uploads of space *i*."""
    return (i * 7919) % 61 if i % 3 else 0


class TimedCheckpoint(Checkpoint):
    """A checkpoint that times every flush: (spaces counted before it, spaces in it, seconds)."""

    def __init__(self, inner: Checkpoint) -> None:
        self.__dict__.update(inner.__dict__)  # whatever Checkpoint.open set up, as it set it up
        self.flushes: list[tuple[int, int, float]] = []
        self.saved = 0

    def flush(self) -> None:
        """Flush, and note what it cost."""
        pending = self.pending
        started = time.perf_counter()
        super().flush()
        if pending:
            self.flushes.append((self.saved, pending, time.perf_counter() - started))
            self.saved += pending


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _reader_alone(reader: SyntheticReader, segments: int) -> None:
    """Everything the fake reader does in a run, without the pipeline around it."""
    for segment in range(segments):
        key: Key | None = None
        while True:
            page = await reader.scan_page(segment, segments, key)
            previous = None
            for space, _ in page.rows:  # a space's rows are adjacent: count each once
                if space != previous and space is not None:
                    await reader.count_page(space, None)
                previous = space
            key = page.next_key
            if key is None:
                break


def _settings(segments: int = 4, concurrency: int = 20) -> CountSettings:
    return CountSettings(
        tables=Tables("bench-consumer", "bench-upload", "us-east-2"),
        parallel_segments=segments,
        concurrency=concurrency,
    )


def _expected_uploads(spaces: int) -> int:
    # A space claimed by two customers is in both customers' totals.
    return sum(uploads_of(i) * (2 if i % 100 == 1 else 1) for i in range(spaces))


def pipeline(
    spaces: int, customers: int, *, segments: int = 4, concurrency: int = 20
) -> dict[str, Any]:
    """Run the counting stage and the plan over the synthetic table; return the figures."""
    baseline_rss = _peak_rss()
    reader = SyntheticReader(spaces, customers)
    settings = _settings(segments, concurrency)
    with tempfile.TemporaryDirectory(prefix="distro-bench-") as folder:
        checkpoint = TimedCheckpoint(
            Checkpoint.open(PlanFolder(Path(folder)), settings, restart=True)
        )
        progress = Progress()
        cpu0, wall0 = _cpu(), time.perf_counter()
        tally = aio.run(count(settings, reader, checkpoint=checkpoint, progress=progress))
        cpu1, wall1 = _cpu(), time.perf_counter()
        count_rss = _peak_rss()
        plan = balance(tally.customers, PLAN_INSTANCES)
        cpu2, wall2 = _cpu(), time.perf_counter()
        journal_bytes = checkpoint.path.stat().st_size
    expected = _expected_uploads(spaces)
    found = sum(i.uploads for i in plan.instances)
    if found != expected or progress.spaces_counted != spaces:
        raise AssertionError(f"wrong totals: {found} != {expected} or {progress.spaces_counted}")
    # The reader's own share, measured alone after the run (the same rows, the same calls).
    cpu3 = _cpu()
    asyncio.run(_reader_alone(reader, segments))
    reader_cpu = _cpu() - cpu3
    return {
        "spaces": spaces,
        "customers": customers,
        "rows": progress.rows_scanned,
        "count_wall": wall1 - wall0,
        "count_cpu": cpu1 - cpu0,
        "reader_cpu": reader_cpu,
        "plan_wall": wall2 - wall1,
        "plan_cpu": cpu2 - cpu1,
        "baseline_rss": baseline_rss,
        "count_peak_rss": count_rss,
        "peak_rss": _peak_rss(),
        "flushes": checkpoint.flushes,
        "journal_bytes": journal_bytes,
    }


def journal(spaces: int, folder: Path) -> int:
    """Write a checkpoint in *folder* holding all *spaces* synthetic spaces; return its size."""
    checkpoint = Checkpoint.open(PlanFolder(folder), _settings(), restart=True)
    for start in range(0, spaces, JOURNAL_LINE_SPACES):
        for i in range(start, min(start + JOURNAL_LINE_SPACES, spaces)):
            checkpoint.record(space_did(i), uploads_of(i))
        checkpoint.flush()
    return checkpoint.path.stat().st_size


def resume(spaces: int, customers: int) -> dict[str, Any]:
    """Resume a run whose checkpoint holds every space: load it, scan, plan; return the figures."""
    baseline_rss = _peak_rss()
    reader = SyntheticReader(spaces, customers)
    settings = _settings()
    with tempfile.TemporaryDirectory(prefix="distro-bench-") as folder:
        # Another process writes the journal, so that none of its memory is in this one's peak.
        argv = [sys.executable, "-m", "benchmarks.scale", "journal", "--spaces", str(spaces)]
        subprocess.run([*argv, "--folder", folder], check=True, stdout=subprocess.DEVNULL)
        journal_bytes = PlanFolder(Path(folder)).checkpoint.stat().st_size
        cpu0, wall0 = _cpu(), time.perf_counter()
        checkpoint = Checkpoint.open(PlanFolder(Path(folder)), settings, restart=False)
        wall1 = time.perf_counter()
        load_rss = _peak_rss()
        progress = Progress()
        tally = aio.run(count(settings, reader, checkpoint=checkpoint, progress=progress))
        wall2 = time.perf_counter()
        count_rss = _peak_rss()
        plan = balance(tally.customers, PLAN_INSTANCES)
        cpu3, wall3 = _cpu(), time.perf_counter()
    found = sum(i.uploads for i in plan.instances)
    if found != _expected_uploads(spaces) or (progress.spaces_resumed, progress.queries) != (
        spaces,
        0,
    ):
        raise AssertionError(f"wrong resume: {found} uploads, {progress.spaces_resumed} resumed")
    return {
        "spaces": spaces,
        "customers": customers,
        "journal_bytes": journal_bytes,
        "load_wall": wall1 - wall0,
        "count_wall": wall2 - wall1,
        "plan_wall": wall3 - wall2,
        "cpu": cpu3 - cpu0,
        "baseline_rss": baseline_rss,
        "load_peak_rss": load_rss,
        "count_peak_rss": count_rss,
        "peak_rss": _peak_rss(),
    }


def random_loads(customers: int, seed: int = 1) -> list[CustomerLoad]:
    """*customers* loads with heavy-tailed uploads and DID-like names."""
    rng = random.Random(seed)
    return [
        CustomerLoad(
            f"did:mailto:{rng.choice(DOMAINS)}:user{n}",
            int(rng.paretovariate(1.1) * 20) - 20,
            rng.randint(0, 9),
        )
        for n in range(customers)
    ]


def balancer(customers: int, instances: int, rounds: int) -> dict[str, Any]:
    """Time ``balance`` on *customers* random loads over *instances*, *rounds* times."""
    loads = random_loads(customers)
    walls, cpus = [], []
    for _ in range(rounds):
        cpu0, wall0 = _cpu(), time.perf_counter()
        plan = balance(loads, instances)
        walls.append(time.perf_counter() - wall0)
        cpus.append(_cpu() - cpu0)
        assert sum(len(i.customers) for i in plan.instances) == customers
    return {"customers": customers, "instances": instances, "walls": walls, "cpus": cpus}


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.scale pipeline|resume|journal|balance ...``: print one JSON object."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale")
    kinds = parser.add_subparsers(dest="kind", required=True)
    for kind in ("pipeline", "resume"):
        run = kinds.add_parser(kind)
        run.add_argument("--spaces", type=int, required=True)
        run.add_argument("--customers", type=int, required=True)
    write = kinds.add_parser("journal")
    write.add_argument("--spaces", type=int, required=True)
    write.add_argument("--folder", type=Path, required=True)
    plan = kinds.add_parser("balance")
    plan.add_argument("--customers", type=int, default=1_000_000)
    plan.add_argument("--instances", type=int, default=100)
    plan.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    if args.kind == "pipeline":
        result = pipeline(args.spaces, args.customers)
    elif args.kind == "resume":
        result = resume(args.spaces, args.customers)
    elif args.kind == "journal":
        result = {"journal_bytes": journal(args.spaces, args.folder)}
    else:
        result = balancer(args.customers, args.instances, args.rounds)
    json.dump(result, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
