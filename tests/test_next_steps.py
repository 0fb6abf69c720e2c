"""Next steps: after a plan is written, the commands that deploy and start it, printed and as JSON."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import orjson
import pytest
from helpers import invoke, table_args
from test_report import ALICE, BOB, CAROL, DAN, planned, recorded, tally_of

from distro.local.dataset import Dataset
from distro.settings import Tables, Throughput
from distro.views.analysis import summarize

DEPLOYING = Path(__file__).resolve().parent.parent / "docs" / "deploying.md"
# Two ordinary customers of the loaded dataset; Carol's two spaces both hold uploads.
CAROL_DID = "did:mailto:proton.me:carol2051"
FRANK_DID = "did:mailto:fastmail.com:frank1702"
PLAN_FILE = re.compile(r"instance-(\d+)-(?:customers|spaces)-staging\.(?:json|txt)")
INSTANCE_NAMED = re.compile(r"ec2-instance-(\d+)|--instance(?:-id)? (\d+)")
EMPTY_LINE = (
    "   Instance 3: nothing to do (the plan gives it no customer and no space): copy nothing, "
    "start no runner"
)


def steps_block(stdout: str) -> list[str]:
    """The lines of the plain report's Next Steps section, below its rule."""
    lines = stdout.splitlines()
    return lines[lines.index("Next Steps") + 2 :]


def commands(block: list[str]) -> list[str]:
    """The commands of *block*: the lines indented by exactly two spaces."""
    return [line[2:] for line in block if line.startswith("  ") and line[2] != " "]


def json_commands(steps: dict[str, Any]) -> list[str]:
    """The commands of ``nextSteps`` in the order the report prints them."""
    busy = [i for i in steps["instances"] if not i["empty"]]
    return [
        *steps["copies"],
        steps["check"],
        *(i["start"] for i in busy if i["start"] is not None),
        *(i["spaces"] for i in busy if i["spaces"] is not None),
        steps["verify"],
        steps["replan"],
    ]


def generate(tables: Tables, out: Path, *extra: str) -> tuple[list[str], dict[str, Any]]:
    """Run generate for 3 instances, plain then ``--json``: the printed steps and the JSON's."""
    args = [*table_args(tables), "--output-dir", str(out), "--instances", "3", *extra]
    plain = invoke("generate", *args)
    assert plain.returncode == 0, plain.stderr
    assert plain.stderr == f"Wrote 3 instance files to {out}/\n"  # the session, not the report
    assert "Wrote" not in plain.stdout
    as_json = invoke("generate", *args, "--json", "--yes")
    assert as_json.returncode == 0, as_json.stderr
    return steps_block(plain.stdout), orjson.loads(as_json.stdout)["nextSteps"]


@pytest.mark.db
@pytest.mark.parametrize("split", [False, True])
def test_generate_prints_steps_that_name_the_files_and_instances_it_wrote(
    loaded: tuple[Dataset, Tables], tmp_path: Path, split: bool
) -> None:
    _, tables = loaded
    out = tmp_path / "state"
    # Two whole customers, or (split) one customer's two spaces: instance 3 gets nothing.
    filters = ["--filter", CAROL_DID] if split else ["--filter", CAROL_DID, "--filter", FRANK_DID]
    block, steps = generate(tables, out, *filters, *(["--split-large-customers"] if split else []))

    printed = commands(block)
    assert printed == json_commands(steps)  # the JSON steps are the printed ones
    assert EMPTY_LINE in block
    assert steps["instances"][2] == {
        "instanceId": 3,
        "machine": 3,
        "host": "ec2-instance-3",
        "file": f"{out}/instance-3-customers-staging.json",  # written, with no customer
        "empty": True,
        "start": None,
        "spacesFile": None,
        "spaces": None,
        "change": None,  # set after a replan only
    }
    named: set[int] = set()
    for command in printed:
        files = [m for m in PLAN_FILE.finditer(command)]
        for found in files:
            assert (out / found.group(0)).is_file(), command
        numbers = {int(a or b) for a, b in INSTANCE_NAMED.findall(command)}
        numbers |= {int(f.group(1)) for f in files}
        assert len(numbers) <= 1, command  # one command, one instance
        named |= numbers
    assert named == {1, 2}  # every command names an instance that has work; 3 has none
    spaces = [c for c in printed if "src/migrate.js --space" in c]
    starts = [c for c in printed if "migrate-instance.js" in c]
    if split:
        assert (len(spaces), starts) == (2, [])  # Carol is split, no whole customer is left
        assert printed[0] == (
            f"scp {out}/instance-1-customers-staging.json {out}/instance-1-spaces-staging.txt "
            "ec2-instance-1:<runner checkout>/migration-state/"
        )
    else:
        assert spaces == []
        assert starts == [
            f"STORACHA_ENV=staging node src/migrate-instance.js --instance {n}" for n in (1, 2)
        ]
        assert printed[0] == (
            f"scp {out}/instance-1-customers-staging.json "
            "ec2-instance-1:<runner checkout>/migration-state/"
        )
    assert printed[-2:] == [
        f"distro verify --output-dir {out} --env staging",
        f"distro replan --instances 3 --env staging --output-dir {out} "
        f"--consumer-table {tables.consumer} --upload-table {tables.upload} "
        f"--endpoint-url {tables.endpoint_url}",
    ]
    verify = invoke(*shlex.split(printed[-2])[1:])  # the re-check runs as printed
    assert verify.returncode == 0, verify.stderr


def guide_shapes() -> list[re.Pattern[str]]:
    """The commands of the deploying guide's "Deploying the plan" block, placeholders as patterns."""
    text = DEPLOYING.read_text()
    section = text[text.index("## Deploying the plan") :]
    start = section.index("```bash\n") + len("```bash\n")
    block = section[start : section.index("\n```", start)]
    fills = {
        "<N>": r"\d+",
        "<env>": r"\w+",
        "<output-dir>": r"\S+",
        "<instances>": r"\d+",
        " <connection options>": r"(?: --[\w-]+ \S+)*",
    }
    shapes = []
    for line in block.splitlines():
        if line.startswith("#"):
            continue
        pattern = re.escape(line)
        for placeholder, fill in fills.items():
            pattern = pattern.replace(re.escape(placeholder), fill)
        shapes.append(re.compile(pattern))
    return shapes


@pytest.mark.db
def test_the_deploying_guide_shows_the_commands_the_report_prints(
    loaded: tuple[Dataset, Tables], tmp_path: Path
) -> None:
    _, tables = loaded
    whole, _ = generate(tables, tmp_path / "a", "--filter", CAROL_DID, "--filter", FRANK_DID)
    split, _ = generate(tables, tmp_path / "b", "--filter", CAROL_DID, "--split-large-customers")
    printed = commands(whole) + commands(split)
    shapes = guide_shapes()
    assert len(shapes) == 7
    for command in printed:
        assert any(s.fullmatch(command) for s in shapes), command
    for shape in shapes:
        assert any(shape.fullmatch(c) for c in printed), shape.pattern


@pytest.mark.db
def test_analyze_names_the_generate_that_would_write_the_plan(
    loaded: tuple[Dataset, Tables], tmp_path: Path
) -> None:
    _, tables = loaded
    out = tmp_path / "state"
    args = ["--output-dir", out, "--env", "production", "--min-uploads", "5"]
    result = invoke(
        "analyze", *table_args(tables), "--instances", "3", "--split-large-customers", *args
    )
    assert result.returncode == 0, result.stderr
    assert tables.endpoint_url is not None
    assert steps_block(result.stdout) == [
        "This run wrote no instance file. To write the plan and see how to deploy it:",
        f"  distro generate --instances 3 --env production --output-dir {out} "
        f"--split-large-customers --consumer-table {tables.consumer} "
        f"--upload-table {tables.upload} --endpoint-url {tables.endpoint_url} --min-uploads 5",
    ]
    assert "migrate-instance.js" not in result.stdout


@pytest.mark.db
def test_analyze_without_instances_names_the_generate_of_the_recommended_count(
    loaded: tuple[Dataset, Tables], tmp_path: Path
) -> None:
    _, tables = loaded
    result = invoke("analyze", *table_args(tables), "--output-dir", tmp_path, "--json")
    assert result.returncode == 0, result.stderr
    analysis = orjson.loads(result.stdout)
    recommended = analysis["recommendation"]["instances"]
    command = shlex.split(analysis["generateCommand"])
    assert command[:4] == ["distro", "generate", "--instances", str(recommended)]


@pytest.mark.db
def test_the_suggested_generate_writes_the_plan_analyze_showed(
    loaded: tuple[Dataset, Tables], tmp_path: Path
) -> None:
    # Filters, the skip list and shard counting change which customers the plan holds:
    # a suggested command that dropped them would write another plan than the one shown.
    _, tables = loaded
    shaping = ["--filter", "gmail.com", "--skip", "did:mailto:gmail.com:alice", "--count-shards"]
    shown = invoke(
        "analyze",
        *table_args(tables),
        "--instances",
        "2",
        *shaping,
        "--json",
        "--output-dir",
        tmp_path,
    )
    assert shown.returncode == 0, shown.stderr
    analysis = orjson.loads(shown.stdout)
    command = shlex.split(analysis["generateCommand"])
    assert command[:2] == ["distro", "generate"]
    for word in shaping:
        assert word in command

    written = invoke(*command[1:])

    assert written.returncode == 0, written.stderr
    files = sorted(tmp_path.glob("instance-*-customers-staging.json"))
    documents = [orjson.loads(f.read_bytes()) for f in files]
    assert [d["estimatedUploads"] for d in documents] == [
        i["uploads"] for i in analysis["plan"]["instances"]
    ]
    assert sum(d["totalCustomers"] for d in documents) == analysis["totals"]["customers"]
    assert all("estimatedShards" in d for d in documents)


def test_every_section_has_the_same_frame() -> None:
    # Alice holds more than the fair share of 2 instances: the whale note is shown.
    summary = summarize(*planned(tally_of(ALICE, BOB, CAROL, DAN), 2), throughput=Throughput())
    lines = recorded(summary, terminal=True).splitlines()
    balance = next(n for n, line in enumerate(lines) if "Load Balance" in line)
    assert lines[balance].startswith("╭─ Load Balance ")
    whale = next(line for line in lines if "alone holds" in line)
    assert whale.startswith("│ ")  # the note sits inside the panel


@pytest.mark.db
def test_the_html_page_holds_the_report_not_the_session(
    loaded: tuple[Dataset, Tables], tmp_path: Path
) -> None:
    _, tables = loaded
    out, page = tmp_path / "state", tmp_path / "report.html"
    result = invoke(
        "generate", *table_args(tables), "--instances", "3", "--output-dir", out,
        "--filter", CAROL_DID, "--report-html", page,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        f"Wrote 3 instance files to {out}/",
        f"Saved the report as HTML to {page}",
    ]
    html = page.read_text()
    assert "Wrote" not in html
    assert "Saved the report" not in html
    assert "Next Steps" in html


@pytest.mark.parametrize(
    "changes",
    [("start", "unchanged"), ("restart", "start"), ("restart", "unchanged"), ("unchanged",)],
)
def test_the_steps_after_a_replan_are_numbered_1_to_5(changes: tuple[str, ...]) -> None:
    from distro.render.steps import step_lines  # noqa: PLC0415 - the piece under test
    from distro.views.steps import InstanceStep, NextSteps  # noqa: PLC0415 - as above

    instances = tuple(
        InstanceStep(n, n, f"ec2-instance-{n}", f"f{n}", False, f"start {n}", None, None, change)
        for n, change in enumerate(changes, start=1)
    )
    steps = NextSteps("staging", "/srv", "check", instances, ("scp",), "verify", "replan")
    numbers = [line[0] for line in step_lines(steps) if line[:1].isdigit()]
    assert numbers == ["1", "2", "3", "4", "5"]
