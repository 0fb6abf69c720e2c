"""Running the application's coroutines: ``asyncio.run`` for results of any size, and the
signals that stop a run.

When the main coroutine returns, CPython's ``asyncio.Runner.run`` (3.11)
checks whether its SIGINT handler is still installed with
``signal.getsignal``, which tries to read the handler, a
``functools.partial`` holding the main task, as a ``signal.Handlers`` member,
fails, and formats the failure with the handler's ``repr``: the task's, and
so the whole result's. For a tally of 2 million customers that is a string of
about 280 MB, built and dropped in 4 seconds after the work is done, and it
set the run's peak memory (855 MiB at 5 million spaces against 579 MiB
without it). ``run`` hands the result back in a box whose repr is constant.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, Generic, TypeVar

from distro.errors import Interrupted, Stopped, Terminated

T = TypeVar("T")


class _Box(Generic[T]):
    """A result, with a repr that does not look inside it."""

    __slots__ = ("value",)

    def __init__(self, value: T) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "<result>"


async def _boxed(coroutine: Coroutine[Any, Any, T]) -> _Box[T]:
    return _Box(await coroutine)


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coroutine)``, its result never formatted on the way out."""
    return asyncio.run(_boxed(coroutine)).value


def run_stoppable(coroutine: Coroutine[Any, Any, T], checkpoint: Path | None = None) -> T:
    """Run *coroutine*; SIGINT and SIGTERM cancel it, which saves the counting *checkpoint*
    (if the run has one), and end as ``Interrupted`` or ``Terminated`` (each its exit code)."""
    terminated = False

    async def main() -> T:
        task = asyncio.current_task()
        assert task is not None

        def on_sigterm() -> None:
            nonlocal terminated
            terminated = True
            task.cancel()

        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, on_sigterm)
        return await coroutine

    try:
        return run(main())
    except (KeyboardInterrupt, asyncio.CancelledError):
        raise _stopped(checkpoint, terminated=terminated) from None


def _stopped(checkpoint: Path | None, *, terminated: bool) -> Stopped:
    saved = (
        f"progress is saved in {checkpoint}; "
        if checkpoint is not None and checkpoint.exists()
        else ""
    )
    kind: Callable[[str], Stopped] = Terminated if terminated else Interrupted
    return kind(f"{saved}run the same command again to resume.")
