"""``distro check``: before launch day, do the SDK and the lean Query path agree on the real tables?

DynamoDB Local accepts any signature, so only the real service can say whether
it accepts the lean path's requests. The check makes the fewest calls that
tell: one DescribeTable of each table (the run's own table check) and one
count Query of one space on each path, the same request a run sends. It
counts nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

from distro.dynamo.handle import Dynamo
from distro.dynamo.lean import LeanReader, lean_reader, refusal, refused
from distro.dynamo.reader import CountPage, SdkReader
from distro.errors import DistroError
from distro.settings import PROBE_SPACE, ReaderChoice, Tables

__all__ = ["PROBE_SPACE", "Comparison", "compare_paths"]


@dataclass(frozen=True, slots=True)
class Comparison:
    """What the two paths answered for one count of *space* in *tables*' Upload table.

    *lean* is None when the lean path was not taken: *lean_refusal* then says
    why DynamoDB refused it, or is None when the client cannot use it at all.
    """

    tables: Tables
    space: str
    sdk: CountPage
    lean: CountPage | None
    lean_refusal: str | None = None

    @property
    def agree(self) -> bool:
        """True when a run may count on the lean path, or will not take it anyway."""
        if self.lean is None:
            return self.lean_refusal is None
        return (self.lean.count, self.lean.read_units) == (self.sdk.count, self.sdk.read_units)

    @property
    def advice(self) -> ReaderChoice | None:
        """The reader analyze and generate should be told to use, when the check found one."""
        return "sdk" if self.lean_refusal is not None or not self.agree else None

    def describe(self) -> str:
        """One line saying what the check found."""
        table, sdk = self.tables.upload, self.sdk
        if self.lean_refusal is not None:
            return (
                f"DynamoDB refused the lean Query path on {table} ({self.lean_refusal}) but "
                "accepted the SDK's: analyze and generate would count through the SDK"
            )
        if self.lean is None:
            return (
                f"the lean Query path cannot copy this client's requests; the SDK counted "
                f"{_page(sdk)} of {self.space} in {table}, and analyze and generate count "
                "through it"
            )
        if not self.agree:
            return (
                f"the SDK and the lean Query path disagree on {self.space} in {table}: "
                f"the SDK counted {_page(sdk)}, the lean path {_page(self.lean)}"
            )
        return (
            f"the SDK and the lean Query path agree on {self.space} in {table}: {_page(sdk)} "
            f"each; tables {self.tables.consumer} and {table} are readable"
        )


def _page(page: CountPage) -> str:
    return f"{page.count:,} uploads for {page.read_units:g} read units"


async def compare_paths(db: Dynamo, *, space: str) -> Comparison:
    """Describe both of *db*'s tables, then count *space*'s first page on both paths.

    Failures of the SDK are raised as in a run; a refusal of the lean path
    alone is part of the answer. *db* needs a pool of two connections.
    """
    await db.check_tables()
    lean = await lean_reader(db)  # its dry run sends nothing
    by_lean, refusal_code = None, None
    if isinstance(lean, LeanReader):
        try:
            by_lean = await lean.count_page(space, None)
        except DistroError as error:
            if not refused(error.__cause__):
                raise
            refusal_code = refusal(error.__cause__)
    # After the lean path's Query, so that a refusal of both is the SDK's error.
    by_sdk = await SdkReader(db).count_page(space, None)
    return Comparison(db.tables, space, by_sdk, by_lean, lean_refusal=refusal_code)
