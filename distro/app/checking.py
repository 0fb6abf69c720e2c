"""``verify`` (the files against their manifest) and ``check`` (both read paths on the
real tables).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from distro import aio
from distro.errors import (
    Fix,
    PathsDisagree,
    PlanMismatch,
)
from distro.options import (
    CheckOptions,
    Connection,
    VerifyOptions,
)
from distro.verify import Verification, describe_plan, mismatch_line, no_plan_line, verify_plan
from distro.written import has_plan

# The modules that talk to DynamoDB (so import the SDK, a third of a second) are imported
# by the functions that do: verify, --help and usage errors never pay for them.
if TYPE_CHECKING:
    from distro.check import Comparison


# --- verify and check ---------------------------------------------------------------------------


def verify(options: VerifyOptions) -> Verification:
    """Check the plan in ``options.folder``; raise ``PlanMismatch`` if there is none to check.

    A plan whose files differ from its manifest is not an exception: its
    problems are listed, and ``require_match`` ends the run with them.
    """
    folder = options.folder
    if not has_plan(folder):
        raise PlanMismatch(no_plan_line(folder))
    problems = tuple(verify_plan(folder))
    return Verification(problems, "" if problems else describe_plan(folder))


def require_match(options: VerifyOptions, verification: Verification) -> None:
    """Raise ``PlanMismatch`` with the closing line when *verification* found problems."""
    if verification.problems:
        raise PlanMismatch(mismatch_line(options.folder, list(verification.problems)))


def check(options: CheckOptions) -> Comparison:
    """Describe both tables and count one space on both read paths (``distro.check``).

    Raises ``PathsDisagree`` when analyze and generate should count through the SDK.
    """
    compared = aio.run_stoppable(_compare(options.connection, options.space))
    if not compared.agree:
        raise PathsDisagree(compared.describe(), fix=Fix.READER_SDK)
    return compared


async def _compare(connection: Connection, space: str) -> Comparison:
    from distro.check import compare_paths  # noqa: PLC0415 - the SDK where it is used
    from distro.dynamo.handle import Dynamo  # noqa: PLC0415 - the SDK where it is used

    async with Dynamo.connect(connection, pool_size=2) as db:
        return await compare_paths(db, space=space)
