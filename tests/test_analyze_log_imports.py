"""nandoctor.logs has no import cycle, lazy imports included, and its readers never reach into the
judging layer (classify, evidence, engine...): a reader turns a file into a table, nothing more."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LOGS = ROOT / "nandoctor" / "logs"
JUDGING = {"nandoctor.logs." + m for m in ("engine", "classify", "evidence", "advice", "watch", "view", "plot")}
# what a reader may import from nandoctor.logs: the table, the column and series helpers, the sampler
READER_MAY_USE = {"nandoctor.logs." + m for m in ("table", "columns", "series", "signals", "sample")}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(LOGS.rglob("*.py"))}


def _imports(name: str, path: Path) -> set[str]:
    """Every nandoctor.logs module `name` imports, at the top or inside a function."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from . import x / from .x import y
                anchor = package.split(".")
                base = ".".join(anchor[: len(anchor) - node.level + 1] + ([base] if base else []))
            # `from nandoctor.logs import series` imports the module nandoctor.logs.series
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        found |= {t for t in targets if t in MODULES and t != name}
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path (first module repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_the_import_graph_is_read_from_every_logs_module():
    assert {"nandoctor.logs.signals", "nandoctor.logs.columns", "nandoctor.logs.readers._csv"} <= set(GRAPH)
    assert "nandoctor.logs.signals" in GRAPH["nandoctor.logs.classify"]
    assert "nandoctor.logs.sample" in GRAPH["nandoctor.logs.readers._csv"]


def test_no_import_cycle_in_logs_lazy_imports_included():
    assert _cycle(GRAPH) is None, " -> ".join(_cycle(GRAPH) or [])


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_readers_do_not_import_the_judging_layer():
    for name, deps in GRAPH.items():
        if name.startswith("nandoctor.logs.readers"):
            outside = {d for d in deps if not d.startswith("nandoctor.logs.readers")}
            assert not outside & JUDGING, f"{name} imports {sorted(outside & JUDGING)}"
            assert outside <= READER_MAY_USE, f"{name} imports {sorted(outside - READER_MAY_USE)}"
    # the sampler runs inside the CSV reader: it may use the detector and the column names only
    assert GRAPH["nandoctor.logs.sample"] <= {"nandoctor.logs.signals", "nandoctor.logs.columns"}


def test_column_helpers_import_nothing_from_logs():
    assert GRAPH["nandoctor.logs.columns"] == set()
    assert GRAPH["nandoctor.logs.signals"] == set()


@pytest.mark.parametrize("order", ["sorted", "reversed", "readers-first"])
def test_every_logs_module_imports_in_a_fresh_interpreter(order):
    names = sorted(MODULES)
    if order == "reversed":
        names.reverse()
    elif order == "readers-first":
        names.sort(key=lambda n: (not n.startswith("nandoctor.logs.readers."), n))
    code = "import importlib, sys\nfor n in sys.argv[1:]:\n    importlib.import_module(n)\n"
    r = subprocess.run([sys.executable, "-c", code, *names], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
