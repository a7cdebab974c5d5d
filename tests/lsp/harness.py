"""A pytest-lsp session against the real server subprocess, a real SQLite file
and the scripted model server; collects everything the client receives."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types as lsp
from pytest_lsp import client_capabilities
from pytest_lsp.client import LanguageClient, make_test_lsp_client

from orion_lsp.project import uri_to_path
from orion_lsp.testing import ScriptedModelServer
from tests import editor_text

API_KEY = "sk-orion-test-CANARY-4f1b2c3d4e5f"
# How long a wait may last before the test calls it a hang. Only a hang detector:
# a busy machine (the first turn imports litellm) may take long; no test checks speed.
HANG_S = 120.0


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
    # When set, answers applyEdit instead (it may raise: the client's error answer).
    apply_hook: Callable[[lsp.ApplyWorkspaceEditParams], lsp.ApplyWorkspaceEditResult] | None = None
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

    async def wait_turn_end(self, turn_id: str, timeout: float = HANG_S) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                for t in self.turn_ends:
                    if t["turnId"] == turn_id:
                        return t
                await asyncio.sleep(0.02)

    def error_messages(self) -> list[str]:
        return [m.message for m in self.client.messages if m.type == lsp.MessageType.Error]

    async def wait_error_message(self, text: str, timeout: float = HANG_S) -> None:
        """Until a showMessage Error with exactly `text` arrived (it may trail the response)."""
        async with asyncio.timeout(timeout):
            while text not in self.error_messages():
                await asyncio.sleep(0.02)

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
        for change in edit.document_changes or []:
            self._resource_operation(change)
        for spelled, edits in editor_text.text_edits(edit).items():
            uri = self._buffer_uri(spelled)
            if uri is None:
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

    def _buffer_uri(self, uri: str) -> str | None:
        """The open buffer's URI for `uri`, however it is spelled (%-escapes): editors compare paths."""
        if uri in self.buffers:
            return uri
        path = uri_to_path(uri)
        return next((u for u in self.buffers if uri_to_path(u) == path), None)

    def _resource_operation(self, change: Any) -> None:
        """CreateFile / DeleteFile as VS Code does them: on disk at once, with the buffer."""
        if isinstance(change, lsp.CreateFile):
            path = uri_to_path(change.uri)
            assert path is not None
            if path.exists() and change.options and change.options.ignore_if_exists:
                return
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"")
            self.buffers[change.uri] = ("", 1)
            self.client.text_document_did_open(
                lsp.DidOpenTextDocumentParams(
                    lsp.TextDocumentItem(uri=change.uri, language_id="python", version=1, text="")
                )
            )
        elif isinstance(change, lsp.DeleteFile):
            path = uri_to_path(change.uri)
            assert path is not None
            path.unlink(missing_ok=bool(change.options and change.options.ignore_if_not_exists))
            uri = self._buffer_uri(change.uri)
            if uri is not None:
                del self.buffers[uri]
                self.client.text_document_did_close(
                    lsp.DidCloseTextDocumentParams(lsp.TextDocumentIdentifier(uri))
                )


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
        # Answer files for stock clients (stock_clients.py) stay in the test's temp dir.
        XDG_CACHE_HOME=str(db.parent / "cache"),
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
    orion_extension: bool = True,
) -> Session:
    """`orion_extension`: advertise what our VS Code and Neovim clients do (they show
    `orion/*` notifications); False is a stock LSP client (eglot, Helix)."""
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
        if session.apply_hook is not None:
            return session.apply_hook(params)
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
    capabilities = client_capabilities(caps) if isinstance(caps, str) else caps
    if orion_extension:
        capabilities.experimental = {"orion": {"turnNotifications": True}}
    init = await client.initialize_session(
        lsp.InitializeParams(
            capabilities=capabilities,
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


def resolved_traces(db: Path, project_id: str, turn_id: str) -> list[dict[str, Any]]:
    """`orion traces --turn T --json` (requests resolved in full), as a user would run it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORION_")}
    out = subprocess.run(
        [sys.executable, "-m", "orion_lsp.cli", "traces", "--project-id", project_id,
         "--turn", turn_id, "--json"],
        env={**env, "ORION_DB": str(db)}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    events: list[dict[str, Any]] = json.loads(out.stdout)["events"]
    return events
