"""The import rule of docs/architecture.md, read from the source (AST: nothing is imported).

    ui  --HTTP-->  api  -->  core  <--  worker
                     \\-> broker <-/

The core imports no framework and nothing above it, and has no cycle; the UI is a client of the
API over HTTP and imports no server package; the API and the worker do not import each other.
Every import counts, also one deferred into a function: deferring hides a cycle, it does not
remove it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ROOT / "services"

FRAMEWORKS = ("fastapi", "starlette", "celery", "kombu", "streamlit", "uvicorn")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in SERVICES.rglob("*.py")}


def imports(path: Path) -> Iterator[str]:
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    return imports_in(path.read_text(encoding="utf-8"), package)


def imports_in(source: str, package: str) -> Iterator[str]:
    """Every module the source imports, deferred ones too; `from pkg import name` counts as
    `pkg.name` when that is a module of ours, else as `pkg`."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = parts[: len(parts) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                child = f"{base}.{alias.name}"
                yield child if child in MODULES else base


def graph() -> dict[str, set[str]]:
    return {name: set(imports(path)) for name, path in MODULES.items()}


def offenders(layer: str, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for name, targets in graph().items():
        if name == layer or name.startswith(f"{layer}."):
            for target in sorted(targets):
                if any(target == f or target.startswith(f"{f}.") for f in forbidden):
                    found.append(f"{name} imports {target}")
    return found


def cycles(edges: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(component)

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_core_imports_no_framework_and_nothing_above_it() -> None:
    above = (
        "services.api",
        "services.worker",
        "services.ui",
        "services.launcher",
        "services.broker",
    )
    assert offenders("services.core", FRAMEWORKS + above) == []


def test_the_ui_imports_no_server_package() -> None:
    server = ("services.core", "services.api", "services.worker", "services.broker")
    assert offenders("services.ui", server) == []


def test_the_api_and_the_worker_do_not_import_each_other() -> None:
    assert offenders("services.api", ("services.worker",)) == []
    assert offenders("services.worker", ("services.api",)) == []


def test_the_core_has_no_cycle() -> None:
    core = {
        name: {t for t in targets if t.startswith("services.core")}
        for name, targets in graph().items()
        if name.startswith("services.core")
    }
    found = cycles(core)
    assert found == [], found


def test_the_checker_sees_imports_and_cycles() -> None:
    """The rule can fail: a deferred import is seen, and a cycle is found."""
    source = "def run():\n    from services.core.chapters import service\n    from .. import db\n"
    found = set(imports_in(source, "services.core.writing"))
    assert found == {"services.core.chapters.service", "services.core.db"}
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
