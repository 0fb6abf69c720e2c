"""replan, played to the end with the runner-faithful fleet on DynamoDB Local.

Each test plans customers over instances, lets the fleet run part of the way
(one instance slow, or one dead), re-plans at that moment, restarts the
runners the Next Steps name, plays to the end and compares the fleet's truth
with what the report predicted.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from helpers import invoke, read_plan, table_args
from test_replan import progress, table_items
from test_tracking_table import delete_table

from distro import app
from distro.balance import balance
from distro.dynamo.handle import Dynamo
from distro.emit import PlanParameters, write_plan
from distro.files import PlanFolder
from distro.local.dataset import Dataset
from distro.local.dynamodb import LOCAL_CREDENTIALS, LOCAL_REGION, LocalDynamo, local_client_env
from distro.local.fleet import Fleet, Runner, Work, create_fleet_tables
from distro.options import Connection, ReplanOptions
from distro.replan_run import Reclaim, run_replan
from distro.settings import CountSettings, Tables, Throughput, timestamp
from distro.tally import CustomerLoad
from distro.tracking.table import write_assignments
from distro.views.replan import ReplanSummary

START = datetime(2026, 12, 1, tzinfo=UTC)
END = START + timedelta(days=2)
SECONDS = 2.0  # an upload, and the runner's pause, on a steady instance: 30 a minute


def customer(n: int) -> str:
    return f"did:mailto:fleet.example:c{n:02}"


def make_work(customers: int, seed: int = 7) -> Work:
    """*customers* with one or two spaces of 5 to 30 uploads each."""
    rng = random.Random(seed)
    spaces = {
        customer(n): [f"did:key:c{n:02}s{k}" for k in range(rng.choice((1, 2)))]
        for n in range(customers)
    }
    uploads = {
        s: [f"{s}-u{i}" for i in range(rng.randrange(5, 31))] for ss in spaces.values() for s in ss
    }
    return Work(spaces, uploads)


@dataclass
class Trial:
    """A fleet on its own two tables, its plan folder, and the runners' speeds."""

    endpoint: str
    folder: Path
    work: Work
    seconds: Mapping[int, float]  # seconds an upload, by instance
    tracking: str = field(default_factory=lambda: f"fleet-{uuid.uuid4().hex[:8]}")

    @property
    def tables(self) -> Tables:
        return Tables("unused-c", "unused-u", LOCAL_REGION, self.endpoint)

    def open(self) -> Dynamo:
        return Dynamo.open(self.tables, pool_size=4, credentials=LOCAL_CREDENTIALS)  # type: ignore[return-value]

    async def plan(self, instances: int) -> dict[int, list[str]]:
        """Plan the work over *instances* as generate does: files and pending records."""
        loads = [
            CustomerLoad(c, sum(len(self.work.uploads[s]) for s in ss), len(ss))
            for c, ss in self.work.spaces.items()
        ]
        plan = balance(loads, instances)
        at = "2026-12-01T00:00:00.000Z"
        parameters = PlanParameters(CountSettings(self.tables), Throughput(), False)
        write_plan(PlanFolder(self.folder), plan, created_at=at, parameters=parameters)
        async with self.open() as db:
            await create_fleet_tables(
                db, customers_table=self.tracking, progress_table=progress(self.tracking)
            )
            await write_assignments(db, self.tracking, plan, include=(), at=at)
        return {i.instance_id: [c.customer for c in i.customers] for i in plan.instances}

    def options(self, instances: int, now: datetime, **given: object) -> ReplanOptions:
        connection = Connection.explicit("staging", self.tables, credentials=LOCAL_CREDENTIALS)
        return ReplanOptions(
            connection=connection,
            folder=PlanFolder(self.folder),
            tracking_table=self.tracking,
            instances=instances,
            progress_table=progress(self.tracking),
            now=now,
            **given,  # type: ignore[arg-type]
        )

    async def play(
        self,
        lists: Mapping[int, Sequence[str]],
        *,
        dies: Mapping[int, datetime] | None = None,
        replan: tuple[datetime, ReplanOptions] | None = None,
        until: datetime = END,
    ) -> tuple[Fleet, ReplanSummary | None, list[Runner]]:
        """Play *lists* from START; at *replan*'s moment, re-plan and restart (or stop) the
        runners its Next Steps name, with their new lists; play until *until*. Returns the
        fleet, the replan's report, and every runner process it ran (restarted ones too)."""
        async with self.open() as db:
            fleet = Fleet(
                db, self.work, customers_table=self.tracking, progress_table=progress(self.tracking)
            )
            for n, listed in lists.items():
                runner = fleet.start(n, listed, seconds_per_upload=self.seconds[n], at=START)
                if dies and n in dies:
                    runner.stop_at(dies[n])
            summary = None
            ran = list(fleet.runners.values())
            if replan is not None:
                moment, options = replan
                await fleet.play(moment)
                summary = await app.replan_here(options)
                new = lists_of(self.folder)
                for row in summary.distribution:
                    n = row.instance
                    if row.change in ("restart", "start"):
                        fleet.start(n, new[n], seconds_per_upload=self.seconds[n], at=moment)
                    elif row.change == "stop" and fleet.runners[n].stopped is None:
                        fleet.runners[n].stop_at(moment)
                ran += [r for r in fleet.runners.values() if r not in ran]
            await fleet.play(until)
        return fleet, summary, ran

    def drop(self) -> None:
        asyncio.run(delete_table(self.endpoint, self.tracking))
        asyncio.run(delete_table(self.endpoint, progress(self.tracking)))


def finished_at(fleet: Fleet) -> datetime:
    """When the last live runner ended its list."""
    ends = [r.finished for r in fleet.runners.values() if r.stopped is None or r.finished]
    assert all(e is not None for e in ends), "a runner did not end"
    return max(e for e in ends if e is not None)


def lists_of(folder: Path) -> dict[int, list[str]]:
    return {n: doc["customers"] for n, doc in read_plan(folder).items()}


SLOW = {1: SECONDS, 2: SECONDS, 3: 2 * SECONDS}


def slow_trial(
    dynamo: LocalDynamo, folder: Path, speeds: str | None
) -> tuple[float, ReplanSummary | None]:
    """Hours from 40% of the way to the fleet's end, and the replan's report (None: none)."""
    trial = Trial(dynamo.endpoint_url, folder, make_work(150), SLOW)
    try:
        lists = asyncio.run(trial.plan(3))
        planned = max(
            sum(len(trial.work.uploads[s]) for c in listed for s in trial.work.spaces[c]) * SLOW[n]
            for n, listed in lists.items()
        )
        moment = START + timedelta(seconds=0.4 * planned)
        replan = None if speeds is None else (moment, trial.options(3, moment, speeds=speeds))
        fleet, summary, _ = asyncio.run(trial.play(lists, replan=replan))
        return (finished_at(fleet) - moment).total_seconds() / 3600, summary
    finally:
        trial.drop()


@pytest.mark.db
def test_a_replan_at_measured_speeds_ends_near_the_bound_and_before_the_others(
    dynamo: LocalDynamo, tmp_path: Path
) -> None:
    measured, summary = slow_trial(dynamo, tmp_path / "measured", "measured")
    assert summary is not None
    assert summary.speeds_measured
    # The slow instance's rate is measured at half the others'.
    rates = {r.instance: r.per_minute for r in summary.distribution}
    assert rates[1] == pytest.approx(30.0, rel=0.02)
    assert rates[3] == pytest.approx(15.0, rel=0.02)
    assert summary.bound.hours is not None
    assert summary.finish_after.hours is not None
    assert measured <= summary.bound.hours * 1.05
    assert summary.finish_after.hours == pytest.approx(measured, rel=0.05)
    equal, equal_summary = slow_trial(dynamo, tmp_path / "equal", "equal")
    assert equal_summary is not None
    assert not equal_summary.speeds_measured
    unplanned, _ = slow_trial(dynamo, tmp_path / "none", None)
    assert measured < equal < unplanned


@pytest.mark.db
def test_a_dead_instances_customers_are_each_completed_exactly_once(
    dynamo: LocalDynamo, tmp_path: Path
) -> None:
    trial = Trial(dynamo.endpoint_url, tmp_path, make_work(150), dict.fromkeys((1, 2, 3), SECONDS))
    try:
        lists = asyncio.run(trial.plan(3))
        moment = START + timedelta(minutes=45)  # 35 minutes after instance 3 died
        options = trial.options(3, moment, drop=(3,))
        fleet, summary, ran = asyncio.run(
            trial.play(lists, dies={3: START + timedelta(minutes=10)}, replan=(moment, options))
        )
        assert summary is not None
        assert summary.finish_before.hours is None  # as things stood, it never ends
        reclaimed = {m.customer for m in summary.moves if m.status == "in-progress"}
        assert len(reclaimed) == 1  # the customer the dead runner was migrating
        assert {r.instance: r.change for r in summary.distribution}[3] == "stop"
        records = table_items(dynamo.endpoint_url, trial.tracking)
        assert {r["status"]["S"] for r in records.values()} == {"completed"}
        # Each customer ended once, by one runner; the reclaimed one was started twice:
        # by the runner that died, and by the live one that took it over.
        ended = Counter(c for runner in ran for c in runner.ended_customers)
        assert ended == Counter(list(trial.work.spaces))
        assert fleet.starts == {c: 2 if c in reclaimed else 1 for c in trial.work.spaces}
        # All done, nothing failed: the cron check is all well.
        check = invoke(
            "status", "--check", "--endpoint-url", trial.endpoint, "--assignments-table",
            trial.tracking, "--progress-table", progress(trial.tracking), "--output-dir", tmp_path,
            env=local_client_env(),
        )  # fmt: skip
        assert check.returncode == 0, check.stdout
        assert check.stdout.startswith("OK: finished, ")
    finally:
        trial.drop()


@pytest.mark.db
def test_a_slow_runner_that_is_alive_keeps_its_customer(
    dynamo: LocalDynamo, tmp_path: Path
) -> None:
    # Instance 3 writes a space record every 10 uploads of 60 s: within the stall time.
    trial = Trial(dynamo.endpoint_url, tmp_path, make_work(60), {1: SECONDS, 2: SECONDS, 3: 60.0})
    try:
        lists = asyncio.run(trial.plan(3))
        moment = START + timedelta(minutes=45)
        options = trial.options(3, moment, drop=(3,))
        _, summary, _ = asyncio.run(trial.play(lists, replan=(moment, options), until=moment))
        assert summary is not None
        assert not [m for m in summary.moves if m.status == "in-progress"]
        records = table_items(dynamo.endpoint_url, trial.tracking)
        kept = [
            c
            for c, r in records.items()
            if r["instanceId"]["S"] == "3" and r["status"]["S"] == "in-progress"
        ]
        assert len(kept) == 1
        assert lists_of(tmp_path)[3] == kept  # its file now lists only the customer under way
        row = {r.instance: r for r in summary.distribution}[3]
        assert (row.customers, row.change) == (1, "restart")
    finally:
        trial.drop()


@pytest.mark.db
def test_a_runner_that_writes_after_the_read_keeps_its_customer(
    dynamo: LocalDynamo, tmp_path: Path
) -> None:
    trial = Trial(dynamo.endpoint_url, tmp_path, make_work(30), dict.fromkeys((1, 2), SECONDS))
    try:
        lists = asyncio.run(trial.plan(2))
        moment = START + timedelta(minutes=45)
        asyncio.run(trial.play(lists, dies={2: START + timedelta(minutes=5)}, until=moment))
        under_way = [
            c for c, r in table_items(dynamo.endpoint_url, trial.tracking).items()
            if r["status"]["S"] == "in-progress" and r["instanceId"]["S"] == "2"
        ]  # fmt: skip
        assert len(under_way) == 1

        async def runner_writes(_: object) -> None:
            # Between distro's read and its transaction, the runner records progress.
            async with trial.open() as db:
                reply = await db.client.query(
                    TableName=progress(trial.tracking),
                    KeyConditionExpression="customer = :c",
                    ExpressionAttributeValues={":c": {"S": under_way[0]}},
                )
                space = next(i for i in reply["Items"] if i["status"]["S"] == "in-progress")
                await db.client.update_item(
                    TableName=progress(trial.tracking),
                    Key={"customer": space["customer"], "space": space["space"]},
                    UpdateExpression="SET updatedAt = :now",
                    ExpressionAttributeValues={":now": {"S": timestamp(moment)}},
                )

        outcome = asyncio.run(
            run_replan(
                connection=Connection.explicit(
                    "staging", trial.tables, credentials=LOCAL_CREDENTIALS
                ),
                table=trial.tracking,
                progress_table=progress(trial.tracking),
                instances=2,
                folder=PlanFolder(tmp_path),
                reclaim=Reclaim((2,)),
                now=moment,
                before_writes=runner_writes,
            )
        )
        assert [r.customer for r in outcome.raced] == under_way
        record = table_items(dynamo.endpoint_url, trial.tracking)[under_way[0]]
        assert (record["status"]["S"], record["instanceId"]["S"]) == ("in-progress", "2")
        assert lists_of(tmp_path)[2] == under_way  # kept on its instance, alone
    finally:
        trial.drop()


ASSUMED = 60 / 27  # seconds an upload at the guide's 27 a minute: one runner, one worker


@pytest.mark.db
def test_runners_per_host_plan_machines_of_one_worker_runners_that_end_when_the_report_says(
    loaded: tuple[Dataset, Tables], dynamo: LocalDynamo, tmp_path: Path
) -> None:
    dataset, tables = loaded
    out, tracking = tmp_path / "state", f"fleet-{uuid.uuid4().hex[:8]}"
    trial = Trial(dynamo.endpoint_url, out, Work({}, {}), {}, tracking)
    asyncio.run(_fleet_tables(trial))
    try:
        generated = invoke(
            "generate", *table_args(tables), "--output-dir", out, "--instances", "3",
            "--runners-per-host", "4", "--assignments-table", tracking, "--json", "--yes",
            env=local_client_env(),
        )  # fmt: skip
        assert generated.returncode == 0, generated.stderr
        report = orjson.loads(generated.stdout)
        lists = lists_of(out)
        assert sorted(lists) == list(range(1, 13))  # 3 machines x 4 runner files
        manifest = orjson.loads((out / "distribution-staging.json").read_bytes())
        assert (
            manifest["parameters"] | {"machines": 3, "runnersPerHost": 4} == manifest["parameters"]
        )
        assert [f["machine"] for f in manifest["files"]] == [1] * 4 + [2] * 4 + [3] * 4
        # Next Steps per machine: one scp of its 4 files, then 4 runners, each logged.
        steps = report["nextSteps"]
        assert [f" ec2-instance-{m}:" in c for m, c in enumerate(steps["copies"], 1)] == [True] * 3
        assert [c.count("-customers-staging.json") for c in steps["copies"]] == [4, 4, 4]
        starts = [(i["host"], i["start"]) for i in steps["instances"] if i["start"]]
        assert starts[0] == (
            "ec2-instance-1",
            "STORACHA_ENV=staging nohup node src/migrate-instance.js --instance 1 "
            "> instance-1.log 2>&1 &",
        )
        assert "--instances 3 --runners-per-host 4 " in steps["replan"]
        # The report's times are per machine, each runner one worker at the assumed rate.
        plan = report["plan"]
        assert [m["machine"] for m in plan["machines"]] == [1, 2, 3]
        assert max(m["hours"] for m in plan["machines"]) == plan["criticalPathHours"]
        assert report["assumptions"]["runnersPerHost"] == 4
        # replan takes the grouping from the manifest: 3 machines are 12 runner files.
        replanned = invoke(
            "replan", "--endpoint-url", trial.endpoint, "--assignments-table", tracking,
            "--progress-table", progress(tracking), "--output-dir", out, "--instances", "3",
            "--json", env=local_client_env(),
        )  # fmt: skip
        assert replanned.returncode == 0, replanned.stderr
        again = orjson.loads(replanned.stdout)
        assert again["instances"] == 12
        assert [r["machine"] for r in again["distribution"]] == [1] * 4 + [2] * 4 + [3] * 4
        # Played by 12 runner processes at that rate, the fleet ends within 10% of the report.
        lists = lists_of(out)
        work = Work.of(dataset, [c for listed in lists.values() for c in listed])

        async def play() -> Fleet:
            async with trial.open() as db:
                fleet = Fleet(db, work, customers_table=tracking, progress_table=progress(tracking))
                for n, listed in lists.items():
                    fleet.start(n, listed, seconds_per_upload=ASSUMED, at=START)
                await fleet.play(START + timedelta(days=30))
                return fleet

        truth = (finished_at(asyncio.run(play())) - START).total_seconds() / 3600
        assert truth == pytest.approx(plan["criticalPathHours"], rel=0.10)
        # status names each runner's machine, from the manifest.
        looked = invoke(
            "status", "--endpoint-url", trial.endpoint, "--assignments-table", tracking,
            "--progress-table", progress(tracking), "--output-dir", out, "--json",
            env=local_client_env(),
        )  # fmt: skip
        assert looked.returncode == 0, looked.stderr
        machines = {i["instance"]: i["machine"] for i in orjson.loads(looked.stdout)["instances"]}
        assert machines == {str(n): (n - 1) // 4 + 1 for n in range(1, 13)}
    finally:
        trial.drop()


async def _fleet_tables(trial: Trial) -> None:
    async with trial.open() as db:
        await create_fleet_tables(
            db, customers_table=trial.tracking, progress_table=progress(trial.tracking)
        )
