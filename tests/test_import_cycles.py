"""No import cycles inside ``ebm_jax``: the import graph of its modules, built from their ASTs, is acyclic.

Every ``import ebm_jax.x`` / ``from ebm_jax.x import y`` counts, at module level
or inside a function (a deferred import hides a cycle; it does not remove it).
``from ebm_jax.pkg import name`` depends on ``ebm_jax.pkg.name`` when that is a
module, else on the package ``ebm_jax.pkg``. A package's ``__init__`` is the
package's node, so ``pkg/__init__.py`` re-exporting ``pkg.a`` adds ``pkg -> pkg.a``;
and importing ``pkg.a`` from outside ``pkg`` first runs ``pkg/__init__.py``, so it
also adds an edge to ``pkg`` (not from inside ``pkg``, where the package is
already initialising).
"""

from __future__ import annotations

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = "ebm_jax"

def module_name(path: pathlib.Path, root: pathlib.Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def import_graph(root: pathlib.Path = ROOT) -> dict[str, set[str]]:
    files = {module_name(p, root): p for p in (root / PACKAGE).rglob("*.py")}
    graph = {name: set() for name in files}
    for name, path in files.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative import
                    base = name.split(".") if is_package else name.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                targets = [f"{module}.{alias.name}" if f"{module}.{alias.name}" in files else module
                           for alias in node.names]
            for target in targets:
                while target and target not in files:  # "ebm_jax.a.b.func" -> the module that holds it
                    target = target.rpartition(".")[0]
                if target and target != name and target.split(".")[0] == PACKAGE:
                    graph[name].add(target)
                    parent = target.rpartition(".")[0]
                    while parent.count("."):  # enclosing packages the importer is not inside of
                        if parent in files and not (name + ".").startswith(parent + "."):
                            graph[name].add(parent)
                        parent = parent.rpartition(".")[0]
    return graph


def strongly_connected_components(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm; components with more than one module (or a self-loop) are cycles."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def cycles(graph):
    return [c for c in strongly_connected_components(graph) if len(c) > 1]


def test_the_cycle_finder_finds_a_planted_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_importing_a_submodule_from_outside_depends_on_its_package(tmp_path):
    """pkg/__init__ imports x, and x imports pkg.sub: a real cycle through pkg's __init__."""
    (tmp_path / PACKAGE / "pkg").mkdir(parents=True)
    (tmp_path / PACKAGE / "__init__.py").write_text("")
    (tmp_path / PACKAGE / "pkg" / "__init__.py").write_text("from ebm_jax.pkg.sub import f\nfrom ebm_jax import x\n")
    (tmp_path / PACKAGE / "pkg" / "sub.py").write_text("from ebm_jax.pkg import other\n")
    (tmp_path / PACKAGE / "pkg" / "other.py").write_text("")
    (tmp_path / PACKAGE / "x.py").write_text("def g():\n    from ebm_jax.pkg.sub import f\n")
    assert cycles(import_graph(tmp_path)) == [["ebm_jax.pkg", "ebm_jax.x"]]


def test_graph_sees_function_level_and_from_package_imports():
    graph = import_graph()
    assert "ebm_jax.checks" in graph["ebm_jax.train.optim"]
    assert all(node.startswith(PACKAGE) for node in graph)


def test_no_import_cycle_in_ebm_jax():
    found = cycles(import_graph())
    assert not found, "import cycles inside ebm_jax (each line one cycle):\n" + "\n".join(
        " <-> ".join(c) for c in found)


def test_samplers_know_no_model():
    """``ebm_jax.samplers`` imports only ``ebm_jax.checks``, ``ebm_jax.precision`` and itself (no model, method or trainer)."""
    graph = import_graph()
    outside = {target for name, targets in graph.items() if name.startswith("ebm_jax.samplers")
               for target in targets if not target.startswith("ebm_jax.samplers")}
    assert outside <= {"ebm_jax.checks", "ebm_jax.precision"}, outside
