"""Drive `orion acp` as a subprocess with the official Python SDK's client side.

`RecordingClient` is a real ACP client (it implements the SDK's `Client`
methods): it records every `session/update`, answers permission requests
from a script, and, when it advertises `fs`, serves files from its own
"buffers" (unsaved editor text) and records writes, like an editor would.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from acp import spawn_agent_process
from acp.schema import (
    AllowedOutcome,
    ClientCapabilities,
    DeniedOutcome,
    FileSystemCapabilities,
    ReadTextFileResponse,
    RequestPermissionResponse,
    WriteTextFileResponse,
)

from orion_lsp.testing import ScriptedModelServer

API_KEY = "sk-acp-test-CANARY-0a1b2c3d4e5f6"


@dataclass
class RecordingClient:
    buffers: dict[str, str] = field(default_factory=dict)  # abs path -> unsaved text
    writes: list[tuple[str, str]] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)
    updates: list[tuple[str, Any]] = field(default_factory=list)
    permission_answers: list[str] = field(default_factory=list)  # option ids; "cancel"
    permission_requests: list[Any] = field(default_factory=list)

    async def session_update(self, session_id: str, update: Any, **kwargs: Any) -> None:
        self.updates.append((session_id, update))

    async def request_permission(
        self, session_id: str, tool_call: Any, options: list[Any], **kwargs: Any
    ) -> RequestPermissionResponse:
        self.permission_requests.append((tool_call, [o.option_id for o in options]))
        answer = self.permission_answers.pop(0) if self.permission_answers else "reject_once"
        if answer == "cancel":
            return RequestPermissionResponse(outcome=DeniedOutcome(outcome="cancelled"))
        return RequestPermissionResponse(
            outcome=AllowedOutcome(outcome="selected", option_id=answer)
        )

    async def read_text_file(
        self, session_id: str, path: str, line: int | None = None, limit: int | None = None,
        **kwargs: Any,
    ) -> ReadTextFileResponse:  # fmt: skip
        self.reads.append(path)
        text = self.buffers.get(path)
        if text is None:
            text = Path(path).read_text(encoding="utf-8")
        return ReadTextFileResponse(content=text)

    async def write_text_file(
        self, session_id: str, path: str, content: str, **kwargs: Any
    ) -> WriteTextFileResponse:
        self.writes.append((path, content))
        self.buffers[path] = content
        return WriteTextFileResponse()

    # What this stock client does not do.
    async def create_terminal(self, *a: Any, **k: Any) -> Any:
        raise NotImplementedError

    def texts(self, session_id: str) -> str:
        return "".join(
            u.content.text
            for s, u in self.updates
            if s == session_id and getattr(u, "session_update", None) == "agent_message_chunk"
        )

    def of_kind(self, kind: str) -> list[Any]:
        return [u for _, u in self.updates if getattr(u, "session_update", None) == kind]


def acp_env(model: ScriptedModelServer, db: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ORION_", "OPENAI_", "LITELLM_", "OTEL_"))
    }
    env.update(
        ORION_MODEL=model.model,
        ORION_API_BASE=model.base_url,
        ORION_API_KEY=API_KEY,
        ORION_DB=str(db),
    )
    env.update(extra)
    return env


def capabilities(fs: bool) -> ClientCapabilities:
    return ClientCapabilities(fs=FileSystemCapabilities(read_text_file=fs, write_text_file=fs))


@asynccontextmanager
async def orion_acp(
    client: RecordingClient, env: dict[str, str], cwd: Path
) -> AsyncIterator[tuple[Any, Any]]:
    async with spawn_agent_process(
        client, sys.executable, "-m", "orion_lsp.cli", "acp", env=env, cwd=str(cwd)
    ) as (conn, process):
        yield conn, process
