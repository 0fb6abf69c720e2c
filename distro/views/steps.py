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
    """

    instance_id: int
    host: str
    file: str
    empty: bool
    copy: str | None
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
    verify: str
    replan: str


def next_steps(
    plan: Plan,
    *,
    folder: PlanFolder,
    connection: Connection,
    tracking_table: str | None = None,
    progress_table: str | None = None,
) -> NextSteps:
    """The steps that deploy *plan*, written to *folder* from the tables of *connection*.

    *tracking_table*, if the run wrote one, and *progress_table*, if the run
    read one, are named in the re-plan command.
    """
    return NextSteps(
        env=folder.env,
        runner_dir=RUNNER_DIR,
        check=CHECK_COMMAND,
        instances=tuple(_instance_step(i, folder) for i in plan.instances),
        verify=distro_command("verify", folder=folder),
        replan=distro_command(
            "replan",
            f"--instances {len(plan.instances)}",
            folder=folder,
            options=[*connection.words(), *_table_words(tracking_table, progress_table)],
        ),
    )


def replan_steps(
    plan: Plan,
    *,
    folder: PlanFolder,
    connection: Connection,
    previous: Mapping[int, Sequence[str]],
    tracking_table: str | None = None,
    progress_table: str | None = None,
) -> NextSteps:
    """The steps after a replan: ``next_steps``, each instance marked with its change from
    the *previous* lists (instance -> customers, as the files the runners read held them)."""
    steps = next_steps(
        plan,
        folder=folder,
        connection=connection,
        tracking_table=tracking_table,
        progress_table=progress_table,
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

    return replace(
        steps,
        instances=tuple(replace(step, change=change(step.instance_id)) for step in steps.instances),
    )


def distro_command(name: str, *first: str, folder: PlanFolder, options: Sequence[str] = ()) -> str:
    """``distro NAME``, then *first*, the folder and its environment, then *options* (shell words)."""
    place = ["--env", folder.env, "--output-dir", shlex.quote(str(folder.path))]
    if name == "verify":  # verify's own order of the two, as its --help lists them
        place = place[2:] + place[:2]
    return " ".join(["distro", name, *first, *place, *options])


def _table_words(tracking_table: str | None, progress_table: str | None) -> list[str]:
    words = [] if tracking_table is None else ["--assignments-table", shlex.quote(tracking_table)]
    if progress_table is not None:
        words += ["--progress-table", shlex.quote(progress_table)]
    return words


def _instance_step(instance: InstancePlan, folder: PlanFolder) -> InstanceStep:
    n, env = instance.instance_id, folder.env
    host = f"ec2-instance-{n}"
    file = str(folder.instance_file(n))
    spaces_file = str(folder.path / folder.spaces_file_name(n)) if instance.split_spaces else None
    if not instance.customers and not instance.split_spaces:
        return InstanceStep(
            instance_id=n,
            host=host,
            file=file,
            empty=True,
            copy=None,
            start=None,
            spaces_file=None,
            spaces=None,
        )
    sources = " ".join(shlex.quote(f) for f in (file, spaces_file) if f is not None)
    # Today's runner skips spaceAssignments: migrate.js --space takes the split spaces one by one.
    spaces = (
        f'while read -r space; do STORACHA_ENV={env} node src/migrate.js --space "$space" '
        f"--instance-id {n}; done < migration-state/{folder.spaces_file_name(n)}"
        if spaces_file is not None
        else None
    )
    return InstanceStep(
        instance_id=n,
        host=host,
        file=file,
        empty=False,
        copy=f"scp {sources} {host}:{RUNNER_DIR}/migration-state/",
        start=(
            f"STORACHA_ENV={env} node src/migrate-instance.js --instance {n}"
            if instance.customers
            else None
        ),
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
