"""Issue 7, item 1: hostile bytes on the LSP stdio channel.

Hypothesis drives a raw client: broken framing, broken JSON, wrong shapes,
unknown methods and wrong argument types for every `orion.*` command. After
each burst the server must still answer `orion.status` (how fast is printed,
not asserted: it depends on the machine's load); every request that carried an
id gets exactly one response with the expected code; no response anywhere
carries a traceback. 2,000 examples per run in all.
"""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from orion_lsp.testing import ScriptedModelServer

from .conftest import Starter, server_env
from .rawclient import RawServer, frame

# Only a hang detector: a wedged server never answers; a busy machine answers late.
RESPONSE_TIMEOUT_S = 60.0

_ids = itertools.count(1)

# Typed LSP requests: wrong shapes must be -32602 whether or not we implement them.
KNOWN_REQUESTS = [
    "textDocument/codeAction",
    "codeAction/resolve",
    "textDocument/hover",
    "textDocument/completion",
    "textDocument/definition",
    "workspace/executeCommand",
    "workspace/symbol",
    "textDocument/documentSymbol",
]
NOTIFICATIONS = [
    "textDocument/didOpen",
    "textDocument/didChange",
    "textDocument/didClose",
    "textDocument/didSave",
    "workspace/didChangeConfiguration",
    "workspace/didChangeWorkspaceFolders",
    "workspace/didChangeWatchedFiles",
    "$/cancelRequest",
    "$/setTrace",
    "window/workDoneProgress/cancel",
    "orion/unknownNotification",
]

json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
not_object = st.one_of(json_leaf, st.lists(json_value, min_size=1, max_size=3))
not_string = json_value.filter(lambda v: not isinstance(v, str))
not_int = json_value.filter(lambda v: isinstance(v, bool) or not isinstance(v, int))


ID = "@ID@"  # replaced by a fresh id when sent: strategies must not depend on state


def _fid() -> str:
    return f"fz-{next(_ids)}"


@st.composite
def unknown_request(draw: st.DrawFn) -> tuple[dict[str, Any], Any]:
    name = draw(st.text(min_size=1, max_size=30).filter(lambda m: m not in KNOWN_REQUESTS))
    method = draw(st.sampled_from(["orion/", "x/", "$/", ""])) + name
    msg: dict[str, Any] = {"jsonrpc": "2.0", "id": ID, "method": method}
    if draw(st.booleans()):
        msg["params"] = draw(st.dictionaries(st.text(max_size=8), json_value, max_size=3))
    return msg, -32601


@st.composite
def bad_params_request(draw: st.DrawFn) -> tuple[dict[str, Any], Any]:
    method = draw(st.sampled_from(KNOWN_REQUESTS))
    params = draw(
        st.one_of(
            not_object,
            st.fixed_dictionaries({"textDocument": not_object}),
            st.fixed_dictionaries({"command": not_string}),
        )
    )
    return {"jsonrpc": "2.0", "id": ID, "method": method, "params": params}, -32602


@st.composite
def bad_command(draw: st.DrawFn) -> tuple[dict[str, Any], Any]:
    """`orion.*` with arguments that are wrong by construction: always -32602."""
    command = draw(st.sampled_from(["orion.chat", "orion.history", "orion.status", "orion.cancel"]))
    bad_object: st.SearchStrategy[Any]
    if command == "orion.chat":
        bad_object = st.one_of(
            st.fixed_dictionaries({"prompt": not_string}),
            st.fixed_dictionaries({"prompt": st.sampled_from(["", "   ", "\n"])}),
            st.fixed_dictionaries(
                {
                    "prompt": st.just("hi"),
                    # null is an absent optional field (as for `uri`), not an error
                    "detach": not_object.filter(
                        lambda v: v is not None and not isinstance(v, bool)
                    ),
                }
            ),
            st.fixed_dictionaries(
                {"prompt": st.just("hi"), "uri": not_string.filter(lambda v: v is not None)}
            ),
            st.fixed_dictionaries(
                {
                    "prompt": st.just("hi"),
                    "range": st.one_of(
                        not_object.filter(lambda v: v is not None),
                        st.fixed_dictionaries({"start": not_object}),
                    ),
                }
            ),
            st.fixed_dictionaries(
                {
                    "prompt": st.just("hi"),
                    "uri": st.sampled_from(
                        ["http://x/y", "file:///definitely/not/open.py", "untitled:1"]
                    ),
                }
            ),
        )
    elif command == "orion.history":
        bad_object = st.one_of(
            st.fixed_dictionaries({"limit": not_int.filter(lambda v: v is not None)}),
            st.fixed_dictionaries({"limit": st.sampled_from([0, -1, 1001, 10**12])}),
            st.fixed_dictionaries({"uri": not_string.filter(lambda v: v is not None)}),
        )
    elif command == "orion.cancel":
        bad_object = st.one_of(
            st.just({}),
            st.fixed_dictionaries({"turnId": not_string}),
            st.fixed_dictionaries({"turnId": st.just("")}),
        )
    else:
        bad_object = st.nothing()
    arguments = draw(
        st.one_of(
            bad_object.map(lambda o: [o]),
            st.lists(json_value, min_size=2, max_size=3),  # more than one argument
            json_leaf.filter(lambda v: v is not None and not isinstance(v, dict)).map(
                lambda v: [v]
            ),
            st.integers(),  # not even an array
        )
    )
    params = {"command": command, "arguments": arguments}
    return {
        "jsonrpc": "2.0",
        "id": ID,
        "method": "workspace/executeCommand",
        "params": params,
    }, -32602


@st.composite
def good_command(draw: st.DrawFn) -> tuple[dict[str, Any], Any]:
    command, args = draw(
        st.sampled_from(
            [
                ("orion.status", []),
                ("orion.status", [{}]),
                ("orion.history", [{"limit": 3}]),
                ("orion.history", []),
                ("orion.cancel", [{"turnId": "no-such-turn"}]),
            ]
        )
    )
    params = {"command": command, "arguments": args}
    return {
        "jsonrpc": "2.0",
        "id": ID,
        "method": "workspace/executeCommand",
        "params": params,
    }, "result"


@st.composite
def notification(draw: st.DrawFn) -> tuple[dict[str, Any], Any]:
    method = draw(st.sampled_from(NOTIFICATIONS))
    params = draw(
        st.one_of(
            json_value,
            st.fixed_dictionaries(
                {
                    "textDocument": st.fixed_dictionaries(
                        {"uri": st.text(max_size=30), "version": json_value}
                    )
                },
                optional={"contentChanges": st.lists(json_value, max_size=2)},
            ),
            st.fixed_dictionaries({"id": st.text(max_size=8).map(lambda t: "nope-" + t)}),
        )
    )
    return {"jsonrpc": "2.0", "method": method, "params": params}, None


message = st.one_of(
    unknown_request(), bad_params_request(), bad_command(), good_command(), notification()
)

garbage = st.binary(max_size=200).filter(lambda b: b"ength" not in b.lower())


@st.composite
def wire_item(draw: st.DrawFn) -> tuple[bytes, str | None, Any]:
    """(bytes to write, id that must be answered or None, expected code or 'result')."""
    kind = draw(
        st.sampled_from(
            [
                "msg",
                "msg",
                "msg",
                "headers",
                "garbage",
                "body",
                "truncated",
                "badlen",
                "longline",
                "notrpc",
            ]
        )
    )
    if kind in ("msg", "headers"):
        msg, expect = draw(message)
        data = frame(msg)
        if kind == "headers":
            data = b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n" + data
        return data, (ID if expect is not None else None), expect
    if kind == "garbage":
        return draw(garbage).replace(b"\n", b" ") + b"\r\n\r\n", None, None
    if kind == "body":
        body = draw(st.binary(min_size=1, max_size=120))
        return b"Content-Length: %d\r\n\r\n" % len(body) + body, None, None
    if kind == "truncated":
        msg, _ = draw(message)
        body = json.dumps(msg).encode()
        cut = draw(st.integers(min_value=1, max_value=max(1, len(body) - 1)))
        rest = body[cut:].replace(b"\n", b" ")
        return b"Content-Length: %d\r\n\r\n" % cut + body[:cut] + rest + b"\r\n\r\n", None, None
    if kind == "badlen":
        value = draw(st.sampled_from([b"-5", b"abc", b"", b"0x10", b"1e3", b" "]))
        return b"Content-Length: " + value + b"\r\n\r\n", None, None
    if kind == "notrpc":
        msg = {"jsonrpc": "1.0", "id": ID, "method": "orion.status"}
        return frame(msg), ID, -32600
    return b"X-Long: " + b"a" * 10_000 + b"\r\n\r\n", None, None


def _with_id(data: bytes, msg_id: str) -> bytes:
    head, sep, body = data.partition(b"\r\n\r\n")
    body = body.replace(json.dumps(ID).encode(), json.dumps(msg_id).encode(), 1)
    lines = [
        b"Content-Length: %d" % len(body) if line.lower().startswith(b"content-length") else line
        for line in head.split(b"\r\n")
    ]
    return b"\r\n".join(lines) + sep + body


def _check_response(resp: dict[str, Any], expect: Any) -> None:
    text = json.dumps(resp)
    assert "Traceback" not in text, text[:500]
    if expect == "result":
        assert "result" in resp and "error" not in resp, text[:500]
    else:
        assert "error" in resp, text[:500]
        assert resp["error"]["code"] == expect, text[:500]
        assert not resp["error"].get("data"), text[:500]


def _status_answers(server: RawServer) -> float:
    """`orion.status` still gets a result; returns how long it took (for the record)."""
    t0 = time.monotonic()
    msg_id = server.request_async(
        "workspace/executeCommand", {"command": "orion.status", "arguments": [{}]}
    )
    resp = server.wait_response(msg_id, timeout=RESPONSE_TIMEOUT_S)
    took = time.monotonic() - t0
    assert "result" in resp, resp
    return took


def _run_fuzz(server: RawServer, examples: int, stats: dict[str, Any]) -> None:
    expected: dict[str, Any] = {}

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate],  # no shrinking: a failure is reported as found
    )
    @given(st.lists(wire_item(), min_size=1, max_size=5))
    def burst(items: list[tuple[bytes, str | None, Any]]) -> None:
        sent: list[tuple[str, Any]] = []
        for data, has_id, expect in items:
            if has_id is not None:
                msg_id = _fid()
                data = _with_id(data, msg_id)
                expected[msg_id] = expect
                sent.append((msg_id, expect))
            server.send_raw(data)
        for msg_id, expect in sent:
            resp = server.wait_response(msg_id, timeout=RESPONSE_TIMEOUT_S)
            _check_response(resp, expect)
        stats["status_s"].append(_status_answers(server))
        stats["examples"] += 1

    burst()
    time.sleep(0.3)  # late duplicates would arrive now
    for msg_id, expect in expected.items():
        got = server.responses(msg_id)
        assert len(got) == 1, (msg_id, got)
        _check_response(got[0], expect)
    assert b"Traceback" not in bytes(server.received)
    assert server.proc.poll() is None


def _record(stats: dict[str, Any], name: str, tmp_path: Path) -> None:
    s = sorted(stats["status_s"])
    line = {
        "test": name,
        "examples": stats["examples"],
        "status_p50_ms": round(s[len(s) // 2] * 1000, 1),
        "status_max_ms": round(s[-1] * 1000, 1),
    }
    print(json.dumps(line))


def test_fuzz_protocol_and_commands(
    start_server: Starter,
    workspace: Path,
    db_path: Path,
    model: ScriptedModelServer,
    tmp_path: Path,
) -> None:
    server = start_server(server_env(model, db_path), workspace)
    stats: dict[str, Any] = {"status_s": [], "examples": 0}
    _run_fuzz(server, 2000, stats)
    _record(stats, "fuzz", tmp_path)
    assert stats["examples"] == 2000
    # Still a working server: a real turn goes through.
    result = server.command("orion.chat", {"prompt": "still alive?"})
    assert result["status"] == "completed"
    assert server.shutdown() is not None


def test_oversized_message_is_refused_without_memory_growth(
    start_server: Starter, workspace: Path, db_path: Path, model: ScriptedModelServer
) -> None:
    limit = 1 << 20
    server = start_server(
        server_env(model, db_path, ORION_MAX_MESSAGE_BYTES=str(limit)), workspace, warm=False
    )
    # The baseline after start-up work (litellm warms up in the background: ~200 MB).
    assert server.command("orion.chat", {"prompt": "warm up"})["status"] == "completed"
    rss0 = _rss_kb(server.proc.pid)
    # 1) A real 3 MB request beyond the cap: answered -32600 by id, then back in sync.
    big = {
        "jsonrpc": "2.0",
        "id": "too-big",
        "method": "workspace/executeCommand",
        "params": {"command": "orion.chat", "arguments": [{"prompt": "x" * (3 * limit)}]},
    }
    server.send(big)
    resp = server.wait_response("too-big", timeout=10)
    assert resp["error"]["code"] == -32600 and "refused" in resp["error"]["message"]
    assert server.command("orion.status", {})["databasePath"] == str(db_path)
    # 2) A claim of 1 TB followed by a little data: answered at once, memory stays flat.
    head = json.dumps(
        {"jsonrpc": "2.0", "id": "terabyte", "method": "x", "params": {"p": "y" * 5000}}
    )
    server.send_raw(b"Content-Length: 1000000000000\r\n\r\n" + head.encode())
    resp = server.wait_response("terabyte", timeout=10)
    assert resp["error"]["code"] == -32600
    for _ in range(50):  # 50 x 1 MB more of the claimed body: discarded as it comes
        server.send_raw(b"z" * limit)
    time.sleep(0.5)
    grown_mb = (_rss_kb(server.proc.pid) - rss0) / 1024
    assert grown_mb < 60, f"RSS grew by {grown_mb:.0f} MB"
    assert server.proc.poll() is None
    # 3) The client goes away in the middle of the discarded body: the server exits.
    server.proc.stdin.close()
    assert server.wait(5) is not None


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")
