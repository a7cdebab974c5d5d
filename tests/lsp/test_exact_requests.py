"""Exact requests and scores through the real server: what the ledger says was sent
is what the scripted model received (its recorded HTTP bodies), secrets are not in
the database file (nor in its compressed blobs), and the built-in scores are stored
before `orion/turnEnd` reaches the editor."""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

from orion_lsp.redact import Redactor
from orion_lsp.testing import ScriptedModelServer, ScriptedReply, ScriptedToolCall

from .harness import API_KEY, Session, resolved_traces, rows


def ledger_text(db: Path) -> bytes:
    """Every byte of the database files, plus every blob decompressed."""
    raw = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
    blobs = rows(db, "SELECT data FROM blobs")
    return raw + b"".join(zlib.decompress(d) for (d,) in blobs)


async def test_stored_requests_equal_what_the_model_received(
    session: Session, model: ScriptedModelServer
) -> None:
    model.push(
        ScriptedReply(
            text="Je regarde 🔍 ",
            tool_calls=[ScriptedToolCall("read_file", {"path": "pkg/greet.py"})],
        ),
        ScriptedReply(text="`greet` says hello."),
    )
    result = await session.chat("Que fait greet?\r\nMerci 𝔁")
    assert result["status"] == "completed"
    bodies = model.wait_for_requests(2)
    events = resolved_traces(session.db, result["projectId"], result["turnId"])
    calls = [e["payload"] for e in events if e["type"] == "llm_call"]
    assert len(calls) == 2
    for call, body in zip(calls, bodies, strict=True):
        request = call["request"]
        assert request["messages"] == body["messages"]
        assert request["tools"] == body["tools"]
        for key, value in request["params"].items():
            assert body[key] == value, key
    # The second request is the first plus the tool round trip, and the history
    # selection is visible: system prompt, this turn's prompt, then the tool messages.
    second = calls[1]["request"]["messages"]
    assert second[: len(calls[0]["request"]["messages"])] == calls[0]["request"]["messages"]
    assert second[-1]["role"] == "tool" and "def greet" in second[-1]["content"]
    # Stored once each: the system prompt and the prompt are one blob for both calls.
    stored = [
        json.loads(p)["request"]
        for (p,) in rows(
            session.db,
            "SELECT payload FROM trace_events WHERE turn_id=? AND type='llm_call' ORDER BY seq",
            (result["turnId"],),
        )
    ]
    assert stored[1]["messageRefs"][:2] == stored[0]["messageRefs"][:2]
    assert stored[0]["toolsRef"] == stored[1]["toolsRef"]
    assert API_KEY.encode() not in ledger_text(session.db)

    # Built-in scores of a clean turn.
    scores = dict(
        rows(session.db, "SELECT name, value FROM scores WHERE turn_id=?", (result["turnId"],))
    )
    assert scores == {
        "claims_unknown": 0.0,
        "tool_errors": 0.0,
        "edits_applied": 0.0,
        "edits_refused": 0.0,
    }


async def test_a_secret_in_a_tool_result_is_redacted_in_the_stored_request(
    session: Session, model: ScriptedModelServer
) -> None:
    (session.workspace / "settings.env").write_text(f"OPENAI_KEY={API_KEY}\n")
    model.push(
        ScriptedReply(tool_calls=[ScriptedToolCall("read_file", {"path": "settings.env"})]),
        ScriptedReply(text="It holds a key."),
    )
    result = await session.chat("What is in settings.env?")
    bodies = model.wait_for_requests(2)
    assert API_KEY in json.dumps(bodies[1])  # what the model got (tool output is not filtered)
    events = resolved_traces(session.db, result["projectId"], result["turnId"])
    stored = [e["payload"]["request"] for e in events if e["type"] == "llm_call"][1]
    redact = Redactor([API_KEY])
    expected = json.loads(redact(json.dumps(bodies[1]["messages"], ensure_ascii=False)))
    assert stored["messages"] == expected
    assert API_KEY.encode() not in ledger_text(session.db)


async def test_scores_of_a_failing_tool_and_a_missing_file_are_stored_before_turn_end(
    session: Session, model: ScriptedModelServer
) -> None:
    seen_at_turn_end: list[dict[str, float]] = []

    class ScoresAtTurnEnd(list):  # the harness appends each orion/turnEnd here
        def append(self, item: Any) -> None:
            got = rows(
                session.db, "SELECT name, value FROM scores WHERE turn_id=?", (item["turnId"],)
            )
            seen_at_turn_end.append(dict(got))
            super().append(item)

    session.turn_ends = ScoresAtTurnEnd()
    model.push(
        ScriptedReply(tool_calls=[ScriptedToolCall("read_file", {"path": "pkg/nope.py"})]),
        ScriptedReply(text="The helper lives in `pkg/helpers.py`, next to `greet`."),
    )
    result = await session.chat("Where is the helper?")
    assert result["status"] == "completed"
    await session.wait_turn_end(result["turnId"])
    assert seen_at_turn_end == [
        {"claims_unknown": 1.0, "tool_errors": 1.0, "edits_applied": 0.0, "edits_refused": 0.0}
    ]
    (explanation,) = rows(
        session.db,
        "SELECT explanation FROM scores WHERE turn_id=? AND name='claims_unknown'",
        (result["turnId"],),
    )[0]
    assert explanation == "pkg/helpers.py"
