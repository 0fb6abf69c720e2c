"""Settings of a run: which tables, which customers, how hard to read.

Everything here is plain data, resolved once from options and environment
variables and then passed down; nothing below the CLI reads ``os.environ``, but for
what the AWS SDK itself reads as it runs, read here (the end of the module;
``tests/test_settings.py`` holds every other module to it).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Literal

from distro.errors import SettingsError

DEFAULT_SKIP = ("did:mailto:mailslurp.biz", "did:mailto:mailslurp.com", "did:mailto:mailslurp.net")
ReaderChoice = Literal["auto", "sdk", "lean"]  # how the uploads are counted
READER_CHOICES: tuple[ReaderChoice, ...] = ("auto", "sdk", "lean")
ReadPath = Literal["lean", "sdk"]  # the path that counted
BalanceUnit = Literal["uploads", "shards"]  # what the plan balances, and times are measured in
BALANCE_UNITS: tuple[BalanceUnit, ...] = ("uploads", "shards")
# A space no one owns, which distro check counts: its Query examines nothing and costs
# the minimum, 0.5 read units.
PROBE_SPACE = "did:key:distro-check"
# The report: customers listed, price of an instance-hour (US dollars), fleets sized.
DEFAULT_TOP = 20
DEFAULT_HOURLY_COST = 0.10
SIZING_INSTANCES = (1, 2, 3, 4, 5, 6, 8, 10, 15, 20)
UPLOADS_PER_MINUTE = 27.0  # per worker, measured by the team that runs the migration


# An upload whose shard list is kept in S3 (``shardsRef``) has at least this many
# shards: where a number is needed, it counts as exactly this many.
SHARDS_REF_FLOOR = 5000
# Uploads by shards listed, for the heavy tail: (label, fewest, most); the last
# bucket holds the uploads with ``shardsRef`` (a list in S3).
SHARD_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0", 0, 0),
    ("1", 1, 1),
    ("2-9", 2, 9),
    ("10-99", 10, 99),
    ("100-999", 100, 999),
    ("1,000-4,999", 1_000, 4_999),
    ("shardsRef (5,000+)", SHARDS_REF_FLOOR, None),
)
# The team's sample of 2,000 uploads: shards per upload, and the price of building one
# shard's index (one API call per shard).
SAMPLED_SHARDS_PER_UPLOAD = 1.73
INDEX_COST_PER_CALL = 0.00005


@dataclass(frozen=True, slots=True)
class Environment:
    """A deployment of the storage service: its table prefix and region."""

    name: str
    prefix: str
    region: str


DEFAULT_ENV = "staging"  # the runner's, when STORACHA_ENV is unset

ENVIRONMENTS: Mapping[str, Environment] = {
    "staging": Environment("staging", "staging-w3infra", "us-east-2"),
    "production": Environment("production", "prod-w3infra", "us-west-2"),
}


@dataclass(frozen=True, slots=True)
class Tables:
    """Where to read: the two table names, the region and an optional endpoint."""

    consumer: str
    upload: str
    region: str
    endpoint_url: str | None = None


@dataclass(frozen=True, slots=True)
class Credentials:
    """AWS keys given explicitly (DynamoDB Local's dummies) instead of the SDK's lookup."""

    access_key_id: str
    secret_access_key: str


class Verdict(Enum):
    """What the customer filters say about one customer."""

    INCLUDED = "included"
    SKIPPED = "skipped"
    FILTERED = "filtered"


@dataclass(frozen=True, slots=True)
class CustomerFilter:
    """The skip list (the CI accounts by default) and the include filter of a plan.

    A *skip* pattern matches a customer equal to it or starting with
    ``pattern:``; an *include* pattern also matches a customer containing
    ``:pattern:``. An empty include filter admits everyone.
    """

    skip: tuple[str, ...] = DEFAULT_SKIP
    include: tuple[str, ...] = ()

    def classify(self, customer: str) -> Verdict:
        """Say whether *customer* is planned, skipped or filtered out."""
        if any(customer == p or customer.startswith(p + ":") for p in self.skip):
            return Verdict.SKIPPED
        if self.include and not any(_includes(p, customer) for p in self.include):
            return Verdict.FILTERED
        return Verdict.INCLUDED


def _includes(pattern: str, customer: str) -> bool:
    return (
        customer == pattern
        or customer.startswith(pattern + ":")
        or (":" + pattern + ":") in customer
    )


@dataclass(frozen=True, slots=True)
class CountSettings:
    """How to find and count: tables, filters and read parallelism."""

    tables: Tables
    customer_filter: CustomerFilter = field(default_factory=CustomerFilter)
    parallel_segments: int = 4
    concurrency: int = 20
    min_uploads: int = 0
    max_read_units: float | None = None  # read capacity units per second; None: no cap
    count_shards: bool = False  # read each upload's shards, not only count the uploads

    def __post_init__(self) -> None:
        _require_range("parallel_segments", self.parallel_segments, 1, 10)
        _require_range("concurrency", self.concurrency, 1, 1000)
        _require_range("min_uploads", self.min_uploads, 0, None)
        if self.max_read_units is not None and not self.max_read_units >= 1:
            raise SettingsError(
                f"max_read_units must be at least 1, got {self.max_read_units:g}",
                setting="max_read_units",
            )


@dataclass(frozen=True, slots=True)
class Throughput:
    """How fast an instance migrates: *workers_per_instance* at *uploads_per_minute* each.

    *runners_per_host*: None for the guide's estimate, one instance file per
    machine run by *workers_per_instance* workers. Given (W), each machine runs
    W runner processes, each with its own instance file and one worker, as
    today's runner migrates one upload at a time per process; then
    *workers_per_instance* is 1 and the files of machine m are numbered
    (m-1)W+1 to mW.

    With *unit* ``shards``, work is measured in shards, at *shards_per_minute*
    per worker. Its default is *uploads_per_minute* x the shards per upload:
    *counted_shards_per_upload*, the run's own count, when shards were counted
    (``with_counted``), else the team's sample (1.73). So the fleet-wide
    estimate in shards equals the one in uploads, and a report balanced either
    way gives one answer to "how long", not two.
    """

    workers_per_instance: int = 10
    uploads_per_minute: float = UPLOADS_PER_MINUTE
    unit: BalanceUnit = "uploads"
    shards_per_minute: float | None = None
    counted_shards_per_upload: float | None = None
    runners_per_host: int | None = None

    def __post_init__(self) -> None:
        _require_range("workers_per_instance", self.workers_per_instance, 1, None)
        if self.runners_per_host is not None:
            _require_range("runners_per_host", self.runners_per_host, 1, None)
            if self.workers_per_instance != 1:
                raise SettingsError(
                    "--workers-per-instance is the guide's workers inside one runner; with "
                    "--runners-per-host each runner is one worker: give one of the two",
                    setting="workers_per_instance",
                )
        if not self.uploads_per_minute > 0:
            raise SettingsError(
                "uploads_per_minute must be greater than 0", setting="uploads_per_minute"
            )
        if self.shards_per_minute is not None and not self.shards_per_minute > 0:
            raise SettingsError(
                "shards_per_minute must be greater than 0", setting="shards_per_minute"
            )

    @property
    def per_minute(self) -> float:
        """Units of work (uploads or shards, as *unit* says) one worker migrates per minute."""
        if self.unit == "uploads":
            return self.uploads_per_minute
        if self.shards_per_minute is not None:
            return self.shards_per_minute
        return self.uploads_per_minute * self.shards_per_upload

    @property
    def instance_uploads_per_minute(self) -> float:
        """Uploads a minute one instance migrates: its workers at the rate of each."""
        return self.workers_per_instance * self.uploads_per_minute

    @property
    def per_host(self) -> int:
        """Instance files per machine: the runners per host, or the guide's one."""
        return self.runners_per_host or 1

    @property
    def workers_per_machine(self) -> int:
        """Workers one machine runs: its runner processes, or the guide's workers per instance."""
        return self.runners_per_host or self.workers_per_instance

    def files(self, machines: int) -> int:
        """How many instance files a plan for *machines* machines has."""
        return machines * self.per_host

    def machine_of(self, instance_id: int) -> int:
        """The machine (from 1) that runs instance file *instance_id*."""
        return (instance_id - 1) // self.per_host + 1

    @property
    def shards_per_upload(self) -> float:
        """The shards per upload a default shard rate assumes: counted, else sampled."""
        return self.counted_shards_per_upload or SAMPLED_SHARDS_PER_UPLOAD

    def with_counted(self, shards: int, uploads: int) -> Throughput:
        """This throughput, its default shard rate taken from *shards* counted over *uploads*."""
        if not uploads or not shards:
            return self
        return replace(self, counted_shards_per_upload=shards / uploads)

    def days(self, work: float) -> float:
        """Days one instance needs to migrate *work* (uploads, or shards with *unit* shards)."""
        return work / self.workers_per_instance / self.per_minute / 60 / 24


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long to keep trying one DynamoDB call.

    *max_tries* and *max_time* bound the attempts; waits grow from *base*
    seconds, doubling up to *cap*, with full jitter. *call_timeout* is the
    deadline of a single attempt. A *base* of 0 makes retries instant (tests).
    """

    max_tries: int = 10
    max_time: float = 300.0
    base: float = 0.1
    cap: float = 10.0
    call_timeout: float = 30.0

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> RetryPolicy:
        """The default policy, with waits and the per-call deadline tunable from *environ*.

        ``DISTRO_RETRY_BASE`` (seconds, first backoff wait) and ``DISTRO_CALL_TIMEOUT``
        (seconds per DynamoDB call) exist for slow links and for tests, which set
        the waits to zero so they never sleep for real.
        """
        return replace(
            DEFAULT_POLICY,
            base=_seconds(environ, "DISTRO_RETRY_BASE", DEFAULT_POLICY.base, zero_ok=True),
            call_timeout=_seconds(
                environ, "DISTRO_CALL_TIMEOUT", DEFAULT_POLICY.call_timeout, zero_ok=False
            ),
        )


def _seconds(environ: Mapping[str, str], variable: str, default: float, *, zero_ok: bool) -> float:
    raw = environ.get(variable)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0 or (value == 0 and not zero_ok):
        raise SettingsError(f"{variable} must be a positive number of seconds, got {raw!r}")
    return value


DEFAULT_POLICY = RetryPolicy()


def require_instances(instances: int) -> int:
    """Check an instance count the way every setting is checked; return it."""
    _require_range("instances", instances, 1, None)
    return instances


def _require_range(setting: str, value: int, low: int, high: int | None) -> None:
    """Raise ``SettingsError`` naming *setting* unless *low* <= *value* (<= *high*)."""
    if value < low or (high is not None and value > high):
        span = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise SettingsError(f"{setting} must be {span}, got {value}", setting=setting)


def resolve_tables(
    *,
    env: str | None,
    consumer_table: str | None,
    upload_table: str | None,
    region: str | None,
    endpoint_url: str | None,
    environ: Mapping[str, str] = os.environ,
) -> Tables:
    """Resolve table names and region: options, then variables, then *env* defaults.

    The endpoint is left to botocore when not given, so ``AWS_ENDPOINT_URL`` and
    ``AWS_ENDPOINT_URL_DYNAMODB`` work as in every AWS SDK.
    """
    environment = ENVIRONMENTS[resolve_env(env, environ)]
    return Tables(
        consumer=consumer_table
        or environ.get("CONSUMER_TABLE_NAME")
        or f"{environment.prefix}-consumer",
        upload=upload_table or environ.get("UPLOAD_TABLE_NAME") or f"{environment.prefix}-upload",
        region=region
        or environ.get("AWS_REGION")
        or environ.get("AWS_DEFAULT_REGION")
        or environment.region,
        endpoint_url=endpoint_url,
    )


def resolve_env(env: str | None, environ: Mapping[str, str] = os.environ) -> str:
    """The environment's name: *env* (``--env``), else ``STORACHA_ENV``, else the runner's default."""
    name = env or environ.get("STORACHA_ENV") or DEFAULT_ENV
    if name not in ENVIRONMENTS:
        known = ", ".join(ENVIRONMENTS)
        raise SettingsError(f"unknown environment {name!r}: use one of {known}")
    return name


TABLE_VARIABLE = "MIGRATION_CUSTOMERS_TABLE_NAME"


def default_table(env: str, environ: Mapping[str, str]) -> str:
    """The table the runner tracks customers in for *env*, as its ``config.js`` names it.

    ``MIGRATION_CUSTOMERS_TABLE_NAME`` in *environ* wins, as in the runner.
    """
    prefix = "prod" if env == "production" else "staging"
    return environ.get(TABLE_VARIABLE) or f"{prefix}-migration-customers"


PROGRESS_VARIABLE = "MIGRATION_PROGRESS_TABLE_NAME"


def default_progress_table(env: str, environ: Mapping[str, str]) -> str:
    """The table the runner records each space's progress in for *env* (``config.js``).

    ``MIGRATION_PROGRESS_TABLE_NAME`` in *environ* wins, as in the runner.
    """
    prefix = "prod" if env == "production" else "staging"
    return environ.get(PROGRESS_VARIABLE) or f"{prefix}-migration-progress"


def split_patterns(values: Iterable[str]) -> tuple[str, ...]:
    """Flatten repeated and comma-separated pattern options, dropping blanks."""
    return tuple(p.strip() for v in values for p in v.split(",") if p.strip())


# Here, the lowest layer, because every writer stamps its output with it: the manifest,
# the instance files, the tracking records and the report (which imports no stage).
def timestamp(moment: datetime | None = None) -> str:
    """ISO-8601 in UTC with milliseconds, as the runner's other files use."""
    moment = moment or datetime.now(UTC)
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def default_output_dir() -> Path:
    """The folder the fleet expects the instance files in."""
    return Path("migration-state")


# --- what the AWS SDK itself reads from the environment as it runs ------------------------------
# The SDK reads these at call time, wherever it runs; distro reads them here only, to say
# what the SDK did (the profile in a message, the secrets kept out of one) or to do as it does.

SECRET_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def aws_profile() -> str:
    """The AWS profile the SDK uses: ``$AWS_PROFILE``, ``$AWS_DEFAULT_PROFILE`` or default."""
    return os.environ.get("AWS_PROFILE") or os.environ.get("AWS_DEFAULT_PROFILE") or "default"


def secret_values() -> tuple[str, ...]:
    """The values of the AWS secrets in the environment, to keep out of every message."""
    return tuple(os.environ.get(name, "") for name in SECRET_VARIABLES)


def proxy_host_header() -> bool:
    """Whether botocore adds a Host header to proxied requests (its experimental switch)."""
    return os.environ.get("BOTO_EXPERIMENTAL__ADD_PROXY_HOST_HEADER", "").lower() == "true"


def cache_dir() -> str | None:
    """``$DISTRO_CACHE_DIR``: where DynamoDB Local and other downloads go, when set."""
    return os.environ.get("DISTRO_CACHE_DIR") or None
