"""Rewind over a real ledger: which files go back to what, conflicts restore
nothing, force, an interrupted rewind finishes, turns are marked and scored;
and the disk target writes atomically, refuses symlinks and never guesses."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orion_lsp.agent.tools.base import FileEdit
from orion_lsp.checkpoints.disk import DiskRestoreTarget
from orion_lsp.checkpoints.recorder import CheckpointingApplier
from orion_lsp.checkpoints.rewind import (
    CONFLICT_PREFIX,
    NotRewindable,
    RewindConflict,
    Rewinder,
    plan_files,
)
from orion_lsp.storage import (
    ChatStore,
    CheckpointStore,
    Database,
    FileChange,
    HistoryLoader,
    ScoreStore,
    StorageError,
    ThreadBusy,
    TraceStore,
)
from orion_lsp.testing.fakes import MemoryRestoreTarget, RecordingApplier


@pytest.fixture
async def db(tmp_path: Path):  # type: ignore[no-untyped-def]
    database = await Database.open(tmp_path / "orion.db")
    yield database
    await database.close()


async def _turn(db: Database, thread: str, turn: str, changes: dict[str, tuple[str | None, str]]):  # type: ignore[no-untyped-def]
    """A finished turn of project p that changed files: path -> (before, after)."""
    traces = TraceStore(db)
    await traces.append("p", turn, "turn_start", {"prompt": turn}, thread_id=thread)
    await ChatStore(db).add("p", turn, "user", f"prompt {turn}", thread_id=thread)
    store = CheckpointStore(db)
    for path, (before, after) in changes.items():
        await store.record_before("p", thread, turn, path, before)
        await store.record_after(turn, path, after)
    await ChatStore(db).add("p", turn, "assistant", f"answer {turn}", thread_id=thread)
    await traces.append("p", turn, "turn_end", {"status": "completed"}, thread_id=thread)


def test_plan_takes_the_first_before_and_the_last_after():
    changes = [
        FileChange("t1", "a.py", "h-a0", "h-a1"),
        FileChange("t1", "new.py", None, "h-n1"),
        FileChange("t2", "a.py", "h-a1", "h-a2"),
        FileChange("t2", "new.py", "h-n1", "h-n2"),
    ]
    plan = {f.path: (f.before_hash, f.after_hash) for f in plan_files(changes)}
    assert plan == {"a.py": ("h-a0", "h-a2"), "new.py": (None, "h-n2")}


async def test_rewind_restores_edits_removes_created_files_and_marks_the_turns(db: Database):
    await _turn(db, "th", "t0", {})
    await _turn(
        db,
        "th",
        "t1",
        {"a.py": ("héllo 🌍\r\n", "héllo wörld 🌍\r\n"), "new.py": (None, "x = 1\n")},
    )
    await _turn(
        db, "th", "t2", {"a.py": ("héllo wörld 🌍\r\n", "v3\r\n"), "b.py": ("b0\n", "b1\n")}
    )
    await _turn(db, "other", "o1", {"c.py": ("c0\n", "c1\n")})
    ws = MemoryRestoreTarget(
        {"a.py": "v3\r\n", "new.py": "x = 1\n", "b.py": "b1\n", "c.py": "c1\n"}
    )
    result = await Rewinder(CheckpointStore(db)).run("p", "t1", ws)
    assert result["rewoundTurns"] == ["t1", "t2"] and result["threadId"] == "th"
    assert sorted(r["path"] for r in result["restored"]) == ["a.py", "b.py", "new.py"]
    assert all(r["applied"] for r in result["restored"])
    assert ws.files == {"a.py": "héllo 🌍\r\n", "b.py": "b0\n", "c.py": "c1\n"}
    history = [m.turn_id for m in await HistoryLoader(db).for_model("th", 20)]
    assert history == ["t0", "t0"]
    shown = {m.turn_id for m in await HistoryLoader(db).thread("th", 20, include_rewound=True)}
    assert shown == {"t0", "t1", "t2"}  # kept in the ledger
    for t in ("t1", "t2"):
        (score,) = await ScoreStore(db).for_turn(t)
        assert (score.name, score.value, score.source) == ("rewound", 1.0, "human")
    assert await ScoreStore(db).for_turn("t0") == []
    with pytest.raises(NotRewindable, match="rewound already"):
        await Rewinder(CheckpointStore(db)).run("p", "t2", ws)


async def test_a_conflict_restores_nothing_and_names_every_file(db: Database):
    await _turn(
        db,
        "th",
        "t1",
        {"a.py": ("a0\n", "a1\n"), "b.py": ("b0\n", "b1\n"), "c.py": ("c0\n", "c1\n")},
    )
    ws = MemoryRestoreTarget({"a.py": "a1 and the user's line\n", "b.py": "b1\n"})  # c.py deleted
    rewinder = Rewinder(CheckpointStore(db))
    dry = await rewinder.run("p", "t1", ws, dry_run=True)
    assert dry["conflicts"] == ["a.py", "c.py"] and dry["files"] == ["a.py", "b.py", "c.py"]
    with pytest.raises(RewindConflict) as exc:
        await rewinder.run("p", "t1", ws)
    message = str(exc.value)
    assert message.startswith(CONFLICT_PREFIX) and "a.py" in message and "c.py" in message
    assert "b.py" not in message
    assert ws.restores == [] and ws.files["b.py"] == "b1\n"
    assert [m.turn_id for m in await HistoryLoader(db).for_model("th", 20)] == ["t1", "t1"]
    forced = await rewinder.run("p", "t1", ws, force=True)
    assert forced["rewoundTurns"] == ["t1"]
    assert ws.files == {"a.py": "a0\n", "b.py": "b0\n", "c.py": "c0\n"}


async def test_an_interrupted_rewind_finishes_and_a_refused_file_keeps_the_turns(db: Database):
    await _turn(db, "th", "t1", {"a.py": ("a0\n", "a1\n"), "b.py": ("b0\n", "b1\n")})
    # A rewind killed after a.py: a.py is restored already, b.py not yet.
    ws = MemoryRestoreTarget({"a.py": "a0\n", "b.py": "b1\n"})
    ws.refuse.add("b.py")
    rewinder = Rewinder(CheckpointStore(db))
    partial = await rewinder.run("p", "t1", ws)
    assert partial["rewoundTurns"] == []  # not every file restored: the conversation stays
    assert {r["path"]: r["applied"] for r in partial["restored"]} == {"a.py": True, "b.py": False}
    assert [p for p, _ in ws.restores] == ["b.py"]  # a.py was already as rewind leaves it
    ws.refuse.clear()
    done = await rewinder.run("p", "t1", ws)
    assert done["rewoundTurns"] == ["t1"] and ws.files == {"a.py": "a0\n", "b.py": "b0\n"}


async def test_rewind_refuses_unknown_foreign_and_running_turns_and_skips_git(db: Database):
    rewinder = Rewinder(CheckpointStore(db))
    ws = MemoryRestoreTarget()
    with pytest.raises(NotRewindable, match="unknown turn"):
        await rewinder.run("p", "nope", ws)
    await _turn(db, "th", "t1", {".git/config": ("old\n", "new\n"), "x/.GIT/HEAD": ("a", "b")})
    with pytest.raises(NotRewindable):
        await rewinder.run("someone-else", "t1", ws)
    result = await rewinder.run("p", "t1", ws)
    assert ws.reads == [] and ws.restores == []  # .git is never read or written
    assert [r["applied"] for r in result["restored"]] == [False, False]
    assert all(".git" in r["note"] for r in result["restored"])
    assert result["rewoundTurns"] == ["t1"]
    await _turn(db, "th", "t2", {})
    await TraceStore(db).append("p", "t3", "turn_start", {}, thread_id="th")
    with pytest.raises(ThreadBusy):
        await rewinder.run("p", "t2", ws)


async def test_a_missing_checkpoint_is_a_storage_error_before_any_file_is_touched(db: Database):
    await _turn(db, "th", "t1", {"a.py": ("a0\n", "a1\n")})
    await db.write(lambda conn: conn.execute_fetchall("DELETE FROM blobs"))
    ws = MemoryRestoreTarget({"a.py": "a1\n"})
    with pytest.raises(StorageError, match="missing"):
        await Rewinder(CheckpointStore(db)).run("p", "t1", ws)
    assert ws.restores == []


def _edit(root: Path, rel: str, old: str, new: str, create: bool = False) -> FileEdit:
    return FileEdit(root / rel, rel, create, old, new, 0, 0 if create else len(old), new)


async def test_the_recorder_keeps_the_content_before_the_first_applied_change(
    db: Database, tmp_path: Path
):
    store = CheckpointStore(db)
    refusing = RecordingApplier(accept=False)
    await ChatStore(db).add("p", "t1", "user", "go", thread_id="th")
    applier = CheckpointingApplier(refusing, store, "p", "th")
    assert not await applier.apply(_edit(tmp_path, "a.py", "stale\n", "x\n"), "t1")
    assert await store.changes(["t1"]) == []  # refused: no change
    applier = CheckpointingApplier(RecordingApplier(), store, "p", "th")
    assert await applier.apply(_edit(tmp_path, "a.py", "seen\n", "one\n"), "t1")
    assert await applier.apply(_edit(tmp_path, "a.py", "one\n", "two\n"), "t1")
    assert await applier.apply(_edit(tmp_path, "n.py", "", "new\n", create=True), "t1")
    (a, n) = plan_files(await store.changes(["t1"]))
    assert await store.content(a.before_hash or "") == "seen\n"
    assert (n.path, n.before_hash) == ("n.py", None)


async def test_a_checkpoint_that_cannot_be_stored_stops_the_edit(tmp_path: Path):
    db = await Database.open(tmp_path / "orion.db")
    try:
        inner = RecordingApplier()
        applier = CheckpointingApplier(inner, CheckpointStore(db), "p", "th")
        db.fault_hook = _fail
        with pytest.raises(StorageError):
            await applier.apply(_edit(tmp_path, "a.py", "a\n", "b\n"), "t1")
        assert inner.edits == []  # never applied without its checkpoint
    finally:
        db.fault_hook = None
        await db.close()


def _fail(op: str) -> None:
    import sqlite3

    raise sqlite3.OperationalError("disk I/O error (injected)")


# ---- the disk target ------------------------------------------------------------------


async def test_disk_target_restores_atomically_and_removes_created_files(tmp_path: Path):
    root = tmp_path / "ws"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "a.py").write_bytes("new 🚀\r\n".encode())
    os.chmod(root / "pkg" / "a.py", 0o640)
    (root / "made.py").write_text("made\n")
    disk = DiskRestoreTarget(root)
    assert await disk.read("pkg/a.py") == "new 🚀\r\n"
    assert await disk.read("nothing/here.py") is None
    r = await disk.restore("pkg/a.py", "old ü\r\n", "new 🚀\r\n", force=False)
    assert r.applied and (root / "pkg" / "a.py").read_bytes() == "old ü\r\n".encode()
    assert (os.stat(root / "pkg" / "a.py").st_mode & 0o777) == 0o640
    assert (await disk.restore("made.py", None, "made\n", force=False)).applied
    assert not (root / "made.py").exists()
    # Recreated (force, after the user deleted it), folders included.
    assert (await disk.restore("gone/deep.py", "back\n", None, force=True)).applied
    assert (root / "gone" / "deep.py").read_text() == "back\n"
    assert sorted(p.name for p in root.rglob("*")) == ["a.py", "deep.py", "gone", "pkg"]


async def test_disk_target_never_overwrites_what_changed_and_refuses_symlinks(tmp_path: Path):
    root = tmp_path / "ws"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.py").write_text("do not touch\n")
    (root / "link").symlink_to(outside)
    (root / "f.py").write_text("the user's version\n")
    disk = DiskRestoreTarget(root)
    r = await disk.restore("f.py", "old\n", "what orion left\n", force=False)
    assert not r.applied and (root / "f.py").read_text() == "the user's version\n"
    r = await disk.restore("link/victim.py", "pwned\n", "do not touch\n", force=True)
    assert not r.applied and (outside / "victim.py").read_text() == "do not touch\n"
    from orion_lsp.checkpoints.rewind import Unreadable

    with pytest.raises(Unreadable):
        await disk.read("link/victim.py")
    (root / "bin.dat").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(Unreadable):
        await disk.read("bin.dat")
