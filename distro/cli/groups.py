"""The command line's shared options: declared once, each group building its frozen record.

A group is a decorator (``_record``) that gathers the typed parameters its
record's constructor names (``CountOptions.of``, ``ReplanOptions.of``, ...)
and passes the command the record, built and checked, instead. The commands
themselves are in ``distro.cli``.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from distro.options import (
    Connection,
    CountOptions,
    ReplanOptions,
    ReportOptions,
    StatusOptions,
)
from distro.settings import (
    BALANCE_UNITS,
    DEFAULT_HOURLY_COST,
    DEFAULT_TOP,
    INDEX_COST_PER_CALL,
    READER_CHOICES,
    UPLOADS_PER_MINUTE,
    default_output_dir,
    require_instances,
)

Command = Callable[..., None]
Option = Callable[[Command], Command]
PLAN_FOLDER = default_output_dir()


def _with(command: Command, *options: Option) -> Command:
    """*command* with *options* added, listed in --help in the order given."""
    for option in reversed(options):
        command = option(command)
    return command


def opt(flag: str, kind: Any, default: Any, text: str, **more: Any) -> Option:
    """An option of type *kind*, its *default* shown in --help when it has one."""
    shown = default is not None
    return click.option(flag, type=kind, default=default, show_default=shown, help=text, **more)


def file_option(flag: str, text: str) -> Option:
    """An option naming a file to write, PATH."""
    return opt(flag, click.Path(dir_okay=False, path_type=Path), None, text, metavar="PATH")


def switch(flag: str, text: str, *more: str) -> Option:
    return click.option(flag, *more, is_flag=True, help=text)


def _instances(_: click.Context, __: click.Parameter, value: int | None) -> int | None:
    return None if value is None else require_instances(value)


def instances(text: str, **more: Any) -> Option:
    """``--instances``, checked as it is parsed."""
    return click.option("--instances", type=int, callback=_instances, help=text, **more)


def output_dir(default: Path = PLAN_FOLDER) -> Option:
    """``--output-dir``: the plan folder (default: the one the fleet reads)."""
    text = "The plan folder: instance files, manifest and checkpoint."
    return opt("--output-dir", click.Path(path_type=Path), default, text)


ENV = click.option("--env", help="staging or production (default: $STORACHA_ENV or staging).")
QUIET = switch("--quiet", "No progress bars.", "-q")
STALL_AFTER = opt("--stall-after", click.IntRange(min=1), 30, "Minutes without a change: stalled.")
JSON = click.option("--json", "json_output", is_flag=True, help="Print the report as JSON.")
WORKERS = opt(
    "--workers-per-instance",
    click.IntRange(min=1),
    None,
    "Workers in one instance's runner, for time estimates, as the guide assumes [default: 10].",
)
RUNNERS = opt(
    "--runners-per-host",
    click.IntRange(min=1),
    None,
    "Run W runner processes (one worker each) per machine: --instances machines, W files on each.",
    metavar="W",
)
RATE = opt("--uploads-per-minute", float, UPLOADS_PER_MINUTE, "Uploads a worker migrates a minute.")
PATTERNS: dict[str, Any] = {"multiple": True, "metavar": "PATTERN"}
USD = click.FloatRange(min=0)
TRACKING_TABLE = click.option(
    "--assignments-table",
    metavar="NAME",
    help="The tracking table (default: $MIGRATION_CUSTOMERS_TABLE_NAME or the runner's for --env).",
)


def _record(make: Callable[..., Any], name: str, *options: Option) -> Option:
    """A group of *options* whose values *make* turns into one record, passed on as *name*.

    *make* (a typed constructor such as ``CountOptions.of``) names the
    parameters it takes: exactly those are gathered from click's, so its
    signature is the one typed list of the group.
    """
    taken = set(inspect.signature(make).parameters)

    def decorate(command: Command) -> Command:
        @functools.wraps(command)
        def build(**given: Any) -> None:
            mine = {key: given.pop(key) for key in taken & given.keys()}
            command(**given, **{name: make(**mine)})

        return _with(build, *options)

    return decorate


connection_options = _record(
    functools.partial(Connection.resolve, environ=os.environ),
    "connection",
    ENV,
    opt("--consumer-table", str, None, "Consumer table (default: <prefix>-consumer)."),
    opt("--upload-table", str, None, "Upload table (default: <prefix>-upload)."),
    opt("--region", str, None, "AWS region (default: $AWS_REGION or the env's region)."),
    opt("--endpoint-url", str, None, "DynamoDB endpoint (default: $AWS_ENDPOINT_URL or AWS)."),
)
_counting = _record(
    CountOptions.of,
    "count",
    switch("--split-large-customers", "Plan customers above the fair share space by space."),
    opt(
        "--reader",
        click.Choice(READER_CHOICES),
        "auto",
        "Count through the lean Query path with the SDK as a net (auto), or one of them.",
    ),
    click.option(
        "--filter",
        "include",
        help="Only customers matching PATTERN (repeatable or comma-separated).",
        **PATTERNS,
    ),
    opt("--skip", str, None, "Also skip customers matching PATTERN (same).", **PATTERNS),
    switch("--no-default-skip", "Do not skip the CI accounts (did:mailto:mailslurp.*)."),
    opt("--parallel-segments", int, 4, "Parallel scan segments, 1-10."),
    opt("--concurrency", int, 20, "Spaces counted at once."),
    opt("--max-read-units", float, None, "Cap the read units consumed per second."),
    opt("--min-uploads", int, 0, "Leave out customers with fewer uploads."),
    switch("--count-shards", "Also count each upload's shards (same read units)."),
    opt(
        "--balance-by",
        click.Choice(BALANCE_UNITS),
        "uploads",
        "Balance by uploads or by shards (shards: implies --count-shards).",
    ),
    opt(
        "--shards-per-minute",
        float,
        None,
        "Shards a worker migrates a minute, for --balance-by shards "
        "[default: uploads per minute x the shards per upload counted].",
        metavar="R",
    ),
    WORKERS,
    RATE,
    RUNNERS,
    output_dir(),
    switch("--restart", "Discard the counting checkpoint and count again."),
    QUIET,
)


def count_options(command: Command) -> Command:
    """What analyze and generate read and how, built into *count* (a ``CountOptions``)."""
    return connection_options(_counting(command))


report_options = _record(
    ReportOptions.of,
    "report",
    opt("--top", click.IntRange(min=0), DEFAULT_TOP, "List the N largest customers (0: none)."),
    opt("--instance-hourly-cost", USD, DEFAULT_HOURLY_COST, "USD per instance-hour."),
    opt("--index-cost-per-call", USD, INDEX_COST_PER_CALL, "USD per index call (a shard)."),
    click.option("--json", "json_output", is_flag=True, help="Print the analysis as JSON."),
    file_option("--report-html", "Also save the report as an HTML page (charts, tables)."),
)


PROGRESS_TABLE = opt("--progress-table", str, None, "The runner's progress table.", metavar="NAME")
replan_options = _record(
    functools.partial(ReplanOptions.of, environ=os.environ),
    "options",
    instances("Number of instances.", required=True),
    TRACKING_TABLE,
    PROGRESS_TABLE,
    output_dir(),
    WORKERS,
    RATE,
    RUNNERS,
    opt(
        "--speeds",
        click.Choice(["measured", "equal"]),
        None,
        "Plan at each instance's measured rate, or all alike (default: measured when "
        "every instance with work has a rate).",
    ),
    opt(
        "--new-instance-rate",
        click.FloatRange(min=0, min_open=True),
        None,
        "Uploads a minute of an instance with no rate yet (default: the median measured).",
    ),
    opt(
        "--drop-instance",
        int,
        None,
        "Give this instance no work; its silent in-progress customers move (repeatable).",
        multiple=True,
        metavar="N",
    ),
    STALL_AFTER,
    JSON,
)


status_options = _record(
    functools.partial(StatusOptions.of, environ=os.environ),
    "options",
    output_dir(),
    TRACKING_TABLE,
    PROGRESS_TABLE,
    STALL_AFTER,
    opt("--instance", str, None, "Show this instance only.", metavar="N"),
    opt("--customer", str, None, "Show this customer's spaces.", metavar="DID"),
    switch("--failed", "Show the failures only."),
    click.option(
        "--watch",
        type=click.FloatRange(min=1),
        is_flag=False,
        flag_value=10.0,
        metavar="[SECONDS]",
        help="Refresh in place every SECONDS (default 10) until Ctrl-C.",
    ),
    JSON,
    file_option("--report-html", "Also as an HTML page (charts, tables; reloads with --watch)."),
    switch("--check", "One line; exit 0 all well, 3 stalled, 4 failed customers, 5 unreadable."),
    file_option("--prometheus", "Also write the metrics for node_exporter's textfile collector."),
)
