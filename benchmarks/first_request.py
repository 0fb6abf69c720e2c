"""How long a command takes from its process's start to its first request.

    python -m benchmarks.first_request SPAWNED OUT MODULE [ARGS...]

runs ``python -m MODULE ARGS`` in this process, with ``socket.connect``
watched: the first connection to a network address is the first request on
its way. The seconds from *SPAWNED* (the parent's ``time.time()`` just before
it started this process) to then are written to the file *OUT*. Nothing else
changes: the command runs, prints and exits as it would.
"""

from __future__ import annotations

import runpy
import socket
import sys
import time
from typing import Any

_connect = socket.socket.connect


def main() -> None:
    """Watch the first connection, then run the module as ``__main__``."""
    spawned, out, module, *args = sys.argv[1:]
    first: list[float] = []

    def connect(self: socket.socket, address: Any) -> Any:
        if not first and isinstance(address, tuple):
            first.append(time.time() - float(spawned))
            with open(out, "w") as file:
                file.write(f"{first[0]:.4f}\n")
        return _connect(self, address)

    socket.socket.connect = connect  # type: ignore[method-assign]
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
