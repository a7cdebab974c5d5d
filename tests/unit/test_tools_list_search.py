"""list_files, search and symbols: ignore rules, bounds, buffers, regex safety."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orion_lsp.agent.tools import listing, search
from orion_lsp.agent.tools.listing import ListFilesTool
from orion_lsp.agent.tools.search import SearchTool
from orion_lsp.agent.tools.symbols import SymbolsTool, regex_symbols
from orion_lsp.testing.fakes import MemoryDocuments, make_context


@pytest.fixture()
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    files = {
        ".gitignore": "build/\n*.log\n!keep.log\n",
        "src/main.py": "import os\n\ndef main():\n    return 'needle'\n",
        "src/util.js": "export function helper() {\n  return 1;\n}\n",
        "src/pkg/.gitignore": "generated.py\n",
        "src/pkg/generated.py": "needle = 'generated'\n",
        "src/pkg/real.py": "class Real:\n    pass\n",
        "build/out.py": "needle = 'build'\n",
        "app.log": "needle log\n",
        "keep.log": "kept\n",
        "node_modules/lib/index.js": "needle\n",
        ".venv/lib/x.py": "needle\n",
        ".git/config": "needle\n",
        "src/__pycache__/main.cpython-311.pyc": "needle\n",
        "README.md": "# Title\nA needle in the readme.\n",
    }
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "o.py").write_text("needle outside\n")
    os.symlink(outside, root / "linkdir")
    os.symlink(outside / "o.py", root / "link_out.py")
    os.symlink(root / "src" / "main.py", root / "link_in.py")
    return root


async def _list(ws: Path, **args: object) -> str:
    r = await ListFilesTool().run(dict(args), make_context(ws))
    assert r.ok, r.content
    return r.content


async def test_list_honours_gitignore_and_skip_dirs(ws: Path) -> None:
    out = (await _list(ws)).splitlines()
    assert out == sorted(out)
    assert out == [
        ".gitignore",
        "README.md",
        "keep.log",
        "link_in.py",
        "src/main.py",
        "src/pkg/.gitignore",
        "src/pkg/real.py",
        "src/util.js",
    ]


async def test_list_subfolder_applies_ancestor_gitignore(ws: Path) -> None:
    out = (await _list(ws, path="src/pkg")).splitlines()
    assert out == ["src/pkg/.gitignore", "src/pkg/real.py"]


@pytest.mark.parametrize(
    ("glob", "expected"),
    [
        ("*.py", ["link_in.py", "src/main.py", "src/pkg/real.py"]),
        ("**/*.py", ["link_in.py", "src/main.py", "src/pkg/real.py"]),
        ("src/*.js", ["src/util.js"]),
        ("pkg/", ["src/pkg/.gitignore", "src/pkg/real.py"]),
    ],
)
async def test_list_glob(ws: Path, glob: str, expected: list[str]) -> None:
    assert (await _list(ws, glob=glob)).splitlines() == expected


async def test_list_glob_relative_to_the_listed_folder(ws: Path) -> None:
    assert (await _list(ws, path="src", glob="pkg/*.py")).splitlines() == ["src/pkg/real.py"]


async def test_list_is_bounded_with_marker(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(listing, "MAX_ENTRIES", 3)
    out = await _list(ws)
    lines = out.splitlines()
    assert lines[:3] == [".gitignore", "README.md", "keep.log"]
    assert lines[3] == "... [truncated: 5 more files; narrow with path or glob]"


async def test_list_refuses_file_and_missing(ws: Path) -> None:
    r = await ListFilesTool().run({"path": "README.md"}, make_context(ws))
    assert not r.ok and "read_file" in r.content
    r = await ListFilesTool().run({"path": "nope"}, make_context(ws))
    assert not r.ok and "does not exist" in r.content
    r = await ListFilesTool().run({"path": "linkdir"}, make_context(ws))
    assert not r.ok and "outside" in r.content


async def test_search_plain_skips_ignored_and_outside(ws: Path) -> None:
    r = await SearchTool().run({"pattern": "needle"}, make_context(ws))
    assert r.ok
    assert r.content.splitlines() == [
        "README.md:2: A needle in the readme.",
        "src/main.py:4:     return 'needle'",
    ]


async def test_search_regex_and_path(ws: Path) -> None:
    r = await SearchTool().run(
        {"pattern": r"^(def|class) \w+", "regex": True, "path": "src"}, make_context(ws)
    )
    assert r.ok
    assert r.content.splitlines() == [
        "src/main.py:3: def main():",
        "src/pkg/real.py:1: class Real:",
    ]


async def test_search_single_file(ws: Path) -> None:
    r = await SearchTool().run({"pattern": "return", "path": "src/util.js"}, make_context(ws))
    assert r.content.splitlines() == ["src/util.js:2:   return 1;"]


async def test_search_invalid_regex(ws: Path) -> None:
    r = await SearchTool().run({"pattern": "(unclosed", "regex": True}, make_context(ws))
    assert not r.ok and "invalid regular expression" in r.content


async def test_search_open_buffer_wins(ws: Path) -> None:
    docs = MemoryDocuments()
    docs.open(ws / "src" / "main.py", "def main():\n    return 'buffered needle'\n")
    r = await SearchTool().run(
        {"pattern": "needle", "path": "src"}, make_context(ws, documents=docs)
    )
    assert r.content.splitlines() == ["src/main.py:2:     return 'buffered needle'"]


async def test_search_bounded_with_marker(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search, "MAX_MATCHES", 5)
    (ws / "many.txt").write_text("hit\n" * 12)
    r = await SearchTool().run({"pattern": "hit", "path": "many.txt"}, make_context(ws))
    lines = r.content.splitlines()
    assert lines[:5] == [f"many.txt:{i}: hit" for i in range(1, 6)]
    assert lines[5] == "... [truncated: 7 more matches; narrow with path or pattern]"


async def test_search_catastrophic_regex_is_stopped(
    ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "TIME_BUDGET_S", 0.2)
    (ws / "evil.txt").write_text("a" * 60 + "!\n")
    # Unchecked, this pattern backtracks ~10**12 ways on the line: only the time
    # budget ends it, and the result says the search was stopped.
    r = await SearchTool().run(
        {"pattern": "(a|aa)+$", "regex": True, "path": "evil.txt"}, make_context(ws)
    )
    assert r.ok and "stopped" in r.content and "incomplete" in r.content


async def test_search_skips_binary(ws: Path) -> None:
    (ws / "bin.dat").write_bytes(b"needle\x00\x01")
    r = await SearchTool().run({"pattern": "needle", "path": "bin.dat"}, make_context(ws))
    assert r.ok and "no matches" in r.content


async def test_search_no_match(ws: Path) -> None:
    r = await SearchTool().run({"pattern": "zzz-not-there"}, make_context(ws))
    assert r.ok and r.content.startswith("no matches")


def test_regex_symbols_per_language() -> None:
    samples = {
        "a.py": (
            "class A:\n    def m(self):\n        pass\nasync def f():\n    pass\n",
            [("class", "A", 1), ("function", "m", 2), ("function", "f", 4)],
        ),
        "a.ts": (
            "export class C {\n  run(x: number): void {\n  }\n}\n"
            "export interface I {}\nconst g = async (x) => x;\nfunction h() {}\n",
            [
                ("class", "C", 1),
                ("method", "run", 2),
                ("interface", "I", 5),
                ("function", "g", 6),
                ("function", "h", 7),
            ],
        ),
        "a.go": (
            "type S struct {\n}\nfunc (s *S) M() {}\nfunc F() {}\n",
            [("struct", "S", 1), ("method", "M", 3), ("function", "F", 4)],
        ),
        "a.rs": (
            "pub struct P;\nimpl P {\n    pub fn new() -> P { P }\n}\ntrait T {}\n",
            [("struct", "P", 1), ("impl", "P", 2), ("function", "new", 3), ("trait", "T", 5)],
        ),
        "A.java": (
            "public class A {\n    public static void main(String[] args) {\n    }\n}\n",
            [("class", "A", 1), ("method", "main", 2)],
        ),
        "a.c": (
            "struct point {\n};\nint add(int a, int b)\n{\n    if (a) return b;\n}\n",
            [("struct", "point", 1), ("function", "add", 3)],
        ),
    }
    for rel, (text, expected) in samples.items():
        assert regex_symbols(rel, text) == expected, rel
    assert regex_symbols("notes.txt", "def x():\n") == []


async def test_symbols_tool_file_folder_and_provider(ws: Path) -> None:
    r = await SymbolsTool().run({"path": "src/main.py"}, make_context(ws))
    assert r.ok and r.content.splitlines() == ["src/main.py", "3: function main"]
    r = await SymbolsTool().run({"path": "src"}, make_context(ws))
    assert r.content.splitlines() == [
        "src/main.py:3: function main",
        "src/pkg/real.py:1: class Real",
        "src/util.js:1: function helper",
    ]
    seen: list[tuple[str, str]] = []

    def provider(rel: str, text: str) -> list[tuple[str, str, int]]:
        seen.append((rel, text))
        return [("thing", "Custom", 42)]

    r = await SymbolsTool(provider).run({"path": "src/main.py"}, make_context(ws))
    assert r.content.splitlines() == ["src/main.py", "42: thing Custom"]
    assert seen == [("src/main.py", (ws / "src/main.py").read_text())]


async def test_symbols_uses_open_buffer(ws: Path) -> None:
    docs = MemoryDocuments()
    docs.open(ws / "src" / "main.py", "class Unsaved:\n    pass\n")
    r = await SymbolsTool().run({"path": "src/main.py"}, make_context(ws, documents=docs))
    assert r.content.splitlines() == ["src/main.py", "1: class Unsaved"]
