"""edit_file / create_file (read before claim, exact ranges) and DiskEditApplier."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from orion_lsp.agent.guard import EditRefused
from orion_lsp.agent.tools.base import EditFailed, FileEdit, ToolContext
from orion_lsp.agent.tools.disk_applier import DiskEditApplier
from orion_lsp.agent.tools.edit import CreateFileTool, EditFileTool
from orion_lsp.agent.tools.read import ReadFileTool
from orion_lsp.agent.tools.textfile import text_hash
from orion_lsp.testing.fakes import MemoryDocuments, RecordingApplier, make_context


@pytest.fixture()
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "a.py").write_text("def f():\n    return 1\n\ndef g():\n    return 1\n")
    return root


async def _read(ctx: ToolContext, path: str) -> None:
    r = await ReadFileTool().run({"path": path}, ctx)
    assert r.ok, r.content


async def test_refused_unless_read_first(ws: Path) -> None:
    ctx = make_context(ws)
    r = await EditFileTool().run({"path": "a.py", "oldText": "f()", "newText": "h()"}, ctx)
    assert not r.ok and "read the file first" in r.content
    assert ctx.applier.edits == []  # type: ignore[attr-defined]


async def test_refused_when_the_disk_changed_since_read(ws: Path) -> None:
    ctx = make_context(ws)
    await _read(ctx, "a.py")
    (ws / "a.py").write_text("def f():\n    return 2\n")
    r = await EditFileTool().run({"path": "a.py", "oldText": "f()", "newText": "h()"}, ctx)
    assert not r.ok and "changed since you read it" in r.content


async def test_refused_when_the_buffer_changed_since_read(ws: Path) -> None:
    docs = MemoryDocuments()
    docs.open(ws / "a.py", "def f():\n    pass\n", version=3)
    ctx = make_context(ws, documents=docs)
    await _read(ctx, "a.py")
    docs.open(ws / "a.py", "def f():\n    pass  # typed by the user\n", version=4)
    r = await EditFileTool().run({"path": "a.py", "oldText": "pass", "newText": "x"}, ctx)
    assert not r.ok and "changed since you read it" in r.content


async def test_zero_and_many_matches(ws: Path) -> None:
    ctx = make_context(ws)
    await _read(ctx, "a.py")
    r = await EditFileTool().run({"path": "a.py", "oldText": "nothing", "newText": "x"}, ctx)
    assert not r.ok and "matched 0 times" in r.content
    r = await EditFileTool().run({"path": "a.py", "oldText": "return 1", "newText": "x"}, ctx)
    assert not r.ok and "matched 2 times" in r.content
    r = await EditFileTool().run({"path": "a.py", "oldText": "", "newText": "x"}, ctx)
    assert not r.ok and "empty" in r.content
    assert ctx.applier.edits == [] and ctx.edits == []  # type: ignore[attr-defined]


async def test_success_carries_the_span_and_version(ws: Path) -> None:
    text = 'x = "é😀abc"\ny = "𝄞 🙂 old"\nz = 3\n'
    docs = MemoryDocuments()
    docs.open(ws / "u.py", text, version=9)
    applier = RecordingApplier(documents=docs)
    ctx = make_context(ws, documents=docs, applier=applier, turn_id="T7")
    await _read(ctx, "u.py")
    r = await EditFileTool().run(
        {"path": "u.py", "oldText": 'abc"\ny = "𝄞 🙂 old', "newText": "NEW"}, ctx
    )
    assert r.ok, r.content
    assert "replaced lines 1-2" in r.content
    ((edit, turn_id),) = applier.edits
    assert turn_id == "T7"
    # Code-point offsets into the text: the editor's applier makes them positions.
    assert text[edit.start : edit.end] == 'abc"\ny = "𝄞 🙂 old'
    assert edit.version == 9 and edit.create is False
    assert edit.old_content == text
    assert edit.new_content == 'x = "é😀NEW"\nz = 3\n'
    assert edit.new_text == "NEW" and edit.rel_path == "u.py"
    assert text[: edit.start] + edit.new_text + text[edit.end :] == edit.new_content
    assert ctx.edits == [{"path": "u.py", "applied": True}]
    assert ctx.read_files["u.py"] == text_hash(edit.new_content)


async def test_second_edit_works_without_rereading(ws: Path) -> None:
    ctx = make_context(ws, applier=DiskEditApplier(ws))
    await _read(ctx, "a.py")
    r1 = await EditFileTool().run({"path": "a.py", "oldText": "def f", "newText": "def f1"}, ctx)
    r2 = await EditFileTool().run({"path": "a.py", "oldText": "def g", "newText": "def g1"}, ctx)
    assert r1.ok and r2.ok, (r1.content, r2.content)
    assert (ws / "a.py").read_text() == "def f1():\n    return 1\n\ndef g1():\n    return 1\n"
    assert "4| def g1():" in r2.content


async def test_refused_by_user(ws: Path) -> None:
    ctx = make_context(ws, applier=RecordingApplier(accept=False))
    await _read(ctx, "a.py")
    before = ctx.read_files["a.py"]
    r = await EditFileTool().run({"path": "a.py", "oldText": "def f", "newText": "def h"}, ctx)
    assert not r.ok and r.data["applied"] is False
    assert r.content == (
        "the edit to 'a.py' was not applied: the user or editor refused it; the file is unchanged"
    )
    assert ctx.edits == [
        {"path": "a.py", "applied": False, "refused": "the user or editor refused it"}
    ]
    assert ctx.read_files["a.py"] == before


async def test_applier_exception_is_a_failed_edit(ws: Path) -> None:
    class Broken:
        async def apply(self, edit: FileEdit, turn_id: str) -> bool:
            raise RuntimeError(f"boom at {edit.path}")

    ctx = make_context(ws, applier=Broken())
    await _read(ctx, "a.py")
    r = await EditFileTool().run({"path": "a.py", "oldText": "def f", "newText": "def h"}, ctx)
    assert not r.ok and "RuntimeError" in r.content and str(ws) not in r.content
    assert "refused" not in r.content  # a failure is not anyone's refusal
    failed = "applying the edit failed (RuntimeError)"
    assert ctx.edits == [{"path": "a.py", "applied": False, "error": failed}]


async def test_an_editor_failure_is_not_a_refusal(ws: Path) -> None:
    class Failing:
        async def apply(self, edit: FileEdit, turn_id: str) -> bool:
            raise EditFailed("the editor failed to apply the edit: wrong-type-argument arrayp nil")

    ctx = make_context(ws, applier=Failing())
    await _read(ctx, "a.py")
    r = await EditFileTool().run({"path": "a.py", "oldText": "def f", "newText": "def h"}, ctx)
    assert r.content == (
        "the edit to 'a.py' was not applied: the editor failed to apply the edit: "
        "wrong-type-argument arrayp nil; read the file again before trying again"
    )
    c = await CreateFileTool().run({"path": "n.py", "content": "x = 1\n"}, ctx)
    assert c.content.startswith("'n.py' was not created: the editor failed to apply the edit")
    assert [e.get("error", "")[:37] for e in ctx.edits] == [
        "the editor failed to apply the edit: "
    ] * 2
    assert r.data["error"] == ctx.edits[0]["error"] and "refused" not in r.data


async def test_crlf_file_with_lf_old_text(ws: Path) -> None:
    (ws / "w.txt").write_bytes(b"one\r\ntwo\r\nthree\r\n")
    ctx = make_context(ws, applier=DiskEditApplier(ws))
    await _read(ctx, "w.txt")
    r = await EditFileTool().run({"path": "w.txt", "oldText": "one\ntwo", "newText": "1\n2"}, ctx)
    assert r.ok, r.content
    assert (ws / "w.txt").read_bytes() == b"1\r\n2\r\nthree\r\n"


async def test_edit_missing_file_suggests_create(ws: Path) -> None:
    r = await EditFileTool().run(
        {"path": "new.py", "oldText": "a", "newText": "b"}, make_context(ws)
    )
    assert not r.ok and "create_file" in r.content


async def test_edit_invalid_utf8_is_refused(ws: Path) -> None:
    (ws / "l1.txt").write_bytes(b"caf\xe9 au lait\n")
    ctx = make_context(ws)
    await _read(ctx, "l1.txt")
    r = await EditFileTool().run({"path": "l1.txt", "oldText": "lait", "newText": "x"}, ctx)
    assert not r.ok and "UTF-8" in r.content


async def test_create_file_on_disk(ws: Path) -> None:
    ctx = make_context(ws, applier=DiskEditApplier(ws))
    r = await CreateFileTool().run({"path": "pkg/sub/new.py", "content": "X = 1\n"}, ctx)
    assert r.ok, r.content
    assert (ws / "pkg/sub/new.py").read_text() == "X = 1\n"
    assert ctx.edits == [{"path": "pkg/sub/new.py", "applied": True}]
    mode = stat.S_IMODE(os.stat(ws / "pkg/sub/new.py").st_mode)
    assert mode & 0o600 == 0o600 and not mode & 0o002
    # Created counts as read: an edit can follow without read_file.
    r = await EditFileTool().run({"path": "pkg/sub/new.py", "oldText": "1", "newText": "2"}, ctx)
    assert r.ok and (ws / "pkg/sub/new.py").read_text() == "X = 2\n"


async def test_create_file_edit_shape(ws: Path) -> None:
    applier = RecordingApplier()
    ctx = make_context(ws, applier=applier)
    r = await CreateFileTool().run({"path": "n.txt", "content": "hi\n"}, ctx)
    assert r.ok
    ((edit, _),) = applier.edits
    assert edit.create and (edit.start, edit.end) == (0, 0) and edit.old_content == ""
    assert edit.new_content == "hi\n" and edit.path == ctx.root / "n.txt"


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("a.py", "already exists"),
        ("a.py/inner.py", "is a file"),
        ("dir/", "folder"),
        (".", "folder"),
        ("dangling", "already exists"),
        ("../escape.txt", "outside"),
    ],
)
async def test_create_file_refusals(ws: Path, path: str, words: str) -> None:
    os.symlink(ws / "missing-target", ws / "dangling")
    applier = RecordingApplier()
    r = await CreateFileTool().run(
        {"path": path, "content": "x"}, make_context(ws, applier=applier)
    )
    assert not r.ok and words in r.content, r.content
    assert applier.edits == []


async def test_create_refused_when_open_in_editor(ws: Path) -> None:
    docs = MemoryDocuments()
    docs.open(ws / "untitled.py", "draft")
    r = await CreateFileTool().run(
        {"path": "untitled.py", "content": "x"}, make_context(ws, documents=docs)
    )
    assert not r.ok and "open in the editor" in r.content


def _edit(ws: Path, rel: str, old: str, new: str, create: bool = False) -> FileEdit:
    return FileEdit(
        path=ws / rel,
        rel_path=rel,
        create=create,
        old_content=old,
        new_content=new,
        start=0,
        end=len(old),
        new_text=new,
    )


async def test_disk_applier_preserves_mode_and_is_atomic(ws: Path) -> None:
    os.chmod(ws / "a.py", 0o751)
    old = (ws / "a.py").read_text()
    ok = await DiskEditApplier(ws).apply(_edit(ws, "a.py", old, "new\n"), "t")
    assert ok and (ws / "a.py").read_text() == "new\n"
    assert stat.S_IMODE(os.stat(ws / "a.py").st_mode) == 0o751
    assert os.listdir(ws) == ["a.py"]  # no temp files left


async def test_disk_applier_refuses_stale_and_outside(ws: Path, tmp_path: Path) -> None:
    applier = DiskEditApplier(ws)
    with pytest.raises(EditRefused, match="the file changed on disk"):
        await applier.apply(_edit(ws, "a.py", "not what is on disk", "x"), "t")
    assert (ws / "a.py").read_text().startswith("def f")
    outside = tmp_path / "victim.txt"
    outside.write_text("keep\n")
    bad = FileEdit(outside, "victim.txt", False, "keep\n", "pwned\n", 0, 5, "pwned\n")
    with pytest.raises(EditRefused, match="not a file inside the root"):
        await applier.apply(bad, "t")
    os.symlink(tmp_path, ws / "up")
    for edit in (
        _edit(ws, "up/created.txt", "", "pwned", create=True),
        _edit(ws, "up/victim.txt", "keep\n", "pwned\n"),
    ):
        with pytest.raises(EditRefused, match="'up' on the way is a symlink"):
            await applier.apply(edit, "t")
    assert outside.read_text() == "keep\n" and not (tmp_path / "created.txt").exists()


async def test_disk_applier_create_never_clobbers(ws: Path) -> None:
    with pytest.raises(EditRefused, match="create never overwrites"):
        await DiskEditApplier(ws).apply(_edit(ws, "a.py", "", "x", create=True), "t")
    assert (ws / "a.py").read_text().startswith("def f")


async def test_disk_applier_refuses_symlink_planted_after_the_check(
    ws: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "f.txt").write_text("same\n")
    (ws / "sub").mkdir()
    (ws / "sub" / "f.txt").write_text("same\n")
    recorder = RecordingApplier()
    ctx = make_context(ws, applier=recorder)
    await _read(ctx, "sub/f.txt")
    assert (
        await EditFileTool().run({"path": "sub/f.txt", "oldText": "same", "newText": "X"}, ctx)
    ).ok
    assert (await CreateFileTool().run({"path": "deep/er/n.txt", "content": "X"}, ctx)).ok
    (edit, _), (create, _) = recorder.edits
    # The race: folders swapped for symlinks between the tool's check and the write.
    os.rename(ws / "sub", ws / "sub_moved")
    os.symlink(outside, ws / "sub")
    os.symlink(outside, ws / "deep")
    disk = DiskEditApplier(ws)
    for planted in (edit, create):
        with pytest.raises(EditRefused, match="on the way is a symlink"):
            await disk.apply(planted, "t")
    assert (outside / "f.txt").read_text() == "same\n"
    assert sorted(os.listdir(outside)) == ["f.txt"]
