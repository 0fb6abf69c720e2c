"""The HTML pages, opened in headless Chromium: no console error, no request out, and charts
whose numbers are ``--json``'s.

Run by ``make test-browser`` (it installs Debian's chromium and Playwright's Python
driver, never a browser of Playwright's own); ``make test`` leaves them out. Each
page's screenshot is saved under ``.cache/screenshots/`` (``make screenshots``
copies them into ``docs/``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from fleets import play
from helpers import invoke, table_args
from test_untrusted import HOSTILE, hostile  # noqa: F401 - the fixture, used by name

from distro.dynamo.handle import Dynamo, dynamodb_client
from distro.files import PlanFolder
from distro.local.dataset import Dataset, create_tables, generate, load
from distro.local.dynamodb import LocalDynamo, local_client_env
from distro.options import DemoOptions
from distro.settings import Tables
from distro.snapshots import keep_look, read_looks

playwright = pytest.importorskip("playwright.sync_api", reason="make test-browser installs it")

pytestmark = [pytest.mark.browser, pytest.mark.db]

CHROMIUM = os.environ.get("DISTRO_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / ".cache" / "screenshots"
# As the machine's notes advise: no background networking, so the only requests are the page's.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class Opened:
    """A page as Chromium showed it: what it said on the console, and every request it made."""

    page: Any
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def attributes(self, selector: str, *names: str) -> list[dict[str, str]]:
        return [
            {name: element.get_attribute(name) for name in names}
            for element in self.page.query_selector_all(selector)
        ]

    def values(self, selector: str) -> list[float]:
        return [float(a["data-value"]) for a in self.attributes(selector, "data-value")]

    def table(self, name: str) -> list[list[str]]:
        rows = self.page.query_selector_all(f'table[data-name="{name}"] tr')
        return [[c.inner_text() for c in row.query_selector_all("td")] for row in rows[1:]]


@contextlib.contextmanager
def opened(path: Path, shot: str) -> Iterator[Opened]:
    """*path* open in headless Chromium, its console errors and requests recorded, and its
    screenshot saved. The driver runs an event loop of its own: nothing inside the block
    may call ``asyncio.run`` (the CLI), so each test runs its commands first."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: make test-browser installs Debian's chromium")
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            seen = Opened(page)
            page.on("console", lambda m: seen.errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: seen.errors.append(str(e)))
            page.on("request", lambda r: seen.requests.append(r.url))
            page.goto(path.as_uri())
            page.wait_for_load_state("load")
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / f"{shot}.png"), full_page=True)
            yield seen
        finally:
            browser.close()


def assert_self_contained(opened: Opened, path: Path) -> None:
    assert opened.errors == []
    assert opened.requests == [path.as_uri()]  # the file itself, and nothing else
    assert len(opened.page.query_selector_all("svg.chart")) >= 2


def run_json(*args: str | Path) -> dict[str, Any]:
    result = invoke(*args, "--json", env=local_client_env())
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = orjson.loads(result.stdout)
    return document


@pytest.fixture(scope="module")
def demo_tables(dynamo: LocalDynamo) -> Tables:
    """The demo's own dataset (1,000 customers, its seed), loaded once."""
    demo = DemoOptions(folder=None)  # type: ignore[arg-type] - only its dataset's defaults
    dataset = generate(customers=demo.customers, seed=demo.seed)
    tables = Tables("page-consumer", "page-upload", "us-east-2", dynamo.endpoint_url)
    asyncio.run(_seed(tables, dataset))
    return tables


async def _seed(tables: Tables, dataset: Dataset) -> None:
    async with dynamodb_client(tables, pool_size=8) as client:
        db = Dynamo(client, tables)
        await create_tables(
            db, consumer_table=tables.consumer, upload_table=tables.upload, replace=True
        )
        await load(db, dataset, consumer_table=tables.consumer, upload_table=tables.upload)


@pytest.mark.parametrize("unit", ["uploads", "shards"])
def test_the_analyze_page_of_the_demo_data(demo_tables: Tables, tmp_path: Path, unit: str) -> None:
    path = tmp_path / "analyze.html"
    report = run_json(
        "analyze", *table_args(demo_tables), "--instances", "5", "--output-dir", tmp_path / "o",
        "--report-html", path, "--balance-by", unit,
    )  # fmt: skip
    assert report["plan"]["unit"] == unit
    with opened(path, "analyze") as page:
        check_analyze_page(page, path, report)


def check_analyze_page(opened: Opened, path: Path, report: dict[str, Any]) -> None:
    assert_self_contained(opened, path)
    plan = report["plan"]
    # The load chart: one bar per instance and the lower bound across them, in one unit.
    loads = [i["load"] for i in plan["instances"]]
    if plan["unit"] == "uploads":
        assert loads == [i["uploads"] for i in plan["instances"]]
    else:  # by shards: each instance's shards, as the shards section counts them
        assert loads == [i["shards"] for i in report["shards"]["instances"]]
    assert opened.values("g.bar") == loads
    assert opened.values("g.line") == [plan["lowerBound"]]
    assert max(loads) == plan["maxUploads"]  # the makespan, in the same unit
    heading = opened.page.query_selector("svg.chart title")
    assert heading is not None
    assert (heading.text_content() or "").startswith(f"{plan['unit'].capitalize()} per instance")
    # The sizes chart: customers per bucket, the whale's bucket marked.
    assert opened.values("g.column") == [b["customers"] for b in report["histogram"]]
    whale = plan["whale"]["customerUploads"]  # the buckets are by uploads, in either unit
    marked = [
        b["label"]
        for b in report["histogram"]
        if b["minUploads"] <= whale and (b["maxUploads"] is None or whale <= b["maxUploads"])
    ]
    rows = opened.page.query_selector_all('table[data-name="sizes"] tr.marked td:first-child')
    assert [r.inner_text() for r in rows] == marked
    # The estimates beside them: workers, hours, cost, as the JSON has them.
    assert [[float(x.replace(",", "")) for x in row] for row in opened.table("estimates")] == [
        [e["workersPerInstance"], round(e["criticalPathHours"], 2), round(e["fleetCostUsd"], 2)]
        for e in plan["estimates"]
    ]


def test_the_status_page_of_a_fleet_played_halfway(dynamo: LocalDynamo, tmp_path: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    played = asyncio.run(play(dynamo.endpoint_url, tmp_path, now))
    path = tmp_path / "status.html"
    run_json(*played.args())  # a look, kept ...
    earlier(PlanFolder(tmp_path), minutes=10)  # ... ten minutes ago: the chart has two points
    status = run_json(*played.args("--report-html", path))
    with opened(path, "status") as page:
        check_status_page(page, path, status)


def earlier(folder: PlanFolder, *, minutes: float) -> None:
    """Move the looks kept in *folder* back by *minutes*, as if taken then (the history keeps
    one point a minute, so looks seconds apart draw one)."""
    looks = [replace(k, at=k.at - timedelta(minutes=minutes)) for k in read_looks(folder)]
    folder.status_snapshots.unlink()
    for n, look in enumerate(looks):
        keep_look(folder, look, looks[:n])


def check_status_page(opened: Opened, path: Path, status: dict[str, Any]) -> None:
    assert_self_contained(opened, path)
    progress = opened.attributes("g.progress", "data-done", "data-total", "data-state")
    assert progress == [
        {
            "data-done": str(i["uploads"]["done"]),
            "data-total": str(i["uploads"]["total"]),
            "data-state": i["state"],
        }
        for i in status["instances"]
    ]
    # Finish times on one axis, the slowest marked.
    moments = opened.attributes("g.moment", "data-label", "data-at", "data-marked")
    finishing = [
        i for i in status["instances"] if i["predictedFinish"] and i["state"] != "finished"
    ]
    assert [m["data-label"] for m in moments] == [f"instance {i['instance']}" for i in finishing]
    for moment, instance in zip(moments, finishing, strict=True):
        at = datetime.fromisoformat(instance["predictedFinish"].replace("Z", "+00:00"))
        assert int(moment["data-at"]) == round(at.timestamp())
    slowest = (
        status["fleet"]["lastInstance"]
        or max(finishing, key=lambda i: i["predictedFinish"])["instance"]
    )
    assert [m["data-label"] for m in moments if m["data-marked"] == "true"] == [
        f"instance {slowest}"
    ]
    # Uploads left over time: one point per look, as the JSON's history.
    total = status["fleet"]["uploads"]["total"]
    assert opened.values("circle.point") == [total - h["uploadsDone"] for h in status["history"]]
    assert len(status["history"]) >= 2
    # Failures by reason, and the stalled list.
    reasons = status["failures"]["byReason"]
    assert sorted(opened.values("g.bar")) == sorted(reasons.values())
    assert [row[2] for row in opened.table("stalled")] == [s["space"] for s in status["stalled"]]


def test_a_page_whose_dids_hold_markup_scripts_and_control_characters(
    hostile: tuple[Dataset, Tables],  # noqa: F811
    tmp_path: Path,
) -> None:
    _, tables = hostile
    path = tmp_path / "hostile.html"
    report = run_json(
        "analyze", *table_args(tables), "--instances", "3", "--top", "50", "--output-dir",
        tmp_path / "o", "--report-html", path,
    )  # fmt: skip
    with opened(path, "hostile") as page:
        check_hostile_page(page, path, report)


def check_hostile_page(opened: Opened, path: Path, report: dict[str, Any]) -> None:
    assert_self_contained(opened, path)  # no script ran, no image was fetched
    assert opened.page.query_selector_all("script") == []
    assert opened.page.query_selector_all("body img, body b, body i") == []
    shown = [row[0] for row in opened.table("top")]
    assert len(shown) == len(report["topCustomers"])
    # Each DID reads as its text: markup as written, control characters made visible.
    assert 'did:mailto:x.com:<script>alert("x")</script>' in shown
    assert any(HOSTILE[3] == s for s in shown)
    assert not any("\x1b" in s or "\x07" in s for s in shown)
