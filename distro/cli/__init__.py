"""The command line: typed parameters → an options record → one application call → render.

click lives in this package and nowhere else. Option groups (``distro.cli.groups``)
are declared once, as decorators that build their frozen record
(``distro.options``) straight from the typed parameters, so a command body
calls ``distro.app`` and renders what it returns.
Every failure a user can cause ends as one line on stderr and the exit code its
class carries (``DistroError.exit_code``), never a traceback. ``distro.app``
(AWS) and ``distro.render`` (rich) are imported inside the command bodies, so
that ``--help`` and every usage error answer at once.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from distro import __version__
from distro.clash import clash_line, other_distro
from distro.cli.groups import (
    ENV,
    PLAN_FOLDER,
    QUIET,
    connection_options,
    count_options,
    instances,
    opt,
    output_dir,
    replan_options,
    report_options,
    status_options,
    switch,
)
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
    PROBE_SPACE,
    resolve_env,
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
@switch("--yes", "Replace existing instance files without asking.", "-y")
@switch("--write-tracking", "Also put a pending record per customer into the runner's table.")
@opt("--assignments-table", str, None, "That table (default: the runner's).", metavar="NAME")
@switch("--force", "Write the records even when the runner has started customers there.")
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

    options = GenerateOptions.of(
        count,
        report,
        instances=instances,
        write_tracking=write_tracking,
        assignments_table=assignments_table,
        force=force,
        environ=os.environ,
    )
    _confirm_replace(count.folder, assume_yes=yes)
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
@connection_options
@replan_options
def replan(options: ReplanOptions) -> None:
    """Mid-migration: keep started customers where they are, balance the rest over N instances."""
    from distro import app, render as show  # noqa: PLC0415 - AWS and rich load only when run

    show.replan(app.replan(options), json_output=options.json_output)


@cli.command()
@connection_options
@status_options
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
@opt("--customers", int, 1000, "Customers in the synthetic dataset.")
@instances("Number of instances to plan.", default=5, show_default=True)
@opt("--seed", int, 7, "Seed of the synthetic dataset.")
@output_dir(PLAN_FOLDER / "demo")
@QUIET
@switch("--count-shards", "Also count and check each upload's shards.")
@switch("--keep", "Then keep DynamoDB Local running, seeded, for commands of your own.")
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
@opt("--space", str, PROBE_SPACE, "The space both counting Queries count.", metavar="DID")
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
