"""``distro status --json``: the status as one document, keys in camelCase, times in UTC.

The keys are what scripts read, so they stay; ``tests/test_json_fields.py``
holds every field of the view to one of them.
"""

from __future__ import annotations

from typing import Any

import orjson

from distro.settings import timestamp
from distro.tracking.records import SpaceRecord
from distro.views.common import document
from distro.views.status import FleetStatus


def status_json(status: FleetStatus, *, customer: str | None = None) -> bytes:
    """*status* as one indented JSON document (``views.common.document``); with *customer*,
    that customer's spaces too."""
    made = document(status)
    if customer is not None:
        made["customer"] = {
            "customer": customer,
            "spaces": [_space_json(s) for s in status.spaces_of.get(customer, ())],
        }
    return orjson.dumps(made, option=orjson.OPT_INDENT_2) + b"\n"


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
