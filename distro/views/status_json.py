"""``distro status --json``: the status as one document, keys in camelCase, times in UTC.

The keys are what scripts read, so they stay; ``tests/test_json_fields.py``
holds every field of the view to one of them.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson

from distro.settings import timestamp
from distro.tracking.records import SpaceRecord
from distro.views.common import camel
from distro.views.status import FleetStatus, InstanceStatus, Stalled


def status_json(status: FleetStatus, *, customer: str | None = None) -> bytes:
    """*status* as one indented JSON document, keys in camelCase, times in ISO-8601 UTC."""
    document: dict[str, Any] = {
        "environment": status.env,
        "at": timestamp(status.now),
        "stallAfterMinutes": status.stall_after.total_seconds() / 60,
        "instances": [_instance_json(i) for i in status.instances],
        "fleet": {**_instance_json(status.fleet), "lastInstance": status.last_instance},
        "failures": {
            "byReason": dict(status.failures_by_reason),
            "customers": [
                {
                    "customer": f.customer,
                    "instance": f.instance,
                    "reasons": dict(f.reasons),
                    "retry": f.retry,
                    "hungSpaces": [_stalled_json(s) for s in f.hung],
                }
                for f in status.failed_customers
            ],
        },
        "stalled": [_stalled_json(s) for s in status.stalled],
        "advice": [
            {
                "message": a.message,
                "command": a.command,
                "finishAsIs": timestamp(a.finish_as_is) if a.finish_as_is else None,
                "finishAfterReplan": (
                    timestamp(a.finish_replanned) if a.finish_replanned else None
                ),
            }
            for a in status.advice
        ],
        "unreadable": {
            "count": status.unreadable_count,
            "examples": [{"table": p.table, "key": p.key, "why": p.why} for p in status.unreadable],
        },
        "history": [{"at": timestamp(at), "uploadsDone": done} for at, done in status.history],
        "disagreements": [dataclasses.asdict(d) for d in status.disagreements],
    }
    if customer is not None:
        document["customer"] = {
            "customer": customer,
            "spaces": [_space_json(s) for s in status.spaces_of.get(customer, ())],
        }
    return orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"


def _instance_json(i: InstanceStatus) -> dict[str, Any]:
    return {
        "instance": i.instance,
        "state": i.state,
        "customers": camel(dataclasses.asdict(i.customers)),
        "spaces": camel(dataclasses.asdict(i.spaces)),
        "uploads": {
            "done": i.uploads_done,
            "total": i.uploads_total,
            "doneBeforeMove": i.done_before_move,
        },
        "ratePerMinute": i.rate_per_minute,
        "assumedRatePerMinute": i.assumed_per_minute,
        "predictedFinish": timestamp(i.predicted_finish) if i.predicted_finish else None,
        "predictedFinishUnknown": i.unknown_because or None,
        "lastUpdate": timestamp(i.last_update) if i.last_update else None,
        "machine": i.machine,
        "failures": dict(i.failures),
    }


def _stalled_json(s: Stalled) -> dict[str, Any]:
    return {
        "instance": s.instance,
        "customer": s.customer,
        "space": s.space,
        "lastUpload": s.last_upload,
        "updatedAt": timestamp(s.updated_at),
        "minutes": round(s.minutes, 1),
    }


def _space_json(s: SpaceRecord) -> dict[str, Any]:
    return {
        "space": s.space,
        "status": s.status,
        "instance": s.instance_id,
        "uploads": {"done": s.done, "total": s.total_uploads},
        "lastUpload": s.last_upload,
        "updatedAt": timestamp(s.updated_at),
        "failures": dict(s.failures),
    }
