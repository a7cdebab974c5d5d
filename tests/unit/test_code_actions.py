"""Code action listing as pure functions: the innermost definition per language,
the actions offered, their arguments, and where tests go."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types as lsp

from orion_lsp.server.code_actions import (
    TreeCache,
    find_definition,
    list_actions,
    parse_code_action,
    suggest_test_path,
)
from orion_lsp.server.errors import InvalidArguments

PY = (
    "import os\n"
    "\n"
    "class Shop:\n"
    "    @staticmethod\n"
    "    def price(x, y):  # 😀 wide\n"
    "        return x * y\n"
)


@pytest.mark.parametrize(
    ("lang", "code", "pos", "want"),
    [
        ("python", PY, (0, 0), None),
        ("python", PY, (2, 8), ("Shop", "class", 2, 5)),
        ("python", PY, (5, 8), ("price", "function", 3, 5)),  # decorators included
        ("javascript", "const f = (a) => {\n  return a;\n};\n", (1, 2), ("f", "function", 0, 2)),
        ("go", "package x\nfunc (s *S) M() int {\n return 1\n}\n", (2, 1), ("M", "function", 1, 3)),
        ("rust", "impl S {\n fn m(&self) {}\n}\n", (1, 5), ("m", "function", 1, 1)),
        ("c", "int add(int a, int b) {\n return a+b;\n}\n", (1, 2), ("add", "function", 0, 2)),
        ("java", "class A {\n void m() {\n }\n}\n", (1, 8), ("m", "function", 1, 2)),
        ("typescript", "interface I { a: number }\n", (0, 15), ("I", "class", 0, 0)),
    ],
)
def test_innermost_definition(lang: str, code: str, pos: tuple[int, int], want: tuple | None):
    found = find_definition(code, lang, *pos)
    got = None if found is None else (found.name, found.kind, found.start_line, found.end_line)
    assert got == want


JS_WIDE = 'const s = "😀😀😀"; function f() { return 1; }\n'


@pytest.mark.parametrize(("encoding", "column"), [("utf-8", 26), ("utf-16", 20), ("utf-32", 17)])
def test_columns_after_wide_characters_in_each_encoding(encoding: str, column: int) -> None:
    # `column` is the "f" of "function" in each encoding; read in another
    # encoding it would point into the string of emoji, outside `f`.
    assert JS_WIDE[17:25] == "function"
    found = find_definition(JS_WIDE, "javascript", 0, column, encoding)
    assert found is not None and found.name == "f"
    assert find_definition(JS_WIDE, "javascript", 0, 14, encoding) is None


def _params(sl, sc, el, ec, diags=(), only=None) -> lsp.CodeActionParams:
    return lsp.CodeActionParams(
        text_document=lsp.TextDocumentIdentifier("file:///w/a.py"),
        range=lsp.Range(lsp.Position(sl, sc), lsp.Position(el, ec)),
        context=lsp.CodeActionContext(diagnostics=list(diags), only=only),
    )


def test_listing_titles_kinds_and_filters() -> None:
    long = lsp.Diagnostic(
        range=lsp.Range(lsp.Position(5, 8), lsp.Position(5, 14)), message="x " * 60 + "\nmore"
    )
    acts = list_actions("file:///w/a.py", PY, 1, _params(5, 8, 5, 14, [long]), TreeCache())
    assert [(a.title[:12], a.kind) for a in acts] == [
        ("Orion: Fix: ", lsp.CodeActionKind.QuickFix),
        ("Orion: Expla", lsp.CodeActionKind.Refactor),
        ("Orion: Add d", lsp.CodeActionKind.RefactorRewrite),
        ("Orion: Write", lsp.CodeActionKind.RefactorRewrite),
    ]
    assert len(acts[0].title) == len("Orion: Fix: ") + 80 and "\n" not in acts[0].title
    only = list_actions("file:///w/a.py", PY, 1, _params(5, 8, 5, 8, only=["refactor"]))
    assert [a.title for a in only] == ["Orion: Add docstring", "Orion: Write tests for this"]
    assert list_actions("file:///w/notes.txt", "text", 1, _params(0, 0, 0, 0)) == []


def test_tree_cache_reuses_a_version_and_reparses_a_new_one() -> None:
    trees = TreeCache(size=1)
    t1 = trees.tree("u", 1, "python", b"x = 1\n")
    assert trees.tree("u", 1, "python", b"x = 1\n") is t1
    assert trees.tree("u", 2, "python", b"x = 2\n") is not t1
    trees.tree("v", 1, "python", b"y = 1\n")  # evicts "u"
    assert trees.tree("u", 2, "python", b"x = 2\n") is not t1


def test_arguments_are_validated() -> None:
    r = {"start": {"line": 1, "character": 0}, "end": {"line": 1, "character": 0}}
    ok = parse_code_action([{"action": "tests", "uri": "file:///w/a.py", "range": r}])
    assert ok.action == "tests" and ok.range.start_line == 1
    for bad in (
        [{"action": "delete", "uri": "file:///w/a.py", "range": r}],
        [{"action": "fix", "uri": "file:///w/a.py", "range": r}],  # fix needs a diagnostic
        [{"action": "explain", "uri": "file:///w/a.py"}],
        [{"action": "explain", "uri": 3, "range": r}],
    ):
        with pytest.raises(InvalidArguments):
            parse_code_action(bad)


def test_test_layout(tmp_path: Path) -> None:
    assert suggest_test_path(tmp_path, "pkg/shop.py") == "tests/test_shop.py"
    assert suggest_test_path(tmp_path, "pkg/__init__.py") == "tests/test_pkg.py"
    (tmp_path / "test").mkdir()
    assert suggest_test_path(tmp_path, "shop.py") == "test/test_shop.py"
    assert suggest_test_path(tmp_path, "cmd/run.go") == "cmd/run_test.go"
    assert suggest_test_path(tmp_path, "src/a.ts") == "src/a.test.ts"
    assert suggest_test_path(tmp_path, "src/main/java/x/A.java") == "src/test/java/x/ATest.java"
    assert suggest_test_path(tmp_path, "src/lib.rs") == "src/lib.rs"


def test_incremental_reparse_matches_a_full_parse() -> None:
    import random

    from orion_lsp.context.languages import parser

    r = random.Random(3)
    text = PY * 20
    trees = TreeCache()
    trees.tree("u", 0, "python", text.encode())
    for version in range(1, 40):
        i = r.randrange(len(text))
        text = text[:i] + r.choice(["x", "\n", "def f():\n    pass\n", "", "é"]) + text[i + 1 :]
        got = trees.tree("u", version, "python", text.encode())
        assert str(got.root_node) == str(parser("python").parse(text.encode()).root_node)
