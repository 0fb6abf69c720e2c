"""The command line: typed parameters → an options record → one application call → render.

click lives here and nowhere else. Shared option groups are declared once, as
decorators that build their frozen record (``Connection``, ``CountOptions``,
``ReportOptions``, from ``distro.options``) straight from the typed
parameters, so a command body only calls ``distro.app`` and renders what it
returns. Every failure a user can cause ends as one line on stderr and the
exit code its class carries (``DistroError.exit_code``), never a traceback.

``distro.app`` (AWS) and ``distro.report`` (rich) are imported inside the
command bodies, so that ``--help`` and every usage error answer at once.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from distro import __version__
from distro.errors import EXIT_INTERRUPTED, EXIT_USAGE, Declined, DistroError, SettingsError
from distro.files import PlanFolder, check_html_path
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
    VerifyOptions,
)
from distro.settings import (
    BALANCE_UNITS,
    DEFAULT_HOURLY_COST,
    DEFAULT_SKIP,
    DEFAULT_TOP,
    INDEX_COST_PER_CALL,
    PROBE_SPACE,
    READER_CHOICES,
    UPLOADS_PER_MINUTE,
    CountSettings,
    CustomerFilter,
    RetryPolicy,
    Throughput,
    default_output_dir,
    default_table,
    require_instances,
    resolve_env,
    resolve_tables,
    split_patterns,
)

Command = Callable[..., None]


def _with(command: Command, *options: Callable[[Command], Command]) -> Command:
    """*command* with *options* added, listed in --help in the order given."""
    for option in reversed(options):
        command = option(command)
    return command


def _instances(_: click.Context, __: click.Parameter, value: int | None) -> int | None:
    return None if value is None else require_instances(value)


PLAN_FOLDER = default_output_dir()
ENV = click.option("--env", help="staging or production (default: $STORACHA_ENV or staging).")
QUIET = click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
JSON = click.option("--json", "json_output", is_flag=True, help="Print the report as JSON.")
WORKERS = click.option(
    "--workers-per-instance",
    type=int,
    default=10,
    show_default=True,
    help="Workers per instance, for time estimates.",
)
RATE = click.option(
    "--uploads-per-minute",
    type=float,
    default=UPLOADS_PER_MINUTE,
    show_default=True,
    help="Uploads one worker migrates per minute.",
)
TRACKING_TABLE = click.option(
    "--assignments-table",
    metavar="NAME",
    help="The tracking table (default: $MIGRATION_CUSTOMERS_TABLE_NAME or the runner's for --env).",
)


def output_dir(default: Path = PLAN_FOLDER) -> Callable[[Command], Command]:
    """``--output-dir``: the plan folder (default: the one the fleet reads)."""
    return click.option(
        "--output-dir",
        type=click.Path(path_type=Path),
        default=default,
        show_default=True,
        help="The plan folder: instance files, manifest and checkpoint.",
    )


def connection_options(command: Command) -> Command:
    """``--env``, the table names, ``--region`` and ``--endpoint-url``, built into *connection*."""

    @functools.wraps(command)
    def build(
        *,
        env: str | None,
        consumer_table: str | None,
        upload_table: str | None,
        region: str | None,
        endpoint_url: str | None,
        **rest: Any,
    ) -> None:
        typed = {
            "--consumer-table": consumer_table,
            "--upload-table": upload_table,
            "--region": region,
            "--endpoint-url": endpoint_url,
        }
        name = resolve_env(env)
        rest["connection"] = Connection(
            env=name,
            tables=resolve_tables(
                env=name,
                consumer_table=consumer_table,
                upload_table=upload_table,
                region=region,
                endpoint_url=endpoint_url,
            ),
            given=tuple((flag, value) for flag, value in typed.items() if value is not None),
            policy=RetryPolicy.from_environ(os.environ),
        )
        command(**rest)

    return _with(
        build,
        ENV,
        click.option(
            "--consumer-table",
            help="Consumer table (default: $CONSUMER_TABLE_NAME or <prefix>-consumer).",
        ),
        click.option(
            "--upload-table", help="Upload table (default: $UPLOAD_TABLE_NAME or <prefix>-upload)."
        ),
        click.option(
            "--region", help="AWS region (default: $AWS_REGION or the environment's region)."
        ),
        click.option(
            "--endpoint-url",
            help="DynamoDB endpoint (default: $AWS_ENDPOINT_URL_DYNAMODB, $AWS_ENDPOINT_URL or AWS).",
        ),
    )


def _patterns(option: str, values: tuple[str, ...]) -> tuple[str, ...]:
    patterns = split_patterns(values)
    if values and not patterns:
        # An empty --filter would silently plan everyone: the opposite of what was asked.
        raise SettingsError(f"{option} needs a pattern, got {', '.join(map(repr, values))}")
    return patterns


def count_options(command: Command) -> Command:
    """What analyze and generate read and how, built into *count* (a ``CountOptions``)."""

    @functools.wraps(command)
    def build(
        *,
        connection: Connection,
        split_large_customers: bool,
        reader: Any,
        include: tuple[str, ...],
        skip: tuple[str, ...],
        no_default_skip: bool,
        parallel_segments: int,
        concurrency: int,
        max_read_units: float | None,
        min_uploads: int,
        count_shards: bool,
        balance_by: Any,
        shards_per_minute: float | None,
        workers_per_instance: int,
        uploads_per_minute: float,
        output_dir: Path,
        restart: bool,
        quiet: bool,
        **rest: Any,
    ) -> None:
        settings = CountSettings(
            tables=connection.tables,
            customer_filter=CustomerFilter(
                skip=(() if no_default_skip else DEFAULT_SKIP) + _patterns("--skip", skip),
                include=_patterns("--filter", include),
            ),
            parallel_segments=parallel_segments,
            concurrency=concurrency,
            min_uploads=min_uploads,
            max_read_units=max_read_units,
            # Balancing by shards needs them counted: asking for it is asking for both.
            count_shards=count_shards or balance_by == "shards",
        )
        throughput = Throughput(
            workers_per_instance,
            uploads_per_minute,
            unit=balance_by,
            shards_per_minute=shards_per_minute,
        )
        rest["count"] = CountOptions(
            connection=connection,
            settings=settings,
            throughput=throughput,
            folder=PlanFolder(output_dir, connection.env),
            restart=restart,
            quiet=quiet,
            reader=reader,
            split_large=split_large_customers,
        )
        command(**rest)

    return connection_options(
        _with(
            build,
            click.option(
                "--split-large-customers",
                is_flag=True,
                help="Plan each customer above the fair share space by space, across instances.",
            ),
            click.option(
                "--reader",
                type=click.Choice(READER_CHOICES),
                default="auto",
                show_default=True,
                help="How the uploads are counted: the lean Query path with the SDK as a "
                "safety net (auto), or only one of them.",
            ),
            click.option(
                "--filter",
                "include",
                multiple=True,
                metavar="PATTERN",
                help="Only customers matching PATTERN (repeatable or comma-separated).",
            ),
            click.option(
                "--skip",
                multiple=True,
                metavar="PATTERN",
                help="Also skip customers matching PATTERN (repeatable or comma-separated).",
            ),
            click.option(
                "--no-default-skip",
                is_flag=True,
                help="Do not skip the CI accounts (did:mailto:mailslurp.*).",
            ),
            click.option(
                "--parallel-segments",
                type=int,
                default=4,
                show_default=True,
                help="Parallel scan segments, 1-10.",
            ),
            click.option(
                "--concurrency",
                type=int,
                default=20,
                show_default=True,
                help="Spaces counted at once.",
            ),
            click.option(
                "--max-read-units",
                type=float,
                help="Cap the read capacity units consumed per second (e.g. half the table's).",
            ),
            click.option(
                "--min-uploads",
                type=int,
                default=0,
                show_default=True,
                help="Leave out customers with fewer uploads.",
            ),
            click.option(
                "--count-shards",
                is_flag=True,
                help="Also count each upload's shards (reads the items; same read units).",
            ),
            click.option(
                "--balance-by",
                type=click.Choice(BALANCE_UNITS),
                default="uploads",
                show_default=True,
                help="Balance instances by uploads or by shards (shards: implies --count-shards).",
            ),
            click.option(
                "--shards-per-minute",
                type=float,
                metavar="R",
                help="Shards one worker migrates per minute, for --balance-by shards "
                "[default: uploads per minute x the shards per upload counted].",
            ),
            WORKERS,
            RATE,
            output_dir(),
            click.option(
                "--restart", is_flag=True, help="Discard the counting checkpoint and count again."
            ),
            QUIET,
        )
    )


def report_options(command: Command) -> Command:
    """How much the report shows, what it assumes, where it goes: built into *report*."""

    @functools.wraps(command)
    def build(
        *,
        top: int,
        instance_hourly_cost: float,
        index_cost_per_call: float,
        json_output: bool,
        report_html: Path | None,
        **rest: Any,
    ) -> None:
        if report_html is not None:
            check_html_path(report_html)  # before the count, not after an hour of it
        rest["report"] = ReportOptions(
            top, instance_hourly_cost, index_cost_per_call, json_output, report_html
        )
        command(**rest)

    return _with(
        build,
        click.option(
            "--top",
            type=click.IntRange(min=0),
            default=DEFAULT_TOP,
            show_default=True,
            help="List the N customers with the most uploads (0: none).",
        ),
        click.option(
            "--instance-hourly-cost",
            type=click.FloatRange(min=0),
            default=DEFAULT_HOURLY_COST,
            show_default=True,
            metavar="USD",
            help="Price of one instance-hour, for the fleet cost estimate.",
        ),
        click.option(
            "--index-cost-per-call",
            type=click.FloatRange(min=0),
            default=INDEX_COST_PER_CALL,
            show_default=True,
            metavar="USD",
            help="With --count-shards: price of one index-generation call (one per shard).",
        ),
        click.option(
            "--json",
            "json_output",
            is_flag=True,
            help="Print the whole analysis as one JSON document on stdout instead of the report.",
        ),
        click.option(
            "--report-html",
            type=click.Path(dir_okay=False, path_type=Path),
            metavar="PATH",
            help="Also save the report, as it looks on a terminal, as an HTML file.",
        ),
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="distro")
def cli() -> None:
    """Plan a parallel migration: count every customer's uploads, split customers across instances."""


@cli.command()
@click.option(
    "--instances", type=int, callback=_instances, help="Also show the plan for N instances."
)
@count_options
@report_options
def analyze(instances: int | None, count: CountOptions, report: ReportOptions) -> None:
    """Count and report; write no instance file."""
    from distro import app  # noqa: PLC0415 - AWS and rich load only when run
    from distro import report as show  # noqa: PLC0415

    show.analysis(app.analyze(AnalyzeOptions(count, report, instances)), report)


@cli.command()
@click.option(
    "--instances", type=int, required=True, callback=_instances, help="Number of instances."
)
@click.option("--yes", "-y", is_flag=True, help="Replace existing instance files without asking.")
@click.option(
    "--write-tracking",
    is_flag=True,
    help="Also put a pending tracking record per customer into the runner's table "
    "($MIGRATION_CUSTOMERS_TABLE_NAME, or staging-/prod-migration-customers for --env); "
    "a record the runner has started is never overwritten.",
)
@click.option(
    "--assignments-table",
    metavar="NAME",
    help="Write the tracking records into this table instead (implies --write-tracking).",
)
@count_options
@report_options
def generate(
    *,
    instances: int,
    yes: bool,
    write_tracking: bool,
    assignments_table: str | None,
    count: CountOptions,
    report: ReportOptions,
) -> None:
    """Count, plan for N instances, and write one file per instance."""
    from distro import app  # noqa: PLC0415 - AWS and rich load only when run
    from distro import report as show  # noqa: PLC0415

    wanted = write_tracking or assignments_table is not None
    table = assignments_table or (default_table(count.folder.env, os.environ) if wanted else None)
    _confirm_replace(count.folder, assume_yes=yes)
    options = GenerateOptions(count, instances, report, yes, table)
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


@cli.command()
@click.option(
    "--instances", type=int, required=True, callback=_instances, help="Number of instances."
)
@TRACKING_TABLE
@connection_options
@output_dir()
@WORKERS
@RATE
@JSON
@QUIET
def replan(
    *,
    instances: int,
    assignments_table: str | None,
    connection: Connection,
    output_dir: Path,
    workers_per_instance: int,
    uploads_per_minute: float,
    json_output: bool,
    quiet: bool,
) -> None:
    """Mid-migration: keep started customers where they are, balance the rest over N instances."""
    from distro import app  # noqa: PLC0415 - AWS and rich load only when run
    from distro import report as show  # noqa: PLC0415

    options = ReplanOptions(
        connection=connection,
        folder=PlanFolder(output_dir, connection.env),
        tracking_table=assignments_table or default_table(connection.env, os.environ),
        instances=instances,
        throughput=Throughput(workers_per_instance, uploads_per_minute),
        json_output=json_output,
        quiet=quiet,
    )
    show.replan(app.replan(options), json_output=json_output)


@cli.command()
@click.option("--customers", type=int, default=1000, show_default=True, help="Customers to make.")
@click.option(
    "--instances",
    type=int,
    default=5,
    show_default=True,
    callback=_instances,
    help="Number of instances to plan.",
)
@click.option("--seed", type=int, default=7, show_default=True, help="Seed of the dataset.")
@output_dir(PLAN_FOLDER / "demo")
@QUIET
@click.option("--count-shards", is_flag=True, help="Also count and check each upload's shards.")
def demo(
    *, customers: int, instances: int, seed: int, output_dir: Path, quiet: bool, count_shards: bool
) -> None:
    """Run the whole job on a local DynamoDB seeded with a synthetic dataset."""
    from distro import app  # noqa: PLC0415 - AWS and rich load only when run
    from distro import report as show  # noqa: PLC0415

    folder = PlanFolder(output_dir)
    shown = app.demo(DemoOptions(folder, customers, instances, seed, quiet, count_shards))
    show.analysis(shown.summary)
    show.replan(shown.replanned)


@cli.command()
@output_dir()
@ENV
def verify(output_dir: Path, env: str | None) -> None:
    """Check the instance files against distribution-<env>.json, the manifest written with them."""
    from distro import app  # noqa: PLC0415 - rich loads only when run
    from distro import report as show  # noqa: PLC0415

    options = VerifyOptions(PlanFolder(output_dir, resolve_env(env)))
    found = app.verify(options)
    show.verification(found)
    app.require_match(options, found)


@cli.command()
@click.option(
    "--space",
    default=PROBE_SPACE,
    show_default=True,
    metavar="DID",
    help="The space whose uploads the two counting Queries count.",
)
@connection_options
def check(space: str, connection: Connection) -> None:
    """Before a run: describe both tables and count one space on both paths; do they agree?"""
    from distro import app  # noqa: PLC0415 - AWS and rich load only when run
    from distro import report as show  # noqa: PLC0415

    show.comparison(app.check(CheckOptions(connection, space)))


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and turn every failure into one line and its exit code."""
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
