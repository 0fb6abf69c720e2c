"""The charts' SVG and the pages around them, without a browser (``make test-browser`` opens them)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

import pytest

from distro.render.html import POLICY, status_page
from distro.render.svg import (
    Bar,
    Moment,
    Progress,
    bars,
    columns,
    number,
    over_time,
    progress,
    text,
    timeline,
)
from distro.views.status import Counts, FleetStatus, InstanceStatus

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
SVG = "{http://www.w3.org/2000/svg}"


def parsed(svg: str) -> ElementTree.Element:
    """The chart as XML: it must be well formed to be drawn at all."""
    return ElementTree.fromstring(svg)


def test_text_escapes_markup_and_makes_control_characters_visible() -> None:
    hostile = 'did:mailto:x.com:<script>alert("x")</script>\x1b[31m\x07&'
    shown = text(hostile)
    assert not {"<", ">", '"', "\x1b", "\x07"} & set(shown)
    assert "&amp;" in shown
    assert number(1234567) == "1,234,567"
    assert number(2.5) == "2.50"


def test_bars_carry_their_values_and_the_bound_line() -> None:
    svg = bars(
        [Bar("instance 1", 300), Bar("<b>2</b>", 100, marked=True)],
        title="load",
        line=250,
        line_label="lower bound",
    )
    root = parsed(svg)
    groups = root.findall(f"{SVG}g[@class='bar']")
    assert [g.get("data-value") for g in groups] == ["300", "100"]
    assert [g.get("data-label") for g in groups] == ["instance 1", "<b>2</b>"]  # as text
    assert [g.find(f"{SVG}title").text for g in groups] == ["instance 1: 300", "<b>2</b>: 100"]  # type: ignore[union-attr]
    widths = [float(g.find(f"{SVG}rect").get("width")) for g in groups]  # type: ignore[union-attr, arg-type]
    assert widths[0] == pytest.approx(3 * widths[1], abs=0.2)  # drawn to 0.1 px
    (line,) = root.findall(f"{SVG}g[@class='line']")
    assert line.get("data-value") == "250"


def test_columns_are_log_scaled_and_an_empty_bucket_has_no_height() -> None:
    root = parsed(columns([Bar("0", 0), Bar("1-10", 9), Bar("11-100", 99)], title="sizes"))
    heights = [float(r.get("height")) for r in root.iter(f"{SVG}rect")]  # type: ignore[arg-type]
    assert heights[0] == 0
    assert heights[2] == 2 * heights[1]  # log10(100) = 2 log10(10)


def test_progress_timeline_and_over_time() -> None:
    root = parsed(
        progress(
            [Progress("instance 1", 50, 200, "running"), Progress("instance 2", 0, 0, "finished")],
            title="done",
        )
    )
    rows = root.findall(f"{SVG}g[@class='progress']")
    assert [(r.get("data-done"), r.get("data-total")) for r in rows] == [("50", "200"), ("0", "0")]
    moments = [
        Moment("instance 1", NOW + timedelta(hours=1)),
        Moment("instance 2", NOW + timedelta(hours=4), marked=True),
    ]
    axis = parsed(timeline(moments, now=NOW, title="finish"))
    marked = [g.get("data-label") for g in axis.iter(f"{SVG}g") if g.get("data-marked") == "true"]
    assert marked == ["instance 2"]
    line = parsed(
        over_time(
            [(NOW - timedelta(hours=1), 100.0), (NOW, 60.0)],
            projection=[(NOW, 60.0), (NOW + timedelta(hours=2), 0.0)],
            title="left",
        )
    )
    assert [c.get("data-value") for c in line.iter(f"{SVG}circle")] == ["100", "60"]
    assert len(line.findall(f"{SVG}polyline")) == 2
    assert "nothing measured yet" in over_time([], title="left")


def test_a_watched_status_page_reloads_itself_and_forbids_every_outside_request() -> None:
    counts = Counts(completed=1, in_progress=1, pending=0, failed=0)
    instance = InstanceStatus(
        "1", "running", counts, counts, 10, 20, 30.0, NOW + timedelta(hours=1), NOW
    )
    view = FleetStatus(
        env="staging",
        now=NOW,
        stall_after=timedelta(minutes=30),
        instances=(instance,),
        fleet=instance,
        last_instance="1",
        failures_by_reason={},
        failed_customers=(),
        stalled=(),
        history=((NOW - timedelta(minutes=5), 5), (NOW, 10)),
    )
    watched = status_page(view, [], refresh=10).decode()
    assert '<meta http-equiv="refresh" content="10">' in watched
    assert f'content="{POLICY}"' in watched
    assert "refresh" not in status_page(view, []).decode()
    assert not re.search(r"<(script|link|img|iframe)\b", watched)
