"""Another distribution's ``distro`` beside this one, found at start-up (cheaply).

PyPI's ``distro`` (a dependency of many packages) installs an import package
and a command of the same name as this project's. In one environment the
second install overwrites the first's files, and pip says nothing: whichever
came last owns ``distro/__init__.py`` and the ``distro`` script. This project
is therefore distributed under its own name (``distro-planner``), and
``other_distro`` finds PyPI's by its metadata folder (``distro-<version>.dist-info``)
without importing ``importlib.metadata`` (50 ms at every start).
"""

from __future__ import annotations

import os
import sys

OWN_ENTRY_POINT = "distro.cli:main"  # a folder of this project's, from before its rename


def other_distro() -> str | None:
    """The version of another distribution named ``distro`` on the import path, or None."""
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if name.startswith("distro-") and name.endswith(".dist-info"):
                folder = os.path.join(entry or ".", name)
                if not _ours(folder):
                    return name[len("distro-") : -len(".dist-info")]
    return None


def _ours(folder: str) -> bool:
    try:
        with open(os.path.join(folder, "entry_points.txt"), encoding="utf-8") as points:
            return OWN_ENTRY_POINT in points.read()
    except OSError:
        return False


def clash_line(version: str) -> str:
    """The one line that says PyPI's ``distro`` *version* shares this environment, and the fix."""
    return (
        f"Warning: PyPI's distro {version} is installed in this environment too; it and "
        "distro-planner install the same 'distro' package and command, so one overwrote the "
        "other's files: install distro-planner on its own (pipx install . or uv tool install .)"
    )
