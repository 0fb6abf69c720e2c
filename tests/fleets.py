"""A played fleet for the status and replan tests: a plan, and runners that write exactly
what the migration runner writes (``distro.local.fleet``), for hours of virtual time."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from distro.balance import InstancePlan, Plan
from distro.dynamo.handle import Dynamo
from distro.emit import PlanParameters, write_plan
from distro.files import PlanFolder
from distro.local.dynamodb import LOCAL_CREDENTIALS, LOCAL_REGION
from distro.local.fleet import Fleet, Work, create_fleet_tables
from distro.settings import CountSettings, Tables, Throughput
from distro.tally import CustomerLoad
from distro.tracking.table import write_assignments

HOURS_PLAYED = 2.0
# Per instance: seconds per upload (10 a minute, 5 a minute), and when it dies, if it does.
SPEEDS = {1: 6.0, 2: 12.0, 3: 6.0, 4: 6.0}
DIES_AFTER = {3: timedelta(hours=1)}
REASONS = ("INDEX_MISSING", "GATEWAY_AUTH_FAILED")


def did(n: int) -> str:
    return f"did:mailto:fleet.example:c{n:02d}"


def make_work() -> tuple[Work, dict[int, list[str]]]:
    """12 customers on 3 instances of about 3,000 uploads each, a small one on a 4th."""
    rng = random.Random(11)
    spaces: dict[str, list[str]] = {}
    uploads: dict[str, list[str]] = {}
    failures: dict[str, str] = {}
    for n in range(13):
        customer = did(n)
        spaces[customer] = []
        for k in range(3 if n < 12 else 1):
            space = f"did:key:z{n:02d}s{k}"
            count = rng.randint(200, 400) if n < 12 else 40
            spaces[customer].append(space)
            uploads[space] = [f"bafy{n:02d}{k}{i:04d}" for i in range(count)]
        if n in (0, 1):  # the first customers of instance 1 fail a few uploads
            roots = uploads[spaces[customer][0]]
            failures[roots[3]] = REASONS[0]
            failures[roots[7]] = REASONS[n]
    plan = {1: [did(0), did(3), did(6), did(9)], 2: [did(1), did(4), did(7), did(10)]}
    plan |= {3: [did(2), did(5), did(8), did(11)], 4: [did(12)]}
    return Work(spaces, uploads, failures), plan


@dataclass
class Played:
    """The fleet after its play, the plan folder, and where its tables are."""

    fleet: Fleet
    folder: Path
    tables: dict[str, str]
    endpoint: str
    now: datetime

    def args(self, *extra: str | Path) -> list[str | Path]:
        return [
            "status",
            "--endpoint-url",
            self.endpoint,
            "--assignments-table",
            self.tables["customers"],
            "--progress-table",
            self.tables["progress"],
            "--output-dir",
            self.folder,
            *extra,
        ]


async def play(endpoint: str, folder: Path, now: datetime) -> Played:
    work, assigned = make_work()
    tables = Tables("unused-c", "unused-u", LOCAL_REGION, endpoint)
    names = {k: f"{k}-{uuid.uuid4().hex[:8]}" for k in ("customers", "progress")}
    plan = plan_of(work, assigned)
    write_hand_plan(folder, plan, tables)
    start = now - timedelta(hours=HOURS_PLAYED)
    async with Dynamo.open(tables, pool_size=4, credentials=LOCAL_CREDENTIALS) as db:
        await create_fleet_tables(
            db, customers_table=names["customers"], progress_table=names["progress"]
        )
        await write_assignments(
            db, names["customers"], plan, include=(), at="2026-12-01T00:00:00.000Z"
        )
        fleet = Fleet(
            db, work, customers_table=names["customers"], progress_table=names["progress"]
        )
        for n, customers in assigned.items():
            runner = fleet.start(n, customers, seconds_per_upload=SPEEDS[n], at=start)
            if n in DIES_AFTER:
                runner.stop_at(start + DIES_AFTER[n])
        await fleet.play(now)
    return Played(fleet, folder, names, endpoint, now)


def plan_of(work: Work, assigned: dict[int, list[str]]) -> Plan:
    """The plan that puts the *assigned* customers of *work* on each instance, in that order."""
    loads = {
        c: CustomerLoad(c, sum(len(work.uploads[s]) for s in ss), len(ss))
        for c, ss in work.spaces.items()
    }
    return Plan(
        instances=tuple(
            InstancePlan(n, tuple(loads[c] for c in customers)) for n, customers in assigned.items()
        ),
        total_uploads=sum(loads[c].uploads for cs in assigned.values() for c in cs),
        largest=max((loads[c] for cs in assigned.values() for c in cs), key=lambda x: x.uploads),
    )


def write_hand_plan(folder: Path, plan: Plan, tables: Tables) -> None:
    """*plan* committed to *folder* as generate commits one (files and manifest)."""
    parameters = PlanParameters(CountSettings(tables), Throughput(), False)
    write_plan(
        PlanFolder(folder), plan, created_at="2026-12-01T00:00:00.000Z", parameters=parameters
    )
