"""The command line: typed parameters → an options record → one application call → render.

click lives here and nowhere else. Option groups are declared once, as decorators
that build their frozen record (``distro.options``) straight from the typed
parameters, so a command body calls ``distro.app`` and renders what it returns.
Every failure a user can cause ends as one line on stderr and the exit code its
class carries (``DistroError.exit_code``), never a traceback. ``distro.app``
(AWS) and ``distro.render`` (rich) are imported inside the command bodies, so
that ``--help`` and every usage error answer at once.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from distro import __version__
from distro.clash import clash_line, other_distro
from distro.errors import EXIT_INTERRUPTED, EXIT_USAGE, Declined, DistroError
from distro.files import PlanFolder
from distro.flags import with_flags
from distro.options import (
    AnalyzeOptions,
    CheckOptions,
    Connection,
    CountOptions,
    DemoOptions,
    GenerateOptions,
    ReplanOptions,
    ReportOptions,
    StatusOptions,
    VerifyOptions,
)
from distro.settings import (
    BALANCE_UNITS,
    DEFAULT_HOURLY_COST,
    DEFAULT_TOP,
    INDEX_COST_PER_CALL,
    PROBE_SPACE,
    READER_CHOICES,
    UPLOADS_PER_MINUTE,
    default_output_dir,
    default_table,
    require_instances,
    resolve_env,
)

Command = Callable[..., None]
Option = Callable[[Command], Command]
PLAN_FOLDER = default_output_dir()


def _with(command: Command, *options: Option) -> Command:
    """*command* with *options* added, listed in --help in the order given."""
    for option in reversed(options):
        command = option(command)
    return command


def _opt(flag: str, kind: Any, default: Any, text: str, **more: Any) -> Option:
    """An option of type *kind*, its *default* shown in --help when it has one."""
    shown = default is not None
    return click.option(flag, type=kind, default=default, show_default=shown, help=text, **more)


def _file(flag: str, text: str) -> Option:
    """An option naming a file to write, PATH."""
    return _opt(flag, click.Path(dir_okay=False, path_type=Path), None, text, metavar="PATH")


def _flag(flag: str, text: str, *more: str) -> Option:
    return click.option(flag, *more, is_flag=True, help=text)


def _instances(_: click.Context, __: click.Parameter, value: int | None) -> int | None:
    return None if value is None else require_instances(value)


def instances(text: str, **more: Any) -> Option:
    """``--instances``, checked as it is parsed."""
    return click.option("--instances", type=int, callback=_instances, help=text, **more)


def output_dir(default: Path = PLAN_FOLDER) -> Option:
    """``--output-dir``: the plan folder (default: the one the fleet reads)."""
    text = "The plan folder: instance files, manifest and checkpoint."
    return _opt("--output-dir", click.Path(path_type=Path), default, text)


ENV = click.option("--env", help="staging or production (default: $STORACHA_ENV or staging).")
QUIET = _flag("--quiet", "No progress bars.", "-q")
STALL_AFTER = _opt("--stall-after", click.IntRange(min=1), 30, "Minutes without a change: stalled.")
JSON = click.option("--json", "json_output", is_flag=True, help="Print the report as JSON.")
WORKERS = _opt(
    "--workers-per-instance",
    click.IntRange(min=1),
    None,
    "Workers in one instance's runner, for time estimates, as the guide assumes [default: 10].",
)
RUNNERS = _opt(
    "--runners-per-host",
    click.IntRange(min=1),
    None,
    "Run W runner processes (one worker each) per machine: --instances machines, W files on each.",
    metavar="W",
)
RATE = _opt(
    "--uploads-per-minute", float, UPLOADS_PER_MINUTE, "Uploads a worker migrates a minute."
)
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
    _opt("--consumer-table", str, None, "Consumer table (default: <prefix>-consumer)."),
    _opt("--upload-table", str, None, "Upload table (default: <prefix>-upload)."),
    _opt("--region", str, None, "AWS region (default: $AWS_REGION or the env's region)."),
    _opt("--endpoint-url", str, None, "DynamoDB endpoint (default: $AWS_ENDPOINT_URL or AWS)."),
)
_counting = _record(
    CountOptions.of,
    "count",
    _flag("--split-large-customers", "Plan customers above the fair share space by space."),
    _opt(
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
    _opt("--skip", str, None, "Also skip customers matching PATTERN (same).", **PATTERNS),
    _flag("--no-default-skip", "Do not skip the CI accounts (did:mailto:mailslurp.*)."),
    _opt("--parallel-segments", int, 4, "Parallel scan segments, 1-10."),
    _opt("--concurrency", int, 20, "Spaces counted at once."),
    _opt("--max-read-units", float, None, "Cap the read units consumed per second."),
    _opt("--min-uploads", int, 0, "Leave out customers with fewer uploads."),
    _flag("--count-shards", "Also count each upload's shards (same read units)."),
    _opt(
        "--balance-by",
        click.Choice(BALANCE_UNITS),
        "uploads",
        "Balance by uploads or by shards (shards: implies --count-shards).",
    ),
    _opt(
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
    _flag("--restart", "Discard the counting checkpoint and count again."),
    QUIET,
)


def count_options(command: Command) -> Command:
    """What analyze and generate read and how, built into *count* (a ``CountOptions``)."""
    return connection_options(_counting(command))


report_options = _record(
    ReportOptions.of,
    "report",
    _opt("--top", click.IntRange(min=0), DEFAULT_TOP, "List the N largest customers (0: none)."),
    _opt("--instance-hourly-cost", USD, DEFAULT_HOURLY_COST, "USD per instance-hour."),
    _opt("--index-cost-per-call", USD, INDEX_COST_PER_CALL, "USD per index call (a shard)."),
    click.option("--json", "json_output", is_flag=True, help="Print the analysis as JSON."),
    _file("--report-html", "Also save the report as an HTML page (charts, tables)."),
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="distro")
def cli() -> None:
    """Plan a parallel migration: count every customer's uploads, split customers across instances."""


@cli.command()
@instances("Also show the plan for N instances.")
@count_options
@report_options
def analyze(instances: int | None, count: CountOptions, report: ReportOptions) -> None:
    """Count and report; write no instance file."""
    from distro import app, render as show  # noqa: PLC0415 - AWS and rich load only when run

    show.analysis(app.analyze(AnalyzeOptions(count, report, instances)), report)


@cli.command()
@instances("Number of instances.", required=True)
@_flag("--yes", "Replace existing instance files without asking.", "-y")
@_flag("--write-tracking", "Also put a pending record per customer into the runner's table.")
@_opt("--assignments-table", str, None, "That table (default: the runner's).", metavar="NAME")
@_flag("--force", "Write the records even when the runner has started customers there.")
@count_options
@report_options
def generate(
    *,
    instances: int,
    yes: bool,
    write_tracking: bool,
    assignments_table: str | None,
    force: bool,
    count: CountOptions,
    report: ReportOptions,
) -> None:
    """Count, plan for N instances, and write one file per instance."""
    from distro import app, render as show  # noqa: PLC0415 - AWS and rich load only when run

    wanted = write_tracking or assignments_table is not None
    table = assignments_table or (default_table(count.folder.env, os.environ) if wanted else None)
    _confirm_replace(count.folder, assume_yes=yes)
    options = GenerateOptions(count, instances, report, table, force)
    show.analysis(app.generate(options), report)


def _confirm_replace(folder: PlanFolder, *, assume_yes: bool) -> None:
    """Ask before replacing a plan, but only a person at a terminal can be asked."""
    if assume_yes or not sys.stdin.isatty():
        return
    from distro import app  # noqa: PLC0415

    existing = app.plan_to_replace(folder)
    question = f"Replace the {existing} {folder.env} instance files in {folder.path}/?"
    if existing and not click.confirm(question, default=False, err=True):
        raise Declined("Nothing written: the plan in place is unchanged")


PROGRESS_TABLE = _opt("--progress-table", str, None, "The runner's progress table.", metavar="NAME")
_replanning = _record(
    functools.partial(ReplanOptions.of, environ=os.environ),
    "options",
    instances("Number of instances.", required=True),
    TRACKING_TABLE,
    PROGRESS_TABLE,
    output_dir(),
    WORKERS,
    RATE,
    RUNNERS,
    _opt(
        "--speeds",
        click.Choice(["measured", "equal"]),
        None,
        "Plan at each instance's measured rate, or all alike (default: measured when "
        "every instance with work has a rate).",
    ),
    _opt(
        "--new-instance-rate",
        click.FloatRange(min=0, min_open=True),
        None,
        "Uploads a minute of an instance with no rate yet (default: the median measured).",
    ),
    _opt(
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


@cli.command()
@connection_options
@_replanning
def replan(options: ReplanOptions) -> None:
    """Mid-migration: keep started customers where they are, balance the rest over N instances."""
    from distro import app, render as show  # noqa: PLC0415 - AWS and rich load only when run

    show.replan(app.replan(options), json_output=options.json_output)


_watching = _record(
    functools.partial(StatusOptions.of, environ=os.environ),
    "options",
    output_dir(),
    TRACKING_TABLE,
    PROGRESS_TABLE,
    STALL_AFTER,
    _opt("--instance", str, None, "Show this instance only.", metavar="N"),
    _opt("--customer", str, None, "Show this customer's spaces.", metavar="DID"),
    _flag("--failed", "Show the failures only."),
    click.option(
        "--watch",
        type=click.FloatRange(min=1),
        is_flag=False,
        flag_value=10.0,
        metavar="[SECONDS]",
        help="Refresh in place every SECONDS (default 10) until Ctrl-C.",
    ),
    JSON,
    _file("--report-html", "Also as an HTML page (charts, tables; reloads with --watch)."),
    _flag("--check", "One line; exit 0 all well, 3 stalled, 4 failed customers, 5 unreadable."),
    _file("--prometheus", "Also write the metrics for node_exporter's textfile collector."),
)


@cli.command()
@connection_options
@_watching
def status(options: StatusOptions) -> None:
    """The fleet under way: progress, measured rates, predicted finish, stalled and failed work."""
    from distro import app, render as show  # noqa: PLC0415 - AWS and rich load only when run

    if options.check:
        code, line, view = app.check_status(options)
        show.check(line, view, options)
        sys.exit(code)
    if options.watch is not None and not options.json_output:
        show.watch(lambda: app.status(options), options)
    else:
        show.status(app.status(options), options)


@cli.command()
@_opt("--customers", int, 1000, "Customers in the synthetic dataset.")
@instances("Number of instances to plan.", default=5, show_default=True)
@_opt("--seed", int, 7, "Seed of the synthetic dataset.")
@output_dir(PLAN_FOLDER / "demo")
@QUIET
@_flag("--count-shards", "Also count and check each upload's shards.")
@_flag("--keep", "Then keep DynamoDB Local running, seeded, for commands of your own.")
def demo(
    *,
    customers: int,
    instances: int,
    seed: int,
    output_dir: Path,
    quiet: bool,
    count_shards: bool,
    keep: bool,
) -> None:
    """Run the whole job on a local DynamoDB seeded with a synthetic dataset."""
    from distro import render as show  # noqa: PLC0415 - AWS and rich load only when run
    from distro.local.demo import demo as run_demo  # noqa: PLC0415 - as above

    folder = PlanFolder(output_dir)
    shown = run_demo(DemoOptions(folder, customers, instances, seed, quiet, count_shards, keep))
    show.analysis(shown.summary)
    show.status(shown.before, shown.watching)
    show.replan(shown.replanned)
    show.status(shown.after, shown.watching)
    if shown.server is not None:
        show.kept(shown.connection, shown.tables, shown.replanned.instances, folder)
        shown.serve()


@cli.command()
@output_dir()
@ENV
def verify(output_dir: Path, env: str | None) -> None:
    """Check the instance files against distribution-<env>.json, the manifest written with them."""
    from distro import app, render as show  # noqa: PLC0415 - rich loads only when run

    options = VerifyOptions(PlanFolder(output_dir, resolve_env(env)))
    found = app.verify(options)
    show.verification(found)
    app.require_match(options, found)


@cli.command()
@_opt("--space", str, PROBE_SPACE, "The space both counting Queries count.", metavar="DID")
@connection_options
def check(space: str, connection: Connection) -> None:
    """Before a run: describe both tables and count one space on both paths; do they agree?"""
    from distro import app, render as show  # noqa: PLC0415 - AWS and rich load only when run

    show.comparison(app.check(CheckOptions(connection, space)))


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and turn every failure into one line and its exit code."""
    other = other_distro()
    if other is not None:
        click.echo(clash_line(other), err=True)
    try:
        cli.main(args=argv, prog_name="distro", standalone_mode=False)
    except click.exceptions.Abort:  # Ctrl-C or end of input at a prompt
        _fail("Interrupted", "nothing written", EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        _fail("Interrupted", "run the same command again to resume.", EXIT_INTERRUPTED)
    except click.UsageError as error:
        hint = f" (see '{error.ctx.command_path} --help')" if error.ctx else ""
        _fail("Error", f"{error.format_message()}{hint}", EXIT_USAGE)
    except click.ClickException as error:
        _fail("Error", error.format_message(), error.exit_code)
    except DistroError as error:
        _fail(error.label, with_flags(error), error.exit_code)


def _fail(label: str, message: str, code: int) -> None:
    from distro import console  # noqa: PLC0415

    # Literal, not markup: messages quote user input, DIDs and DynamoDB replies, brackets,
    # newlines and escape sequences and all; escaped, they also stay on one line.
    console.stderr.print(console.error_line(message, label=label), soft_wrap=True)
    sys.exit(code)
