"""The next steps after a plan, as plain data: the commands that deploy, check and re-plan it.

Every ``distro`` command printed here repeats the options that shaped the run
(``distro.options``): the tables, the endpoint and the region a run was
given, so a command copied from the report runs as printed against the same
tables. The runner's commands are the runner's own (``migrate-instance.js``,
``migrate.js --space``).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from distro.balance import InstancePlan, Plan
from distro.files import PlanFolder
from distro.options import Connection, CountOptions

RUNNER_DIR = "<runner checkout>"  # the runner's checkout on the instance: only the operator knows
CHECK_COMMAND = "ls -lh migration-state/instance-*.json"


@dataclass(frozen=True, slots=True)
class InstanceStep:
    """How instance *instance_id* gets its share: copy its files to *host*, then start it.

    *empty*: the plan gives it nothing, so there is nothing to copy or start.
    *spaces*: the loop that migrates its split spaces, listed in *spaces_file*.
    *machine*: the machine that runs it (with runners per host, several instances share one).
    """

    instance_id: int
    machine: int
    host: str
    file: str
    empty: bool
    start: str | None
    spaces_file: str | None
    spaces: str | None
    # After a replan: "restart" (its list changed: a running runner keeps the one it read),
    # "start" (a new instance), "stop" (its list is now empty: nothing left for its runner)
    # or "unchanged" (leave it alone); None after generate.
    change: str | None = None


@dataclass(frozen=True, slots=True)
class NextSteps:
    """The commands that deploy and start a written plan, then re-check and re-plan it."""

    env: str
    runner_dir: str
    check: str
    instances: tuple[InstanceStep, ...]
    copies: tuple[str, ...]  # one scp per machine, of the files it must get
    verify: str
    replan: str
    runners_per_host: int | None = None  # None: one runner per machine


def copies(instances: Sequence[InstanceStep]) -> tuple[str, ...]:
    """One ``scp`` per machine of *instances*, of all their files, machines in order."""
    by_host: dict[str, list[str]] = {}
    for step in instances:
        if not step.empty:
            sources = by_host.setdefault(step.host, [])
            sources += [f for f in (step.file, step.spaces_file) if f is not None]
    return tuple(
        f"scp {' '.join(shlex.quote(f) for f in sources)} {host}:{RUNNER_DIR}/migration-state/"
        for host, sources in by_host.items()
    )


def next_steps(
    plan: Plan,
    *,
    folder: PlanFolder,
    connection: Connection,
    tracking_table: str | None = None,
    progress_table: str | None = None,
    runners_per_host: int | None = None,
) -> NextSteps:
    """The steps that deploy *plan*, written to *folder* from the tables of *connection*.

    *tracking_table*, if the run wrote one, and *progress_table*, if the run
    read one, are named in the re-plan command. With *runners_per_host* W, the
    files of each W consecutive instances go to one machine, whose W runners
    start in the background, each with its own log.
    """
    per_host = runners_per_host or 1
    instances = tuple(_instance_step(i, folder, runners_per_host) for i in plan.instances)
    hosts = [] if runners_per_host is None else ["--runners-per-host", str(runners_per_host)]
    return NextSteps(
        env=folder.env,
        runner_dir=RUNNER_DIR,
        check=CHECK_COMMAND,
        instances=instances,
        copies=copies(instances),
        verify=distro_command("verify", folder=folder),
        replan=replan_command(
            connection,
            folder,
            f"--instances {len(plan.instances) // per_host}",
            *hosts,
            tracking_table=tracking_table,
            progress_table=progress_table,
        ),
        runners_per_host=runners_per_host,
    )


def replan_steps(
    plan: Plan,
    *,
    folder: PlanFolder,
    connection: Connection,
    previous: Mapping[int, Sequence[str]],
    tracking_table: str | None = None,
    progress_table: str | None = None,
    runners_per_host: int | None = None,
) -> NextSteps:
    """The steps after a replan: ``next_steps``, each instance marked with its change from
    the *previous* lists (instance -> customers, as the files the runners read held them);
    only the files whose list changed are copied."""
    steps = next_steps(
        plan,
        folder=folder,
        connection=connection,
        tracking_table=tracking_table,
        progress_table=progress_table,
        runners_per_host=runners_per_host,
    )
    listed = {i.instance_id: tuple(c.customer for c in i.customers) for i in plan.instances}
    planned = {c for customers in listed.values() for c in customers}

    def change(instance: int) -> str:
        after = set(listed[instance])
        if instance not in previous:
            return "start" if after else "unchanged"
        # A customer no longer planned anywhere is completed: its runner skips it anyway.
        if {c for c in previous[instance] if c in planned} == after:
            return "unchanged"
        return "restart" if after else "stop"

    instances = tuple(replace(step, change=change(step.instance_id)) for step in steps.instances)
    moved = [i for i in instances if i.change in ("restart", "start")]
    return replace(steps, instances=instances, copies=copies(moved))


def distro_command(name: str, *first: str, folder: PlanFolder, options: Sequence[str] = ()) -> str:
    """``distro NAME``, then *first*, the folder and its environment, then *options* (shell words)."""
    place = ["--env", folder.env, "--output-dir", shlex.quote(str(folder.path))]
    if name == "verify":  # verify's own order of the two, as its --help lists them
        place = place[2:] + place[:2]
    return " ".join(["distro", name, *first, *place, *options])


def replan_command(
    connection: Connection,
    folder: PlanFolder,
    *first: str,
    tracking_table: str | None,
    progress_table: str | None,
) -> str:
    """``distro replan`` with *first* (its instances, its drops) on the tables of *connection*
    and the runner's two tables, so that it runs as printed."""
    return distro_command(
        "replan",
        *first,
        folder=folder,
        options=[*connection.words(), *_table_words(tracking_table, progress_table)],
    )


def kept_demo_commands(
    connection: Connection,
    folder: PlanFolder,
    *,
    tracking_table: str,
    progress_table: str,
    instances: int,
) -> list[str]:
    """What to run against a demo's kept database, on its *connection*: check, and analyze and
    generate into a folder of their own; then the replan of the demo's plan in *folder* (the
    one its fleet runs) over its *instances* and the runner's two tables."""
    local = PlanFolder(folder.path / "local", folder.env)
    words = connection.words()
    return [
        " ".join(["distro", "check", "--env", folder.env, *words]),
        distro_command("analyze", folder=local, options=words),
        distro_command("generate", "--instances 3", folder=local, options=words),
        replan_command(
            connection,
            folder,
            f"--instances {instances}",
            tracking_table=tracking_table,
            progress_table=progress_table,
        ),
    ]


def _table_words(tracking_table: str | None, progress_table: str | None) -> list[str]:
    words = [] if tracking_table is None else ["--assignments-table", shlex.quote(tracking_table)]
    if progress_table is not None:
        words += ["--progress-table", shlex.quote(progress_table)]
    return words


def _instance_step(
    instance: InstancePlan, folder: PlanFolder, runners_per_host: int | None
) -> InstanceStep:
    n, env = instance.instance_id, folder.env
    machine = (n - 1) // (runners_per_host or 1) + 1
    host = f"ec2-instance-{machine}"
    file = str(folder.instance_file(n))
    spaces_file = str(folder.path / folder.spaces_file_name(n)) if instance.split_spaces else None
    if not instance.customers and not instance.split_spaces:
        return InstanceStep(
            instance_id=n,
            machine=machine,
            host=host,
            file=file,
            empty=True,
            start=None,
            spaces_file=None,
            spaces=None,
        )
    run = f"STORACHA_ENV={env} node src/migrate-instance.js --instance {n}"
    if runners_per_host is not None:  # several on one machine: each in the background, logged
        run = f"STORACHA_ENV={env} nohup node src/migrate-instance.js --instance {n} > instance-{n}.log 2>&1 &"
    # Today's runner skips spaceAssignments: migrate.js --space takes the split spaces one by one.
    spaces = (
        f'while read -r space; do STORACHA_ENV={env} node src/migrate.js --space "$space" '
        f"--instance-id {n}; done < migration-state/{folder.spaces_file_name(n)}"
        if spaces_file is not None
        else None
    )
    return InstanceStep(
        instance_id=n,
        machine=machine,
        host=host,
        file=file,
        empty=False,
        start=run if instance.customers else None,
        spaces_file=spaces_file,
        spaces=spaces,
    )


def generate_command(count: CountOptions, instances: int | None) -> str:
    """The ``distro generate`` that would write the plan an analyze run showed (N if none).

    It repeats every option of *count* that decides the plan, so the plan it
    writes is the one shown.
    """
    return distro_command(
        "generate",
        f"--instances {instances if instances is not None else 'N'}",
        folder=count.folder,
        options=count.plan_words(),
    )
