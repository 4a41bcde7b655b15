"""The documents a clone can use: the README stays short, every link between the documents leads to
a file (and heading) that exists, and every picture in docs/ is one the browser tests take."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def _anchors(path: Path) -> set[str]:
    """GitHub's anchors for the headings of ``path``: lower case, punctuation dropped, spaces → -."""
    anchors = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") and not line.startswith("#!"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


def _links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    return [
        target for target in LINK.findall(text) if "://" not in target and not target.startswith("mailto:")
    ]


def test_the_readme_is_read_in_ten_minutes():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines: move detail to docs/"
    long = [n for n, line in enumerate(lines, 1) if len(line) > 300]
    assert not long, f"README.md lines over 300 characters: {long}"


def test_the_readme_opens_with_the_two_commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("```sh", 1)[1].split("```", 1)[0]
    assert [line.split()[0] for line in block.strip().splitlines()] == ["scripts/demo", "scripts/test"]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_link_of_a_document_leads_to_a_file_and_heading_that_exist(document):
    broken = []
    for target in _links(document):
        file_part, _, anchor = target.partition("#")
        linked = (document.parent / file_part).resolve() if file_part else document
        if not linked.exists():
            broken.append(target)
        elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
            broken.append(target)
    assert not broken, f"{document.name} links to what is not there: {broken}"


def test_every_picture_in_the_docs_is_taken_by_a_browser_test_and_every_one_taken_is_shown():
    shown = {
        Path(target).stem
        for document in DOCUMENTS
        for target in _links(document)
        if target.endswith(".png") and "img/" in target
    }
    taken = set()
    for test in (ROOT / "tests").glob("test_browser*.py"):
        taken |= set(re.findall(r"doc_shot\(\"([\w-]+)\"\)", test.read_text(encoding="utf-8")))
    assert shown == taken, f"shown but not taken: {shown - taken}; taken but not shown: {taken - shown}"
    missing = [name for name in shown if not (ROOT / "docs" / "img" / f"{name}.png").exists()]
    assert not missing, f"run TGC_DOC_SCREENSHOTS=1 scripts/test -m browser to take: {missing}"


def test_the_anchor_reader_follows_githubs_rule():
    assert _anchors(ROOT / "docs" / "using.md") >= {"roles-and-permissions", "formats-and-known-exports"}
