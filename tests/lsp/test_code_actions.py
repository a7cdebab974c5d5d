"""Code actions end to end: real server subprocess, real SQLite, scripted model over HTTP.

Listing is checked against a broken database and an idle model (it must use
neither); each action runs a turn whose `workspace/applyEdit` is checked to
the character, and whose history and trace rows are read back from SQLite.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Union

import pytest
from lsprotocol import types as lsp

from orion_lsp.testing import ScriptedModelServer, ScriptedReply, ScriptedToolCall

from .harness import HANG_S, Session, model_env, rows, start_session

SHOP = (
    "def price(qty, unit):\n"
    "    total = qty * unit\n"
    "    if qty > 10:\n"
    "        total = total * 0.9\n"
    "    return totl\n"
    "\n"
    "\n"
    "class Cart:\n"
    "    def __init__(self):\n"
    "        self.items = []\n"
    "\n"
    "    def add(self, item):\n"
    "        self.items.append(item)\n"
)
DIAG = lsp.Diagnostic(
    range=lsp.Range(lsp.Position(4, 11), lsp.Position(4, 15)),
    message="Undefined name `totl`",
    severity=lsp.DiagnosticSeverity.Error,
    source="pyflakes",
    code="F821",
)


def trace(db: Path, turn_id: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (t, json.loads(p))
        for t, p in rows(
            db, "SELECT type, payload FROM trace_events WHERE turn_id=? ORDER BY seq", (turn_id,)
        )
    ]


def rng(sl: int, sc: int, el: int, ec: int) -> dict[str, Any]:
    return {"start": {"line": sl, "character": sc}, "end": {"line": el, "character": ec}}


def _decode_code_actions_faithfully(s: Session) -> None:
    """lsprotocol decodes a CodeAction that carries a command (and no edit) as a
    Command on the client side: pick by shape instead (a Command's `command` is a string)."""
    conv = s.client.protocol._converter

    def structure(obj: Any, _type: Any) -> Any:
        if isinstance(obj.get("command"), str):
            return conv.structure(obj, lsp.Command)
        return conv.structure(obj, lsp.CodeAction)

    conv.register_structure_hook(Union[lsp.Command, lsp.CodeAction], structure)  # noqa: UP007


async def list_actions(s: Session, uri: str, r: lsp.Range, diags=(), only=None) -> list[dict]:
    """textDocument/codeAction, returned as plain JSON dicts."""
    _decode_code_actions_faithfully(s)
    params = lsp.CodeActionParams(
        text_document=lsp.TextDocumentIdentifier(uri),
        range=r,
        context=lsp.CodeActionContext(diagnostics=list(diags), only=only),
    )
    raw = await s.client.protocol.send_request_async(lsp.TEXT_DOCUMENT_CODE_ACTION, params)
    return [_plain(a) for a in raw or []]


def _plain(value: Any) -> Any:
    conv = __import__("lsprotocol.converters", fromlist=["get_converter"]).get_converter()
    return json.loads(json.dumps(conv.unstructure(value)))


async def wait_indexed(s: Session) -> None:
    async with asyncio.timeout(HANG_S):
        while True:  # polling a server over JSON-RPC: no event to wait on
            if (await s.command("orion.status", {}))["repoMap"].get("complete", 1) >= 1:
                return
            await asyncio.sleep(0.05)


async def run_detached(s: Session, command: dict[str, Any]) -> dict[str, Any]:
    """Run a listed action's command as a stock client does (its arguments as
    given): it answers `running` at once; the turn's `orion/turnEnd` is the result."""
    started = await s.command(command["command"], *command["arguments"])
    assert started["status"] == "running" and set(started) == {
        "projectId",
        "turnId",
        "threadId",
        "status",
    }
    return await s.wait_turn_end(started["turnId"], timeout=60)


@pytest.fixture
def shop(workspace: Path) -> Path:
    (workspace / "pkg" / "shop.py").write_text(SHOP)
    (workspace / "tests").mkdir()
    return workspace / "pkg" / "shop.py"


async def test_listing_uses_no_model_and_no_storage(
    shop: Path, tmp_path: Path, model: ScriptedModelServer
):
    # The database path is a folder: storage is broken from the start.
    bad_db = tmp_path / "not-a-db"
    bad_db.mkdir()
    s = await start_session(shop.parents[1], bad_db, model, env=model_env(model, bad_db))
    try:
        uri = await s.open("pkg/shop.py", SHOP)
        # A diagnostic from another server, a selection inside `price`.
        actions = await list_actions(
            s, uri, lsp.Range(lsp.Position(1, 4), lsp.Position(3, 10)), [DIAG]
        )
        assert [(a["title"], a["kind"]) for a in actions] == [
            ("Orion: Fix: Undefined name `totl`", "quickfix"),
            ("Orion: Explain this", "refactor"),
            ("Orion: Add docstring", "refactor.rewrite"),
            ("Orion: Write tests for this", "refactor.rewrite"),
        ]
        fix = actions[0]
        assert fix["diagnostics"][0]["message"] == "Undefined name `totl`"
        assert fix["command"]["command"] == "orion.codeAction"
        assert fix["command"]["arguments"] == [
            {
                "action": "fix",
                "uri": uri,
                "range": rng(4, 11, 4, 15),
                "diagnostic": {
                    "message": "Undefined name `totl`",
                    "range": rng(4, 11, 4, 15),
                    "severity": 1,
                    "source": "pyflakes",
                    "code": "F821",
                },
            }
        ]
        assert actions[2]["command"]["arguments"] == [
            {"action": "docstring", "uri": uri, "range": rng(1, 4, 3, 10)}
        ]
        # `only` filters by kind; an empty range between definitions offers neither
        # Explain nor the definition actions.
        only_fix = await list_actions(
            s, uri, lsp.Range(lsp.Position(1, 4), lsp.Position(3, 10)), [DIAG], ["quickfix"]
        )
        assert [a["title"] for a in only_fix] == ["Orion: Fix: Undefined name `totl`"]
        between = await list_actions(s, uri, lsp.Range(lsp.Position(6, 0), lsp.Position(6, 0)))
        assert between == []
        # Inside a method: the innermost definition (tested through resolve's data too).
        in_method = await list_actions(s, uri, lsp.Range(lsp.Position(12, 8), lsp.Position(12, 8)))
        assert [a["title"] for a in in_method] == [
            "Orion: Add docstring",
            "Orion: Write tests for this",
        ]
        # codeAction/resolve gives back the command from `data` when a client drops it.
        bare = {k: v for k, v in in_method[0].items() if k != "command"}
        resolved = await s.client.protocol.send_request_async(
            lsp.CODE_ACTION_RESOLVE, lsp.CodeAction(title=bare["title"], data=bare["data"])
        )
        assert _plain(resolved)["command"]["arguments"] == in_method[0]["command"]["arguments"]
        assert model.requests == []
        # Running one needs storage: it fails loud instead.
        from pygls.exceptions import JsonRpcException

        with pytest.raises(JsonRpcException) as exc:
            await s.command("orion.codeAction", fix["command"]["arguments"][0])
        assert exc.value.message.startswith("Orion storage error:")
    finally:
        await s.client.shutdown_session()


async def test_fix_action_applies_an_annotated_versioned_edit(
    shop: Path, db_path: Path, model: ScriptedModelServer
):
    s = await start_session(shop.parents[1], db_path, model, caps="visual-studio-code")
    try:
        uri = await s.open("pkg/shop.py", SHOP, version=7)
        await wait_indexed(s)
        model.push(
            ScriptedReply(tool_calls=[ScriptedToolCall("read_file", {"path": "pkg/shop.py"})]),
            ScriptedReply(
                tool_calls=[
                    ScriptedToolCall(
                        "edit_file",
                        {
                            "path": "pkg/shop.py",
                            "oldText": "    return totl\n",
                            "newText": "    return total\n",
                        },
                    )
                ]
            ),
            ScriptedReply(text="Fixed the typo: `price` now returns `total`."),
        )
        actions = await list_actions(
            s, uri, lsp.Range(lsp.Position(4, 11), lsp.Position(4, 15)), [DIAG], ["quickfix"]
        )
        # As the VS Code extension runs it: synchronously (the full result).
        cmd = actions[0]["command"]
        result = await s.command(cmd["command"], {**cmd["arguments"][0], "detach": False})
        tid = result["turnId"]
        assert result["status"] == "completed"
        assert result["answer"] == "Fixed the typo: `price` now returns `total`."
        assert result["edits"] == [{"path": "pkg/shop.py", "applied": True}]
        assert [_plain(e.edit) for e in s.apply_edits] == [
            _plain(
                lsp.WorkspaceEdit(
                    document_changes=[
                        lsp.TextDocumentEdit(
                            text_document=lsp.OptionalVersionedTextDocumentIdentifier(
                                uri=uri, version=7
                            ),
                            edits=[
                                lsp.AnnotatedTextEdit(
                                    range=lsp.Range(lsp.Position(4, 0), lsp.Position(5, 0)),
                                    new_text="    return total\n",
                                    annotation_id=f"orion-turn-{tid}",
                                )
                            ],
                        )
                    ],
                    change_annotations={
                        f"orion-turn-{tid}": lsp.ChangeAnnotation(
                            label=f"Orion turn {tid[:8]}",
                            description="Edit of pkg/shop.py made by Orion",
                            needs_confirmation=False,
                        )
                    },
                )
            )
        ]
        # What the model was asked: the diagnostic and the enclosing definition.
        first = model.requests[0]["messages"]
        assert "Undefined name `totl`" in first[-1]["content"]
        assert "reported by pyflakes" in first[-1]["content"]
        assert "The enclosing function is `price` (lines 1-5)" in first[-1]["content"]
        assert "## Selection in pkg/shop.py (lines 5-5)" in first[0]["content"]
        # Stored like a chat turn: in history, with the trace saying what happened.
        hist = await s.command("orion.history", {"uri": uri})
        assert [(m["role"], m["content"]) for m in hist["messages"]][-2:] == [
            ("user", "Fix: Undefined name `totl` (pkg/shop.py:5)"),
            ("assistant", result["answer"]),
        ]
        events = trace(s.db, tid)
        assert events[0][1]["source"] == "code_action"
        assert "Undefined name `totl`" in events[0][1]["task"]
        edit_result = [p for t, p in events if t == "tool_result" and p["name"] == "edit_file"]
        assert edit_result[0]["ok"] and edit_result[0]["data"]["applied"] is True
        end = events[-1][1]
        assert end["edits"] == [{"path": "pkg/shop.py", "applied": True}]
        assert end["claims"]["unknownPaths"] == [] and end["claims"]["unknownSymbols"] == []
    finally:
        await s.client.shutdown_session()


async def test_docstring_tests_and_explain_on_a_client_without_document_changes(
    shop: Path, db_path: Path, model: ScriptedModelServer
):
    s = await start_session(shop.parents[1], db_path, model, caps="neovim")
    try:
        uri = await s.open("pkg/shop.py", SHOP, version=3)
        await wait_indexed(s)
        at_price = lsp.Range(lsp.Position(1, 4), lsp.Position(1, 4))
        by_title = {a["title"]: a for a in await list_actions(s, uri, at_price)}
        docstring = '    """Total price of qty items, 10% off above 10."""\n'
        model.push(
            ScriptedReply(tool_calls=[ScriptedToolCall("read_file", {"path": "pkg/shop.py"})]),
            ScriptedReply(
                tool_calls=[
                    ScriptedToolCall(
                        "edit_file",
                        {
                            "path": "pkg/shop.py",
                            "oldText": "def price(qty, unit):\n",
                            "newText": "def price(qty, unit):\n" + docstring,
                        },
                    )
                ]
            ),
            ScriptedReply(text="Added a docstring to `price`."),
        )
        cmd = by_title["Orion: Add docstring"]["command"]
        result = await run_detached(s, cmd)
        assert result["edits"] == [{"path": "pkg/shop.py", "applied": True}]
        assert [_plain(e.edit) for e in s.apply_edits] == [
            _plain(
                lsp.WorkspaceEdit(
                    changes={
                        uri: [
                            lsp.TextEdit(
                                range=lsp.Range(lsp.Position(0, 0), lsp.Position(1, 0)),
                                new_text="def price(qty, unit):\n" + docstring,
                            )
                        ]
                    }
                )
            )
        ]
        assert "Add a docstring" in model.requests[0]["messages"][-1]["content"]

        # Tests go to the project's layout (tests/test_<module>.py), made with create_file.
        test_text = (
            "from pkg.shop import price\n\n\ndef test_discount_above_ten():\n"
            "    assert price(20, 1) == 18\n"
        )
        model.push(
            ScriptedReply(tool_calls=[ScriptedToolCall("read_file", {"path": "pkg/shop.py"})]),
            ScriptedReply(
                tool_calls=[
                    ScriptedToolCall(
                        "create_file", {"path": "tests/test_shop.py", "content": test_text}
                    )
                ]
            ),
            ScriptedReply(text="Wrote `tests/test_shop.py` with `test_discount_above_ten`."),
        )
        s.apply_edits.clear()
        n_requests = len(model.requests)
        cmd = by_title["Orion: Write tests for this"]["command"]
        result = await run_detached(s, cmd)
        assert result["edits"] == [{"path": "tests/test_shop.py", "applied": True}]
        assert (
            "Create tests/test_shop.py with create_file"
            in (model.requests[n_requests]["messages"][-1]["content"])
        )
        new_uri = (shop.parents[1] / "tests" / "test_shop.py").as_uri()
        assert [_plain(e.edit) for e in s.apply_edits] == [
            _plain(
                lsp.WorkspaceEdit(
                    document_changes=[
                        lsp.CreateFile(
                            uri=new_uri,
                            options=lsp.CreateFileOptions(overwrite=False, ignore_if_exists=False),
                        ),
                        lsp.TextDocumentEdit(
                            text_document=lsp.OptionalVersionedTextDocumentIdentifier(
                                uri=new_uri, version=None
                            ),
                            edits=[
                                lsp.TextEdit(
                                    range=lsp.Range(lsp.Position(0, 0), lsp.Position(0, 0)),
                                    new_text=test_text,
                                )
                            ],
                        ),
                    ]
                )
            )
        ]
        # The created file's symbols are not on disk (the client did not save):
        # the claim check records that instead of flagging them.
        end = trace(s.db, result["turnId"])[-1][1]
        assert end["claims"]["unknownPaths"] == []
        assert end["claims"]["symbolsVerified"] is False
        assert "Orion note" not in result["answer"]

        # Explain: no tools, no edit, an answer streamed and stored in history.
        s.apply_edits.clear()
        model.push(ScriptedReply(text="`price` multiplies `qty` by `unit` and discounts bulk."))
        sel = lsp.Range(lsp.Position(1, 0), lsp.Position(3, 30))
        explain = {a["title"]: a for a in await list_actions(s, uri, sel)}["Orion: Explain this"]
        result = await run_detached(s, explain["command"])
        assert result["status"] == "completed" and s.apply_edits == []
        assert s.answer_of(result["turnId"]) == result["answer"]
        assert result["answer"] == "`price` multiplies `qty` by `unit` and discounts bulk."
        hist = await s.command("orion.history", {"uri": uri})
        assert hist["messages"][-2]["content"] == "Explain pkg/shop.py lines 2-4"
        assert "total = qty * unit" in model.requests[-1]["messages"][0]["content"]
    finally:
        await s.client.shutdown_session()


async def test_claim_check_flags_an_invented_path_and_symbol(
    shop: Path, db_path: Path, model: ScriptedModelServer
):
    s = await start_session(shop.parents[1], db_path, model, caps="neovim")
    try:
        await wait_indexed(s)
        model.push(
            ScriptedReply(
                text="Discounts live in `pkg/discounts.py` (see `apply_coupon`), "
                "called from `price` in pkg/shop.py."
            )
        )
        result = await s.chat("where are discounts?")
        note = "\n\n> Orion note: not found in this workspace: `pkg/discounts.py`, `apply_coupon`."
        assert result["answer"].endswith(note)
        assert s.answer_of(result["turnId"]) == result["answer"]
        end = trace(s.db, result["turnId"])[-1][1]
        assert end["claims"]["unknownPaths"] == ["pkg/discounts.py"]
        assert end["claims"]["unknownSymbols"] == ["apply_coupon"]
        assert end["claims"]["paths"] == 2 and end["claims"]["symbols"] == 2
        stored = rows(
            s.db,
            "SELECT content FROM chat_messages WHERE turn_id=? AND role='assistant'",
            (result["turnId"],),
        )
        assert stored == [(result["answer"],)]
    finally:
        await s.client.shutdown_session()


async def test_a_code_action_command_answers_before_its_turn_ends(
    shop: Path, db_path: Path, model: ScriptedModelServer
):
    # eglot runs the command synchronously and gives up after 10 s (or freezes):
    # the command must answer while the turn goes on.
    s = await start_session(shop.parents[1], db_path, model, caps="neovim")
    try:
        uri = await s.open("pkg/shop.py", SHOP)
        model.push(ScriptedReply(text="Thinking about `price` for a long time", hang=True))
        sel = lsp.Range(lsp.Position(1, 0), lsp.Position(3, 30))
        explain = {a["title"]: a for a in await list_actions(s, uri, sel)}["Orion: Explain this"]
        cmd = explain["command"]
        # The model never finishes this reply: a blocking command would never answer.
        started = await asyncio.wait_for(s.command(cmd["command"], *cmd["arguments"]), 60)
        assert started["status"] == "running"
        tid = started["turnId"]
        async with asyncio.timeout(30):
            while not s.answer_of(tid):
                await asyncio.sleep(0.02)
        assert not [t for t in s.turn_ends if t["turnId"] == tid]
        assert await s.command("orion.cancel", {"turnId": tid}) == {"cancelled": True}
        end = await s.wait_turn_end(tid)
        assert end["status"] == "cancelled"
    finally:
        await s.client.shutdown_session()
