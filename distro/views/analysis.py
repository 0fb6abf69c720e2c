"""The analysis view: the count and the plan as plain data, the source of every number shown.

``summarize`` turns a ``Tally`` and its ``Plan`` (and what the run wrote) into
frozen records. The rich report reads them, and the JSON output prints them as
they are (keys in camelCase, like the instance files), so the screen and the
JSON cannot disagree. It imports no stage and no AWS code: a tally made by hand
or read from a file is summarized like a counted one.

Cost: the fleet is paid until its last instance finishes, so a plan costs
instances x critical-path hours x the hourly price of one instance.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from distro.balance import Plan, order, plan as make_plan
from distro.settings import (
    DEFAULT_HOURLY_COST,
    DEFAULT_TOP,
    INDEX_COST_PER_CALL,
    SHARD_BUCKETS,
    SHARDS_REF_FLOOR,
    SIZING_INSTANCES,
    Throughput,
    timestamp,
)
from distro.tally import CustomerLoad, Tally
from distro.tracking.records import LeftAlone
from distro.views.common import camel, ratio
from distro.views.steps import NextSteps

ESTIMATE_WORKERS = (5, 10, 15, 20)
# (label, least uploads, most uploads or None for no limit), as the operators asked for them.
UPLOAD_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0", 0, 0),
    ("1-10", 1, 10),
    ("11-100", 11, 100),
    ("101-1,000", 101, 1_000),
    ("1,001-10,000", 1_001, 10_000),
    ("10,001-100,000", 10_001, 100_000),
    ("100,001+", 100_001, None),
)
# DynamoDB on-demand list price: $0.125 per million read request units (us-east-1,
# since the price cut of November 2024). Other regions cost up to about 30% more.
USD_PER_READ_UNIT = 0.125 / 1_000_000


@dataclass(frozen=True, slots=True)
class Assumptions:
    """The rates the estimates use."""

    workers_per_instance: int
    uploads_per_minute: float
    instance_hourly_cost: float
    # None: the guide's estimate, one runner per machine with workers_per_instance workers;
    # else W runner processes per machine, one worker and one instance file each.
    runners_per_host: int | None = None


@dataclass(frozen=True, slots=True)
class Totals:
    """Customers, uploads and spaces of the planned customers.

    *spaces*, *distinct_spaces_with_uploads* and *empty_spaces* count distinct
    spaces, so the last two add up to the first. *space_claims_with_uploads*
    counts a shared space once per planned customer claiming it: the sum of
    the instance files' ``estimatedSpaces``.
    """

    customers: int
    uploads: int
    spaces: int
    distinct_spaces_with_uploads: int
    empty_spaces: int
    empty_space_share: float
    space_claims_with_uploads: int
    average_uploads_per_customer: float
    average_spaces_per_customer: float  # space claims with uploads


@dataclass(frozen=True, slots=True)
class DataQuality:
    """What the data and the filters left out or counted more than once."""

    rows_scanned: int
    rows_without_customer: int
    skipped_customers: int
    filtered_customers: int
    below_min_uploads: int
    shared_spaces: int
    double_counted_uploads: int
    spaces_counted: int
    spaces_resumed: int
    read_units: float
    read_cost_usd: float
    read_path: str = "sdk"  # "lean" or "sdk": which Query path counted the uploads


@dataclass(frozen=True, slots=True)
class TopCustomer:
    """One of the customers with the most uploads, and the instances it went to (if planned)."""

    rank: int
    customer: str
    uploads: int
    share: float
    spaces: int
    instances: tuple[int, ...]  # more than one for a customer split across instances


@dataclass(frozen=True, slots=True)
class Bucket:
    """Customers whose uploads lie in [*min_uploads*, *max_uploads*] (None: no upper limit)."""

    label: str
    min_uploads: int
    max_uploads: int | None
    customers: int
    uploads: int


@dataclass(frozen=True, slots=True)
class InstanceLoad:
    """One instance of the plan; *hours* at the assumed workers per instance; *load* its
    work in the plan's unit (its uploads, or its shards when balanced by shards)."""

    instance_id: int
    customers: int
    uploads: int
    share: float
    spaces: int
    hours: float
    load: int = 0


@dataclass(frozen=True, slots=True)
class MachineLoad:
    """One machine of a plan with runners per host: its instance files *first*..*last*;
    *hours* until its last runner ends."""

    machine: int
    first: int
    last: int
    customers: int
    uploads: int
    share: float
    spaces: int
    hours: float


@dataclass(frozen=True, slots=True)
class Estimate:
    """How long the plan takes and what the fleet costs with *workers* per instance (per
    machine, with runners per host: there each runner is one worker)."""

    workers_per_instance: int
    critical_path_hours: float
    fleet_cost_usd: float


@dataclass(frozen=True, slots=True)
class Whale:
    """A customer (or, split, one of its spaces) that alone holds more than the fair share.

    *hours*: what it alone needs on one instance, which no plan can beat.
    *saturation*: ceil(total uploads / its uploads), the instance count from
    which the fair share is no larger than it, so more instances do not shorten
    the critical path.
    """

    customer: str
    uploads: int  # in the plan's unit (``PlanSummary.unit``), as the bound it is compared to
    space: str | None = None
    hours: float = 0.0
    saturation: int = 0
    customer_uploads: int = 0  # its uploads, whatever the unit: its bucket among the sizes


@dataclass(frozen=True, slots=True)
class PlanSummary:
    """The plan for N instances and how good it is."""

    instances: tuple[InstanceLoad, ...]
    min_uploads: int
    max_uploads: int
    fair_share: float
    lower_bound: float
    gap: float  # the plan above the lower bound, as a fraction
    critical_path_hours: float
    fleet_cost_usd: float
    whale: Whale | None
    estimates: tuple[Estimate, ...]
    split_large: bool = False  # splitting large customers was asked for
    split_customers: tuple[str, ...] = ()  # the customers planned space by space
    machines: tuple[MachineLoad, ...] = ()  # with runners per host: the instances by machine
    # The unit of the load figures (min, max, fair share, lower bound, the whale's, each
    # instance's load): "uploads", or "shards" when balanced by shards.
    unit: str = "uploads"


@dataclass(frozen=True, slots=True)
class SizingRow:
    """What *instances* instances would give, without a plan asked for."""

    instances: int
    max_uploads: int
    gap: float
    critical_path_hours: float
    fleet_cost_usd: float


@dataclass(frozen=True, slots=True)
class Outputs:
    """What the run wrote."""

    files: tuple[str, ...]
    assignments_table: str | None
    assignment_records: int
    report_html: str | None
    left_alone: tuple[LeftAlone, ...] = ()  # started records a write did not touch
    space_lists: tuple[str, ...] = ()  # non-empty lists of split spaces, one per instance


@dataclass(frozen=True, slots=True)
class ShardBucket:
    """Uploads listing between *min_shards* and *max_shards* shards (None: no limit)."""

    label: str
    min_shards: int
    max_shards: int | None
    uploads: int


@dataclass(frozen=True, slots=True)
class ShardCustomer:
    """One of the customers with the most shards."""

    rank: int
    customer: str
    shards: int  # uploads with shardsRef at the floor
    share: float
    uploads: int
    shards_per_upload: float
    uploads_with_shards_ref: int


@dataclass(frozen=True, slots=True)
class InstanceShards:
    """The shards one instance of the plan migrates."""

    instance_id: int
    shards: int
    share: float
    shards_per_upload: float


@dataclass(frozen=True, slots=True)
class ShardSummary:
    """What counting shards found: the work per shard, and what indexing them costs.

    Uploads whose list is in S3 (``shardsRef``) are counted apart and, in
    *shards* and everything derived from it, at *shards_ref_floor* each.
    *index_calls* is one API call per shard, at *index_cost_per_call* dollars.
    """

    uploads: int
    listed_shards: int
    uploads_with_shards_ref: int
    shards_ref_floor: int
    shards: int
    average_shards_per_upload: float
    average_listed_per_upload: float  # over the uploads without shardsRef
    histogram: tuple[ShardBucket, ...]
    top_customers: tuple[ShardCustomer, ...]
    instances: tuple[InstanceShards, ...]
    index_calls: int
    index_cost_per_call: float
    index_cost_usd: float
    balanced_by: str = "uploads"  # the unit of the plan's loads, bound and times
    shards_per_minute: float = 0.0  # per worker, for times in shards
    # Where that rate comes from: None when --shards-per-minute gave it, else the shards
    # per upload it assumes (counted in this run), times the uploads per minute.
    rate_shards_per_upload: float | None = None


@dataclass(frozen=True, slots=True)
class Recommendation:
    """How many instances to run: the fewest that reach the shortest time of those sized.

    *capped_by* is the customer (and *capped_space*, if split) that alone takes
    that long, so more instances do not help; None when each instance added
    still shortens the time, up to the most sized (*more_help*).
    *split_would_help*: splitting large customers was not asked for, and would.
    """

    instances: int
    hours: float
    capped_by: str | None
    capped_space: str | None
    more_help: bool
    split_would_help: bool
    # What *hours* assumed: a worker's rate (in the plan's unit) times the workers of one
    # instance file; with the guide's workers per instance, what today's runner (one upload
    # at a time per process) takes on as many instances, and the runners per host that
    # bring that fleet of machines back near *hours*.
    per_minute: float = 0.0
    workers: int = 1
    unit: str = "uploads"
    one_runner_hours: float | None = None
    runners_per_host: int | None = None
    runners_hours: float | None = None


@dataclass(frozen=True, slots=True)
class Summary:
    """Everything the report shows, as plain data; *plan* or *sizing*, never both."""

    generated_at: str
    assumptions: Assumptions
    totals: Totals
    data_quality: DataQuality
    top_customers: tuple[TopCustomer, ...]
    histogram: tuple[Bucket, ...]
    plan: PlanSummary | None
    sizing: tuple[SizingRow, ...]
    outputs: Outputs
    shards: ShardSummary | None = None  # only when shards were counted
    next_steps: NextSteps | None = None  # after a plan was written: how to deploy it
    generate_command: str | None = None  # without one: the command that would write it
    recommendation: Recommendation | None = None  # with sizing: how many instances to run


def summarize(
    tally: Tally,
    plan: Plan | None,
    *,
    throughput: Throughput,
    files: Sequence[Path] = (),
    assignments: int = 0,
    hourly_cost: float = DEFAULT_HOURLY_COST,
    top: int = DEFAULT_TOP,
    assignments_table: str | None = None,
    report_html: Path | None = None,
    generated_at: str | None = None,
    left_alone: Sequence[LeftAlone] = (),
    space_lists: Sequence[Path] = (),
    index_cost_per_call: float = INDEX_COST_PER_CALL,
    steps: NextSteps | None = None,
) -> Summary:
    """Everything worth showing about *tally* and its *plan*, with estimates at *throughput*.

    *hourly_cost* prices the fleet; *top* customers by uploads are listed;
    *files*, *assignments* records in *assignments_table* and *report_html*
    are what the run wrote; *left_alone* the records it did not write, and
    *space_lists* a split plan's non-empty lists of spaces.
    With shards counted, *index_cost_per_call* prices building their indexes.
    *steps* deploy the written plan.
    """
    sizing = _sizing(tally, throughput, hourly_cost) if plan is None else ()
    return Summary(
        generated_at=generated_at or timestamp(),
        assumptions=Assumptions(
            throughput.workers_per_instance,
            throughput.uploads_per_minute,
            hourly_cost,
            throughput.runners_per_host,
        ),
        totals=_totals(tally),
        data_quality=_data_quality(tally),
        top_customers=_top(tally, plan, top),
        histogram=histogram(tally.customers),
        plan=_plan(tally, plan, throughput, hourly_cost) if plan is not None else None,
        sizing=sizing,
        recommendation=recommend(sizing, tally, throughput) if sizing else None,
        outputs=Outputs(
            tuple(str(f) for f in files),
            assignments_table,
            assignments,
            str(report_html) if report_html is not None else None,
            tuple(left_alone),
            tuple(str(p) for p in space_lists),
        ),
        shards=(
            shard_summary(
                tally,
                plan,
                top=top,
                index_cost_per_call=index_cost_per_call,
                throughput=throughput,
            )
            if tally.counted_shards
            else None
        ),
        next_steps=steps,
    )


def to_json(summary: Summary) -> bytes:
    """*summary* as one indented JSON document, keys in camelCase, ending in a newline.

    ``shards`` appears only when counted: without it the document is what it was.
    """
    document = dataclasses.asdict(summary)
    if document["shards"] is None:
        del document["shards"]
    return orjson.dumps(camel(document), option=orjson.OPT_INDENT_2) + b"\n"


def shard_summary(
    tally: Tally,
    plan: Plan | None,
    *,
    top: int = DEFAULT_TOP,
    index_cost_per_call: float = INDEX_COST_PER_CALL,
    throughput: Throughput | None = None,
) -> ShardSummary:
    """The shards of *tally* (and per instance of *plan*): *top* customers, index cost.

    *throughput* says which unit the plan's figures are in, and the rate of shards.
    """
    throughput = throughput or Throughput()
    uploads, shards = tally.total_uploads, sum(c.estimated_shards for c in tally.customers)
    heaviest = sorted(tally.customers, key=lambda c: (-c.estimated_shards, c.customer))[:top]
    histogram = tally.shard_histogram or (0,) * len(SHARD_BUCKETS)
    return ShardSummary(
        uploads=uploads,
        listed_shards=tally.total_shards,
        uploads_with_shards_ref=tally.total_shard_refs,
        shards_ref_floor=SHARDS_REF_FLOOR,
        shards=shards,
        average_shards_per_upload=ratio(shards, uploads),
        average_listed_per_upload=ratio(tally.total_shards, uploads - tally.total_shard_refs),
        histogram=tuple(
            ShardBucket(label, least, most, histogram[i])
            for i, (label, least, most) in enumerate(SHARD_BUCKETS)
        ),
        top_customers=tuple(
            ShardCustomer(
                rank,
                c.customer,
                c.estimated_shards,
                ratio(c.estimated_shards, shards),
                c.uploads,
                ratio(c.estimated_shards, c.uploads),
                c.shard_refs,
            )
            for rank, c in enumerate(heaviest, start=1)
        ),
        instances=tuple(
            InstanceShards(
                i.instance_id, i.shards, ratio(i.shards, shards), ratio(i.shards, i.uploads)
            )
            for i in (plan.instances if plan is not None else ())
        ),
        index_calls=shards,
        index_cost_per_call=index_cost_per_call,
        index_cost_usd=shards * index_cost_per_call,
        balanced_by=throughput.unit,
        shards_per_minute=dataclasses.replace(throughput, unit="shards").per_minute,
        rate_shards_per_upload=(
            throughput.shards_per_upload if throughput.shards_per_minute is None else None
        ),
    )


def histogram(customers: Sequence[CustomerLoad]) -> tuple[Bucket, ...]:
    """Customers and their uploads per bucket of ``UPLOAD_BUCKETS``."""
    counts = [0] * len(UPLOAD_BUCKETS)
    uploads = [0] * len(UPLOAD_BUCKETS)
    for customer in customers:
        index = next(
            i
            for i, (_, _, most) in enumerate(UPLOAD_BUCKETS)
            if most is None or customer.uploads <= most
        )
        counts[index] += 1
        uploads[index] += customer.uploads
    return tuple(
        Bucket(label, least, most, counts[i], uploads[i])
        for i, (label, least, most) in enumerate(UPLOAD_BUCKETS)
    )


def _hours(throughput: Throughput, uploads: float) -> float:
    return throughput.days(uploads) * 24


def _totals(tally: Tally) -> Totals:
    customers = len(tally.customers)
    return Totals(
        customers=customers,
        uploads=tally.total_uploads,
        spaces=tally.planned_spaces,
        # Both census figures count distinct spaces, so their difference does too.
        distinct_spaces_with_uploads=tally.planned_spaces - tally.empty_spaces,
        empty_spaces=tally.empty_spaces,
        empty_space_share=ratio(tally.empty_spaces, tally.planned_spaces),
        space_claims_with_uploads=tally.total_spaces,
        average_uploads_per_customer=ratio(tally.total_uploads, customers),
        average_spaces_per_customer=ratio(tally.total_spaces, customers),
    )


def _data_quality(tally: Tally) -> DataQuality:
    return DataQuality(
        rows_scanned=tally.rows_scanned,
        rows_without_customer=tally.orphan_rows,
        skipped_customers=len(tally.skipped),
        filtered_customers=len(tally.filtered),
        below_min_uploads=len(tally.below_min_uploads),
        shared_spaces=len(tally.shared_spaces),
        double_counted_uploads=tally.double_counted_uploads,
        spaces_counted=tally.spaces_counted,
        spaces_resumed=tally.spaces_resumed,
        read_units=tally.read_units,
        read_cost_usd=tally.read_units * USD_PER_READ_UNIT,
        read_path=tally.read_path,
    )


def _top(tally: Tally, plan: Plan | None, top: int) -> tuple[TopCustomer, ...]:
    where = plan.instances_of() if plan else {}
    total = tally.total_uploads
    return tuple(
        TopCustomer(
            rank,
            c.customer,
            c.uploads,
            ratio(c.uploads, total),
            c.spaces,
            tuple(where.get(c.customer, ())),
        )
        for rank, c in enumerate(order(tally.customers)[:top], start=1)
    )


def _plan(tally: Tally, plan: Plan, throughput: Throughput, hourly_cost: float) -> PlanSummary:
    loads = [plan.work(i) for i in plan.instances]  # in shards, when balanced by shards
    chosen = _estimate(plan, throughput, hourly_cost)
    estimates = [
        chosen
        if workers == throughput.workers_per_machine
        else _estimate_with(tally, plan, throughput, workers, hourly_cost)
        for workers in sorted({*ESTIMATE_WORKERS, throughput.workers_per_machine})
    ]
    whale = plan.whale
    return PlanSummary(
        instances=tuple(
            InstanceLoad(
                i.instance_id,
                len({u.customer for u in i.units}),
                i.uploads,
                ratio(i.uploads, plan.total_uploads),
                i.spaces,
                _hours(throughput, plan.work(i)),
                plan.work(i),
            )
            for i in plan.instances
        ),
        min_uploads=min(loads),
        max_uploads=max(loads),
        fair_share=plan.fair_share,
        lower_bound=plan.lower_bound,
        gap=plan.gap,
        critical_path_hours=chosen.critical_path_hours,
        fleet_cost_usd=chosen.fleet_cost_usd,
        whale=(
            Whale(
                whale.customer,
                plan.work(whale),
                whale.space,
                _hours(throughput, plan.work(whale)),
                plan.saturation,
                whale.uploads,
            )
            if whale
            else None
        ),
        estimates=tuple(estimates),
        split_large=plan.split_large,
        split_customers=plan.split_customers,
        machines=_machines(plan, throughput) if throughput.runners_per_host else (),
        unit=plan.unit,
    )


def _machines(plan: Plan, throughput: Throughput) -> tuple[MachineLoad, ...]:
    """*plan*'s instance files grouped by the machine that runs them."""
    per_host = throughput.per_host
    rows = []
    for start in range(0, len(plan.instances), per_host):
        files = plan.instances[start : start + per_host]
        uploads = sum(i.uploads for i in files)
        rows.append(
            MachineLoad(
                throughput.machine_of(files[0].instance_id),
                files[0].instance_id,
                files[-1].instance_id,
                len({u.customer for i in files for u in i.units}),
                uploads,
                ratio(uploads, plan.total_uploads),
                sum(i.spaces for i in files),
                max(_hours(throughput, plan.work(i)) for i in files),
            )
        )
    return tuple(rows)


def _estimate(plan: Plan, throughput: Throughput, hourly_cost: float) -> Estimate:
    """The critical path of *plan* and its fleet's cost: every machine paid until the last ends."""
    hours = _hours(throughput, plan.makespan)
    machines = len(plan.instances) // throughput.per_host
    return Estimate(throughput.workers_per_machine, hours, machines * hours * hourly_cost)


def _estimate_with(
    tally: Tally, plan: Plan, throughput: Throughput, workers: int, hourly_cost: float
) -> Estimate:
    """The estimate with *workers* per machine: the guide's workers in one runner run the same
    plan faster; as runners per host, they make a plan with more files, planned anew."""
    if throughput.runners_per_host is None:
        faster = dataclasses.replace(throughput, workers_per_instance=workers)
        return _estimate(plan, faster, hourly_cost)
    machines = len(plan.instances) // throughput.per_host
    wider = dataclasses.replace(throughput, runners_per_host=workers)
    return _estimate(_sized(tally, machines, wider), wider, hourly_cost)


def _sizing(tally: Tally, throughput: Throughput, hourly_cost: float) -> tuple[SizingRow, ...]:
    rows = []
    for n in SIZING_INSTANCES:
        plan = _sized(tally, n, throughput)
        estimate = _estimate(plan, throughput, hourly_cost)
        rows.append(
            SizingRow(
                n, plan.makespan, plan.gap, estimate.critical_path_hours, estimate.fleet_cost_usd
            )
        )
    return tuple(rows)


def _sized(tally: Tally, machines: int, throughput: Throughput) -> Plan:
    split = tally.split_spaces is not None
    return make_plan(tally, throughput.files(machines), split_large=split, by=throughput.unit)


# Within this of the shortest time sized, more instances are not worth their cost.
CLOSE_ENOUGH = 0.01


def recommend(
    rows: Sequence[SizingRow], tally: Tally, throughput: Throughput
) -> Recommendation | None:
    """The fewest instances of *rows* within 1% of the shortest time, and what caps it."""
    if not rows or not tally.total_uploads:
        return None
    best = min(row.max_uploads for row in rows)
    chosen = next(row for row in rows if row.max_uploads <= best * (1 + CLOSE_ENOUGH))
    sized = _sized(tally, chosen.instances, throughput)
    whale = sized.whale
    more_help = chosen.instances == rows[-1].instances and whale is None
    workers = throughput.workers_per_instance
    # The guide's workers in one runner are not what today's runner does: say what it takes.
    guide = throughput.runners_per_host is None and workers > 1
    hosts = dataclasses.replace(throughput, workers_per_instance=1, runners_per_host=workers)
    return Recommendation(
        instances=chosen.instances,
        hours=chosen.critical_path_hours,
        capped_by=whale.customer if whale is not None else None,
        capped_space=whale.space if whale is not None else None,
        more_help=more_help,
        split_would_help=whale is not None and whale.space is None and tally.split_spaces is None,
        per_minute=throughput.per_minute,
        workers=workers,
        unit=throughput.unit,
        one_runner_hours=_hours(_one_runner(throughput), sized.makespan) if guide else None,
        runners_per_host=workers if guide else None,
        runners_hours=(
            _hours(hosts, _sized(tally, chosen.instances, hosts).makespan) if guide else None
        ),
    )


def _one_runner(throughput: Throughput) -> Throughput:
    return dataclasses.replace(throughput, workers_per_instance=1)
