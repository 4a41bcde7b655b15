"""``sessions_app`` stands alone (issue 16 §2): it imports nothing from ``campaigns``, anywhere in
its source (also inside functions), and writes to the audit trail through ``tgcampaigns.audit``."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names.add(node.module or "")
    return names


def test_sessions_app_imports_nothing_from_campaigns():
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            n for n in _imported_modules(path) if n.split(".")[0] == "campaigns"
        )
        for path in (ROOT / "sessions_app").rglob("*.py")
    }

    assert not {path: names for path, names in offenders.items() if names}
