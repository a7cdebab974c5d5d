"""The definition finder: the innermost function or class per language, in each
position encoding, and the parse-tree cache that keeps listing cheap."""

from __future__ import annotations

import pytest

from orion_lsp.context.definitions import TreeCache, find_definition

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


def test_tree_cache_reuses_a_version_and_reparses_a_new_one() -> None:
    trees = TreeCache(size=1)
    t1 = trees.tree("u", 1, "python", b"x = 1\n")
    assert trees.tree("u", 1, "python", b"x = 1\n") is t1
    assert trees.tree("u", 2, "python", b"x = 2\n") is not t1
    trees.tree("v", 1, "python", b"y = 1\n")  # evicts "u"
    assert trees.tree("u", 2, "python", b"x = 2\n") is not t1


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
