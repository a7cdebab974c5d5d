"""Code action listing and requests as pure functions: the actions offered,
their arguments, the tasks they give the model, and where tests go."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types as lsp

from orion_lsp.context.definitions import Definition, TreeCache
from orion_lsp.server.code_actions import (
    _prompt_and_task,
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


@pytest.mark.parametrize("action", ["explain", "fix", "docstring", "tests"])
def test_every_action_has_its_task_text(tmp_path: Path, action: str) -> None:
    r = {"start": {"line": 4, "character": 8}, "end": {"line": 5, "character": 0}}
    diag = {"message": "Undefined name `y`", "source": "pyflakes", "code": "F821"}
    args = parse_code_action(
        [{"action": action, "uri": "file:///w/a.py", "range": r, "diagnostic": diag}]
    )
    found = Definition("price", "function", 3, 5, "def price(x, y):  # 😀 {wide}\n")
    title, task = _prompt_and_task(args, "pkg/a.py", found, tmp_path)
    # Every placeholder of agent/prompts/code_actions.md was filled, none left over.
    assert "{" not in task.replace("{wide}", "") and "}" not in task.replace("{wide}", "")
    assert "The enclosing function is `price` (lines 4-6):" in task
    assert "def price(x, y):  # 😀 {wide}" in task
    want = {
        "explain": ("Explain pkg/a.py lines 5-6", "Do not edit files."),
        "fix": (
            "Fix: Undefined name `y` (pkg/a.py:5)",
            "reported by pyflakes at pkg/a.py:5 [F821]",
        ),
        "docstring": ("Add docstring: price (pkg/a.py:5)", "then change it with edit_file"),
        "tests": ("Write tests: price (pkg/a.py:5)", "Create tests/test_a.py with create_file."),
    }[action]
    assert title == want[0] and want[1] in task
