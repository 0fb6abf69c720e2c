"""What each command was asked to do, as frozen records built once by the command line.

The CLI's shared option decorators build these records directly from the
typed parameters; the application layer (``distro.app``) takes nothing else.
A record also spells itself back as shell words (``words``), so the commands
distro prints for the next step (the ``generate`` after an ``analyze``, the
``replan`` and ``verify`` after a plan) repeat every option that shaped the
run, and run as printed.

Light on purpose: ``--help`` and usage errors import this module and nothing
that talks to AWS or draws on a terminal.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

from distro.errors import Fix, SettingsError
from distro.files import PlanFolder, check_file_path, check_html_path
from distro.settings import (
    DEFAULT_HOURLY_COST,
    DEFAULT_POLICY,
    DEFAULT_SKIP,
    DEFAULT_TOP,
    INDEX_COST_PER_CALL,
    PROBE_SPACE,
    BalanceUnit,
    CountSettings,
    Credentials,
    CustomerFilter,
    ReaderChoice,
    RetryPolicy,
    Tables,
    Throughput,
    default_progress_table,
    default_table,
    resolve_env,
    resolve_tables,
    split_patterns,
)

DEFAULT_COUNT = CountSettings(Tables("", "", ""))
DEFAULT_THROUGHPUT = Throughput()


def _words(flag: str, value: object) -> list[str]:
    return [flag, shlex.quote(str(value))]


def _workers(workers: int | None, runners: int | None) -> int:
    """Workers per instance file: as given; else one (a runner) with --runners-per-host,
    else the guide's default."""
    if workers is not None:
        return workers
    return 1 if runners is not None else DEFAULT_THROUGHPUT.workers_per_instance


def _patterns(option: str, values: tuple[str, ...]) -> tuple[str, ...]:
    patterns = split_patterns(values)
    if values and not patterns:
        # An empty --filter would silently plan everyone: the opposite of what was asked.
        raise SettingsError(f"{option} needs a pattern, got {', '.join(map(repr, values))}")
    return patterns


@dataclass(frozen=True, slots=True)
class Connection:
    """Where the tables are and how to call them, resolved once from options and environment.

    *given* are the table and endpoint options typed (flag, value), which the
    commands distro prints repeat; *policy* is the retry policy of every call;
    *credentials* replace the SDK's lookup (DynamoDB Local's dummy keys).
    """

    env: str
    tables: Tables
    given: tuple[tuple[str, str], ...] = ()
    policy: RetryPolicy = DEFAULT_POLICY
    credentials: Credentials | None = None

    @classmethod
    def resolve(
        cls,
        *,
        env: str | None,
        consumer_table: str | None,
        upload_table: str | None,
        region: str | None,
        endpoint_url: str | None,
        environ: Mapping[str, str],
    ) -> Connection:
        """The connection the options ask for: each one given, else *environ*, else the default."""
        name = resolve_env(env, environ)
        typed = {
            "--consumer-table": consumer_table,
            "--upload-table": upload_table,
            "--region": region,
            "--endpoint-url": endpoint_url,
        }
        tables = resolve_tables(
            env=name,
            consumer_table=consumer_table,
            upload_table=upload_table,
            region=region,
            endpoint_url=endpoint_url,
            environ=environ,
        )
        return cls(
            env=name,
            tables=tables,
            given=tuple((flag, value) for flag, value in typed.items() if value is not None),
            policy=RetryPolicy.from_environ(environ),
        )

    @classmethod
    def explicit(
        cls, env: str, tables: Tables, *, credentials: Credentials | None = None
    ) -> Connection:
        """A connection to exactly *tables*, every name and the endpoint spelt in its commands."""
        given = [("--consumer-table", tables.consumer), ("--upload-table", tables.upload)]
        given.append(("--region", tables.region))
        if tables.endpoint_url is not None:
            given.append(("--endpoint-url", tables.endpoint_url))
        return cls(env, tables, tuple(given), credentials=credentials)

    def words(self) -> list[str]:
        """The table and endpoint options as shell words (``--env`` apart)."""
        return [word for flag, value in self.given for word in _words(flag, value)]


@dataclass(frozen=True, slots=True)
class CountOptions:
    """What analyze and generate count, how, and where the checkpoint and files go."""

    connection: Connection
    settings: CountSettings
    throughput: Throughput
    folder: PlanFolder
    restart: bool = False
    quiet: bool = False
    reader: ReaderChoice = "auto"
    split_large: bool = False

    @classmethod
    def of(
        cls,
        connection: Connection,
        *,
        include: tuple[str, ...] = (),
        skip: tuple[str, ...] = (),
        no_default_skip: bool = False,
        parallel_segments: int = DEFAULT_COUNT.parallel_segments,
        concurrency: int = DEFAULT_COUNT.concurrency,
        max_read_units: float | None = None,
        min_uploads: int = 0,
        count_shards: bool = False,
        balance_by: BalanceUnit = "uploads",
        shards_per_minute: float | None = None,
        workers_per_instance: int | None = None,
        uploads_per_minute: float = DEFAULT_THROUGHPUT.uploads_per_minute,
        runners_per_host: int | None = None,
        output_dir: Path,
        restart: bool = False,
        quiet: bool = False,
        reader: ReaderChoice = "auto",
        split_large_customers: bool = False,
    ) -> CountOptions:
        """The record of the counting options, each checked: *include* and *skip* are the
        patterns as typed (repeated or comma-separated)."""
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
            _workers(workers_per_instance, runners_per_host),
            uploads_per_minute,
            unit=balance_by,
            shards_per_minute=shards_per_minute,
            runners_per_host=runners_per_host,
        )
        folder = PlanFolder(output_dir, connection.env)
        return cls(
            connection, settings, throughput, folder, restart, quiet, reader, split_large_customers
        )

    def plan_words(self) -> list[str]:
        """The options that decide which plan is made, as shell words, defaults left out.

        The tables, filters, skip list and counting choices decide which
        customers a plan holds; the rates decide its estimates.
        """
        words = ["--split-large-customers"] if self.split_large else []
        if self.reader != "auto":
            words += _words("--reader", self.reader)
        words += self.connection.words()
        return words + self._filter_words() + self._counting_words() + self._rate_words()

    def _filter_words(self) -> list[str]:
        customer_filter = self.settings.customer_filter
        words = [w for p in customer_filter.include for w in _words("--filter", p)]
        skip = customer_filter.skip
        if skip[: len(DEFAULT_SKIP)] == DEFAULT_SKIP:
            skip = skip[len(DEFAULT_SKIP) :]
        else:
            words.append("--no-default-skip")
        return words + [w for p in skip for w in _words("--skip", p)]

    def _counting_words(self) -> list[str]:
        settings, words = self.settings, []
        for flag, value, default in (
            ("--parallel-segments", settings.parallel_segments, DEFAULT_COUNT.parallel_segments),
            ("--concurrency", settings.concurrency, DEFAULT_COUNT.concurrency),
            ("--max-read-units", settings.max_read_units, DEFAULT_COUNT.max_read_units),
            ("--min-uploads", settings.min_uploads, DEFAULT_COUNT.min_uploads),
        ):
            if value != default:
                words += _words(flag, f"{value:g}" if isinstance(value, float) else value)
        if settings.count_shards and self.throughput.unit != "shards":
            words.append("--count-shards")
        return words

    def _rate_words(self) -> list[str]:
        throughput, words = self.throughput, []
        if throughput.unit != DEFAULT_THROUGHPUT.unit:
            words += _words("--balance-by", throughput.unit)
        for flag, value, default in (
            ("--shards-per-minute", throughput.shards_per_minute, None),
            ("--runners-per-host", throughput.runners_per_host, None),
            (
                "--workers-per-instance",
                throughput.workers_per_instance,
                1 if throughput.runners_per_host else DEFAULT_THROUGHPUT.workers_per_instance,
            ),
            (
                "--uploads-per-minute",
                throughput.uploads_per_minute,
                DEFAULT_THROUGHPUT.uploads_per_minute,
            ),
        ):
            if value != default:
                words += _words(flag, f"{value:g}")
        return words


@dataclass(frozen=True, slots=True)
class ReportOptions:
    """How much the report shows, what it assumes, and where it goes."""

    top: int = DEFAULT_TOP
    hourly_cost: float = DEFAULT_HOURLY_COST
    index_cost_per_call: float = INDEX_COST_PER_CALL
    json_output: bool = False
    html: Path | None = None

    @classmethod
    def of(
        cls,
        *,
        top: int = DEFAULT_TOP,
        instance_hourly_cost: float = DEFAULT_HOURLY_COST,
        index_cost_per_call: float = INDEX_COST_PER_CALL,
        json_output: bool = False,
        report_html: Path | None = None,
    ) -> ReportOptions:
        """The record of the report options; the HTML page's folder is checked now, before
        an hour of counting rather than after it."""
        if report_html is not None:
            check_html_path(report_html)
        return cls(top, instance_hourly_cost, index_cost_per_call, json_output, report_html)


@dataclass(frozen=True, slots=True)
class AnalyzeOptions:
    """``distro analyze``: count, report, and plan for *instances* if given."""

    count: CountOptions
    report: ReportOptions = field(default_factory=ReportOptions)
    instances: int | None = None


@dataclass(frozen=True, slots=True)
class GenerateOptions:
    """``distro generate``: count, plan for *instances*, write the files (and the records)."""

    count: CountOptions
    instances: int
    report: ReportOptions = field(default_factory=ReportOptions)
    tracking_table: str | None = None  # the runner's table to put pending records into, if any
    force: bool = False  # put them even where the runner has started customers

    @classmethod
    def of(
        cls,
        count: CountOptions,
        report: ReportOptions,
        *,
        instances: int,
        write_tracking: bool = False,
        assignments_table: str | None = None,
        force: bool = False,
        environ: Mapping[str, str],
    ) -> GenerateOptions:
        """The record of generate's options: the tracking table is *assignments_table*, else
        the runner's for the environment when *write_tracking* asks for records, else none."""
        wanted = write_tracking or assignments_table is not None
        table = assignments_table or (default_table(count.folder.env, environ) if wanted else None)
        return cls(count, instances, report, table, force)


@dataclass(frozen=True, slots=True)
class ReplanOptions:
    """``distro replan``: re-plan the tracking table's customers over *instances*."""

    connection: Connection
    folder: PlanFolder
    tracking_table: str
    instances: int
    progress_table: str  # the runner's progress table (``of``: its default for the environment)
    throughput: Throughput = DEFAULT_THROUGHPUT
    json_output: bool = False
    speeds: str | None = None  # "measured" or "equal"; None: measured when all can be
    new_instance_rate: float | None = None  # uploads a minute; None: the median measured
    drop: tuple[int, ...] = ()  # instances to take no work, their silent customers moved
    stall_after: timedelta = timedelta(minutes=30)
    now: datetime | None = None  # the moment of the replan (default: the clock's)
    workers_given: bool = False  # --workers-per-instance was typed: the plan's runners do not apply

    @classmethod
    def of(
        cls,
        connection: Connection,
        *,
        instances: int,
        output_dir: Path,
        assignments_table: str | None = None,
        progress_table: str | None = None,
        workers_per_instance: int | None = None,
        uploads_per_minute: float = DEFAULT_THROUGHPUT.uploads_per_minute,
        runners_per_host: int | None = None,
        speeds: str | None = None,
        new_instance_rate: float | None = None,
        drop_instance: tuple[int, ...] = (),
        stall_after: int = 30,
        json_output: bool = False,
        environ: Mapping[str, str],
    ) -> ReplanOptions:
        """The record of replan's options (*stall_after* in minutes); the tables default to
        the runner's. A dropped instance must be one of the *instances* or above them.
        *instances* counts machines: with *runners_per_host* W the plan has W files on each."""
        env = connection.env
        files = instances * (runners_per_host or 1)
        twice = sorted({n for n in drop_instance if drop_instance.count(n) > 1})
        if twice:
            raise SettingsError(
                f"--drop-instance {twice[0]} is given twice: name each instance once",
                setting="drop_instance",
            )
        bad = sorted(n for n in drop_instance if n < 1)
        if bad:
            raise SettingsError(
                f"--drop-instance {bad[0]} is not an instance number (1 or more)",
                setting="drop_instance",
            )
        if len(set(drop_instance)) >= files and all(n <= files for n in drop_instance):
            raise SettingsError(
                f"--drop-instance drops all {files} instances: keep at least one, or add "
                "instances with --instances",
                setting="drop_instance",
            )
        return cls(
            connection=connection,
            folder=PlanFolder(output_dir, env),
            tracking_table=assignments_table or default_table(env, environ),
            instances=instances,
            throughput=Throughput(
                _workers(workers_per_instance, runners_per_host),
                uploads_per_minute,
                runners_per_host=runners_per_host,
            ),
            json_output=json_output,
            progress_table=progress_table or default_progress_table(env, environ),
            speeds=speeds,
            new_instance_rate=new_instance_rate,
            drop=tuple(sorted(set(drop_instance))),
            stall_after=timedelta(minutes=stall_after),
            workers_given=workers_per_instance is not None,
        )

    @property
    def files(self) -> int:
        """The instance files of the new plan: *instances* machines, their runners each."""
        return self.throughput.files(self.instances)

    def on_hosts(self, runners: int | None) -> ReplanOptions:
        """These options with the plan's *runners* per host (its manifest's), unless
        ``--runners-per-host`` or ``--workers-per-instance`` was given."""
        if runners is None or self.throughput.runners_per_host or self.workers_given:
            return self
        return replace(
            self,
            throughput=replace(self.throughput, workers_per_instance=1, runners_per_host=runners),
        )


@dataclass(frozen=True, slots=True)
class StatusOptions:
    """``distro status``: the fleet under way, from the runner's two tables and the plan.

    *instance*, *customer* and *failed* narrow what is shown; *watch* refreshes
    every so many seconds; *now* is the moment of the look (default: the clock's).
    """

    connection: Connection
    folder: PlanFolder
    tracking_table: str
    progress_table: str
    stall_after: timedelta = timedelta(minutes=30)
    instance: str | None = None
    customer: str | None = None
    failed: bool = False
    watch: float | None = None
    json_output: bool = False
    html: Path | None = None
    now: datetime | None = None
    check: bool = False  # one line and an exit code, for cron
    prometheus: Path | None = None  # node_exporter's textfile to write

    @classmethod
    def of(
        cls,
        connection: Connection,
        *,
        output_dir: Path,
        assignments_table: str | None = None,
        progress_table: str | None = None,
        stall_after: int = 30,
        instance: str | None = None,
        customer: str | None = None,
        failed: bool = False,
        watch: float | None = None,
        json_output: bool = False,
        report_html: Path | None = None,
        check: bool = False,
        prometheus: Path | None = None,
        environ: Mapping[str, str],
    ) -> StatusOptions:
        """The record of status's options (*stall_after* in minutes); the tables default to
        the runner's for the environment, and the folders of the HTML page and the metrics
        file are checked now. ``--check`` takes one look for cron, which repeats it: with
        ``--watch`` it is a usage error."""
        if check and watch is not None:
            raise SettingsError(
                "check takes one look and exits with its code, for cron to run at its own "
                "interval: drop --watch (or drop --check to watch)",
                setting="check",
            )
        if report_html is not None:
            check_html_path(report_html)
        if prometheus is not None:
            check_file_path(prometheus, "the metrics", Fix.PROMETHEUS_PATH)
        env = connection.env
        return cls(
            connection=connection,
            folder=PlanFolder(output_dir, env),
            tracking_table=assignments_table or default_table(env, environ),
            progress_table=progress_table or default_progress_table(env, environ),
            stall_after=timedelta(minutes=stall_after),
            instance=instance,
            customer=customer,
            failed=failed,
            watch=watch,
            json_output=json_output,
            html=report_html,
            check=check,
            prometheus=prometheus,
        )


@dataclass(frozen=True, slots=True)
class VerifyOptions:
    """``distro verify``: the folder and environment whose plan is checked."""

    folder: PlanFolder


@dataclass(frozen=True, slots=True)
class CheckOptions:
    """``distro check``: the tables to describe and the space both paths count."""

    connection: Connection
    space: str = PROBE_SPACE


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """``distro demo``: the whole job on DynamoDB Local with a synthetic dataset."""

    folder: PlanFolder
    customers: int = 1000
    instances: int = 5
    seed: int = 7
    quiet: bool = False
    count_shards: bool = False
    keep: bool = False  # leave DynamoDB Local running, seeded, for commands of one's own
