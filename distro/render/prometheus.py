"""``status --prometheus``: the fleet as node_exporter's textfile collector reads it.

``prometheus_client`` writes the format and the file (``write_to_textfile``
writes a temporary file and renames it, so the collector never reads half a
file); this module only says which metrics there are. Each series carries
``env`` and, per runner, ``instance`` (a Prometheus server that scrapes the
collector renames that one ``exported_instance`` unless ``honor_labels`` is
set). A look that could not read the tables writes ``distro_status_readable 0``
alone, so an alert can tell "stalled" from "cannot see".
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, write_to_textfile
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from distro.errors import Fix, OutputError
from distro.views.status import FleetStatus, State

READABLE = "distro_status_readable"


class _FleetMetrics(Collector):
    """The metrics of one look at the fleet (None: the tables could not be read)."""

    def __init__(self, env: str, view: FleetStatus | None) -> None:
        self.env, self.view = env, view

    def collect(self) -> Iterator[Metric]:
        readable = GaugeMetricFamily(
            READABLE, "1 if distro status could read the runner's tables, else 0.", labels=["env"]
        )
        readable.add_metric([self.env], 0 if self.view is None else 1)
        yield readable
        if self.view is not None:
            yield from _fleet(self.view)


def _fleet(view: FleetStatus) -> Iterator[Metric]:
    labels = ["env", "instance"]
    done = CounterMetricFamily(
        "distro_uploads_done", "Uploads the runner's records say are migrated.", labels=labels
    )
    planned = GaugeMetricFamily(
        "distro_uploads_planned", "Uploads planned for the instance.", labels=labels
    )
    rate = GaugeMetricFamily(
        "distro_uploads_per_second", "Uploads a second, measured from the records.", labels=labels
    )
    finish = GaugeMetricFamily(
        "distro_predicted_finish_timestamp_seconds",
        "When the instance is predicted to finish, as a Unix time.",
        labels=labels,
    )
    stalled = GaugeMetricFamily(
        "distro_instance_stalled",
        "1 if the instance has work left but no record changed within the stall time.",
        labels=labels,
    )
    failed = CounterMetricFamily(
        "distro_failed_uploads",
        "Uploads the runner failed, by the runner's reason.",
        labels=[*labels, "reason"],
    )
    for i in view.instances:
        where = [view.env, i.instance]
        done.add_metric(where, i.uploads_done)
        planned.add_metric(where, i.uploads_total)
        if i.rate_per_minute is not None:
            rate.add_metric(where, i.rate_per_minute / 60)
        if i.predicted_finish is not None:
            finish.add_metric(where, i.predicted_finish.timestamp())
        stalled.add_metric(where, 1 if i.state == State.STALLED else 0)
        for reason, uploads in sorted(i.failures.items()):
            failed.add_metric([*where, reason], uploads)
    fleet = GaugeMetricFamily(
        "distro_fleet_predicted_finish_timestamp_seconds",
        "When the whole fleet is predicted to finish, as a Unix time.",
        labels=["env"],
    )
    if view.fleet.predicted_finish is not None:
        fleet.add_metric([view.env], view.fleet.predicted_finish.timestamp())
    stalled_spaces = GaugeMetricFamily(
        "distro_stalled_spaces", "Spaces in progress whose record stopped changing.", labels=["env"]
    )
    stalled_spaces.add_metric([view.env], len(view.stalled))
    yield from (done, planned, rate, finish, stalled, failed, fleet, stalled_spaces)


def write_metrics(path: Path, env: str, view: FleetStatus | None) -> None:
    """Write the metrics of *view* (None: the tables could not be read) to *path*, atomically."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(_FleetMetrics(env, view))
    try:
        write_to_textfile(str(path), registry)
    except OSError as exc:
        raise OutputError(
            f"cannot write the metrics to {path} ({exc.strerror or exc})", fix=Fix.PROMETHEUS_PATH
        ) from None
