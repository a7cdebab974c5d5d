"""What a client without the Orion extension sees of an answer: it drops `orion/*`
notifications and ignores command results, so the server shows the answer with
`window/showDocument` (a read-only file outside the workspace) or, for a client
without showDocument, `window/showMessage` Info."""

from __future__ import annotations

import asyncio
import stat
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlparse

from lsprotocol import types as lsp

from orion_lsp.testing import ScriptedModelServer, ScriptedReply

from .harness import Session, start_session
from .test_code_actions import SHOP, list_actions, run_detached

EXPLANATION = "`price` multiplies «qty» by `unit` 😀 and takes 10% off above ten.\r\nThat is all."


async def explain(s: Session, uri: str) -> dict:
    sel = lsp.Range(lsp.Position(1, 0), lsp.Position(3, 30))
    action = {a["title"]: a for a in await list_actions(s, uri, sel)}["Orion: Explain this"]
    return await run_detached(s, action["command"])


def infos(s: Session) -> list[str]:
    return [m.message for m in s.client.messages if m.type == lsp.MessageType.Info]


async def wait_until(done: Callable[[], bool], timeout: float = 10) -> None:
    """Shown after turnEnd, off the turn's path: poll what the client received."""
    async with asyncio.timeout(timeout):
        while not done():
            await asyncio.sleep(0.02)


def workspace_files(root: Path) -> list[Path]:
    return sorted(p.relative_to(root) for p in root.rglob("*"))


async def test_a_client_with_show_document_gets_a_read_only_answer_file(
    workspace: Path, db_path: Path, model: ScriptedModelServer
):
    (workspace / "pkg" / "shop.py").write_text(SHOP)
    before = workspace_files(workspace)
    s = await start_session(
        workspace, db_path, model, caps="visual-studio-code", orion_extension=False
    )
    try:
        uri = await s.open("pkg/shop.py", SHOP)
        model.push(ScriptedReply(text=EXPLANATION))
        end = await explain(s, uri)
        assert end["status"] == "completed" and end["answer"] == EXPLANATION
        await wait_until(lambda: bool(s.client.shown_documents))
        [shown] = s.client.shown_documents
        path = Path(unquote(urlparse(shown.uri).path))
        assert path.parent == db_path.parent / "cache" / "orion" / "answers"  # XDG_CACHE_HOME
        assert path.name == f"{end['turnId']}.md"
        text = path.read_bytes().decode("utf-8")  # CRLF kept as the model wrote it
        assert text.startswith("# Orion: Explain pkg/shop.py lines 2-4\n")
        assert EXPLANATION.rstrip() in text
        assert not path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
        assert infos(s) == []  # the document is the answer; no message besides
        assert workspace_files(workspace) == before  # never written into the workspace
    finally:
        await s.client.shutdown_session()


async def test_a_client_without_show_document_gets_a_message(
    workspace: Path, db_path: Path, model: ScriptedModelServer
):
    (workspace / "pkg" / "shop.py").write_text(SHOP)
    s = await start_session(workspace, db_path, model, caps="emacs", orion_extension=False)
    try:
        uri = await s.open("pkg/shop.py", SHOP)
        model.push(ScriptedReply(text=EXPLANATION))
        end = await explain(s, uri)
        expected = f"Orion: Explain pkg/shop.py lines 2-4\n\n{EXPLANATION}"
        await wait_until(lambda: bool(infos(s)))
        assert infos(s) == [expected]
        assert end["answer"] == EXPLANATION

        # A long answer: its start, and where the whole of it is.
        long_answer = "Step by step. " * 400
        model.push(ScriptedReply(text=long_answer))
        end = await explain(s, uri)
        await wait_until(lambda: len(infos(s)) == 2)
        message = infos(s)[1]
        answer_file = db_path.parent / "cache" / "orion" / "answers" / f"{end['turnId']}.md"
        assert message.endswith(f"(the whole answer is in {answer_file})")
        assert len(message) < len(long_answer)
        assert long_answer.strip() in answer_file.read_text(encoding="utf-8")
        assert s.client.shown_documents == []
    finally:
        await s.client.shutdown_session()


async def test_our_clients_get_neither(workspace: Path, db_path: Path, model: ScriptedModelServer):
    (workspace / "pkg" / "shop.py").write_text(SHOP)
    s = await start_session(workspace, db_path, model, caps="neovim")  # orion_extension
    try:
        uri = await s.open("pkg/shop.py", SHOP)
        model.push(ScriptedReply(text=EXPLANATION))
        end = await explain(s, uri)
        assert s.answer_of(end["turnId"]) == EXPLANATION
        # A later request's answer orders after anything sent at turn end.
        await s.command("orion.status", {})
        assert s.client.shown_documents == [] and infos(s) == []
        assert not (db_path.parent / "cache" / "orion" / "answers").exists()
    finally:
        await s.client.shutdown_session()
