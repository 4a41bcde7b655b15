"""The project's layout holds: no import cycle, apps that import only downwards, small modules and
functions, names that say where they live, every ``TGC_*`` setting documented, every cited document
present, a transport that knows no model. Read from the source (every import, also those inside
functions), nothing is run. No exceptions are listed: a rule broken is a test failed."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("campaigns", "sessions_app", "tgcampaigns")
MODULE_MAX_LINES = 500
FUNCTION_MAX_LINES = 60
# The app both campaigns and sessions_app record their audit trail in (issue 16 §2).
AUDIT_APP = "tgcampaigns.audit"
# The app campaigns emits webhook events into (issue 21): below campaigns, so it imports nothing of it.
WEBHOOKS_APP = "tgcampaigns.webhooks"

# Django's conventional module names, one per app: they may repeat across apps.
CONVENTIONAL_NAMES = {"admin", "apps", "checks", "formats", "models", "signals", "tasks", "urls", "views"}


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


def _under(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _upward_imports(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    """(importer, imported) pairs that break the apps' order: ``sessions_app`` imports nothing of
    ``campaigns``, the audit app nothing of either (both use it), and the webhooks app nothing of
    ``campaigns`` nor ``sessions_app`` (which emit into it; the secrets both keep are
    ``tgcampaigns.crypto``'s)."""
    forbidden = [
        ("sessions_app", "campaigns"),
        (AUDIT_APP, "campaigns"),
        (AUDIT_APP, "sessions_app"),
        (WEBHOOKS_APP, "campaigns"),
        (WEBHOOKS_APP, "sessions_app"),
    ]
    return {
        (name, target)
        for name, targets in graph.items()
        for target in targets
        for source, above in forbidden
        if _under(name, source) and _under(target, above)
    }


def _long_functions(modules: dict[str, Path]) -> dict[str, int]:
    """Every function and method over FUNCTION_MAX_LINES (``def`` to its last line, docstring
    included; nested functions count on their own), by dotted name."""
    found = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > FUNCTION_MAX_LINES:
                    found[f"{name}.{node.name}"] = lines
    return found


def _app_of(path: str) -> str:
    """The Django app a module file belongs to: its top folder, or an app nested in
    ``tgcampaigns/`` (``tgcampaigns/audit``, ``tgcampaigns/webhooks``: a folder with an ``apps.py``)."""
    parts = path.split("/")
    if len(parts) > 2 and parts[0] == "tgcampaigns" and (ROOT / parts[0] / parts[1] / "apps.py").exists():
        return "/".join(parts[:2])
    return parts[0]


def _collisions(paths: list[str]) -> dict[str, list[str]]:
    """Module names used more than once, against the rule:

    - Django's conventional names (:data:`CONVENTIONAL_NAMES`: ``apps``, ``urls``, ``checks``,
      ``views``, ``tasks``, ``signals``, …) may repeat across apps, once per app (an app is the
      nearest folder holding an ``apps.py``: ``tgcampaigns/audit`` is one of its own);
    - ``<app>/models/<x>.py`` may share its name with ``<app>/admin/<x>.py`` (the same model's
      admin), and with nothing else;
    - every other module name is used once in the project.

    ``paths`` are module files relative to the root (``campaigns/admin/lists.py``); a package's
    ``__init__.py`` is no module of its own here (packages are rooms, named by their folder).
    """
    by_name: dict[str, list[str]] = defaultdict(list)
    for path in paths:
        parts = path.split("/")
        if parts[-1] != "__init__.py":
            by_name[parts[-1].removesuffix(".py")].append(path)
    found = {}
    for name, where in by_name.items():
        if len(where) < 2:
            continue
        apps = [_app_of(p) for p in where]
        if name in CONVENTIONAL_NAMES and len(set(apps)) == len(apps):
            continue
        rooms = sorted("/".join(p.split("/")[1:-1]) for p in where)
        if len(where) == 2 and len(set(apps)) == 1 and rooms == ["admin", "models"]:
            continue
        found[name] = sorted(where)
    return found


def _app_of(path: str) -> str:
    """The Django app a module file belongs to: its nearest folder with an ``apps.py`` (else its
    top folder)."""
    parts = path.split("/")[:-1]
    while parts and not (ROOT.joinpath(*parts) / "apps.py").exists():
        parts.pop()
    return "/".join(parts) or path.split("/")[0]


def _project_module_paths() -> list[str]:
    return sorted(path.relative_to(ROOT).as_posix() for path in _modules().values())


# --- import order -------------------------------------------------------------------------------


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_of_the_project_imports_itself_back_through_others():
    assert _cycles(_graph()) == []


def test_the_upward_import_finder_finds_sessions_reaching_into_campaigns_and_the_audit_app_into_either():
    graph = {
        "sessions_app.admin": {"campaigns.models", "sessions_app.models"},
        "campaigns.engine.slice": {"sessions_app.leases"},
        "tgcampaigns.audit.models": {"sessions_app.models"},
        "tgcampaigns.audit.admin": {"campaigns.audit"},
        "tgcampaigns.webhooks.sending": {"campaigns.models", "tgcampaigns.conf"},
        "tgcampaigns.conf": set(),
    }
    assert _upward_imports(graph) == {
        ("sessions_app.admin", "campaigns.models"),
        ("tgcampaigns.audit.models", "sessions_app.models"),
        ("tgcampaigns.audit.admin", "campaigns.audit"),
        ("tgcampaigns.webhooks.sending", "campaigns.models"),
    }


def _room_of(name: str) -> str | None:
    """The room (a package inside an app, ``campaigns.reporting``) module ``name`` lives in; None
    for an app's top-level module (wiring, which may import any room)."""
    parts = name.split(".")
    if len(parts) < 2 or not (ROOT / parts[0] / parts[1]).is_dir():
        return None
    return ".".join(parts[:2])


def _room_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    rooms: dict[str, set[str]] = defaultdict(set)
    for name, targets in graph.items():
        if (room := _room_of(name)) is None:
            continue
        rooms[room] |= {other for t in targets if (other := _room_of(t)) not in (None, room)}
    return dict(rooms)


def test_no_two_rooms_import_each_other_even_through_other_rooms():
    """A shared function lives in the lower room (``reporting.counts`` for the home page and the
    admin, ``models.privacy`` for the import and the erasure, ``lists.zonenames`` for the engine and
    staff's time zone), so each room imports only downwards."""
    rooms = _room_graph(_graph())
    assert {"campaigns.reporting", "campaigns.people", "campaigns.lists", "campaigns.admin"} <= set(rooms)
    assert _cycles(rooms) == []


def test_sessions_app_imports_nothing_of_campaigns_and_the_audit_app_nothing_of_either():
    assert _upward_imports(_graph()) == set(), "import downwards only (see the docstring)"


def test_the_transport_imports_no_model_and_nothing_of_the_orm():
    graph = _graph()
    transport = [name for name in graph if name.startswith("sessions_app.transport")]
    assert transport
    for name in transport:
        project_models = {t for t in graph[name] if t.split(".")[-1] == "models" or ".models." in t}
        assert not project_models, f"{name} imports {project_models}"
        source = _modules()[name].read_text(encoding="utf-8")
        assert "django.db" not in source, f"{name} reaches the ORM"


def _imports_telethon(path: Path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    names |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    return any(name.split(".")[0] == "telethon" for name in names)


def test_only_the_transport_its_error_mapping_and_the_login_import_telethon():
    allowed = ("sessions_app.transport", "sessions_app.login")
    importers = {name for name, path in _modules().items() if _imports_telethon(path)}
    assert importers and all(name.startswith(allowed) for name in importers), importers


def test_the_top_level_of_campaigns_holds_wiring_only():
    wiring = {"api", "apps", "checks", "signals", "tasks", "urls", "views"}
    loose = {p.stem for p in (ROOT / "campaigns").glob("*.py")} - {"__init__"}
    assert loose <= wiring, f"put these in a room: {sorted(loose - wiring)}"


def test_every_room_says_what_it_owns():
    """Each package inside an app has a docstring saying what it owns (Django's scaffolding
    packages, such as migrations and management commands, excepted)."""
    scaffolding = {"migrations", "management", "commands", "templatetags", "formats"}
    rooms = [
        init
        for package in PACKAGES
        for init in (ROOT / package).rglob("__init__.py")
        if len(parts := init.parent.relative_to(ROOT).parts) > 1 and not scaffolding & set(parts)
    ]
    assert rooms
    for init in rooms:
        docstring = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert docstring, f"{init.relative_to(ROOT)}: say what this room owns"


# --- size -----------------------------------------------------------------------------------------


def test_the_function_measure_counts_from_def_to_the_last_line(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(FUNCTION_MAX_LINES - 1))
    (tmp_path / "at.py").write_text(f"def at_the_ceiling():\n{body}\n")
    (tmp_path / "over.py").write_text(f"def over_it():\n{body}\n    return 1\n")
    found = _long_functions({"at": tmp_path / "at.py", "over": tmp_path / "over.py"})
    assert found == {"over.over_it": FUNCTION_MAX_LINES + 1}


def test_no_function_of_the_apps_is_over_about_60_lines():
    long = _long_functions(_modules())
    assert not long, f"split these along their seams: {long}"


def test_no_module_of_the_apps_is_over_500_lines():
    long = {
        name: n
        for name, path in _modules().items()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MODULE_MAX_LINES
    }
    assert not long, f"split these modules: {long}"


# --- names ----------------------------------------------------------------------------------------


def test_the_name_rule_lets_conventional_names_and_a_models_admin_pair_repeat_and_nothing_else():
    paths = [
        "campaigns/urls.py",
        "tgcampaigns/urls.py",
        "tgcampaigns/audit/models.py",  # apps nested in tgcampaigns/ are apps of their own
        "tgcampaigns/webhooks/models.py",
        "campaigns/models/lists.py",
        "campaigns/admin/lists.py",
        "campaigns/lists/rows.py",
        "campaigns/engine/rows.py",
        "sessions_app/models/simulator.py",
        "sessions_app/transport/simulator.py",
        "campaigns/checks.py",
        "campaigns/engine/checks.py",
        "campaigns/lists/__init__.py",
        "campaigns/content/__init__.py",
    ]
    assert _collisions(paths) == {
        "rows": ["campaigns/engine/rows.py", "campaigns/lists/rows.py"],
        "simulator": ["sessions_app/models/simulator.py", "sessions_app/transport/simulator.py"],
        "checks": ["campaigns/checks.py", "campaigns/engine/checks.py"],
    }


def test_no_two_modules_share_a_name_beyond_the_rule():
    found = _collisions(_project_module_paths())
    assert not found, f"rename so each name says where it lives: {found}"


# --- settings -------------------------------------------------------------------------------------

SETTING = re.compile(r"\bTGC_[A-Z0-9_]+\b")


def _direct_setting_reads(source: str) -> set[str]:
    """``TGC_*`` settings ``source`` reads from ``django.conf.settings`` itself: ``settings.TGC_X``
    or ``getattr(settings, "TGC_X", …)``."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr.startswith("TGC_"):
            if isinstance(node.value, ast.Name) and node.value.id == "settings":
                found.add(node.attr)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "hasattr")
        ):
            args = node.args
            if len(args) >= 2 and isinstance(args[0], ast.Name) and args[0].id == "settings":
                if isinstance(args[1], ast.Constant) and str(args[1].value).startswith("TGC_"):
                    found.add(args[1].value)
    return found


def _conf_settings() -> set[str]:
    """The settings tgcampaigns/conf.py reads (the names its accessors pass to ``_get``)."""
    tree = ast.parse((ROOT / "tgcampaigns" / "conf.py").read_text(encoding="utf-8"))
    return {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "_get"
        and isinstance(node.args[0], ast.Constant)
    }


def _documented_settings() -> set[str]:
    """The settings named in the "Settings" section of docs/operating.md."""
    text = (ROOT / "docs" / "operating.md").read_text(encoding="utf-8")
    section = text.split("\n## Settings", 1)[1].split("\n## ", 1)[0]
    return set(SETTING.findall(section))


def test_the_setting_finder_sees_attribute_and_getattr_reads():
    source = 'x = settings.TGC_A\ny = getattr(settings, "TGC_B", 0)\nz = other.TGC_C\n'
    assert _direct_setting_reads(source) == {"TGC_A", "TGC_B"}


def test_only_tgcampaigns_conf_reads_a_tgc_setting():
    readers = {
        name: sorted(found)
        for name, path in _modules().items()
        if name not in ("tgcampaigns.conf", "tgcampaigns.settings", "tgcampaigns.settings_test")
        and (found := _direct_setting_reads(path.read_text(encoding="utf-8")))
    }
    assert not readers, f"read these through tgcampaigns.conf: {readers}"


def test_tgcampaigns_conf_reads_every_tgc_setting_the_settings_define():
    source = (ROOT / "tgcampaigns" / "settings.py").read_text(encoding="utf-8")
    defined = {
        target.id
        for node in ast.parse(source).body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name) and target.id.startswith("TGC_")
    }
    assert defined and defined <= _conf_settings(), f"add an accessor: {sorted(defined - _conf_settings())}"


def test_docs_operating_names_every_setting_the_code_reads():
    missing = _conf_settings() - _documented_settings()
    assert _conf_settings() and not missing, f'add to docs/operating.md "Settings": {sorted(missing)}'


# --- documents ------------------------------------------------------------------------------------

DOCUMENT = re.compile(r"(?<![\w.-])([\w-]+(?:/[\w.-]+)*\.md)\b")
URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+")
TEXT_SUFFIXES = {
    ".py",
    ".md",
    ".html",
    ".js",
    ".css",
    ".txt",
    ".toml",
    ".ini",
    ".cfg",
    ".yml",
    ".yaml",
    ".sh",
}
SKIPPED_FOLDERS = {".git", ".venv", "node_modules", "var", ".hypothesis", ".ruff_cache", "__pycache__"}


def _text_files() -> list[Path]:
    files = []
    for path in ROOT.rglob("*"):
        parts = path.relative_to(ROOT).parts
        if any(part in SKIPPED_FOLDERS for part in parts) or parts[:2] == ("tests", "data"):
            continue
        if path.is_file() and (path.suffix in TEXT_SUFFIXES or (parts[0] == "scripts" and not path.suffix)):
            files.append(path)
    return files


def _missing_documents(referrer: Path, text: str, present: set[str]) -> set[str]:
    """The ``*.md`` documents ``text`` (of the file ``referrer``) names that are not in the
    repository. A name resolves from the root (``docs/design.md``), from the referrer's folder
    (a Markdown link), or as the tail of a file's path (``EXPECTED.md``,
    ``messages/markdown_links.md``); addresses (``https://…``) are not documents of ours."""
    folder = referrer.parent.relative_to(ROOT).as_posix()
    missing = set()
    for name in DOCUMENT.findall(URL.sub(" ", text)):
        local = f"{folder}/{name}" if folder != "." else name
        if name in present or local in present or any(p.endswith("/" + name) for p in present):
            continue
        missing.add(name)
    return missing


def test_the_document_finder_resolves_from_the_root_the_folder_and_a_path_tail():
    present = {"README.md", "docs/design.md", "tests/data/cases/EXPECTED.md", "docs/operating.md"}
    referrer = ROOT / "docs" / "operating.md"
    gone, elsewhere = "nowhere" + ".md", "shared/ELSEWHERE" + ".md"
    text = (
        f"see docs/design.md and [design](design.md), README.md, cases/EXPECTED.md, {gone}, "
        f"{elsewhere}, https://example.org/{gone}"
    )
    assert _missing_documents(referrer, text, present) == {gone, elsewhere}


def test_every_document_the_code_and_docs_cite_is_in_the_repository():
    files = _text_files()
    present = {p.relative_to(ROOT).as_posix() for p in files if p.suffix == ".md"}
    present |= {p.relative_to(ROOT).as_posix() for p in ROOT.glob("tests/data/**/*.md")}
    missing = {}
    for path in files:
        found = _missing_documents(path, path.read_text(encoding="utf-8", errors="replace"), present)
        if found:
            missing[path.relative_to(ROOT).as_posix()] = sorted(found)
    assert not missing, f"bring these documents in, or cite one that is here: {missing}"
