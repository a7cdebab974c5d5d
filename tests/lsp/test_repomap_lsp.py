"""The repo map follows the editor: buffers, watched files, status, progress."""

from __future__ import annotations

import asyncio

from lsprotocol import types as lsp

from orion_lsp.testing import ScriptedModelServer, ScriptedReply

from .harness import HANG_S, Session


def system_prompt_of(model: ScriptedModelServer, i: int = -1) -> str:
    return model.requests[i]["messages"][0]["content"]


async def wait_indexed(session: Session) -> dict:
    async with asyncio.timeout(HANG_S):
        while True:
            status = await session.command("orion.status", {})
            if status["repoMap"]["files"] >= 2 and status["repoMap"].get("complete", 1) >= 1:
                return status
            await asyncio.sleep(0.1)


async def wait_map_files(session: Session, files: int) -> None:
    """Until the map holds `files` files: watched-file events are handled in the
    background, so the next request may otherwise run before they are."""
    async with asyncio.timeout(HANG_S):
        while (await session.command("orion.status", {}))["repoMap"]["files"] != files:
            await asyncio.sleep(0.05)


async def test_buffer_edit_reaches_the_next_turns_map(session: Session, model: ScriptedModelServer):
    status = await wait_indexed(session)
    assert status["repoMap"]["symbols"] >= 1 and status["repoMap"]["buildMs"] >= 0
    model.push(ScriptedReply(text="first"))
    await session.chat("what is in greet?")
    assert "greet" in system_prompt_of(model)
    assert "brand_new_helper_function" not in system_prompt_of(model)

    path = session.workspace / "pkg" / "greet.py"
    uri = await session.open("pkg/greet.py", path.read_text())
    session.client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                lsp.TextDocumentContentChangePartial(
                    range=lsp.Range(lsp.Position(3, 0), lsp.Position(3, 0)),
                    text="\n\ndef brand_new_helper_function(x):\n    return x\n",
                )
            ],
        )
    )
    # No save, no rebuild: the unsaved buffer is what the next turn's map shows.
    model.push(ScriptedReply(text="second"))
    await session.chat("and brand_new_helper_function?")
    assert "brand_new_helper_function" in system_prompt_of(model)


async def test_deleted_file_leaves_the_map(session: Session, model: ScriptedModelServer):
    files = (await wait_indexed(session))["repoMap"]["files"]
    extra = session.workspace / "pkg" / "obsolete_module.py"
    extra.write_text("def obsolete_entry_point():\n    pass\n")
    session.client.workspace_did_change_watched_files(
        lsp.DidChangeWatchedFilesParams(
            changes=[lsp.FileEvent(uri=extra.as_uri(), type=lsp.FileChangeType.Created)]
        )
    )
    await wait_map_files(session, files + 1)
    model.push(ScriptedReply(text="one"))
    await session.chat("tell me about obsolete_entry_point")
    assert "obsolete_entry_point" in system_prompt_of(model)

    extra.unlink()
    session.client.workspace_did_change_watched_files(
        lsp.DidChangeWatchedFilesParams(
            changes=[lsp.FileEvent(uri=extra.as_uri(), type=lsp.FileChangeType.Deleted)]
        )
    )
    await wait_map_files(session, files)
    model.push(ScriptedReply(text="two"))
    await session.chat("tell me about obsolete_entry_point again")
    assert "obsolete_module.py" not in system_prompt_of(model)


async def test_indexing_reports_progress(session: Session):
    await wait_indexed(session)
    caps = session.client.capabilities
    index_tokens = [t for t in session.client.progress_reports if str(t).startswith("orion-index-")]
    if caps.window and caps.window.work_done_progress:
        assert index_tokens
        reports = session.client.progress_reports[index_tokens[0]]
        assert isinstance(reports[0], lsp.WorkDoneProgressBegin)
        assert reports[0].title == "Indexing workspace"
        async with asyncio.timeout(HANG_S):
            while not isinstance(reports[-1], lsp.WorkDoneProgressEnd):
                await asyncio.sleep(0.05)
    else:
        assert not index_tokens
