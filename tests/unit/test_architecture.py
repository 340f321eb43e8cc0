"""The structure the architecture promises: no import cycle, small modules, the core
written against protocols, the environment read only at the config boundary, and an
``import cachekit`` that loads neither the web framework, the OTLP exporters nor dynaconf."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "cachekit"
MAX_LINES = 500


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its ``__init__``)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imported(path: Path, known: dict[str, Path]) -> set[str]:
    """The package's modules ``path`` imports anywhere: at the top, inside functions and
    under ``TYPE_CHECKING``."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name in known}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imported(path, known) - {name} for name, path in known.items()}


def test_architecture_cycle_finder_finds_a_cycle() -> None:
    """The cycle finder itself reports a loop of imports (so an empty result means something)."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_architecture_has_no_import_cycle() -> None:
    """No module imports itself through others, deferred and TYPE_CHECKING imports included."""
    import_graph = graph()
    assert len(import_graph) > 50  # the scan saw the package
    assert cycles(import_graph) == []


def test_architecture_modules_stay_small() -> None:
    """No module is over 500 lines: a longer one is split by concept."""
    long = {
        name: count
        for name, path in modules().items()
        if (count := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def calls(tree: ast.AST, function: str) -> Iterator[ast.Call]:
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == function
        ):
            yield node


def test_architecture_no_isinstance_on_concrete_tiers_outside_the_resolver() -> None:
    """Layers are written against the tier protocols: only the resolver names the classes."""
    concrete = {"RedisBackend", "InMemoryCache", "TieredCache", "ResilientCache", "NullCache"}
    offenders = []
    for name, path in modules().items():
        if name == "cachekit.resolver":
            continue
        for call in calls(ast.parse(path.read_text()), "isinstance"):
            checked = ast.unparse(call.args[1]) if len(call.args) > 1 else ""
            if any(cls in checked for cls in concrete):
                offenders.append(f"{name}:{call.lineno}: isinstance(..., {checked})")
    assert offenders == []


def test_architecture_only_config_reads_the_environment() -> None:
    """``os.environ`` / ``os.getenv`` appear only in ``cachekit.config`` (the boundary)."""
    offenders = []
    for name, path in modules().items():
        if name.startswith("cachekit.config"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in {"environ", "getenv"}
                and isinstance(node.value, ast.Name)
                and node.value.id == "os"
            ):
                offenders.append(f"{name}:{node.lineno}: os.{node.attr}")
    assert offenders == []


def test_architecture_import_cachekit_loads_no_optional_dependency() -> None:
    """A library user's ``import cachekit`` loads no web framework, OTLP exporter, grpc or
    dynaconf (checked in a fresh interpreter)."""
    probe = (
        "import sys, cachekit\n"
        "heavy = {'fastapi', 'starlette', 'uvicorn', 'grpc', 'dynaconf', 'pydantic'}\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in heavy\n"
        "                or m.startswith('opentelemetry.exporter'))\n"
        "print(loaded)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
