"""The code's shape: no module of nascore or webapp imports, even lazily inside a function, a module that imports it
back (TYPE_CHECKING imports do not count: they never run), and nascore never imports Django or the web app."""
from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[1]


def _modules(package: str) -> dict[str, Path]:
    out = {}
    for path in (ROOT / package).rglob("*.py"):
        if "migrations" in path.parts:
            continue
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = path
    return out


def _imports(path: Path) -> set[str]:
    """Every module name an import in ``path`` may load, outside ``if TYPE_CHECKING:`` blocks."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", "")) == "TYPE_CHECKING":
            node.body = []
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def import_graph(*packages: str) -> nx.DiGraph:
    """Module -> module it imports; importing ``a.b.c`` also runs the packages ``a`` and ``a.b``."""
    modules: dict[str, Path] = {}
    for package in packages:
        modules.update(_modules(package))
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in modules.items():
        for target in _imports(path):
            parts = target.split(".")
            for i in range(1, len(parts) + 1):
                prefix = ".".join(parts[:i])
                if prefix in modules and prefix != name and not name.startswith(prefix + "."):
                    graph.add_edge(name, prefix)
    return graph


def test_no_import_cycles():
    graph = import_graph("nascore", "webapp")
    cycles = [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
    assert not cycles, f"modules that import each other: {cycles}"


def test_the_checker_sees_a_lazy_cycle(tmp_path):
    """A cycle through an import inside a function is still found (the test above can fail)."""
    graph = nx.DiGraph([("a", "b"), ("b", "a")])
    assert [c for c in nx.strongly_connected_components(graph) if len(c) > 1]
    source = "def f():\n    from nascore import config\n"
    path = tmp_path / "m.py"
    path.write_text(source)
    assert "nascore.config" in _imports(path)


def test_the_engine_knows_nothing_of_the_web_app():
    for name, path in _modules("nascore").items():
        bad = {t for t in _imports(path) if t.split(".")[0] in ("django", "webapp", "celery", "ninja")}
        assert not bad, f"{name} imports {sorted(bad)}"
