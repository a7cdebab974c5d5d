"""Every pointer to a document lands inside the repository, on a real heading.

Docstrings and comments say `docs/protocol.md#settings`, Markdown pages link
`[x](storage.md#durability-choice)`: the file must exist and the anchor must
be one of its headings (as GitHub makes anchors), or the pointer has gone
stale. Documents kept outside the repository are not pointed at at all.
"""

from __future__ import annotations

import ast
import io
import re
import subprocess
import tokenize
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# Pointers in source files and in documents, relative to the repository root.
SOURCE_POINTER = re.compile(r"(?<![\w./-])((?:docs|editors/\w+)/[\w./-]*?\.md)(#[\w-]+)?")
MARKDOWN_LINK = re.compile(r"\]\(([^)\s]+)\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
# Names of documents that live outside the repository (spelled in parts so
# that this file does not match itself).
OUTSIDE = ["CONTRACT" + ".md", "HOUSE" + "_STYLE", "NOTES" + "_DEPS", "/work/" + "shared"]
SKIP_PARTS = {"node_modules", "fixtures", ".venv", "test-results"}
TEXT_SUFFIXES = {".py", ".md", ".lua", ".ts", ".mjs", ".js", ".sh", ".toml", ".json", ".css", ""}


def tracked_files() -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    files = []
    for line in out.splitlines():
        path = REPO / line
        if SKIP_PARTS.intersection(path.parts) or path.suffix not in TEXT_SUFFIXES:
            continue
        if path.name == "package-lock.json" or not path.is_file():
            continue
        files.append(path)
    return files


def prose(path: Path) -> str:
    """The text of a file that is meant for readers: comments and docstrings in
    code (a path in a string literal is data, not a pointer), all of a page."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".md":
        return text
    if path.suffix == ".py":
        parts = [
            tok.string
            for tok in tokenize.generate_tokens(io.StringIO(text).readline)
            if tok.type == tokenize.COMMENT
        ]
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                parts.append(ast.get_docstring(node) or "")
        return "\n".join(parts)
    marker = {".lua": "--", ".sh": "#", ".toml": "#", "": "#"}.get(path.suffix, "//")
    lines = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(("*", "/*")) and marker == "//":
            lines.append(stripped)
        elif marker in line:
            lines.append(line[line.index(marker) :])
    return "\n".join(lines)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"[`*_]{2,}|`", "", heading.strip()).lower()
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link keeps its text
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(md: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    in_code = False
    for line in md.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
        m = HEADING.match(line)
        if m is None or in_code:
            continue
        base = slug(m.group(2))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def broken_pointers() -> list[str]:
    broken = []
    for path in tracked_files():
        text = prose(path)
        rel = path.relative_to(REPO)
        targets: list[tuple[Path, str | None, str]] = []
        for m in SOURCE_POINTER.finditer(text):
            targets.append((REPO / m.group(1), (m.group(2) or "")[1:] or None, m.group(0)))
        if path.suffix == ".md":
            for m in MARKDOWN_LINK.finditer(text):
                link = m.group(1)
                if re.match(r"^[a-z]+:", link):  # http:, https:, mailto:
                    continue
                file_part, _, anchor = link.partition("#")
                target = (path.parent / file_part).resolve() if file_part else path
                targets.append((target, anchor or None, link))
        for target, anchor, shown in targets:
            if not target.exists():
                broken.append(f"{rel}: {shown}: no such file")
            elif anchor and target.suffix == ".md" and anchor not in anchors(target):
                broken.append(f"{rel}: {shown}: no heading #{anchor} in {target.name}")
    return broken


def test_every_document_pointer_resolves() -> None:
    assert broken_pointers() == []


def test_nothing_points_outside_the_repository() -> None:
    found = [
        f"{path.relative_to(REPO)}:{n}: {line.strip()[:100]}"
        for path in tracked_files()
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
        if any(name in line for name in OUTSIDE)
    ]
    assert found == []


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("`orion.chat`", "orionchat"),
        ("One turn, from the editor to `turn_end`", "one-turn-from-the-editor-to-turn_end"),
        ("Tool calls as text (`toolMode`)", "tool-calls-as-text-toolmode"),
        ("Caches may degrade, the ledger never does", "caches-may-degrade-the-ledger-never-does"),
    ],
)
def test_anchors_are_made_like_github(heading: str, anchor: str) -> None:
    assert slug(heading) == anchor
