"""Every field of the status and replan views reaches ``--json``, or is listed as left out.

The documents keep their keys (scripts read them), so a field's key is its name in
camelCase unless ``WHERE`` says otherwise (a dotted path for a nested key). A field
added to a view without a key in its JSON, and without a reason in ``LEFT_OUT``,
fails here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import replace
from typing import Any

import orjson
from test_states import CUSTOMERS, NOW, PLAN, SPACES, STALL

from distro.reconcile import Disagreement
from distro.tracking.records import LeftAlone, Move, Problem
from distro.views.common import camel
from distro.views.replan import CriticalPath, Finish, InstanceRow, ReplanSummary, replan_json
from distro.views.status import Advice, Look, measure
from distro.views.status_json import status_json

WHERE = {
    ("FleetStatus", "env"): "environment",
    ("FleetStatus", "now"): "at",
    ("FleetStatus", "stall_after"): "stallAfterMinutes",
    ("FleetStatus", "last_instance"): "fleet.lastInstance",
    ("FleetStatus", "failures_by_reason"): "failures.byReason",
    ("FleetStatus", "failed_customers"): "failures.customers",
    ("FleetStatus", "unreadable"): "unreadable.examples",
    ("FleetStatus", "unreadable_count"): "unreadable.count",
    ("InstanceStatus", "uploads_done"): "uploads.done",
    ("InstanceStatus", "uploads_total"): "uploads.total",
    ("InstanceStatus", "done_before_move"): "uploads.doneBeforeMove",
    ("InstanceStatus", "assumed_per_minute"): "assumedRatePerMinute",
    ("InstanceStatus", "unknown_because"): "predictedFinishUnknown",
    ("FailedCustomer", "hung"): "hungSpaces",
    ("Advice", "finish_replanned"): "finishAfterReplan",
    ("ReplanSummary", "env"): "environment",
    ("ReplanSummary", "table"): "trackingTable",
    ("ReplanSummary", "finished"): "finishedCustomers",
    ("ReplanSummary", "pinned"): "pinnedCustomers",
    ("ReplanSummary", "balanced"): "balancedCustomers",
    ("ReplanSummary", "before"): "criticalPath.before",
    ("ReplanSummary", "after"): "criticalPath.after",
    ("ReplanSummary", "moved"): "recordsUpdated",
    ("ReplanSummary", "raced"): "startedMeanwhile",
    ("ReplanSummary", "corrected_customers"): "corrected.customers",
    ("ReplanSummary", "corrected_uploads"): "corrected.uploads",
    ("ReplanSummary", "uploads_moved"): "movedUploads",
    ("ReplanSummary", "finish_before"): "finish.before",
    ("ReplanSummary", "finish_after"): "finish.after",
    ("ReplanSummary", "bound"): "finish.lowerBound",
    ("ReplanSummary", "speeds_measured"): "speeds.measured",
    ("ReplanSummary", "speeds_note"): "speeds.note",
    ("ReplanSummary", "dropped"): "droppedInstances",
    ("Move", "source"): "from",
    ("Move", "target"): "to",
    ("LeftAlone", "instance_id"): "instance",
    ("InstanceRow", "per_minute"): "ratePerMinute",
}
LEFT_OUT = {
    ("FleetStatus", "spaces_of"): "--customer shows one customer's spaces, under 'customer'",
    ("FleetStatus", "planned"): "the terminal's 'Plan' line; --json has the instances",
    ("LeftAlone", "planned"): "generate's: a replan's raced customer is in no file yet",
}


def key_of(name: str) -> str:
    """*name*'s key in camelCase, as ``views.common.camel`` makes it."""
    (key,) = camel({name: None})
    return str(key)


def missing(value: Any, document: Any) -> list[str]:
    """The fields of *value* (a dataclass, and those it holds) with no key in *document*."""
    found = []
    name = type(value).__name__
    for field in dataclasses.fields(value):
        if (name, field.name) in LEFT_OUT:
            continue
        path = WHERE.get((name, field.name)) or key_of(field.name)
        node = document
        for key in path.split("."):
            if not isinstance(node, dict) or key not in node:
                found.append(f"{name}.{field.name} ({path})")
                break
            node = node[key]
        else:
            held = getattr(value, field.name)
            if dataclasses.is_dataclass(held) and isinstance(node, dict):
                found += missing(held, node)
            elif isinstance(held, tuple) and held and dataclasses.is_dataclass(held[0]):
                found += missing(held[0], node[0])
    return found


def test_every_field_of_the_status_view_reaches_its_json() -> None:
    status = measure(Look(CUSTOMERS, SPACES, PLAN), env="staging", now=NOW, stall_after=STALL)
    status = replace(
        status,
        advice=(Advice("replan", "distro replan --instances 7", NOW, NOW),),
        unreadable=(Problem("progress", "did:key:x", "totalUploads is not a count"),),
        unreadable_count=1,
        disagreements=(Disagreement("not-in-plan", 1, "1 customers ..."),),
    )
    assert status.failed_customers[0].hung  # every nested record is there to be checked
    assert missing(status, orjson.loads(status_json(status))) == []


def test_every_field_of_the_replan_view_reaches_its_json() -> None:
    path = CriticalPath("1", 100, 0.5)
    summary = ReplanSummary(
        env="staging",
        table="tracking",
        instances=2,
        finished=1,
        pinned=1,
        balanced=1,
        before=path,
        after=path,
        lower_bound=50.0,
        moves=(Move("did:mailto:x:a", "1", "2", "pending"),),
        moved=1,
        raced=(LeftAlone("did:mailto:x:b", "in-progress", "1"),),
        files=("instance-1-customers-staging.json",),
        finish_before=Finish(1.0, NOW),
        distribution=(InstanceRow(1, 1, 100, 27.0, 1.0, "restart"),),
        dropped=(2,),
    )
    assert missing(summary, orjson.loads(replan_json(summary))) == []


def test_a_field_without_a_key_is_found() -> None:
    status = measure(Look(CUSTOMERS, SPACES, PLAN), env="staging", now=NOW, stall_after=STALL)
    document = orjson.loads(status_json(status))
    del document["instances"][0]["uploads"]["doneBeforeMove"]
    assert missing(status, document) == ["InstanceStatus.done_before_move (uploads.doneBeforeMove)"]
