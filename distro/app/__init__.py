"""The application: one function per command, from its options record to the data it shows.

``analyze``, ``generate`` (``planning``), ``status``, ``replan``
(``watching``), ``verify`` and ``check`` (``checking``) each take their
frozen options record (``distro.options``) and return plain data
(a summary, a comparison, a verification) for the CLI to render. This layer
owns what a run needs around the stages: the folder's lock, the counting
checkpoint, the composition count → plan → commit, and the signals: SIGINT
and SIGTERM cancel the run, which saves the checkpoint, and end as
``Interrupted`` or ``Terminated`` (each with its exit code).

The demo (``distro.local.demo``) calls the very functions the commands call,
on DynamoDB Local.
"""

from __future__ import annotations

from distro.app.checking import check, require_match, verify
from distro.app.planning import (
    Counted,
    analyze,
    count_plan_commit,
    generate,
    plan_to_replace,
    summary_of,
)
from distro.app.watching import (
    check_status,
    look_at,
    read_fleet,
    replan,
    replan_held,
    replan_here,
    status,
)

__all__ = [
    "Counted",
    "analyze",
    "check",
    "check_status",
    "count_plan_commit",
    "generate",
    "look_at",
    "plan_to_replace",
    "read_fleet",
    "replan",
    "replan_held",
    "replan_here",
    "require_match",
    "status",
    "summary_of",
    "verify",
]
