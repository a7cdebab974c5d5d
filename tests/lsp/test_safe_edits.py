"""Safe edits end to end: read before claim against a live buffer, exact-once
oldText, and sensitive paths that need the user's yes (annotation or Allow/Deny)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

from lsprotocol import types as lsp

from orion_lsp.testing import ScriptedModelServer, ScriptedReply, ScriptedToolCall

from .harness import HANG_S, Session, start_session

SHOP = (
    "def price(qty, unit):\n"
    "    total = qty * unit\n"
    "    if qty > 10:\n"
    "        total = total * 0.9\n"
    "    return totl\n"
)
SETTINGS = '{\n  "editor.tabSize": 4\n}\n'


def tool_results(db: Path, turn_id: str) -> list[dict[str, Any]]:
    con = sqlite3.connect(db)
    try:
        got = con.execute(
            "SELECT payload FROM trace_events WHERE turn_id=? AND type='tool_result' ORDER BY seq",
            (turn_id,),
        ).fetchall()
    finally:
        con.close()
    return [json.loads(p) for (p,) in got]


def call(name: str, **args: Any) -> ScriptedReply:
    return ScriptedReply(tool_calls=[ScriptedToolCall(name, args)])


async def wait_for(s: Session, name: str, n: int = 1) -> None:
    async with asyncio.timeout(HANG_S):
        # Notifications land in a list on the client's loop: poll it.
        while True:
            done = [e for e in s.tool_events if e["type"] == "tool_result" and e["name"] == name]
            if len(done) >= n:
                return
            await asyncio.sleep(0.01)


async def test_stale_buffer_and_ambiguous_old_text_are_refused(
    workspace: Path, db_path: Path, model: ScriptedModelServer
):
    (workspace / "pkg" / "shop.py").write_text(SHOP)
    s = await start_session(workspace, db_path, model, caps="visual-studio-code")
    try:
        uri = await s.open("pkg/shop.py", SHOP, version=1)
        model.push(
            call("read_file", path="pkg/shop.py"),
            # Answered late: the user types in between (didChange to version 2).
            ScriptedReply(
                tool_calls=[
                    ScriptedToolCall(
                        "edit_file",
                        {
                            "path": "pkg/shop.py",
                            "oldText": "return totl",
                            "newText": "return total",
                        },
                    )
                ],
                delay_s=1.0,
            ),
            call("read_file", path="pkg/shop.py"),
            call("edit_file", path="pkg/shop.py", oldText="return tot1", newText="return total"),
            call("edit_file", path="pkg/shop.py", oldText="total = ", newText="subtotal = "),
            ScriptedReply(text="I could not make the edit safely."),
        )
        turn = asyncio.create_task(
            s.command(
                "orion.codeAction",
                {
                    "action": "fix",
                    "uri": uri,
                    "range": {
                        "start": {"line": 4, "character": 11},
                        "end": {"line": 4, "character": 15},
                    },
                    "diagnostic": {"message": "Undefined name `totl`"},
                    "detach": False,  # as the VS Code extension runs it: the full result
                },
            )
        )
        await wait_for(s, "read_file")
        typed = "# typed by the user\n" + SHOP
        s.client.text_document_did_change(
            lsp.DidChangeTextDocumentParams(
                text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
                content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=typed)],
            )
        )
        result = await turn
        assert result["status"] == "completed"
        assert s.apply_edits == []  # a refused edit sends no applyEdit
        assert result["edits"] == []
        edits = [r for r in tool_results(s.db, result["turnId"]) if r["name"] == "edit_file"]
        assert [r["ok"] for r in edits] == [False, False, False]
        assert edits[0]["content"] == (
            "the file changed since you read it; read 'pkg/shop.py' again before editing"
        )
        assert edits[1]["content"].startswith("oldText matched 0 times in 'pkg/shop.py'")
        assert edits[2]["content"].startswith("oldText matched 2 times in 'pkg/shop.py'")
        # The second read saw the user's buffer, not the disk.
        reads = [r for r in tool_results(s.db, result["turnId"]) if r["name"] == "read_file"]
        assert "# typed by the user" in reads[1]["content"]
        assert (workspace / "pkg" / "shop.py").read_text() == SHOP
    finally:
        await s.client.shutdown_session()


async def test_sensitive_edit_carries_needs_confirmation_and_a_refusal_changes_nothing(
    workspace: Path, db_path: Path, model: ScriptedModelServer
):
    (workspace / ".vscode").mkdir()
    (workspace / ".vscode" / "settings.json").write_text(SETTINGS)
    s = await start_session(workspace, db_path, model, caps="visual-studio-code")
    try:
        s.apply_result = False  # the user rejects the edit in VS Code's preview
        evil = '{\n  "python.defaultInterpreterPath": "/tmp/evil"\n}\n'
        model.push(
            call("read_file", path=".vscode/settings.json"),
            call("edit_file", path=".vscode/settings.json", oldText=SETTINGS, newText=evil),
            ScriptedReply(text="The edit was refused."),
        )
        result = await s.chat("set the interpreter")
        assert result["edits"] == [
            {
                "path": ".vscode/settings.json",
                "applied": False,
                "refused": "the user or editor refused it",
            }
        ]
        [sent] = s.apply_edits
        [annotation] = sent.edit.change_annotations.values()
        assert annotation.needs_confirmation is True
        assert "sensitive: .vscode/ is protected" in (annotation.description or "")
        [doc_edit] = sent.edit.document_changes
        assert doc_edit.edits[0].new_text == evil
        assert doc_edit.edits[0].annotation_id in sent.edit.change_annotations
        assert (workspace / ".vscode" / "settings.json").read_text() == SETTINGS
        [r] = [r for r in tool_results(s.db, result["turnId"]) if r["name"] == "edit_file"]
        assert r["ok"] is False and r["data"]["applied"] is False
        assert r["data"]["sensitive"].startswith(".vscode/ is protected")
        assert "the user or editor refused it" in r["content"]
    finally:
        await s.client.shutdown_session()


async def test_sensitive_edit_without_annotations_asks_allow_or_deny(
    workspace: Path, db_path: Path, model: ScriptedModelServer
):
    (workspace / ".vscode").mkdir()
    (workspace / ".vscode" / "settings.json").write_text(SETTINGS)
    s = await start_session(workspace, db_path, model, caps="neovim")
    asked: list[lsp.ShowMessageRequestParams] = []
    answers = ["Deny", "Allow"]

    @s.client.feature(lsp.WINDOW_SHOW_MESSAGE_REQUEST)
    def _ask(params: lsp.ShowMessageRequestParams) -> lsp.MessageActionItem | None:
        asked.append(params)
        return lsp.MessageActionItem(title=answers.pop(0))

    try:
        workflow = "on: push\njobs: {}\n"
        model.push(
            call("create_file", path=".github/workflows/ci.yml", content=workflow),
            call("read_file", path=".vscode/settings.json"),
            call("edit_file", path=".vscode/settings.json", oldText="4", newText="2"),
            ScriptedReply(text="Done."),
        )
        result = await s.chat("add CI and set tab size 2")
        assert [a.message for a in asked] == [
            "Orion wants to create .github/workflows/ci.yml (.github/workflows/ is protected: "
            "CI workflows run code with repository secrets). Allow this edit?",
            "Orion wants to edit .vscode/settings.json (.vscode/ is protected: VS Code settings "
            "and tasks can run code). Allow this edit?",
        ]
        assert [[i.title for i in a.actions or []] for a in asked] == [["Allow", "Deny"]] * 2
        assert result["edits"] == [
            {
                "path": ".github/workflows/ci.yml",
                "applied": False,
                "refused": "the user denied the create of .github/workflows/ci.yml (sensitive: "
                ".github/workflows/ is protected: CI workflows run code with repository secrets)",
            },
            {"path": ".vscode/settings.json", "applied": True},
        ]
        # Denied: no applyEdit at all. Allowed: exactly the one edit.
        [sent] = s.apply_edits
        uri = (workspace / ".vscode" / "settings.json").as_uri()
        assert list(sent.edit.changes) == [uri]
        assert sent.edit.changes[uri][0].new_text == "2"
        assert not (workspace / ".github").exists()
        create, _read, edit = tool_results(s.db, result["turnId"])
        assert create["ok"] is False
        assert create["content"] == (
            "'.github/workflows/ci.yml' was not created: the user denied the create of "
            ".github/workflows/ci.yml (sensitive: .github/workflows/ is protected: CI workflows "
            "run code with repository secrets)"
        )
        assert edit["ok"] is True and edit["data"]["sensitive"].startswith(".vscode/")
    finally:
        await s.client.shutdown_session()
