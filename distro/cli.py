"""The command line: typed options per command, the stages composed, failures mapped to exit codes.

click lives here and nowhere else. Each command turns its options into one
frozen record (``AnalyzeOptions``, ``GenerateOptions``, ...), validated once,
as they are parsed; then it composes the stages (``distro.pipeline``). Every
error a user can cause ends as one line on stderr and one of the exit codes
below, never as a traceback: the lower layers say what went wrong, and this
module adds which flag to change (``FLAG_HINTS``).

The stages, AWS and rich are imported inside the command bodies, so that
``--help`` and every usage error answer at once.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from distro import __version__
from distro.errors import DistroError, SettingsError
from distro.settings import (
    BALANCE_UNITS,
    DEFAULT_ENV,
    DEFAULT_HOURLY_COST,
    DEFAULT_SKIP,
    DEFAULT_TOP,
    INDEX_COST_PER_CALL,
    PROBE_SPACE,
    READER_CHOICES,
    SIZING_INSTANCES,
    UPLOADS_PER_MINUTE,
    CountSettings,
    CustomerFilter,
    ReaderChoice,
    Tables,
    Throughput,
    default_output_dir,
    default_table,
    require_instances,
    resolve_env,
    resolve_tables,
    split_patterns,
)

if TYPE_CHECKING:
    from distro.balance import Plan
    from distro.dynamo.retry import RetryPolicy
    from distro.files import Folder
    from distro.pipeline import Committed
    from distro.progress import Progress
    from distro.replan_run import ReplanOutcome
    from distro.summary import NextSteps
    from distro.tally import Tally

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_TERMINATED = 143  # 128 + SIGTERM

# The advice each kind of failure gets, naming the flags to change (``DistroError.fix``).
FLAG_HINTS = {
    "table_name": "; check --env, the table options and --region",
    "tables": ": check the table options",
    "assignments_table": ": check --assignments-table or $MIGRATION_CUSTOMERS_TABLE_NAME",
    "tracking_table": ": check --env and --assignments-table",
    "throttling": " (if DynamoDB is throttling, lower --concurrency or set --max-read-units)",
    "endpoint": ": check --endpoint-url (or AWS_ENDPOINT_URL) and --region",
    "https": (
        ": if it serves HTTPS, use an https:// --endpoint-url; otherwise check the network "
        "and run the same command again to resume"
    ),
    "network": "; check --endpoint-url, --region and the network",
    "reader": "; use --reader auto or sdk",
    "output_dir": ": pass another --output-dir",
    "locked": ", or pass another --output-dir",
    "checkpoint_space": (
        ": free some space or pass another --output-dir, then run the same command again"
    ),
    "restart": ", or add --restart to discard it",
    "restart_corrupt": ": add --restart to discard it and count again",
    "report_html": ": pass another --report-html",
    "report_html_path": "; pass another --report-html",
    "filters": ": check --filter, --skip and --min-uploads",
}

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


class Terminated(Exception):
    """The process was asked to stop with SIGTERM."""


def connection_options(command: F) -> F:
    """Options that say where the tables are and what they are called."""
    options = [
        click.option("--env", help="staging or production (default: $STORACHA_ENV or staging)."),
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
    ]
    for option in reversed(options):
        command = option(command)
    return command


def table_options(command: F) -> F:
    """Options that say which tables to read and which customers to plan."""
    options = [
        connection_options,
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
            "--concurrency", type=int, default=20, show_default=True, help="Spaces counted at once."
        ),
        click.option(
            "--max-read-units",
            type=float,
            help="Cap the read capacity units consumed per second (e.g. half the table's capacity).",
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
            "[default: uploads per minute x 1.73, the sampled shards per upload].",
        ),
        click.option(
            "--workers-per-instance",
            type=int,
            default=10,
            show_default=True,
            help="Workers per instance, for time estimates.",
        ),
        click.option(
            "--uploads-per-minute",
            type=float,
            default=UPLOADS_PER_MINUTE,
            show_default=True,
            help="Uploads one worker migrates per minute.",
        ),
        click.option(
            "--output-dir",
            type=click.Path(path_type=Path),
            default=default_output_dir(),
            show_default=True,
            help="Where the checkpoint and instance files go.",
        ),
        click.option(
            "--restart",
            is_flag=True,
            help="Discard the counting checkpoint and count from scratch.",
        ),
        click.option("--quiet", "-q", is_flag=True, help="No progress bars."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


READER_OPTION = click.option(
    "--reader",
    type=click.Choice(READER_CHOICES),
    default="auto",
    show_default=True,
    help="How the uploads are counted: the lean Query path with the SDK as a safety net "
    "(auto), or only one of them.",
)


def report_options(command: F) -> F:
    """Options that shape the report: how much it shows, what it assumes, where it goes."""
    options = [
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
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _instances(_: click.Context, __: click.Parameter, value: int | None) -> int | None:
    """``--instances``, checked as it is parsed (the one check of the CLI)."""
    return None if value is None else require_instances(value)


def _patterns(option: str, values: tuple[str, ...]) -> tuple[str, ...]:
    patterns = split_patterns(values)
    if values and not patterns:
        # An empty --filter would silently plan everyone: the opposite of what was asked.
        raise SettingsError(f"{option} needs a pattern, got {', '.join(map(repr, values))}")
    return patterns


def _tables(options: dict[str, Any]) -> Tables:
    return resolve_tables(
        env=options["env"],
        consumer_table=options["consumer_table"],
        upload_table=options["upload_table"],
        region=options["region"],
        endpoint_url=options["endpoint_url"],
    )


@dataclass(frozen=True, slots=True)
class CountOptions:
    """What analyze and generate count, how, and where the checkpoint and files go."""

    settings: CountSettings
    throughput: Throughput
    output_dir: Path
    restart: bool
    quiet: bool
    reader: ReaderChoice
    split_large: bool
    env: str  # names the files and the checkpoint, as the runner's STORACHA_ENV does

    @classmethod
    def parse(cls, options: dict[str, Any]) -> CountOptions:
        """The record of click's *options* (``table_options``, ``--reader``, ``--split-...``)."""
        skip = () if options["no_default_skip"] else DEFAULT_SKIP
        settings = CountSettings(
            tables=_tables(options),
            customer_filter=CustomerFilter(
                skip=skip + _patterns("--skip", options["skip"]),
                include=_patterns("--filter", options["include"]),
            ),
            parallel_segments=options["parallel_segments"],
            concurrency=options["concurrency"],
            min_uploads=options["min_uploads"],
            max_read_units=options["max_read_units"],
            # Balancing by shards needs them counted: asking for it is asking for both.
            count_shards=options["count_shards"] or options["balance_by"] == "shards",
        )
        return cls(
            settings=settings,
            throughput=Throughput(
                options["workers_per_instance"],
                options["uploads_per_minute"],
                unit=options["balance_by"],
                shards_per_minute=options["shards_per_minute"],
            ),
            output_dir=options["output_dir"],
            restart=options["restart"],
            quiet=options["quiet"],
            reader=options["reader"],
            split_large=options["split_large_customers"],
            env=resolve_env(options["env"]),
        )


@dataclass(frozen=True, slots=True)
class ReportOptions:
    """How much the report shows, what it assumes, and where it goes."""

    top: int
    hourly_cost: float
    json_output: bool
    html: Path | None
    index_cost_per_call: float = INDEX_COST_PER_CALL

    @classmethod
    def parse(cls, options: dict[str, Any]) -> ReportOptions:
        """The record of click's *options* (``report_options``); the HTML path checked now."""
        html: Path | None = options["report_html"]
        if html is not None:
            from distro.report import check_html_path  # noqa: PLC0415 - rich, only when used

            check_html_path(html)  # before the count, not after an hour of it
        return cls(
            options["top"],
            options["instance_hourly_cost"],
            options["json_output"],
            html,
            options["index_cost_per_call"],
        )


@dataclass(frozen=True, slots=True)
class AnalyzeOptions:
    """``distro analyze``: count, report, and plan for *instances* if given."""

    count: CountOptions
    report: ReportOptions
    instances: int | None


@dataclass(frozen=True, slots=True)
class GenerateOptions:
    """``distro generate``: count, plan for *instances*, write the files (and the records)."""

    count: CountOptions
    report: ReportOptions
    instances: int
    assume_yes: bool
    assignments_table: str | None  # the tracking table to write, if any


@dataclass(frozen=True, slots=True)
class ReplanOptions:
    """``distro replan``: re-plan the tracking table's customers over *instances*."""

    tables: Tables
    env: str
    tracking_table: str
    instances: int
    output_dir: Path
    throughput: Throughput
    json_output: bool

    @classmethod
    def parse(
        cls, instances: int, assignments_table: str | None, options: dict[str, Any]
    ) -> ReplanOptions:
        """The record of click's *options*; the tracking table is the runner's for the env."""
        env = resolve_env(options["env"])
        return cls(
            tables=_tables(options),
            env=env,
            tracking_table=assignments_table or default_table(env, os.environ),
            instances=instances,
            output_dir=options["output_dir"],
            throughput=Throughput(options["workers_per_instance"], options["uploads_per_minute"]),
            json_output=options["json_output"],
        )


def tracking_table(env: str, *, wanted: bool, override: str | None) -> str | None:
    """The tracking table to write, if any: *override*, else the runner's default for *env*."""
    if override is not None:
        return override
    return default_table(env, os.environ) if wanted else None


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """``distro demo``: the whole job on DynamoDB Local with a synthetic dataset."""

    customers: int
    instances: int
    seed: int
    output_dir: Path
    quiet: bool
    count_shards: bool = False


@dataclass(frozen=True, slots=True)
class CheckOptions:
    """``distro check``: the tables to describe and the space both paths count."""

    tables: Tables
    space: str


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="distro")
def cli() -> None:
    """Plan a parallel migration: count every customer's uploads, split customers across instances."""


SPLIT_OPTION = click.option(
    "--split-large-customers",
    is_flag=True,
    help="Plan each customer above the fair share space by space, across instances.",
)


@cli.command()
@click.option(
    "--instances", type=int, callback=_instances, help="Also show the plan for N instances."
)
@SPLIT_OPTION
@READER_OPTION
@table_options
@report_options
def analyze(instances: int | None, **options: Any) -> None:
    """Count and report; write no instance file."""
    run = AnalyzeOptions(CountOptions.parse(options), ReportOptions.parse(options), instances)
    _plan_and_report(run.count, run.report, instances=run.instances)


@cli.command()
@click.option(
    "--instances",
    type=int,
    required=True,
    callback=_instances,
    help="Number of migration instances.",
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
@SPLIT_OPTION
@READER_OPTION
@table_options
@report_options
def generate(
    instances: int,
    yes: bool,
    write_tracking: bool,
    assignments_table: str | None,
    **options: Any,
) -> None:
    """Count, plan for N instances, and write one file per instance."""
    count = CountOptions.parse(options)
    table = tracking_table(count.env, wanted=write_tracking, override=assignments_table)
    run = GenerateOptions(count, ReportOptions.parse(options), instances, yes, table)
    _confirm_replace(run.count.output_dir, run.count.env, assume_yes=run.assume_yes)
    _plan_and_report(
        run.count,
        run.report,
        instances=run.instances,
        commit=True,
        assignments_table=run.assignments_table,
    )


@cli.command()
@click.option(
    "--customers",
    type=int,
    default=1000,
    show_default=True,
    help="Customers in the synthetic dataset.",
)
@click.option(
    "--instances",
    type=int,
    default=5,
    show_default=True,
    callback=_instances,
    help="Number of instances to plan.",
)
@click.option(
    "--seed", type=int, default=7, show_default=True, help="Seed of the synthetic dataset."
)
@click.option(
    "--output-dir",
    type=click.Path(path_type=Path),
    default=default_output_dir() / "demo",
    show_default=True,
    help="Where the demo's files go.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
@click.option("--count-shards", is_flag=True, help="Also count and check each upload's shards.")
def demo(customers: int, instances: int, seed: int, **options: Any) -> None:
    """Run the whole job on a local DynamoDB seeded with a synthetic dataset."""
    from distro import console  # noqa: PLC0415 - stages, AWS and rich load only when run
    from distro.files import output_lock  # noqa: PLC0415
    from distro.local.demo import DEMO_TRACKING, run_demo  # noqa: PLC0415
    from distro.report import (  # noqa: PLC0415
        render,
        render_outputs,
        render_replan,
        render_replan_outputs,
    )
    from distro.summary import next_steps, summarize, summarize_replan  # noqa: PLC0415

    run = DemoOptions(
        customers, instances, seed, options["output_dir"], options["quiet"], options["count_shards"]
    )
    # Before DynamoDB Local starts and the data loads: a second demo fails at once.
    with output_lock(run.output_dir) as folder:
        done = _run_async(
            run_demo(
                customers=run.customers,
                instances=run.instances,
                seed=run.seed,
                output_dir=folder,
                quiet=run.quiet,
                count_shards=run.count_shards,
            ),
            output_dir=run.output_dir,
        )
    summary = summarize(
        done.tally,
        done.plan,
        throughput=done.throughput,
        files=done.committed.files,
        assignments=done.committed.assignments,
        assignments_table=DEMO_TRACKING,
        left_alone=done.committed.left_alone,
    )
    render(console.stdout, summary)
    render_outputs(console.stderr, summary)
    # The replan rewrote the files last: its steps are the ones to follow.
    steps = next_steps(
        done.replanned.result.plan,
        output_dir=run.output_dir,
        env=DEFAULT_ENV,
        tracking_table=DEMO_TRACKING,
    )
    replanned = summarize_replan(
        done.replanned, env=DEFAULT_ENV, throughput=done.throughput, steps=steps
    )
    render_replan(console.stdout, replanned)
    render_replan_outputs(console.stderr, replanned)


@cli.command()
@click.option(
    "--output-dir",
    type=click.Path(path_type=Path),
    default=default_output_dir(),
    show_default=True,
    help="The folder generate wrote the plan to.",
)
@click.option("--env", help="staging or production (default: $STORACHA_ENV or staging).")
def verify(output_dir: Path, env: str | None) -> None:
    """Check the instance files against distribution-<env>.json, the manifest written with them."""
    from distro import console  # noqa: PLC0415 - rich loads only when run
    from distro.verify import describe_plan, mismatch_line, verify_plan  # noqa: PLC0415

    name = resolve_env(env)
    problems = verify_plan(output_dir, name)
    for problem in problems:
        # Problems quote DIDs read from the files: shown literally, controls escaped.
        console.stdout.print(console.literal(problem), soft_wrap=True)
    if problems:
        raise click.ClickException(mismatch_line(output_dir, problems, name))
    console.stdout.print(
        console.literal(f"OK: {describe_plan(output_dir, name)}", style="green"), soft_wrap=True
    )


@cli.command()
@click.option(
    "--instances",
    type=int,
    required=True,
    callback=_instances,
    help="Number of migration instances.",
)
@click.option(
    "--assignments-table",
    metavar="NAME",
    help="The tracking table (default: $MIGRATION_CUSTOMERS_TABLE_NAME or the runner's for --env).",
)
@connection_options
@click.option(
    "--output-dir",
    type=click.Path(path_type=Path),
    default=default_output_dir(),
    show_default=True,
    help="Where the instance files go.",
)
@click.option(
    "--workers-per-instance",
    type=int,
    default=10,
    show_default=True,
    help="Workers per instance, for time estimates.",
)
@click.option(
    "--uploads-per-minute",
    type=float,
    default=UPLOADS_PER_MINUTE,
    show_default=True,
    help="Uploads one worker migrates per minute.",
)
@click.option("--json", "json_output", is_flag=True, help="Print the report as JSON on stdout.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
def replan(instances: int, assignments_table: str | None, **options: Any) -> None:
    """Mid-migration: keep started customers where they are, balance the rest over N instances."""
    from distro import console  # noqa: PLC0415 - stages, AWS and rich load only when run
    from distro.dynamo.retry import RetryPolicy  # noqa: PLC0415
    from distro.files import output_lock  # noqa: PLC0415
    from distro.report import render_replan, render_replan_outputs  # noqa: PLC0415
    from distro.summary import next_steps, replan_json, summarize_replan  # noqa: PLC0415

    run = ReplanOptions.parse(instances, assignments_table, options)
    policy = RetryPolicy.from_environ(os.environ)  # a usage error: before the folder is locked
    with output_lock(run.output_dir) as folder:
        outcome = _run_async(_replan(run, folder, policy), output_dir=run.output_dir, env=run.env)
    steps = (
        next_steps(
            outcome.result.plan,
            output_dir=run.output_dir,
            env=run.env,
            tracking_table=run.tracking_table,
        )
        if outcome.files
        else None
    )
    summary = summarize_replan(outcome, env=run.env, throughput=run.throughput, steps=steps)
    if run.json_output:
        console.write_json(replan_json(summary))
    else:
        render_replan(console.stdout, summary)
    render_replan_outputs(console.stderr, summary)  # the session, apart from the report


async def _replan(run: ReplanOptions, folder: Folder, policy: RetryPolicy) -> ReplanOutcome:
    from distro.replan_run import run_replan  # noqa: PLC0415

    return await run_replan(
        tables=run.tables,
        table=run.tracking_table,
        instances=run.instances,
        output_dir=folder,
        env=run.env,
        throughput=run.throughput,
        policy=policy,
    )


@cli.command()
@click.option(
    "--space",
    default=PROBE_SPACE,
    show_default=True,
    metavar="DID",
    help="The space whose uploads the two counting Queries count.",
)
@connection_options
def check(space: str, **options: Any) -> None:
    """Before a run: describe both tables and count one space on both paths; do they agree?"""
    from distro import console  # noqa: PLC0415 - stages, AWS and rich load only when run
    from distro.dynamo.retry import RetryPolicy  # noqa: PLC0415

    run = CheckOptions(_tables(options), space)
    policy = RetryPolicy.from_environ(os.environ)
    comparison = _run_async(_compare(run, policy), output_dir=Path(os.devnull))
    if not comparison.agree:
        raise click.ClickException(_with_reader_advice(comparison.describe(), comparison.advice))
    console.stdout.print(
        console.literal(f"OK: {comparison.describe()}", style="green"), soft_wrap=True
    )


def _with_reader_advice(line: str, advice: str | None) -> str:
    # The comparison says which reader to use; the flag that picks it is the CLI's word.
    return line if advice is None else f"{line}; run analyze and generate with --reader {advice}"


async def _compare(run: CheckOptions, policy: RetryPolicy) -> Any:
    from distro.check import compare_paths  # noqa: PLC0415
    from distro.dynamo.handle import Dynamo  # noqa: PLC0415

    async with Dynamo.open(run.tables, pool_size=2, policy=policy) as db:
        return await compare_paths(db, space=run.space)


def _plan_and_report(
    count: CountOptions,
    report: ReportOptions,
    *,
    instances: int | None,
    commit: bool = False,
    assignments_table: str | None = None,
) -> None:
    """Count, plan for *instances* (if given), *commit* the plan if asked, then report."""
    from distro import console  # noqa: PLC0415 - stages, AWS and rich load only when run
    from distro.dynamo.retry import RetryPolicy  # noqa: PLC0415
    from distro.files import output_lock  # noqa: PLC0415
    from distro.progress import Progress  # noqa: PLC0415
    from distro.report import render, render_outputs, save_html  # noqa: PLC0415
    from distro.summary import summarize, to_json  # noqa: PLC0415

    policy = RetryPolicy.from_environ(
        os.environ
    )  # a usage error: found before the folder is locked
    progress = Progress()
    # Held from before the checkpoint is opened until the files are committed and the
    # checkpoint removed. generate asks its question before taking it: a question left
    # unanswered must not lock the folder, and it only looks at which files are there.
    with (
        output_lock(count.output_dir) as folder,
        console.show_progress(progress, enabled=not count.quiet),
    ):
        tally, planned, committed = _run_async(
            _count_plan_commit(
                count,
                folder,
                progress,
                policy,
                instances=instances,
                commit=commit,
                assignments_table=assignments_table,
            ),
            output_dir=count.output_dir,
            env=count.env,
        )
    summary = summarize(
        tally,
        planned,
        throughput=count.throughput,
        files=committed.files,
        assignments=committed.assignments,
        left_alone=committed.left_alone,
        space_lists=committed.space_lists,
        hourly_cost=report.hourly_cost,
        top=report.top,
        assignments_table=assignments_table,
        report_html=report.html,
        index_cost_per_call=report.index_cost_per_call,
        steps=_deploy_steps(count, planned, committed.files, assignments_table),
        would_generate=None if commit else _generate_command(count, instances),
    )
    if report.html is not None:
        save_html(summary, report.html)
    if report.json_output:
        console.write_json(to_json(summary))
    else:
        render(console.stdout, summary)
    # stdout carries the report alone (and so does the HTML); what was written goes to stderr.
    render_outputs(console.stderr, summary)


def _deploy_steps(
    count: CountOptions, plan: Plan | None, files: Sequence[Path], table: str | None
) -> NextSteps | None:
    """How to deploy *plan*, if the run wrote its *files*; *table* is the tracking table."""
    from distro.summary import next_steps  # noqa: PLC0415

    if plan is None or not files:
        return None
    return next_steps(plan, output_dir=count.output_dir, env=count.env, tracking_table=table)


# What analyze takes that shapes only its own report or run, not the plan a generate would write;
# --instances, --env and --output-dir are always spelled out.
NOT_CARRIED = frozenset(
    {
        "instances",
        "env",
        "output_dir",
        "json_output",
        "report_html",
        "top",
        "instance_hourly_cost",
        "quiet",
        "restart",
    }
)


def _generate_command(count: CountOptions, instances: int | None) -> str:
    """The generate command that would write the plan analyze showed: every option typed for it.

    The tables, filters, skip list and counting choices decide which customers
    the plan holds, so each one given on analyze's command line is carried over.
    """
    from distro.summary import generate_command  # noqa: PLC0415

    return generate_command(
        instances=instances,
        env=count.env,
        output_dir=count.output_dir,
        carried=_typed_options(click.get_current_context(), leaving_out=NOT_CARRIED),
    )


def _typed_options(context: click.Context, *, leaving_out: frozenset[str]) -> list[str]:
    """The options given on *context*'s command line, as words another command can repeat."""
    import shlex  # noqa: PLC0415

    words: list[str] = []
    for param in context.command.params:
        name = param.name
        if not isinstance(param, click.Option) or name is None or name in leaving_out:
            continue
        if context.get_parameter_source(name) is not click.core.ParameterSource.COMMANDLINE:
            continue
        flag = max(param.opts, key=len)  # the long spelling
        value = context.params[name]
        if param.is_flag:
            words += [flag] if value else []
            continue
        for item in value if param.multiple else (value,):
            words += [flag, shlex.quote(str(item))]
    return words


async def _count_plan_commit(
    count: CountOptions,
    folder: Folder,
    progress: Progress,
    policy: RetryPolicy,
    *,
    instances: int | None,
    commit: bool,
    assignments_table: str | None,
) -> tuple[Tally, Plan | None, Committed]:
    """The three stages in turn: count, plan for *instances* (if given), *commit* the plan."""
    from distro.balance import plan  # noqa: PLC0415
    from distro.pipeline import (  # noqa: PLC0415
        Committed,
        checkpoint_until_committed,
        commit_plan,
        count_tables,
    )

    # The folder was checked when it was locked: the checkpoint and the commit do not probe it.
    with checkpoint_until_committed(
        folder, count.settings, restart=count.restart, env=count.env
    ) as checkpoint:
        tally = await count_tables(
            count.settings,
            checkpoint,
            progress,
            policy=policy,
            reader=count.reader,
            on_notice=_notice,
            # Without --instances the report sizes up to max(SIZING_INSTANCES) instances.
            split_for=(instances or max(SIZING_INSTANCES)) if count.split_large else None,
            assignments_table=assignments_table,
        )
        planned = (
            plan(tally, instances, split_large=count.split_large, by=count.throughput.unit)
            if instances
            else None
        )
        committed = Committed(())
        if commit and planned is not None:
            committed = await commit_plan(
                planned,
                folder,
                settings=count.settings,
                throughput=count.throughput,
                policy=policy,
                assignments_table=assignments_table,
                env=count.env,
            )
    return tally, planned, committed


def _notice(line: str) -> None:
    from distro import console  # noqa: PLC0415

    # Literal, not markup: the line quotes DynamoDB's error code.
    console.stderr.print(console.note_line(line), soft_wrap=True)


def _confirm_replace(output_dir: Path, env: str, *, assume_yes: bool) -> None:
    """Ask before replacing an *env* plan, but only a person at a terminal can be asked."""
    if assume_yes or not sys.stdin.isatty():
        return
    from distro.emit import instance_files_in  # noqa: PLC0415

    existing = instance_files_in(output_dir, env)
    if existing and not click.confirm(
        f"Replace the {len(existing)} instance files in {output_dir}/?", default=True, err=True
    ):
        raise click.Abort


def _run_async(coroutine: Coroutine[Any, Any, T], *, output_dir: Path, env: str = DEFAULT_ENV) -> T:
    """Run *coroutine*; SIGINT and SIGTERM cancel it, which saves the *env* checkpoint."""
    import asyncio  # noqa: PLC0415 - a tenth of --help's time, needed only here
    import signal  # noqa: PLC0415

    async def main() -> T:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        terminated = False

        def on_sigterm() -> None:
            nonlocal terminated
            terminated = True
            task.cancel()

        loop.add_signal_handler(signal.SIGTERM, on_sigterm)
        try:
            return await coroutine
        except asyncio.CancelledError:
            if terminated:
                raise Terminated from None
            raise

    try:
        return asyncio.run(main())
    except (KeyboardInterrupt, Terminated) as stop:
        from distro import console  # noqa: PLC0415
        from distro.checkpoint import path_in  # noqa: PLC0415

        code = EXIT_TERMINATED if isinstance(stop, Terminated) else EXIT_INTERRUPTED
        checkpoint = path_in(output_dir, env)
        saved = f"progress is saved in {checkpoint}; " if checkpoint.exists() else ""
        console.stderr.print(
            console.literal(f"Interrupted: {saved}run the same command again to resume."),
            soft_wrap=True,
        )
        sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and turn every failure into one line and an exit code."""
    try:
        cli.main(args=argv, prog_name="distro", standalone_mode=False)
    except click.exceptions.Abort:
        from distro import console  # noqa: PLC0415

        console.stderr.print("Aborted.")
        sys.exit(EXIT_INTERRUPTED)
    except click.UsageError as error:
        hint = f" (see '{error.ctx.command_path} --help')" if error.ctx else ""
        _fail(f"{error.format_message()}{hint}", EXIT_USAGE)
    except click.ClickException as error:
        _fail(error.format_message(), EXIT_FAILURE)
    except DistroError as error:
        _fail(with_flags(error), EXIT_USAGE if isinstance(error, SettingsError) else EXIT_FAILURE)


def with_flags(error: DistroError) -> str:
    """*error*'s line as a user of the command line reads it: its setting as a flag, its advice.

    A message that starts with its setting (``concurrency must be ...``) starts
    with the flag instead; the advice for its *fix* names the flags to change.
    """
    message = str(error)
    setting = error.setting
    if setting is not None and message.startswith(setting):
        message = "--" + setting.replace("_", "-") + message[len(setting) :]
    return message + FLAG_HINTS.get(error.fix or "", "")


def _fail(message: str, code: int) -> None:
    from distro import console  # noqa: PLC0415

    # Literal, not markup: messages quote user input, DIDs and DynamoDB replies, brackets,
    # newlines and escape sequences and all; escaped, they also stay on one line.
    console.stderr.print(console.error_line(message), soft_wrap=True)
    sys.exit(code)
