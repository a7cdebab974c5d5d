"""`edit_kept` through the real server: when the next turn of the thread starts, the
previous turn's applied edit is looked for in the open buffer (1 kept, 0 undone)."""

from __future__ import annotations

from lsprotocol import types as lsp

from orion_lsp.testing import ScriptedModelServer, ScriptedReply, ScriptedToolCall

from .harness import Session, rows, start_session

GREET = 'def greet(name):\n    """Say hello."""\n    return f"Hello, {name}!"\n'


def edit_turn(old: str, new: str) -> list[ScriptedReply]:
    return [
        ScriptedReply(tool_calls=[ScriptedToolCall("read_file", {"path": "pkg/greet.py"})]),
        ScriptedReply(
            tool_calls=[
                ScriptedToolCall(
                    "edit_file", {"path": "pkg/greet.py", "oldText": old, "newText": new}
                )
            ]
        ),
        ScriptedReply(text="Done."),
    ]


def change(s: Session, uri: str, version: int, text: str) -> None:
    """What the editor sends when its buffer changes (an applied edit, the user's undo)."""
    s.client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )


def edit_kept(s: Session, turn_id: str) -> list[tuple]:
    return rows(
        s.db, "SELECT value, source, explanation FROM scores WHERE turn_id=? AND name='edit_kept'",
        (turn_id,),
    )  # fmt: skip


async def test_edit_kept_follows_the_buffer(workspace, db_path, model: ScriptedModelServer):
    s = await start_session(workspace, db_path, model, caps="visual-studio-code")
    try:
        uri = await s.open("pkg/greet.py", GREET)
        # Turn 1 edits; the editor applies it to the buffer; the user keeps it.
        model.push(*edit_turn('"""Say hello."""', '"""Say hello to 𝔫𝔞𝔪𝔢 🌍."""'))
        first = await s.chat("Better docstring")
        assert first["edits"] == [{"path": "pkg/greet.py", "applied": True}]
        kept_text = GREET.replace('"""Say hello."""', '"""Say hello to 𝔫𝔞𝔪𝔢 🌍."""')
        change(s, uri, 2, kept_text)
        # Turn 2 edits again; the user undoes that edit before turn 3.
        model.push(*edit_turn('return f"Hello, {name}!"', 'return f"Hi, {name}!"'))
        second = await s.chat("Shorter greeting")
        assert edit_kept(s, first["turnId"]) == [(1.0, "code", None)]
        change(s, uri, 3, kept_text.replace('"Hello, {name}!"', '"Hi, {name}!"'))  # applied
        change(s, uri, 4, kept_text)  # undone
        model.push(ScriptedReply(text="Fine."))
        await s.chat("Anything else?")
        assert edit_kept(s, second["turnId"]) == [
            (0.0, "code", "no longer contains the edit: pkg/greet.py")
        ]
        assert edit_kept(s, first["turnId"]) == [(1.0, "code", None)]
        # The server never wrote the file: the edits were the editor's to apply.
        assert (workspace / "pkg" / "greet.py").read_text() == GREET
    finally:
        await s.client.shutdown_session()
