"""read_file: numbered lines, ranges, open-buffer precedence, caps and refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from orion_lsp.agent.tools.read import ReadFileTool
from orion_lsp.agent.tools.textfile import MAX_READ_BYTES, text_hash
from orion_lsp.testing.fakes import MemoryDocuments, make_context


@pytest.fixture()
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "a.py").write_text("line one\nline two\nline three\n")
    return root


async def test_numbered_lines_and_read_hash(ws: Path) -> None:
    ctx = make_context(ws)
    r = await ReadFileTool().run({"path": "a.py"}, ctx)
    assert r.ok
    assert "1| line one\n2| line two\n3| line three" in r.content
    assert "lines 1-3 of 3" in r.content
    assert ctx.read_files["a.py"] == text_hash("line one\nline two\nline three\n")


async def test_start_and_end_line_are_inclusive(ws: Path) -> None:
    ctx = make_context(ws)
    r = await ReadFileTool().run({"path": "a.py", "startLine": 2, "endLine": 2}, ctx)
    assert r.ok
    assert "2| line two" in r.content
    assert "line one" not in r.content and "line three" not in r.content
    # A partial read still records the hash of the whole text.
    assert ctx.read_files["a.py"] == text_hash((ws / "a.py").read_text())


async def test_end_line_past_the_end_is_clamped(ws: Path) -> None:
    r = await ReadFileTool().run({"path": "a.py", "startLine": 3, "endLine": 99}, make_context(ws))
    assert r.ok and "3| line three" in r.content


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ({"startLine": 9}, "only 3 lines"),
        ({"startLine": 0}, "1 or more"),
        ({"startLine": 3, "endLine": 2}, "before startLine"),
    ],
)
async def test_bad_ranges(ws: Path, args: dict[str, int], words: str) -> None:
    r = await ReadFileTool().run({"path": "a.py", **args}, make_context(ws))
    assert not r.ok and words in r.content


async def test_open_buffer_takes_precedence(ws: Path) -> None:
    docs = MemoryDocuments()
    docs.open(ws / "a.py", "unsaved buffer text\n", version=7)
    ctx = make_context(ws, documents=docs)
    r = await ReadFileTool().run({"path": "a.py"}, ctx)
    assert r.ok
    assert "1| unsaved buffer text" in r.content and "line one" not in r.content
    assert "open editor buffer" in r.content
    assert ctx.read_files["a.py"] == text_hash("unsaved buffer text\n")


async def test_output_cap_has_a_visible_marker(ws: Path) -> None:
    (ws / "big.txt").write_text("".join(f"row {i:05d} " + "x" * 40 + "\n" for i in range(1000)))
    ctx = make_context(ws, max_output_chars=2000)
    r = await ReadFileTool().run({"path": "big.txt"}, ctx)
    assert r.ok
    assert len(r.content) <= 2000
    assert "[truncated:" in r.content and "more lines]" in r.content
    assert "startLine=" in r.content  # tells the model how to go on
    shown = [ln for ln in r.content.splitlines() if "| row " in ln]
    n_more = int(r.content.split("[truncated: ")[1].split(" ")[0])
    assert len(shown) + n_more == 1000


async def test_crlf_and_lone_cr_are_line_breaks(ws: Path) -> None:
    (ws / "w.txt").write_bytes(b"a\r\nb\rc\n")
    r = await ReadFileTool().run({"path": "w.txt"}, make_context(ws))
    assert "1| a\n2| b\n3| c" in r.content


async def test_empty_file(ws: Path) -> None:
    (ws / "e.txt").write_text("")
    ctx = make_context(ws)
    r = await ReadFileTool().run({"path": "e.txt"}, ctx)
    assert r.ok and "empty" in r.content and ctx.read_files["e.txt"] == text_hash("")


async def test_binary_file_is_refused(ws: Path) -> None:
    (ws / "b.bin").write_bytes(b"\x7fELF\x00\x01\x02" * 10)
    ctx = make_context(ws)
    r = await ReadFileTool().run({"path": "b.bin"}, ctx)
    assert not r.ok and "binary" in r.content
    assert "b.bin" not in ctx.read_files


async def test_invalid_utf8_is_shown_with_replacement(ws: Path) -> None:
    (ws / "l1.txt").write_bytes(b"caf\xe9\n")
    r = await ReadFileTool().run({"path": "l1.txt"}, make_context(ws))
    assert r.ok and "1| caf\ufffd" in r.content


async def test_huge_file_is_cut_with_a_marker_and_not_claimable(ws: Path) -> None:
    (ws / "huge.txt").write_text(("y" * 99 + "\n") * (MAX_READ_BYTES // 100 + 50))
    ctx = make_context(ws, max_output_chars=5000)
    r = await ReadFileTool().run({"path": "huge.txt", "startLine": 1, "endLine": 3}, ctx)
    assert r.ok and "larger than" in r.content
    assert "huge.txt" not in ctx.read_files


async def test_directory_and_missing(ws: Path) -> None:
    (ws / "d").mkdir()
    r = await ReadFileTool().run({"path": "d"}, make_context(ws))
    assert not r.ok and "directory" in r.content and "list_files" in r.content
    r = await ReadFileTool().run({"path": "nope.py"}, make_context(ws))
    assert not r.ok and "does not exist" in r.content


async def test_results_name_paths_relative_to_the_root(ws: Path) -> None:
    for path in ("a.py", "nope.py", "../x"):
        r = await ReadFileTool().run({"path": path}, make_context(ws))
        assert str(ws) not in r.content and str(ws) not in r.summary
