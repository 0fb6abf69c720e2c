"""Whatever a table holds is shown as stored: in files and JSON exactly, on a terminal escaped.

One pair of tables in DynamoDB Local holds customers and spaces whose DIDs carry
rich markup, HTML, quotes, thousands of characters, non-Latin scripts, bidi
controls, newlines, ANSI escape sequences and other control characters. The real
CLI plans them, and every output is checked against the stored strings.
"""

from __future__ import annotations

import asyncio
import html
import os
import re
import unicodedata
from pathlib import Path
from typing import Any

import orjson
import pytest
from helpers import Result, invoke, run, table_args

from distro import console
from distro.balance import CustomerLoad
from distro.console import ESCAPED_CATEGORIES, printable
from distro.dynamo.handle import Dynamo, dynamodb_client
from distro.errors import DistroError
from distro.local.dataset import ConsumerRow, Dataset, create_tables, load
from distro.local.demo import check_against_truth
from distro.local.dynamodb import LocalDynamo
from distro.settings import Tables
from distro.tally import Tally

LONG_TAIL = "".join(chr(ord("a") + i % 26) for i in range(4_000))
HOSTILE = (
    "did:mailto:x.com:[/]",
    "did:mailto:x.com:[bold red]boom[/]",
    "did:mailto:smile:x",  # ":smile:" is an emoji code in rich markup
    'did:mailto:x.com:<script>alert("x")</script>',
    "did:mailto:x.com:'single' \"double\" &amp;",
    f"did:mailto:long.example:{LONG_TAIL}",
    "did:mailto:例子.中国:用户",
    "did:mailto:مثال.السعودية:مستخدم",
    "did:mailto:x.com:\u202eevil\u202c\u200fmark\u2066isolate\u2069\U000e0001tag",
    "did:mailto:x.com:one\ntwo\r\nthree\u2028four\u2029five",
    "did:mailto:x.com:\x1b[31mred\x1b[0m\x1b[2J\x1b[1;1H\x1b]0;owned\x07",
    "did:mailto:x.com:nul\x00bs\x08tab\tdel\x7fcsi\x9b31m",
    "did:mailto:x.com:back\\slash\\x1b",
)
WHALE = "did:mailto:whale.example:[blink]W[/]\x1b[5m<b>"
WHALE_SPACES = {
    "did:key:z6Mk[red]big[/]\x1b[2K<i>\u202e": 120,
    "did:key:z6Mk\nsmall\u200b": 10,
}
EMPTY_SPACE = "did:key:z6Mk[/]empty\x1b[0m"
SGR = re.compile(r"\x1b\[[0-9;]*m")  # rich's own styling on a terminal


def hostile_dataset() -> Dataset:
    """Each hostile customer with one space of its own number of uploads; a split whale."""
    rows = [
        ConsumerRow(f"sub-{n}", "did:web:up.storacha.network", f"did:key:z6Mk{n}", customer)
        for n, customer in enumerate(HOSTILE, start=1)
    ]
    uploads = {f"did:key:z6Mk{n}": n for n in range(1, len(HOSTILE) + 1)}
    rows += [
        ConsumerRow(f"whale-{n}", "did:web:up.storacha.network", space, WHALE)
        for n, space in enumerate(WHALE_SPACES)
    ]
    uploads |= WHALE_SPACES
    rows.append(ConsumerRow("empty", "did:web:up.storacha.network", EMPTY_SPACE, HOSTILE[4]))
    uploads[EMPTY_SPACE] = 0
    return Dataset(tuple(rows), uploads, seed=3)


@pytest.fixture(scope="module")
def hostile(dynamo: LocalDynamo) -> tuple[Dataset, Tables]:
    dataset = hostile_dataset()
    tables = Tables("hostile-consumer", "hostile-upload", "us-east-2", dynamo.endpoint_url)

    async def seed() -> None:
        async with dynamodb_client(tables, pool_size=4) as client:
            await create_tables(
                Dynamo(client, tables),
                consumer_table=tables.consumer,
                upload_table=tables.upload,
                replace=True,
            )
            await load(
                Dynamo(client, tables),
                dataset,
                consumer_table=tables.consumer,
                upload_table=tables.upload,
            )

    asyncio.run(seed())
    return dataset, tables


def distro(*args: str | Path, terminal: bool = False) -> Result:
    """Run the CLI with lines as wide as a DID; with *terminal*, as on a colour terminal.

    rich decides on colour once, when its consoles are made: a terminal run is a process of
    its own, the plain ones run in-process with the same wide lines.
    """
    env = {"COLUMNS": "20000", "PYTHONIOENCODING": "utf-8"}
    if not terminal:
        return invoke(*args, env=env)
    base = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TTY_COMPATIBLE")}
    return run(*args, env=env | {"FORCE_COLOR": "1", "TERM": "xterm-256color"}, base=base)


def generate(tables: Tables, output_dir: Path, *extra: str | Path, terminal: bool = False) -> str:
    result = distro(
        "generate",
        *("--instances", "2", "--split-large-customers", "--top", "50"),
        *table_args(tables),
        *("--output-dir", output_dir),
        *extra,
        terminal=terminal,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def steering(text: str) -> list[str]:
    """The characters of *text* that could steer a terminal (line ends aside)."""
    return sorted({c for c in text if c != "\n" and unicodedata.category(c) in ESCAPED_CATEGORIES})


def first_cells(page: str) -> str:
    """The first cell of every line drawn in a box, joined: a DID folded over lines reads whole.

    The HTML report is 110 columns wide, so long DIDs fold within their cell.
    """
    return "".join(re.findall(r"^│ +(\S+(?: \S+)*)", page, re.MULTILINE))


def assert_shown_escaped(output: str) -> None:
    assert steering(output) == []
    for did in (*HOSTILE, WHALE):
        assert printable(did) in output, did
    big = next(iter(WHALE_SPACES))
    assert f"Space {printable(big)} of {printable(WHALE)} alone holds 120 uploads" in output
    assert ":smile:" in output
    assert "\U0001f604" not in output


def test_printable_escapes_what_steers_a_terminal() -> None:
    assert printable("did:mailto:例子.中国:用户 [b]<i>") == "did:mailto:例子.中国:用户 [b]<i>"
    assert printable("a\x1b[2Jb\n\t\r\x00\x7f\x9b") == "a\\x1b[2Jb\\n\\t\\r\\x00\\x7f\\x9b"
    assert printable("\u202e\u200f\u2028\u2029\U000e0001") == (
        "\\u202e\\u200f\\u2028\\u2029\\U000e0001"
    )
    # A backslash is doubled, so "\x1b" written out never reads as an escaped ESC.
    assert printable("back\\x1b") == "back\\\\x1b"


def test_the_demos_mismatch_error_quotes_the_did_escaped(
    capsys: pytest.CaptureFixture[str],
) -> None:
    dataset = hostile_dataset()
    ansi = HOSTILE[10]
    counted = {**dataset.truth().uploads_by_customer, ansi: 5}
    none: frozenset[str] = frozenset()
    tally = Tally(
        customers=tuple(CustomerLoad(c, n, 1) for c, n in counted.items()),
        below_min_uploads=none,
        skipped=none,
        filtered=none,
        orphan_rows=0,
        shared_spaces=none,
        double_counted_uploads=0,
        planned_spaces=0,
        empty_spaces=0,
        rows_scanned=0,
        spaces_counted=0,
        spaces_resumed=0,
        read_units=0.0,
    )
    with pytest.raises(DistroError) as error:
        check_against_truth(tally, dataset, shards=False)
    console.stderr.print(console.error_line(str(error.value)), soft_wrap=True)  # as the CLI does
    assert capsys.readouterr().err == (
        "Error: the demo's counts differ from the dataset for 1 customers, e.g. "
        f"{printable(ansi)} (counted 5, expected 11)\n"
    )


@pytest.mark.db
def test_files_json_and_html_hold_the_stored_strings(
    hostile: tuple[Dataset, Tables], tmp_path: Path
) -> None:
    _, tables = hostile
    page = tmp_path / "report.html"
    output = generate(tables, tmp_path / "plan", "--json", "--report-html", page)
    # Exact once decoded, yet nothing raw that a terminal would act on (as \u escapes).
    assert steering(output) == []
    assert "\\u202e" in output
    document = orjson.loads(output)
    files = [
        orjson.loads(p.read_bytes())
        for p in sorted((tmp_path / "plan").glob("instance-*-customers-*.json"))
    ]
    assert len(files) == 2
    whole = [c for f in files for c in f["customers"]]
    assert sorted(whole) == sorted(HOSTILE)  # byte for byte, after JSON decoding
    big, small = WHALE_SPACES
    # The whale is planned space by space: its big space alone, its small one with the rest.
    assert [f["spaceAssignments"] for f in files] == [{WHALE: [big]}, {WHALE: [small]}]

    top = [c["customer"] for c in document["topCustomers"]]
    assert top == [WHALE, *reversed(HOSTILE)]  # by uploads: 130, then 13 down to 1
    whale = document["plan"]["whale"]
    assert (whale["customer"], whale["space"], whale["uploads"]) == (WHALE, big, 120)
    assert document["plan"]["splitCustomers"] == [WHALE]

    shown = page.read_text(encoding="utf-8")
    assert "<script>" not in shown
    assert "<b>" not in shown
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in shown
    assert steering(shown) == []
    cells = first_cells(shown)
    for did in (*HOSTILE, WHALE):
        assert html.escape(printable(did)) in cells, did


@pytest.mark.db
def test_plain_report_shows_them_literally(hostile: tuple[Dataset, Tables], tmp_path: Path) -> None:
    _, tables = hostile
    report = generate(tables, tmp_path / "plan")
    assert "Top 14 Customers by Uploads" in report
    assert_shown_escaped(report)
    assert "[bold red]boom[/]" in report
    assert f"Planned space by space (--split-large-customers): {printable(WHALE)}." in report


@pytest.mark.db
def test_terminal_report_shows_them_escaped(
    hostile: tuple[Dataset, Tables], tmp_path: Path
) -> None:
    _, tables = hostile
    report = generate(tables, tmp_path / "plan", terminal=True)
    assert SGR.search(report), "not drawn as on a terminal"
    assert_shown_escaped(SGR.sub("", report))
    assert "\u2588" in report  # solid bars: the terminal layout


@pytest.mark.db
def test_verify_and_errors_quote_them_escaped(
    hostile: tuple[Dataset, Tables], tmp_path: Path
) -> None:
    _, tables = hostile
    plan = tmp_path / "plan"
    generate(tables, plan)
    ansi = HOSTILE[10]
    files = sorted(plan.glob("instance-*-customers-*.json"))
    holder = next(p for p in files if ansi in orjson.loads(p.read_bytes())["customers"])
    (other,) = [p for p in files if p != holder]
    # Listed in the other file too: verify quotes the DID in the problem it reports.
    document: dict[str, Any] = orjson.loads(other.read_bytes())
    document["customers"].append(ansi)
    other.write_bytes(orjson.dumps(document))

    result = distro("verify", "--output-dir", plan)
    assert result.returncode == 1
    names = ", ".join(sorted((holder.name, other.name)))
    assert f"{printable(ansi)} is assigned 2 times ({names})" in result.stdout.splitlines()
    assert steering(result.stdout + result.stderr) == []

    assert tables.endpoint_url is not None
    missing = "no-such\x1b[2J[/]table"
    result = distro(
        "analyze",
        *("--endpoint-url", tables.endpoint_url, "--quiet", "--output-dir", tmp_path / "x"),
        *("--consumer-table", tables.consumer, "--upload-table", missing),
    )
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("Error: ")
    assert printable(missing) in line
    assert steering(result.stderr) == []
