"""Ledger size of exact requests: a 12-step turn with 20 messages of history.

Every `llm_call` records the exact request (messages, tool specs, params).
The system prompt, the history and every earlier step are resent at each
step, so storing each request whole grows with the square of the steps. The
ledger stores each message once (content-addressed, compressed blobs) and
the events point at them.

What is measured, on a real turn through `ToolOrchestrator.run` against the
scripted model (11 `read_file` steps, then the answer), after 10 earlier
turns (20 messages of history) in the same thread:

- stored: the bytes the turn added to the ledger: its trace-event payloads,
  the blobs it references (compressed, as stored), its chat rows;
- distinct content: the turn's text counted once each: every distinct
  request message (as JSON), the tool specs, the replies, the tool results,
  the chat rows, and the events' own metadata (the payloads minus the
  request, reply and tool output they carry);
- whole requests: what storing each step's request as one JSON text (as
  sent) would cost, the baseline.

Target: stored <= 1.5 x distinct content. Also printed: the database file's
growth for the turn, and stored vs whole requests.

    .venv/bin/python bench/bench_ledger.py
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TARGET = 1.5
STEPS = 12
HISTORY_TURNS = 10  # 20 messages


def module_source(i: int) -> str:
    """A small, distinct Python module (~1.5 KB) for each read_file step."""
    lines = [f'"""Module {i}: pricing rules for region {i} (benchmark workspace)."""', ""]
    for j in range(8):
        lines += [
            f"def rule_{i}_{j}(amount: float, qty: int) -> float:",
            f'    """Discount rule {j} of region {i}: {j * 5}% from {10 + j} items."""',
            f"    return amount * {1 - j * 0.05:.2f} if qty >= {10 + j} else amount",
            "",
        ]
    return "\n".join(lines)


def replies() -> list[Any]:
    from orion_lsp.testing import ScriptedReply, ScriptedToolCall

    out = [
        ScriptedReply(
            text=f"Reading module {i}.",
            tool_calls=[ScriptedToolCall("read_file", {"path": f"pricing/m{i}.py"})],
        )
        for i in range(STEPS - 1)
    ]
    out.append(ScriptedReply(text="The discount rules are spread over 11 modules; " * 4))
    return out


def distinct_content(events: list[Any], chat_rows: list[str]) -> int:
    """Bytes of the turn's text, each distinct piece once."""
    from orion_lsp.storage.payload import encode_payload

    pieces: set[str] = set(chat_rows)
    meta = 0
    for e in events:
        p = dict(e.payload)
        request = p.pop("request", None)
        if request:
            for m in request["messages"]:
                pieces.add(encode_payload(m, None))
            if request.get("tools"):
                pieces.add(encode_payload({"tools": request["tools"]}, None))
        for key in ("text", "content"):
            if isinstance(p.get(key), str):
                pieces.add(p.pop(key))
        meta += len(encode_payload(p, None).encode())
    return meta + sum(len(s.encode()) for s in pieces)


def whole_requests(events: list[Any]) -> int:
    total = 0
    for e in events:
        request = e.payload.get("request")
        if request:
            total += len(json.dumps(request, ensure_ascii=False, separators=(",", ":")).encode())
    return total


def stored_bytes(db: Path, turn_id: str) -> dict[str, int]:
    con = sqlite3.connect(db)
    try:
        (events,) = con.execute(
            "SELECT coalesce(sum(length(CAST(payload AS BLOB))), 0) FROM trace_events"
            " WHERE turn_id = ?",
            (turn_id,),
        ).fetchone()
        (blobs,) = con.execute(
            "SELECT coalesce(sum(length(b.data)) + 64 * count(*), 0) FROM blobs AS b"
            " JOIN blob_refs AS r ON r.hash = b.hash WHERE r.turn_id = ?",
            (turn_id,),
        ).fetchone()
        (chat,) = con.execute(
            "SELECT coalesce(sum(length(CAST(content AS BLOB))), 0) FROM chat_messages"
            " WHERE turn_id = ?",
            (turn_id,),
        ).fetchone()
    finally:
        con.close()
    return {"events": events, "blobs": blobs, "chat": chat}


def file_size(db: Path) -> int:
    con = sqlite3.connect(db)
    try:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        (pages,) = con.execute("PRAGMA page_count").fetchone()
        (free,) = con.execute("PRAGMA freelist_count").fetchone()
        (size,) = con.execute("PRAGMA page_size").fetchone()
        return (pages - free) * size
    finally:
        con.close()


async def run() -> None:
    from orion_lsp.agent.protocols import NullSink
    from orion_lsp.agent.tools.base import NoDocuments
    from orion_lsp.agent.tools.disk_applier import DiskEditApplier
    from orion_lsp.agent.turn import COMPLETED, TurnRequest
    from orion_lsp.config import load_settings
    from orion_lsp.project import project_for
    from orion_lsp.services import open_services
    from orion_lsp.testing import ScriptedModelServer, ScriptedReply

    tmp = Path(tempfile.mkdtemp(prefix="orion-bench-ledger-"))
    ws = tmp / "workspace"
    (ws / "pricing").mkdir(parents=True)
    for i in range(STEPS - 1):
        (ws / "pricing" / f"m{i}.py").write_text(module_source(i), encoding="utf-8")
    project = project_for(ws)
    db = tmp / "orion.db"
    with ScriptedModelServer() as server:
        settings = load_settings(
            environ={
                "ORION_MODEL": server.model,
                "ORION_API_BASE": server.base_url,
                "ORION_DB": str(db),
            }
        )
        services = await open_services(settings)
        try:
            services.context.ensure(project)
            await services.context.wait_built(project.root)
            orchestrator = services.require_orchestrator()

            async def turn(prompt: str, script: list[Any]) -> Any:
                server.push(*script)
                req = TurnRequest(project=project, prompt=prompt, source="cli")
                out = await orchestrator.run(
                    req, NullSink(), documents=NoDocuments(), applier=DiskEditApplier(ws)
                )
                if out.status != COMPLETED:
                    raise SystemExit(f"turn did not complete: {out}")
                return req.turn_id

            for i in range(HISTORY_TURNS):
                answer = f"Earlier answer {i}: " + "the rules live in pricing/. " * 12
                await turn(
                    f"Earlier question {i} about the pricing rules? " * 3, [ScriptedReply(answer)]
                )
            before = file_size(db)
            turn_id = await turn("Which discount rules apply from 12 items on?", replies())
            after = file_size(db)
            assert services.traces is not None
            raw = await services.traces.events(project.project_id, turn_id)
            events = [await services.traces.resolved(e) for e in raw]
            rows = (
                sqlite3.connect(db)
                .execute("SELECT content FROM chat_messages WHERE turn_id = ?", (turn_id,))
                .fetchall()
            )
        finally:
            await services.close()
    calls = [e for e in events if e.type == "llm_call"]
    if len(calls) != STEPS or any("request" not in e.payload for e in calls):
        raise SystemExit(f"expected {STEPS} llm_call events with requests, got {len(calls)}")
    history = len(calls[0].payload["request"]["messages"]) - 2
    distinct = distinct_content(events, [r[0] for r in rows])
    whole = whole_requests(events)
    stored = stored_bytes(db, turn_id)
    total = sum(stored.values())
    ratio = total / distinct
    print(
        f"turn: {len(calls)} model calls, {history} history messages, "
        f"{len(calls[-1].payload['request']['messages'])} messages in the last request"
    )
    print(f"distinct content: {distinct:8d} bytes")
    print(
        f"stored:           {total:8d} bytes (events {stored['events']}, blobs {stored['blobs']}"
        f" incl. 64 B/row key, chat {stored['chat']})"
    )
    print(f"whole requests:   {whole:8d} bytes (each step's request stored as sent)")
    print(f"database file grew by {after - before} bytes (pages in use, after a checkpoint)")
    print(f"stored / whole requests: {total / whole:.2f}x")
    verdict = "OK" if ratio <= TARGET else "MISSED"
    print(f"stored / distinct content: {ratio:.2f}x (target <= {TARGET}x) {verdict}")


def main() -> int:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    load = os.getloadavg()
    print(f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    asyncio.run(run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
