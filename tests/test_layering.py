"""The folders show the data flow, and this test keeps the imports to it.

Layers, lowest first: a module may import modules of its own layer and of the layers below, never of
a layer above (an import against the flow), and the package's modules import no cycle. The
dashboard reads only the published dataset, through the schema. Imports under ``if TYPE_CHECKING:``
are for annotations only and do not count.
"""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("shared", ("pipelines", "pipelines.errors", "pipelines.schema", "pipelines.failpoints", "pipelines.children", "pipelines.store",
                "pipelines.engine")),
    ("plan and read", ("pipelines.read", "pipelines.manifest")),
    ("parse", ("pipelines.parse",)),
    ("dedupe", ("pipelines.dedupe",)),
    ("label", ("pipelines.label",)),
    ("publish", ("pipelines.publish", "pipelines.load")),
    ("run", ("pipelines.build", "pipelines.cli", "pipelines.__main__", "pipelines.evaluate", "pipelines.validate", "pipelines.readme")),
]
DASHBOARD_MAY_IMPORT = ("pipelines.schema",)


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Modules of this project that ``path`` imports (at any depth, outside TYPE_CHECKING blocks)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for child in node.body for n in ast.walk(child))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return {m for m in found if m.split(".")[0] in ("pipelines", "dashboard")}


def _modules(folder: str) -> dict[str, Path]:
    return {_module_name(p): p for p in (ROOT / folder).rglob("*.py") if "data" not in p.relative_to(ROOT).parts}


PIPELINE_MODULES = _modules("pipelines")


def _known(name: str) -> str | None:
    """The project module ``name`` refers to (an imported name may be a function of a module)."""
    while name and name not in PIPELINE_MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _layer(module: str) -> int:
    best, rank = -1, -1
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > best:
                best, rank = len(p), i
    assert rank >= 0, f"{module} is in no layer: add it to LAYERS"
    return rank


def test_no_import_goes_against_the_flow() -> None:
    wrong = []
    for name, path in PIPELINE_MODULES.items():
        mine = _layer(name)
        for imported in _imports(path):
            target = _known(imported)
            if target is None or target == name:
                continue
            if _layer(target) > mine:
                wrong.append(f"{name} ({LAYERS[mine][0]}) imports {target} ({LAYERS[_layer(target)][0]})")
    assert not wrong, "\n".join(sorted(wrong))


def test_the_package_has_no_import_cycle() -> None:
    graph = {name: {t for i in _imports(path) if (t := _known(i)) and t != name and t != "pipelines"} for name, path in PIPELINE_MODULES.items()}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_the_dashboard_reads_only_the_schema() -> None:
    wrong = []
    for name, path in [*_modules("dashboard").items(), ("app", ROOT / "app.py")]:
        for imported in _imports(path):
            if imported.startswith("pipelines") and not any(imported == m or imported.startswith(m + ".") for m in DASHBOARD_MAY_IMPORT):
                wrong.append(f"{name} imports {imported}")
    assert not wrong, "\n".join(sorted(wrong))


def test_every_module_is_in_a_layer() -> None:
    for name in PIPELINE_MODULES:
        _layer(name)
