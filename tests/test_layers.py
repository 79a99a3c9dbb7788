"""The package's imports point down only, and go round in no circle.

Reads every module of ``tokenwire`` with ``ast`` (imports inside functions and under
``TYPE_CHECKING`` included: a dependency is a dependency wherever it is written), builds the
graph of imports among ``tokenwire`` modules, and checks it against the layers that
docs/ARCHITECTURE.md lists under "Import layers".
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "tokenwire"
ARCHITECTURE = ROOT / "docs" / "ARCHITECTURE.md"


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its ``__init__``)."""
    found: dict[str, Path] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imported(name: str, parent: str, level: int, known: dict[str, Path]) -> str | None:
    if level:
        base = parent.split(".")[: len(parent.split(".")) - level + 1]
        name = ".".join([*base, name] if name else base)
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def imports(module: str, path: Path, known: dict[str, Path]) -> Iterator[str]:
    """The ``tokenwire`` modules ``module`` imports: ``from a.b import c`` is ``a.b.c`` when
    that is a module, else ``a.b``."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "tokenwire":
                    target = _imported(alias.name, package, 0, known)
                    if target:
                        yield target
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if not node.level and base.split(".")[0] != "tokenwire":
                continue
            for alias in node.names:
                full = f"{base}.{alias.name}" if base else alias.name
                target = _imported(full, package, node.level, known)
                if target:
                    yield target


def graph() -> dict[str, set[str]]:
    known = modules()
    return {
        module: {t for t in imports(module, path, known) if t != module}
        for module, path in known.items()
    }


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def documented_layers() -> list[list[str]]:
    """The layers, top first, from the first code block under "## Import layers"."""
    text = ARCHITECTURE.read_text()
    match = re.search(r"^## Import layers\n.*?^```[a-z]*\n(.*?)^```", text, re.M | re.S)
    assert match, f'{ARCHITECTURE} has no code block under "## Import layers"'
    layers = []
    for line in match.group(1).splitlines():
        names = line.split("#")[0].split()
        if names:
            layers.append(names)
    return layers


def layer_of(module: str, layers: list[list[str]]) -> int:
    """The layer of ``tokenwire.<top>...``: where ``<top>`` is listed (the package itself as
    ``tokenwire``)."""
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else parts[0]
    for number, names in enumerate(layers):
        if top in names:
            return number
    raise AssertionError(f"{module}: {top} is in no layer of docs/ARCHITECTURE.md")


def test_every_module_has_a_layer() -> None:
    layers = documented_layers()
    listed = [name for names in layers for name in names]
    assert len(listed) == len(set(listed)), f"listed twice: {listed}"
    for module in modules():
        layer_of(module, layers)


def test_no_import_cycles() -> None:
    found = cycles(graph())
    assert not found, "import cycles among tokenwire modules:\n" + "\n".join(
        " <-> ".join(component) for component in found
    )


def test_imports_point_down() -> None:
    layers = documented_layers()
    upward = [
        f"{module} (layer {layer_of(module, layers) + 1}) imports {target} "
        f"(layer {layer_of(target, layers) + 1})"
        for module, targets in sorted(graph().items())
        for target in sorted(targets)
        if layer_of(target, layers) < layer_of(module, layers)
    ]
    assert not upward, "imports from a lower layer to a higher one:\n" + "\n".join(upward)


def test_the_checks_see_what_they_check() -> None:
    """The graph holds the imports the checks are about (one at module level, one written
    inside a function), relative and dotted names resolve to modules, a cycle is found with
    all its members, and a lower module's layer number is the higher."""
    edges = graph()
    assert "tokenwire.engine.runs" in edges["tokenwire.engine.engine"]
    assert "tokenwire.engine.commands" in edges["tokenwire.engine.cluster"]  # in a function
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    known = {"tokenwire.x": PACKAGE, "tokenwire.x.y": PACKAGE, "tokenwire.x.z": PACKAGE}
    assert _imported("y", "tokenwire.x", 1, known) == "tokenwire.x.y"
    assert _imported("tokenwire.x.z.Name", "tokenwire.x", 0, known) == "tokenwire.x.z"
    layers = [["api"], ["engine"]]
    assert layer_of("tokenwire.engine.run", layers) > layer_of("tokenwire.api.app", layers)
