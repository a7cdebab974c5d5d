"""Exact requests in the ledger: each message stored once, resolved back in full,
redacted, and committed with its event (real SQLite files)."""

from __future__ import annotations

import json
import sqlite3
import zlib
from pathlib import Path
from typing import Any

import pytest

from orion_lsp.redact import Redactor
from orion_lsp.storage import Database, FailNth, StorageError, TraceStore

SECRET = "sk-orion-unit-CANARY-0123456789"
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "read_file",
            "description": "Read a file 📄",
            "parameters": {"type": "object", "properties": {"path": {"type": "string"}}},
        },
    }
]


def request(messages: list[dict[str, Any]], tools: Any = TOOLS) -> dict[str, Any]:
    return {"messages": messages, "tools": tools, "params": {"stream": True, "temperature": 0}}


@pytest.fixture
async def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    db = await Database.open(tmp_path / "orion.db", redactor=Redactor([SECRET]))
    yield TraceStore(db)
    await db.close()


def blob_texts(path: Path) -> list[str]:
    con = sqlite3.connect(path)
    try:
        out = []
        for (data,) in con.execute("SELECT data FROM blobs"):
            out.append(zlib.decompress(data).decode("utf-8"))
        return out
    finally:
        con.close()


async def test_a_request_resolves_back_exactly(store: TraceStore) -> None:
    messages = [
        {"role": "system", "content": "Sys: naïve café 🚀\r\nline two"},
        {"role": "user", "content": "What does `greet` do?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "read_file", "arguments": '{"path": "pkg/greet.py"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "name": "read_file", "content": "𝔘𝔫𝔦𝔠𝔬𝔡𝔢"},
    ]
    event = await store.append("p", "t1", "llm_call", {"step": 1, "request": request(messages)})
    stored = event.payload["request"]
    assert set(stored) == {"messageRefs", "toolsRef", "params"}
    assert len(stored["messageRefs"]) == 4
    full = await store.resolved((await store.events("p", "t1"))[0])
    assert full.payload["request"] == request(messages)
    # Key order is part of "exactly as sent".
    assert [list(m) for m in full.payload["request"]["messages"]] == [list(m) for m in messages]
    assert full.payload["step"] == 1


async def test_repeated_messages_and_tools_are_stored_once(store: TraceStore) -> None:
    history = [{"role": "system", "content": "S" * 5000}] + [
        {"role": "user" if i % 2 == 0 else "assistant", "content": f"message {i} " * 50}
        for i in range(20)
    ]
    messages = list(history)
    for step in range(1, 13):
        await store.append("p", "t", "llm_call", {"step": step, "request": request(messages)})
        messages = [*messages, {"role": "tool", "tool_call_id": f"c{step}", "content": f"r{step}"}]
    distinct = len(history) + 11 + 1  # history, 11 tool results, the tool list
    texts = blob_texts(store.db.path)
    assert len(texts) == distinct
    events = await store.events("p", "t")
    last = await store.resolved(events[-1])
    assert len(last.payload["request"]["messages"]) == len(history) + 11
    refs = [r for (r,) in _rows(store.db.path, "SELECT DISTINCT turn_id FROM blob_refs")]
    assert refs == ["t"]


async def test_text_mode_request_has_no_tools(store: TraceStore) -> None:
    msgs = [{"role": "user", "content": "hi"}]
    event = await store.append("p", "t", "llm_call", {"request": request(msgs, tools=None)})
    assert event.payload["request"]["toolsRef"] is None
    full = await store.resolved(event)
    assert full.payload["request"]["tools"] is None


async def test_secrets_are_redacted_in_the_blobs(store: TraceStore) -> None:
    msgs = [
        {"role": "user", "content": f"my key is {SECRET} ok"},
        {"role": "tool", "tool_call_id": "c", "content": f"api_key={SECRET}"},
    ]
    params = {"stream": True, "extra_headers": {"Authorization": f"Bearer {SECRET}"}}
    event = await store.append(
        "p", "t", "llm_call", {"request": {"messages": msgs, "tools": None, "params": params}}
    )
    raw = store.db.path.read_bytes() + b"".join(
        p.read_bytes() for p in store.db.path.parent.glob("orion.db*")
    )
    assert SECRET.encode() not in raw
    assert all(SECRET not in t for t in blob_texts(store.db.path))
    full = await store.resolved(event)
    text = json.dumps(full.payload)
    assert SECRET not in text and "[REDACTED]" in text


async def test_a_failed_write_stores_neither_event_nor_blobs(store: TraceStore) -> None:
    store.db.fault_hook = FailNth(1)
    with pytest.raises(StorageError):
        await store.append(
            "p", "t", "llm_call", {"request": request([{"role": "user", "content": "x"}])}
        )
    store.db.fault_hook = None
    assert _rows(store.db.path, "SELECT count(*) FROM blobs") == [(0,)]
    assert _rows(store.db.path, "SELECT count(*) FROM trace_events") == [(0,)]


async def test_a_lost_blob_is_a_storage_error(store: TraceStore) -> None:
    event = await store.append(
        "p", "t", "llm_call", {"request": request([{"role": "user", "content": "x"}])}
    )
    con = sqlite3.connect(store.db.path)
    con.execute("DELETE FROM blobs")
    con.commit()
    con.close()
    with pytest.raises(StorageError, match="missing"):
        await store.resolved(event)


def _rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(path)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


async def test_a_secret_added_later_is_masked_in_later_requests(tmp_path: Path) -> None:
    redactor = Redactor()
    db = await Database.open(tmp_path / "orion.db", redactor=redactor)
    try:
        store = TraceStore(db)
        late = "late-secret-value-42"
        msgs = [{"role": "user", "content": f"token {late}"}]
        first = await store.append("p", "t", "llm_call", {"request": request(msgs)})
        redactor.add_secret(late)  # e.g. the user set an API key after start-up
        second = await store.append("p", "t", "llm_call", {"request": request(msgs)})
        assert first.payload["request"]["messageRefs"] != second.payload["request"]["messageRefs"]
        full = await store.resolved(second)
        assert late not in json.dumps(full.payload)
    finally:
        await db.close()
