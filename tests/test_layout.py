"""The package's layout rules that a newcomer relies on: no import cycle between the model
(``models``) and its weights code (``weights``), lazy imports included; the model's module reads
no files itself."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "lavis_dynrefer"


def _imports(tree: ast.AST) -> set[str]:
    """Modules (and module.name) a file imports anywhere, TYPE_CHECKING blocks excepted."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if (isinstance(child, ast.If) and isinstance(child.test, ast.Name)
                    and child.test.id == "TYPE_CHECKING"):
                continue
            if isinstance(child, ast.ImportFrom) and (child.module or "").startswith(
                    "lavis_dynrefer"):
                found.add(child.module)
                found.update(f"{child.module}.{alias.name}" for alias in child.names)
            visit(child)

    visit(tree)
    return found


def _graph() -> dict[str, set[str]]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        parts = parts[:-1] if parts[-1] == "__init__" else parts
        modules[".".join(("lavis_dynrefer", *parts))] = _imports(ast.parse(path.read_text()))
    return {m: {d for d in deps if d in modules and d != m} for m, deps in modules.items()}


def _cycles(graph: dict[str, set[str]], members: set[str]) -> list[list[str]]:
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for dep in sorted(graph[module] & members):
            if state.get(dep) == 1:
                cycles.append([*stack[stack.index(dep):], dep])
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[module] = 2

    for module in sorted(members):
        if module not in state:
            visit(module)
    return cycles


def test_no_import_cycle_between_model_and_weights():
    graph = _graph()
    members = {m for m in graph
               if m.startswith(("lavis_dynrefer.models", "lavis_dynrefer.weights"))}
    assert "lavis_dynrefer.weights.checkpoint" in members
    assert _cycles(graph, members) == []


def test_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph, set(graph)) == [["a", "b", "c", "a"]]


def test_model_module_reads_no_files():
    source = (PACKAGE / "models" / "dynrefer.py").read_text()
    for call in ("open(", "torch.load(", "json.load(", "read_checkpoint("):
        assert call not in source, call
