"""The project's layout holds: no import cycle, small modules in campaigns/, a transport that knows
no model. Read from the source (every import, also those inside functions), nothing is run."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("campaigns", "sessions_app", "tgcampaigns")
CAMPAIGNS_MODULE_MAX_LINES = 400


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "migrations" in parts:
                continue
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules ``name`` imports, anywhere in its body. ``from a import b`` counts as
    importing ``a.b`` when that is a module, else ``a``."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                candidate = f"{source}.{alias.name}"
                targets.add(candidate if candidate in modules else source)
    found = set()
    for target in targets:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if target and target != name:
            found.add(target)
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_of_the_project_imports_itself_back_through_others():
    assert _cycles(_graph()) == []


def test_the_transport_imports_no_model_and_nothing_of_the_orm():
    graph = _graph()
    transport = [name for name in graph if name.startswith("sessions_app.transport")]
    assert transport
    for name in transport:
        project_models = {t for t in graph[name] if t.split(".")[-1] == "models" or ".models." in t}
        assert not project_models, f"{name} imports {project_models}"
        source = _modules()[name].read_text(encoding="utf-8")
        assert "django.db" not in source, f"{name} reaches the ORM"


def test_no_module_in_campaigns_is_over_about_400_lines():
    long = {
        name: n
        for name, path in _modules().items()
        if name.startswith("campaigns")
        and (n := len(path.read_text(encoding="utf-8").splitlines())) > CAMPAIGNS_MODULE_MAX_LINES
    }
    assert not long, f"split these modules: {long}"


def _imports_telethon(path: Path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    names |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    return any(name.split(".")[0] == "telethon" for name in names)


def test_only_the_transport_its_error_mapping_and_the_login_import_telethon():
    allowed = ("sessions_app.transport", "sessions_app.errors", "sessions_app.login")
    importers = {name for name, path in _modules().items() if _imports_telethon(path)}
    assert importers and all(name.startswith(allowed) for name in importers), importers
