"""The import graph of distro/: no module imports one from a layer above its own.

Run as a script (``python tests/test_layers.py``) it prints, for each module,
its layer and the distro modules it imports.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "distro"

# The layer order of the redesign, lowest first: a module may import its own layer and below.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("distro", "distro.errors", "distro.aio", "distro.clash"),
    ("distro.settings",),
    ("distro.progress", "distro.files", "distro.flags"),
    ("distro.options",),
    # The DynamoDB plumbing, each file a layer of its own: the handle below the readers
    # that take it, so that the call sites, not the handle, choose a reader.
    ("distro.dynamo", "distro.dynamo.retry", "distro.dynamo.pacing"),
    ("distro.dynamo.handle",),
    ("distro.dynamo.reader", "distro.dynamo.batch"),
    ("distro.dynamo.internals",),
    ("distro.dynamo.sigv4",),
    ("distro.dynamo.lean",),
    (
        "distro.scan",
        "distro.census",
        "distro.checkpoint",
        "distro.tally",
        "distro.tracking",
        "distro.tracking.records",
    ),
    ("distro.count",),
    ("distro.balance", "distro.replan", "distro.schedule"),
    ("distro.emit", "distro.written"),
    ("distro.tracking.table", "distro.verify", "distro.check", "distro.reconcile"),
    ("distro.pipeline", "distro.replan_run"),
    ("distro.views", "distro.views.common"),
    ("distro.views.steps",),
    ("distro.views.analysis", "distro.views.replan", "distro.views.status"),
    ("distro.views.advice", "distro.views.status_json"),
    ("distro.snapshots",),
    ("distro.console",),
    ("distro.render.parts",),
    ("distro.render.steps",),
    ("distro.render.analysis", "distro.render.replan", "distro.render.status"),
    ("distro.render.svg",),
    ("distro.render.html", "distro.render.prometheus"),
    ("distro.render",),
    (
        "distro.local",
        "distro.local.install",
        "distro.local.dynamodb",
        "distro.local.dataset",
        "distro.local.fleet",
    ),
    ("distro.app.planning", "distro.app.watching", "distro.app.checking"),
    ("distro.app",),
    (
        "distro.local.demo",
        "distro.local.__main__",
    ),  # the whole demo, through the application's own functions
    ("distro.cli.groups",),
    ("distro.cli", "distro.__main__"),
)
LAYER_OF = {module: n for n, layer in enumerate(LAYERS) for module in layer}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def distro_imports(path: Path) -> set[str]:
    """The distro modules *path* imports, at the top or inside a function alike."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("distro"):
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.add(child if child in LAYER_OF else node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("distro"))
    return found


def graph() -> dict[str, set[str]]:
    """Every distro module and the distro modules it imports."""
    return {module_name(p): distro_imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def test_every_module_has_a_layer() -> None:
    assert set(graph()) == set(LAYER_OF)


def test_the_import_graph_has_no_cycle() -> None:
    """Not even within a layer, where the rule above allows imports both ways."""
    edges = graph()
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, " -> ".join((*path, module))
        if module in done:
            return
        for imported in sorted(edges.get(module, ())):
            visit(imported, (*path, module))
        done.add(module)

    for module in sorted(edges):
        visit(module, ())


def test_no_module_imports_one_above_its_layer() -> None:
    upward = [
        (module, imported)
        for module, imports in graph().items()
        for imported in sorted(imports)
        if LAYER_OF[imported] > LAYER_OF[module]
    ]
    assert upward == []


if __name__ == "__main__":
    for module, imports in sorted(graph().items(), key=lambda item: (LAYER_OF[item[0]], item[0])):
        names = ", ".join(sorted(i.removeprefix("distro.") for i in imports)) or "-"
        print(f"{LAYER_OF[module]:>2} {module:<26} <- {names}")
