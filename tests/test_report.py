"""The analysis: one summary behind the report, the JSON and the HTML, every number from the truth."""

from __future__ import annotations

import io
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from helpers import LOCK_NAME, assert_one_line_error, invoke, read_plan, table_args
from rich.console import Console
from rich.text import Text
from test_pipeline import counted

from distro.balance import CustomerLoad, Plan, plan
from distro.files import PlanFolder
from distro.local.dataset import Dataset
from distro.options import Connection
from distro.render.analysis import render
from distro.settings import CountSettings, Tables, Throughput
from distro.tally import Tally
from distro.views.analysis import (
    ESTIMATE_WORKERS,
    UPLOAD_BUCKETS,
    Summary,
    histogram,
    summarize,
    to_json,
)
from distro.views.steps import next_steps

ALICE = CustomerLoad("did:mailto:example.org:alice", 9_000, 3)
BOB = CustomerLoad("did:mailto:gmail.com:bob", 2_500, 2)
CAROL = CustomerLoad("did:mailto:storacha.network:carol", 2_500, 1)
DAN = CustomerLoad("did:mailto:proton.me:dan", 0, 0)


# The buckets the operators asked for, by their largest value, written out again here.
PLAIN_BUCKETS = (
    (0, "0"),
    (10, "1-10"),
    (100, "11-100"),
    (1_000, "101-1,000"),
    (10_000, "1,001-10,000"),
    (100_000, "10,001-100,000"),
)


def bucket_of(uploads: int) -> str:
    """The histogram bucket of *uploads*, found plainly."""
    for most, label in PLAIN_BUCKETS:
        if uploads <= most:
            return label
    return "100,001+"


def tally_of(*customers: CustomerLoad, **extra: Any) -> Tally:
    fields: dict[str, Any] = {
        "below_min_uploads": frozenset(),
        "skipped": frozenset({"did:mailto:mailslurp.com:ci"}),
        "filtered": frozenset(),
        "orphan_rows": 2,
        "shared_spaces": frozenset({"S"}),
        "double_counted_uploads": 7,
        "planned_spaces": 8,
        "empty_spaces": 2,
        "rows_scanned": 12,
        "spaces_counted": 8,
        "spaces_resumed": 0,
        "read_units": 40.0,
    }
    fields.update(extra)
    return Tally(customers=tuple(customers), **fields)


def planned(tally: Tally, instances: int | None) -> tuple[Tally, Plan | None]:
    return tally, (plan(tally, instances) if instances else None)


def recorded(summary: Summary, *, terminal: bool) -> str:
    console = Console(file=io.StringIO(), force_terminal=terminal, width=120, record=True)
    render(console, summary)
    return console.export_text()


# --- the summary, without a database ---------------------------------------------


@pytest.mark.parametrize(
    "uploads",
    [0, 1, 10, 11, 100, 101, 1_000, 1_001, 10_000, 10_001, 100_000, 100_001, 7_405_764],
)
def test_histogram_bucket_edges(uploads: int) -> None:
    buckets = histogram([CustomerLoad("did:mailto:x:y", uploads, 1)])
    assert [b.label for b in buckets] == [label for label, _, _ in UPLOAD_BUCKETS]
    (hit,) = [b for b in buckets if b.customers]
    assert hit.label == bucket_of(uploads)
    assert hit.uploads == uploads
    assert hit.min_uploads <= uploads
    assert hit.max_uploads is None or uploads <= hit.max_uploads


def test_plan_estimates_and_cost() -> None:
    summary = summarize(
        *planned(tally_of(ALICE, BOB, CAROL, DAN), 2),
        throughput=Throughput(12, 27.0),
        hourly_cost=0.5,
        top=3,
    )
    plan = summary.plan
    assert plan is not None
    assert summary.sizing == ()
    # 9,000 uploads on the busiest instance, 12 workers at 27 uploads a minute each.
    assert plan.critical_path_hours == pytest.approx(9_000 / 12 / 27 / 60)
    # The fleet is paid until the last instance finishes: N x critical path x price.
    assert plan.fleet_cost_usd == pytest.approx(2 * plan.critical_path_hours * 0.5)
    assert [e.workers_per_instance for e in plan.estimates] == sorted({*ESTIMATE_WORKERS, 12})
    for estimate in plan.estimates:
        hours = 9_000 / estimate.workers_per_instance / 27 / 60
        assert estimate.critical_path_hours == pytest.approx(hours)
        assert estimate.fleet_cost_usd == pytest.approx(2 * hours * 0.5)
    assert plan.whale is not None
    assert plan.whale.customer == ALICE.customer
    assert [i.uploads for i in plan.instances] == [9_000, 5_000]
    assert [i.customers for i in plan.instances] == [1, 3]
    # Ties by DID; the instance each went to is named.
    assert [(c.rank, c.customer, c.instances) for c in summary.top_customers] == [
        (1, ALICE.customer, (1,)),
        (2, BOB.customer, (2,)),
        (3, CAROL.customer, (2,)),
    ]
    assert summary.top_customers[0].share == pytest.approx(9_000 / 14_000)


def test_runners_per_host_estimates_per_machine_each_runner_one_worker() -> None:
    # ALICE 9,000, BOB 2,500, CAROL 2,500, DAN 0: 2 machines x 2 runners are 4 files.
    hosts = Throughput(1, 27.0, runners_per_host=2)
    tally = tally_of(ALICE, BOB, CAROL, DAN)
    summary = summarize(tally, plan(tally, 4), throughput=hosts, hourly_cost=0.5)
    made = summary.plan
    assert made is not None
    assert [(m.machine, m.first, m.last, m.uploads) for m in made.machines] == [
        (1, 1, 2, 11_500),
        (2, 3, 4, 2_500),
    ]
    # A machine ends with its busiest runner: ALICE alone on one worker.
    assert made.machines[0].hours == pytest.approx(9_000 / 27 / 60)
    assert made.critical_path_hours == pytest.approx(9_000 / 27 / 60)
    assert made.fleet_cost_usd == pytest.approx(2 * made.critical_path_hours * 0.5)  # 2 machines
    # Other runners per host are planned anew: more runners cannot beat ALICE's one.
    assert [e.workers_per_instance for e in made.estimates] == sorted({*ESTIMATE_WORKERS, 2})
    assert all(e.critical_path_hours == made.critical_path_hours for e in made.estimates)
    text = recorded(summary, terminal=False)
    assert "Runners/machine" in text
    assert "--runners-per-host W" not in text  # the guide's note is for the guide's estimate
    guide = recorded(summarize(tally, plan(tally, 2), throughput=Throughput()), terminal=False)
    assert "one upload at a time per process" in guide
    assert "--runners-per-host W" in guide


def test_totals_and_data_quality() -> None:
    summary = summarize(*planned(tally_of(ALICE, BOB, CAROL, DAN), None), throughput=Throughput())
    totals = summary.totals
    assert (totals.customers, totals.uploads, totals.space_claims_with_uploads) == (4, 14_000, 6)
    assert (totals.spaces, totals.empty_spaces, totals.empty_space_share) == (8, 2, 0.25)
    assert totals.distinct_spaces_with_uploads == 6
    assert totals.average_uploads_per_customer == 3_500
    assert totals.average_spaces_per_customer == 1.5
    quality = summary.data_quality
    assert (quality.rows_without_customer, quality.skipped_customers) == (2, 1)
    assert (quality.shared_spaces, quality.double_counted_uploads) == (1, 7)
    assert summary.plan is None
    assert [row.instances for row in summary.sizing][:3] == [1, 2, 3]
    one = summary.sizing[0]
    assert one.fleet_cost_usd == pytest.approx(one.critical_path_hours * 0.10)


def test_nothing_found_still_summarizes() -> None:
    tally = tally_of(planned_spaces=0, empty_spaces=0, shared_spaces=frozenset())
    summary = summarize(*planned(tally, 3), throughput=Throughput())
    assert summary.totals.empty_space_share == 0.0
    assert summary.totals.average_uploads_per_customer == 0.0
    assert summary.top_customers == ()
    assert sum(b.customers for b in summary.histogram) == 0
    document = orjson.loads(to_json(summary))
    assert document["plan"]["gap"] == 0.0
    assert "Customer Distribution Analysis" in recorded(summary, terminal=False)


def test_json_keys_are_camel_case() -> None:
    summary = summarize(*planned(tally_of(ALICE, BOB), 2), throughput=Throughput(), top=1)
    document = orjson.loads(to_json(summary))
    assert document["totals"]["emptySpaceShare"] == 0.25
    assert document["dataQuality"]["doubleCountedUploads"] == 7
    assert document["topCustomers"] == [
        {
            "rank": 1,
            "customer": ALICE.customer,
            "uploads": 9_000,
            "share": 9_000 / 11_500,
            "spaces": 3,
            "instances": [1],
        }
    ]
    assert document["plan"]["estimates"][0]["workersPerInstance"] == 5
    assert document["outputs"] == {
        "files": [],
        "assignmentsTable": None,
        "assignmentRecords": 0,
        "reportHtml": None,
        "leftAlone": [],
        "spaceLists": [],
    }

    def keys(value: Any) -> set[str]:
        if isinstance(value, dict):
            return set(value) | {k for v in value.values() for k in keys(v)}
        if isinstance(value, list):
            return {k for v in value for k in keys(v)}
        return set()

    assert not {k for k in keys(document) if "_" in k}


# --- the rendered report ---------------------------------------------------------


def test_report_draws_bars_and_says_how_cost_is_counted() -> None:
    summary = summarize(*planned(tally_of(ALICE, BOB, CAROL, DAN), 2), throughput=Throughput())
    plain = recorded(summary, terminal=False)
    assert "#" * 40 in plain  # the busiest instance fills its bar
    assert "\u2588" not in plain
    assert "every instance runs until the last one finishes" in " ".join(plain.split())
    assert "Top 4 Customers by Uploads" in plain
    assert "Uploads counted twice because of them" in plain
    terminal = recorded(summary, terminal=True)
    assert "\u2588" * 40 in terminal


def test_top_zero_hides_the_list() -> None:
    summary = summarize(*planned(tally_of(ALICE, BOB), None), throughput=Throughput(), top=0)
    assert summary.top_customers == ()
    assert "Customers by Uploads" in recorded(summary, terminal=False)
    assert "Top " not in recorded(summary, terminal=False)


# --- the command line -------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--top", "-1"], ["--top", "-1"]),
        (["--instance-hourly-cost", "-0.5"], ["--instance-hourly-cost", "-0.5"]),
    ],
)
def test_bad_report_options_are_usage_errors(args: list[str], words: list[str]) -> None:
    assert_one_line_error(invoke("analyze", *args), 2, *words)


def test_unwritable_html_path_fails_before_counting(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "report.html"
    # No endpoint answers on port 9: the HTML check must fail before any table is read.
    result = invoke("analyze", "--endpoint-url", "http://127.0.0.1:9", "--report-html", target)
    assert_one_line_error(result, 1, str(target), "--report-html")


def planned_spaces(dataset: Dataset, planned: set[str]) -> dict[str, set[str]]:
    """Each space of a planned customer, with its planned claimants."""
    claimants: dict[str, set[str]] = {}
    for row in dataset.consumer_rows:
        if row.customer in planned:
            claimants.setdefault(row.space, set()).add(row.customer)
    return claimants


@pytest.mark.db
def test_analyze_json_equals_the_truth(loaded: tuple[Dataset, Tables], tmp_path: Path) -> None:
    dataset, tables = loaded
    truth = dataset.truth()
    result = invoke("analyze", *table_args(tables), "--output-dir", tmp_path, "--json")
    assert result.returncode == 0, result.stderr
    assert "Customer Distribution Analysis" not in result.stdout + result.stderr
    document = orjson.loads(result.stdout)  # stdout is the document and nothing else

    uploads = dict(truth.uploads_by_customer)
    totals = document["totals"]
    assert totals["customers"] == len(uploads)
    assert totals["uploads"] == truth.total_uploads
    assert totals["spaceClaimsWithUploads"] == sum(truth.spaces_with_uploads_by_customer.values())
    claimants = planned_spaces(dataset, set(uploads))
    assert totals["spaces"] == len(claimants)
    empty = sum(1 for s in claimants if dataset.uploads[s] == 0)
    assert totals["emptySpaces"] == empty
    assert totals["distinctSpacesWithUploads"] == len(claimants) - empty
    assert totals["emptySpaceShare"] == pytest.approx(empty / len(claimants))
    assert totals["averageUploadsPerCustomer"] == pytest.approx(truth.total_uploads / len(uploads))

    # The histogram is a plain recount of the truth, and covers every customer once.
    recount = Counter(bucket_of(n) for n in uploads.values())
    buckets = document["histogram"]
    assert {b["label"]: b["customers"] for b in buckets} == {
        label: recount[label] for label, _, _ in UPLOAD_BUCKETS
    }
    assert sum(b["customers"] for b in buckets) == totals["customers"]
    assert sum(b["uploads"] for b in buckets) == truth.total_uploads

    ranked = sorted(uploads.items(), key=lambda kv: (-kv[1], kv[0]))[:20]
    assert [(c["customer"], c["uploads"]) for c in document["topCustomers"]] == ranked
    assert all(c["instances"] == [] for c in document["topCustomers"])  # no plan asked for

    quality = document["dataQuality"]
    assert quality["rowsScanned"] == len(dataset.consumer_rows)
    assert quality["rowsWithoutCustomer"] == truth.orphan_rows
    assert quality["skippedCustomers"] == len(truth.skipped_customers)
    assert quality["filteredCustomers"] == 0
    shared = {s: who for s, who in claimants.items() if len(who) > 1}
    assert shared, "the dataset has spaces claimed twice"
    assert quality["sharedSpaces"] == len(shared)
    assert quality["doubleCountedUploads"] == sum(
        dataset.uploads[s] * (len(who) - 1) for s, who in shared.items()
    )
    assert document["plan"] is None
    assert document["sizing"][0]["instances"] == 1
    assert document["sizing"][0]["maxUploads"] == truth.total_uploads
    assert [p.name for p in tmp_path.iterdir()] == [LOCK_NAME]  # the lock stays, nothing else


@pytest.mark.db
def test_generate_json_and_html(loaded: tuple[Dataset, Tables], tmp_path: Path) -> None:
    dataset, tables = loaded
    truth = dataset.truth()
    out, page = tmp_path / "state", tmp_path / "report.html"
    result = invoke(
        "generate",
        "--instances",
        "4",
        *table_args(tables),
        "--output-dir",
        out,
        "--json",
        "--top",
        "5",
        "--instance-hourly-cost",
        "0.25",
        "--report-html",
        page,
    )
    assert result.returncode == 0, result.stderr
    document = orjson.loads(result.stdout)
    assert "Wrote 4 instance files" in result.stderr
    assert f"Saved the report as HTML to {page}" in result.stderr

    files = read_plan(out)
    plan = document["plan"]
    assert [i["uploads"] for i in plan["instances"]] == [
        files[n]["estimatedUploads"] for n in sorted(files)
    ]
    assert sum(i["uploads"] for i in plan["instances"]) == truth.total_uploads
    assert plan["maxUploads"] == max(f["estimatedUploads"] for f in files.values())
    chosen = next(e for e in plan["estimates"] if e["workersPerInstance"] == 10)
    assert chosen["criticalPathHours"] == pytest.approx(plan["maxUploads"] / 10 / 27 / 60)
    assert chosen["fleetCostUsd"] == pytest.approx(4 * chosen["criticalPathHours"] * 0.25)
    assert document["sizing"] == []
    top = document["topCustomers"]
    assert len(top) == 5
    for customer in top:
        (where,) = customer["instances"]
        assert customer["customer"] in files[where]["customers"]
    assert document["outputs"]["files"] == [
        str(out / f"instance-{n}-customers-staging.json") for n in (1, 2, 3, 4)
    ]

    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert "<title>distro report, " in html
    for number in (truth.total_uploads, len(truth.uploads_by_customer)):
        assert f"{number:,}" in html
    assert "Customer Distribution Analysis" in html
    assert "Instance Distribution" in html


@pytest.mark.db
def test_report_shows_the_analysis(loaded: tuple[Dataset, Tables], tmp_path: Path) -> None:
    dataset, tables = loaded
    truth = dataset.truth()
    result = invoke("generate", "--instances", "3", *table_args(tables), "--output-dir", tmp_path)
    assert result.returncode == 0, result.stderr
    report = result.stdout
    for title in (
        "Customers by Uploads",
        "Top 20 Customers by Uploads",
        "Data Quality",
        "Time and Cost Estimates",
    ):
        assert title in report
    whale, most = max(truth.uploads_by_customer.items(), key=lambda kv: kv[1])
    assert whale in report
    assert f"{most:,}" in report
    assert "#" in report  # bars, in plain text off a terminal
    assert "\u2588" not in report


@pytest.mark.db
async def test_space_totals_add_up(loaded: tuple[Dataset, Tables], tmp_path: Path) -> None:
    """Distinct spaces split into with uploads + empty; claims per customer stand apart."""
    dataset, tables = loaded
    truth = dataset.truth()
    tally = await counted(CountSettings(tables=tables), tmp_path)
    summary = summarize(tally, None, throughput=Throughput())

    claimants = planned_spaces(dataset, set(truth.uploads_by_customer))
    with_uploads = sum(1 for s in claimants if dataset.uploads[s] > 0)
    claims = sum(truth.spaces_with_uploads_by_customer.values())
    # The session dataset, counted plainly: a shared space with uploads makes claims
    # one more than the distinct spaces with uploads, which is how the sums broke.
    assert (len(claimants), with_uploads, claims) == (417, 267, 268)

    totals = orjson.loads(to_json(summary))["totals"]
    assert "spacesWithUploads" not in totals  # its meaning changed, so did its name
    assert (totals["spaces"], totals["distinctSpacesWithUploads"], totals["emptySpaces"]) == (
        417,
        267,
        150,
    )
    assert totals["distinctSpacesWithUploads"] + totals["emptySpaces"] == totals["spaces"]
    assert totals["spaceClaimsWithUploads"] == 268

    lines = [" ".join(line.split()) for line in recorded(summary, terminal=False).splitlines()]
    assert "Spaces (distinct, empty ones included) 417" in lines
    assert "with uploads (distinct) 267" in lines
    assert "empty (distinct) 150 (36.0%)" in lines
    assert "Spaces with uploads, per customer (sum of estimatedSpaces) 268" in lines


AWS_PACKAGES = ("aioboto3", "aiobotocore", "botocore", "aiohttp")


def modules_imported_by(*modules: str) -> list[str]:
    """The top-level packages and distro modules a fresh interpreter holds after importing *modules*."""
    code = (
        "import importlib, sys\n"
        f"for name in {list(modules)!r}: importlib.import_module(name)\n"
        "print('\\n'.join(sorted(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return result.stdout.split()


def test_rendering_a_report_imports_no_aws_code() -> None:
    """A report made from a tally (counted elsewhere, or built by hand) needs no AWS SDK."""
    loaded = modules_imported_by("distro.views.analysis", "distro.render")
    assert [m for m in loaded if m.split(".")[0] in AWS_PACKAGES] == []
    assert [m for m in loaded if m.startswith("distro.")] == [
        "distro.balance",
        "distro.console",
        "distro.emit",  # the manifest's format, which verify reads
        "distro.errors",
        "distro.files",
        "distro.options",  # the report's own options (JSON, HTML, how many customers)
        "distro.progress",
        "distro.reconcile",  # where each customer is: plan against records, pure
        "distro.render",
        "distro.render.analysis",
        "distro.render.parts",
        "distro.render.replan",
        "distro.render.status",
        "distro.render.steps",
        "distro.settings",
        "distro.tally",
        "distro.tracking",
        "distro.tracking.records",  # the tracking records a replan or a re-run reports
        "distro.verify",  # what verify found, plain data
        "distro.views",
        "distro.views.analysis",
        "distro.views.common",
        "distro.views.replan",
        "distro.views.status",  # what status measured, plain data
        "distro.views.status_json",  # and its --json
        "distro.views.steps",  # the next steps after a plan, plain data
        "distro.written",  # the plan a folder holds, read back (verify's, the views')
    ]


# --- a DID is never cut, a command copies whole ----------------------------------------------

LONG = CustomerLoad("did:mailto:a-very-long-domain.example.org:" + "x" * 90, 5_000, 2)


def shown(summary: Summary, *, terminal: bool, width: int = 80) -> list[str]:
    """The report's lines on a console *width* columns wide, its styles dropped."""
    console = Console(file=io.StringIO(), force_terminal=terminal, width=width, record=True)
    render(console, summary)
    return console.export_text(styles=False).splitlines()


@pytest.mark.parametrize("terminal", [False, True])
def test_a_did_wider_than_the_console_is_never_cut(terminal: bool) -> None:
    summary = summarize(*planned(tally_of(LONG, BOB, CAROL), 2), throughput=Throughput())
    lines = shown(summary, terminal=terminal)
    rows = [line for line in lines if LONG.customer in line]
    assert len(rows) == 1, "the top customers list it whole, on one line"
    # Its neighbours still read whole: the other columns gave way, not the DID.
    assert any(BOB.customer in line and "2,500" in line for line in lines)


@pytest.mark.parametrize("terminal", [False, True])
def test_each_command_is_a_line_of_its_own_outside_any_frame(terminal: bool) -> None:
    tally, made = planned(tally_of(LONG, BOB, CAROL, DAN), 3)
    assert made is not None
    folder = PlanFolder(Path("/plans/with a space"), "production")
    connection = Connection.explicit(
        "production", Tables("prod-c", "prod-u", "us-west-2", "http://127.0.0.1:8000")
    )
    steps = next_steps(made, folder=folder, connection=connection, tracking_table="t")
    summary = summarize(tally, made, throughput=Throughput(), steps=steps)
    lines = shown(summary, terminal=terminal, width=60)  # narrower than every command
    commands = [
        *steps.copies,
        *(i.start for i in steps.instances if i.start),
        steps.check,
        steps.verify,
        steps.replan,
    ]
    for command in commands:
        assert f"  {command}" in lines, command  # the whole line: a copy is the command


# --- how many instances ----------------------------------------------------------------------


def test_analyze_recommends_the_fewest_instances_a_whale_allows() -> None:
    summary = summarize(*planned(tally_of(ALICE, BOB, CAROL, DAN), None), throughput=Throughput())
    advice = summary.recommendation
    assert advice is not None
    # Alice's 9,000 uploads are the floor from 2 instances on (14,000 / 2 = 7,000 < 9,000).
    assert (advice.instances, advice.capped_by, advice.more_help) == (2, ALICE.customer, False)
    assert advice.split_would_help
    assert advice.hours == pytest.approx(9_000 / 10 / 27 / 60)
    text = "\n".join(shown(summary, terminal=False, width=300))  # the line unwrapped
    assert (
        "Recommended: 2 instances, 0.6 hours at 270 uploads a minute per file (10 workers x 27). "
        f"More do not shorten it: {ALICE.customer} alone takes that long. "
        "--split-large-customers plans its spaces across instances."
    ) in text
    # The guide's 10 workers are not today's runner: one upload at a time per process, so
    # Alice alone takes 9,000 / 27 minutes, on one runner or among ten on a machine.
    one_runner = 9_000 / 27 / 60
    assert advice.one_runner_hours == pytest.approx(one_runner)
    assert (advice.runners_per_host, advice.runners_hours) == (10, pytest.approx(one_runner))
    assert (
        "Today's runner migrates one upload at a time per process: 2 instances of one runner "
        "take 5.6 hours; --instances 2 --runners-per-host 10 (2 machines of 10 runners) take "
        "5.6 hours."
    ) in text
    document = orjson.loads(to_json(summary))
    assert document["recommendation"] == {
        "instances": 2,
        "hours": advice.hours,
        "cappedBy": ALICE.customer,
        "cappedSpace": None,
        "moreHelp": False,
        "splitWouldHelp": True,
        "perMinute": 27.0,
        "workers": 10,
        "unit": "uploads",
        "oneRunnerHours": advice.one_runner_hours,
        "runnersPerHost": 10,
        "runnersHours": advice.runners_hours,
    }


def test_with_runners_per_host_the_recommendation_is_already_todays_runner() -> None:
    hosts = Throughput(workers_per_instance=1, runners_per_host=4)
    summary = summarize(*planned(tally_of(ALICE, BOB, CAROL, DAN), None), throughput=hosts)
    advice = summary.recommendation
    assert advice is not None
    assert (advice.one_runner_hours, advice.runners_per_host, advice.runners_hours) == (
        None,
        None,
        None,
    )
    text = "\n".join(shown(summary, terminal=False, width=200))
    assert "Today's runner" not in text
    assert "hours at 27 uploads a minute per file (one runner)." in text


def test_analyze_says_when_every_instance_added_still_helps() -> None:
    even = [CustomerLoad(f"did:mailto:x.org:u{n:02d}", 100, 1) for n in range(40)]
    summary = summarize(*planned(tally_of(*even), None), throughput=Throughput())
    advice = summary.recommendation
    assert advice is not None
    assert (advice.instances, advice.capped_by, advice.more_help) == (20, None, True)
    assert "Recommended: 20 instances or more: 20 take" in "\n".join(shown(summary, terminal=False))


def test_a_section_title_is_never_read_as_markup() -> None:
    """A title may quote a DID (``status --customer``): shown as it is, on a terminal too."""
    from distro.render.parts import Section, show  # noqa: PLC0415 - the piece under test

    for terminal in (True, False):
        console = Console(file=io.StringIO(), force_terminal=terminal, width=80, record=True)
        show(console, [Section("Spaces of did:mailto:x.org:[bold]boom[/bold]", Text("body"))])
        assert "did:mailto:x.org:[bold]boom[/bold]" in console.export_text(styles=False)
