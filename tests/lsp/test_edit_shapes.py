"""What `workspace/applyEdit` carries follows what the client advertised, and an
editor's failure is reported as a failure, never as the user's refusal.

The eglot client here behaves as eglot before 1.24 does: it advertises
documentChanges but no resource operations, and answers an edit that holds a
`CreateFile` with an error.
"""

from __future__ import annotations

import json
from pathlib import Path

from lsprotocol import types as lsp
from lsprotocol.converters import get_converter
from pygls.exceptions import JsonRpcInternalError
from pytest_lsp import client_capabilities

from orion_lsp.testing import ScriptedModelServer, ScriptedReply, ScriptedToolCall

from .harness import Session, rows, start_session

NEW = "tests/test_café.py"
CONTENT = 'def test_emoji():\n    assert "😀"\n'


def _create_turn(model: ScriptedModelServer) -> None:
    model.push(
        ScriptedReply(
            tool_calls=[ScriptedToolCall("create_file", {"path": NEW, "content": CONTENT})]
        ),
        ScriptedReply(text="Wrote the test."),
    )


def _eglot(params: lsp.ApplyWorkspaceEditParams) -> lsp.ApplyWorkspaceEditResult:
    for change in params.edit.document_changes or []:
        if not isinstance(change, lsp.TextDocumentEdit):
            raise JsonRpcInternalError(message="(wrong-type-argument arrayp nil)")
    return lsp.ApplyWorkspaceEditResult(applied=True)


def _tool_result(s: Session, turn_id: str) -> dict:
    [payload] = [
        json.loads(p)
        for (p,) in rows(
            s.db,
            "SELECT payload FROM trace_events WHERE turn_id=? AND type='tool_result'",
            (turn_id,),
        )
    ]
    return payload


def _wire(value: object) -> object:
    return json.loads(json.dumps(get_converter().unstructure(value)))


def _without_resource_operations(document_changes: bool) -> lsp.ClientCapabilities:
    caps = client_capabilities("visual-studio-code")
    assert caps.workspace is not None
    caps.workspace.workspace_edit = lsp.WorkspaceEditClientCapabilities(
        document_changes=document_changes
    )
    return caps


async def test_eglot_gets_a_new_file_as_a_plain_text_document_edit(
    workspace: Path, db_path: Path, model: ScriptedModelServer
):
    s = await start_session(workspace, db_path, model, caps="emacs")
    try:
        s.apply_hook = _eglot
        _create_turn(model)
        result = await s.chat("write a test")
        assert result["edits"] == [{"path": NEW, "applied": True}]
        [sent] = s.apply_edits
        uri = (workspace / NEW).as_uri()
        insert = lsp.TextEdit(
            range=lsp.Range(lsp.Position(0, 0), lsp.Position(0, 0)), new_text=CONTENT
        )
        new_file = lsp.OptionalVersionedTextDocumentIdentifier(uri=uri, version=None)
        assert _wire(sent.edit) == _wire(
            lsp.WorkspaceEdit(
                document_changes=[lsp.TextDocumentEdit(text_document=new_file, edits=[insert])]
            )
        )
    finally:
        await s.client.shutdown_session()


async def test_a_client_without_document_changes_gets_a_changes_map(
    workspace: Path, db_path: Path, model: ScriptedModelServer
):
    caps = _without_resource_operations(document_changes=False)
    s = await start_session(workspace, db_path, model, caps=caps)
    try:
        _create_turn(model)
        result = await s.chat("write a test")
        assert result["edits"] == [{"path": NEW, "applied": True}]
        [sent] = s.apply_edits
        uri = (workspace / NEW).as_uri()
        insert = lsp.TextEdit(
            range=lsp.Range(lsp.Position(0, 0), lsp.Position(0, 0)), new_text=CONTENT
        )
        assert _wire(sent.edit) == _wire(lsp.WorkspaceEdit(changes={uri: [insert]}))
    finally:
        await s.client.shutdown_session()


async def test_a_client_that_advertises_create_gets_a_create_file(
    workspace: Path, db_path: Path, model: ScriptedModelServer
):
    s = await start_session(workspace, db_path, model, caps="visual-studio-code")
    try:
        _create_turn(model)
        result = await s.chat("write a test")
        assert result["edits"] == [{"path": NEW, "applied": True}]
        [sent] = s.apply_edits
        kinds = [type(c).__name__ for c in sent.edit.document_changes or []]
        assert kinds == ["CreateFile", "TextDocumentEdit"]
    finally:
        await s.client.shutdown_session()


async def test_an_editor_error_is_a_failure_not_a_refusal(
    workspace: Path, db_path: Path, model: ScriptedModelServer
):
    # A client that errors on the edit it was sent (as eglot does on CreateFile):
    # here every applyEdit fails, whatever it holds.
    def failing(params: lsp.ApplyWorkspaceEditParams) -> lsp.ApplyWorkspaceEditResult:
        raise JsonRpcInternalError(message="(wrong-type-argument arrayp nil)")

    s = await start_session(workspace, db_path, model, caps="emacs")
    try:
        s.apply_hook = failing
        _create_turn(model)
        result = await s.chat("write a test")
        failure = "the editor failed to apply the edit: (wrong-type-argument arrayp nil)"
        assert result["edits"] == [{"path": NEW, "applied": False, "error": failure}]
        told = [m for m in model.requests[1]["messages"] if m["role"] == "tool"][-1]["content"]
        assert told.startswith(f"{NEW!r} was not created: {failure}")
        assert "refused" not in told
        payload = _tool_result(s, result["turnId"])
        assert payload["ok"] is False and "refused" not in json.dumps(payload)

        # applied: false with a failureReason is a failure too; without one, a refusal.
        for answer, key, why in (
            (
                lsp.ApplyWorkspaceEditResult(applied=False, failure_reason="disk full"),
                "error",
                "the editor failed to apply the edit: disk full",
            ),
            (
                lsp.ApplyWorkspaceEditResult(applied=False),
                "refused",
                "the user or editor refused it",
            ),
        ):
            s.apply_hook = lambda params, answer=answer: answer
            _create_turn(model)
            result = await s.chat("write a test")
            assert result["edits"] == [{"path": NEW, "applied": False, key: why}]
    finally:
        await s.client.shutdown_session()
