"""A pytest-lsp session against the real server subprocess, a real SQLite file
and the scripted model server; collects everything the client receives."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types as lsp
from pytest_lsp import client_capabilities
from pytest_lsp.client import LanguageClient, make_test_lsp_client

from orion_lsp.testing import ScriptedModelServer
from tests import editor_text

API_KEY = "sk-orion-test-CANARY-4f1b2c3d4e5f"


@dataclass
class Session:
    client: LanguageClient
    workspace: Path
    db: Path
    log_file: Path
    deltas: list[dict[str, Any]] = field(default_factory=list)
    tool_events: list[dict[str, Any]] = field(default_factory=list)
    turn_ends: list[dict[str, Any]] = field(default_factory=list)
    apply_edits: list[lsp.ApplyWorkspaceEditParams] = field(default_factory=list)
    apply_result: bool = True
    transcript: list[str] = field(default_factory=list)
    # The position encoding the server chose at `initialize`.
    encoding: str = "utf-16"
    # With `follow_edits`, the client behaves like an editor for the buffers it
    # opened: applyEdit changes them (in `encoding`) and is followed by didChange.
    follow_edits: bool = False
    buffers: dict[str, tuple[str, int]] = field(default_factory=dict)

    async def chat(self, prompt: str, **kw: Any) -> Any:
        return await self.command("orion.chat", {"prompt": prompt, **kw})

    async def command(self, name: str, *arguments: Any) -> Any:
        return await self.client.workspace_execute_command_async(
            lsp.ExecuteCommandParams(command=name, arguments=list(arguments))
        )

    def answer_of(self, turn_id: str) -> str:
        return "".join(d["delta"] for d in self.deltas if d["turnId"] == turn_id)

    async def wait_turn_end(self, turn_id: str, timeout: float = 20) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                for t in self.turn_ends:
                    if t["turnId"] == turn_id:
                        return t
                await asyncio.sleep(0.02)

    def error_messages(self) -> list[str]:
        return [m.message for m in self.client.messages if m.type == lsp.MessageType.Error]

    async def open(self, rel: str, text: str, version: int = 1) -> str:
        uri = (self.workspace / rel).as_uri()
        self.buffers[uri] = (text, version)
        self.client.text_document_did_open(
            lsp.DidOpenTextDocumentParams(
                lsp.TextDocumentItem(uri=uri, language_id="python", version=version, text=text)
            )
        )
        return uri

    def edit_buffers(self, edit: lsp.WorkspaceEdit) -> str | None:
        """Apply a workspace edit to the open buffers as an editor does, then didChange.

        Returns why not (and changes nothing) when a versioned edit is stale.
        """
        for change in edit.document_changes or []:
            doc = getattr(change, "text_document", None)
            if doc is not None and doc.version is not None and doc.uri in self.buffers:
                if self.buffers[doc.uri][1] != doc.version:
                    return f"version {doc.version} of {doc.uri} is stale"
        for uri, edits in editor_text.text_edits(edit).items():
            if uri not in self.buffers:
                continue
            text, version = self.buffers[uri]
            changes = []
            # An editor applies a document's edits from the last to the first.
            for e in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character))[
                ::-1
            ]:
                text = editor_text.apply_text_edit(text, e.range, e.new_text, self.encoding)
                changes.append(lsp.TextDocumentContentChangePartial(range=e.range, text=e.new_text))
            self.buffers[uri] = (text, version + 1)
            self.client.text_document_did_change(
                lsp.DidChangeTextDocumentParams(
                    text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version + 1),
                    content_changes=changes,
                )
            )
        return None


def make_workspace(root: Path) -> Path:
    """A small Python project: pkg/greet.py with one documented function, a README."""
    ws = root / "ws"
    (ws / "pkg").mkdir(parents=True, exist_ok=True)
    (ws / "pkg" / "__init__.py").write_text("")
    (ws / "pkg" / "greet.py").write_text(
        'def greet(name):\n    """Say hello."""\n    return f"Hello, {name}!"\n'
    )
    (ws / "README.md").write_text("# demo\n")
    return ws


def rows(db: Path, sql: str, params: tuple = ()) -> list[tuple]:
    """Read the server's database from outside, as another process would."""
    con = sqlite3.connect(db)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def model_env(model: ScriptedModelServer, db: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("ORION_", "OPENAI_", "LITELLM_"))
    }
    env.update(
        ORION_MODEL=model.model,
        ORION_API_BASE=model.base_url,
        ORION_API_KEY=API_KEY,
        ORION_DB=str(db),
    )
    env.update(extra)
    return env


async def start_session(
    workspace: Path,
    db: Path,
    model: ScriptedModelServer,
    *,
    caps: str | lsp.ClientCapabilities = "visual-studio-code",
    env: dict[str, str] | None = None,
    init_options: dict[str, Any] | None = None,
    log_file: Path | None = None,
) -> Session:
    client = make_test_lsp_client()
    log_file = log_file or db.parent / "server.log"
    session = Session(client, workspace, db, log_file)

    @client.feature("orion/chatDelta")
    def _delta(params: Any) -> None:
        session.deltas.append(_plain(params))

    @client.feature("orion/toolEvent")
    def _tool(params: Any) -> None:
        session.tool_events.append(_plain(params))

    @client.feature("orion/turnEnd")
    def _end(params: Any) -> None:
        session.turn_ends.append(_plain(params))

    @client.feature(lsp.WORKSPACE_APPLY_EDIT)
    def _apply(params: lsp.ApplyWorkspaceEditParams) -> lsp.ApplyWorkspaceEditResult:
        session.apply_edits.append(params)
        if session.follow_edits and session.apply_result:
            stale = session.edit_buffers(params.edit)
            if stale is not None:
                return lsp.ApplyWorkspaceEditResult(applied=False, failure_reason=stale)
        return lsp.ApplyWorkspaceEditResult(applied=session.apply_result)

    await client.start_io(
        sys.executable,
        "-m",
        "orion_lsp",
        "--log-file",
        str(log_file),
        env=env if env is not None else model_env(model, db),
    )
    init = await client.initialize_session(
        lsp.InitializeParams(
            capabilities=client_capabilities(caps) if isinstance(caps, str) else caps,
            workspace_folders=[lsp.WorkspaceFolder(uri=workspace.as_uri(), name=workspace.name)],
            root_uri=workspace.as_uri(),
            initialization_options=init_options,
        )
    )
    session.encoding = str(init.capabilities.position_encoding or "utf-16")
    return session


def _plain(value: Any) -> Any:
    """pygls hands unknown notifications over as namedtuple-like Objects."""
    if hasattr(value, "_asdict"):
        return {k: _plain(v) for k, v in value._asdict().items()}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
