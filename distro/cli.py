"""The command line: parse options, call the pipeline, map failures to exit codes.

click lives here and nowhere else. Every error a user can cause ends as one
line on stderr and one of the exit codes below, never as a traceback.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click

from distro import __version__, console
from distro.balance import Plan, plan
from distro.check import PROBE_SPACE, Comparison, compare_paths
from distro.checkpoint import CHECKPOINT_NAME
from distro.dynamo.handle import Dynamo
from distro.dynamo.retry import RetryPolicy
from distro.emit import INSTANCE_FILE, MANIFEST_NAME
from distro.errors import DistroError, OutputLocked, SettingsError
from distro.files import output_lock
from distro.local.demo import run_demo
from distro.pipeline import Committed, checkpoint_until_committed, commit_plan, count_tables
from distro.progress import Progress
from distro.report import check_html_path, render, render_outputs, save_html
from distro.settings import (
    DEFAULT_SKIP,
    READER_CHOICES,
    UPLOADS_PER_MINUTE,
    CountSettings,
    CustomerFilter,
    ReaderChoice,
    Tables,
    Throughput,
    default_output_dir,
    require_instances,
    resolve_tables,
    split_patterns,
)
from distro.summary import (
    DEFAULT_HOURLY_COST,
    DEFAULT_TOP,
    SIZING_INSTANCES,
    summarize,
    to_json,
)
from distro.tally import Tally
from distro.verify import describe_plan, verify_plan

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_TERMINATED = 143  # 128 + SIGTERM

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


def _count_settings(options: dict[str, Any]) -> CountSettings:
    skip = () if options["no_default_skip"] else DEFAULT_SKIP
    return CountSettings(
        tables=_tables(options),
        customer_filter=CustomerFilter(
            skip=skip + _patterns("--skip", options["skip"]),
            include=_patterns("--filter", options["include"]),
        ),
        parallel_segments=options["parallel_segments"],
        concurrency=options["concurrency"],
        min_uploads=options["min_uploads"],
        max_read_units=options["max_read_units"],
    )


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
@click.option("--instances", type=int, help="Also show the plan for N instances.")
@SPLIT_OPTION
@READER_OPTION
@table_options
@report_options
def analyze(instances: int | None, **options: Any) -> None:
    """Count and report; write no instance file."""
    _plan_and_report(instances=instances, write=False, options=options)


@cli.command()
@click.option("--instances", type=int, required=True, help="Number of migration instances.")
@click.option("--yes", "-y", is_flag=True, help="Replace existing instance files without asking.")
@click.option(
    "--assignments-table",
    metavar="NAME",
    help="Also put a pending record per customer into this DynamoDB table (key: customer), "
    "replacing the records of the same customers.",
)
@SPLIT_OPTION
@READER_OPTION
@table_options
@report_options
def generate(instances: int, yes: bool, assignments_table: str | None, **options: Any) -> None:
    """Count, plan for N instances, and write one file per instance."""
    require_instances(instances)
    _confirm_replace(options["output_dir"], assume_yes=yes)
    _plan_and_report(
        instances=instances, write=True, options=options, assignments_table=assignments_table
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
    "--instances", type=int, default=5, show_default=True, help="Number of instances to plan."
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
def demo(customers: int, instances: int, seed: int, output_dir: Path, quiet: bool) -> None:
    """Run the whole job on a local DynamoDB seeded with a synthetic dataset."""
    require_instances(instances)
    # Before DynamoDB Local starts and the data loads: a second demo fails at once.
    with output_lock(output_dir):
        run = _run_async(
            run_demo(
                customers=customers,
                instances=instances,
                seed=seed,
                output_dir=output_dir,
                quiet=quiet,
            ),
            output_dir=output_dir,
        )
    summary = summarize(run.tally, run.plan, throughput=run.throughput, files=run.committed.files)
    render(console.stdout, summary)


@cli.command()
@click.option(
    "--output-dir",
    type=click.Path(path_type=Path),
    default=default_output_dir(),
    show_default=True,
    help="The folder generate wrote the plan to.",
)
def verify(output_dir: Path) -> None:
    """Check the instance files against distribution.json, the manifest written with them."""
    problems = verify_plan(output_dir)
    for problem in problems:
        # Problems quote DIDs read from the files: shown literally, controls escaped.
        console.stdout.print(console.literal(problem), soft_wrap=True)
    if problems:
        raise click.ClickException(
            f"{len(problems)} problem(s): the files in {output_dir}/ do not match {MANIFEST_NAME}"
        )
    console.stdout.print(
        console.literal(f"OK: {describe_plan(output_dir)}", style="green"), soft_wrap=True
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
    tables = _tables(options)
    comparison = _run_async(
        _compare(tables, space, RetryPolicy.from_environ(os.environ)),
        output_dir=Path(os.devnull),
    )
    if not comparison.agree:
        raise click.ClickException(comparison.describe())
    console.stdout.print(
        console.literal(f"OK: {comparison.describe()}", style="green"), soft_wrap=True
    )


async def _compare(tables: Tables, space: str, policy: RetryPolicy) -> Comparison:
    async with Dynamo.open(tables, pool_size=2, policy=policy) as db:
        return await compare_paths(db, space=space)


def _plan_and_report(
    *,
    instances: int | None,
    write: bool,
    options: dict[str, Any],
    assignments_table: str | None = None,
) -> None:
    settings = _count_settings(options)
    throughput = Throughput(options["workers_per_instance"], options["uploads_per_minute"])
    if instances is not None:
        require_instances(instances)
    html: Path | None = options["report_html"]
    if html is not None:
        check_html_path(html)  # before the count, not after an hour of it
    policy = RetryPolicy.from_environ(
        os.environ
    )  # a usage error: found before the folder is locked
    split_large: bool = options["split_large_customers"]
    output_dir: Path = options["output_dir"]
    progress = Progress()
    # Held from before the checkpoint is opened until the files are committed and the
    # checkpoint removed. generate asks its question before taking it: a question left
    # unanswered must not lock the folder, and it only looks at which files are there.
    with (
        output_lock(output_dir),
        console.show_progress(progress, enabled=not options["quiet"]),
    ):
        tally, planned, committed = _run_async(
            _count_plan_commit(
                settings,
                progress,
                instances=instances,
                write=write,
                restart=options["restart"],
                output_dir=output_dir,
                policy=policy,
                throughput=throughput,
                assignments_table=assignments_table if write else None,
                split_large=split_large,
                reader=options["reader"],
            ),
            output_dir=output_dir,
        )
    summary = summarize(
        tally,
        planned,
        throughput=throughput,
        files=committed.files,
        assignments=committed.assignments,
        hourly_cost=options["instance_hourly_cost"],
        top=options["top"],
        assignments_table=assignments_table,
        report_html=html,
    )
    if html is not None:
        save_html(summary, html)
    if options["json_output"]:
        # stdout carries the document alone; what was written is said on stderr.
        console.write_json(to_json(summary))
        render_outputs(console.stderr, summary)
    else:
        render(console.stdout, summary)


async def _count_plan_commit(
    settings: CountSettings,
    progress: Progress,
    *,
    instances: int | None,
    write: bool,
    restart: bool,
    output_dir: Path,
    policy: RetryPolicy,
    throughput: Throughput,
    assignments_table: str | None,
    split_large: bool,
    reader: ReaderChoice,
) -> tuple[Tally, Plan | None, Committed]:
    """Count, plan for *instances* (if given), and commit the plan when *write*."""
    with checkpoint_until_committed(output_dir, settings, restart=restart) as checkpoint:
        tally = await count_tables(
            settings,
            checkpoint,
            progress,
            policy=policy,
            reader=reader,
            on_notice=_notice,
            # Without --instances the report sizes up to max(SIZING_INSTANCES) instances.
            split_for=(instances or max(SIZING_INSTANCES)) if split_large else None,
            assignments_table=assignments_table,
        )
        planned = plan(tally, instances, split_large=split_large) if instances else None
        committed = Committed(())
        if write:
            if planned is None:
                raise AssertionError("generate requires --instances")
            committed = await commit_plan(
                planned,
                output_dir,
                settings=settings,
                throughput=throughput,
                policy=policy,
                assignments_table=assignments_table,
            )
    return tally, planned, committed


def _notice(line: str) -> None:
    # Literal, not markup: the line quotes DynamoDB's error code.
    console.stderr.print(console.note_line(line), soft_wrap=True)


def _confirm_replace(output_dir: Path, *, assume_yes: bool) -> None:
    """Ask before replacing a plan, but only a person at a terminal can be asked."""
    if assume_yes or not sys.stdin.isatty() or not output_dir.is_dir():
        return
    existing = [p for p in output_dir.iterdir() if INSTANCE_FILE.fullmatch(p.name)]
    if existing and not click.confirm(
        f"Replace the {len(existing)} instance files in {output_dir}/?", default=True, err=True
    ):
        raise click.Abort


def _run_async(coroutine: Coroutine[Any, Any, T], *, output_dir: Path) -> T:
    """Run *coroutine*; SIGINT and SIGTERM cancel it, which saves the checkpoint."""

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
        code = EXIT_TERMINATED if isinstance(stop, Terminated) else EXIT_INTERRUPTED
        checkpoint = output_dir / CHECKPOINT_NAME
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
        console.stderr.print("Aborted.")
        sys.exit(EXIT_INTERRUPTED)
    except click.UsageError as error:
        hint = f" (see '{error.ctx.command_path} --help')" if error.ctx else ""
        _fail(f"{error.format_message()}{hint}", EXIT_USAGE)
    except click.ClickException as error:
        _fail(error.format_message(), EXIT_FAILURE)
    except SettingsError as error:
        _fail(str(error), EXIT_USAGE)
    except OutputLocked as error:
        _fail(f"{error}, or pass another --output-dir", EXIT_FAILURE)
    except DistroError as error:
        _fail(str(error), EXIT_FAILURE)


def _fail(message: str, code: int) -> None:
    # Literal, not markup: messages quote user input, DIDs and DynamoDB replies, brackets,
    # newlines and escape sequences and all; escaped, they also stay on one line.
    console.stderr.print(console.error_line(message), soft_wrap=True)
    sys.exit(code)
