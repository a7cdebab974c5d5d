"""Hostile input on `orion acp`'s stdio: 1,000 fuzzed messages (broken JSON,
unknown methods, wrong params, huge prompts) from a raw client. The agent never
crashes, answers every request that carried an id exactly once, never sends a
traceback or a secret, and still serves a real session afterwards."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from orion_lsp.testing import ScriptedModelServer, ScriptedReply

from .conftest import API_KEY

METHODS = [
    "initialize", "session/new", "session/load", "session/list", "session/prompt",
    "session/cancel", "session/set_mode", "authenticate", "fs/read_text_file",
    "unknown/method", "_orion/ext", "session/set_config_option",
]  # fmt: skip
N_MESSAGES = 1000


class RawAcp:
    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "orion_lsp.cli", "acp"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=env, cwd=cwd,
        )  # fmt: skip
        self.responses: dict[Any, list[dict[str, Any]]] = {}
        self.lines: list[bytes] = []
        self.stderr = b""
        self._lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._drain_stderr, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._lock:
                self.lines.append(line)
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if isinstance(msg, dict) and "id" in msg and ("result" in msg or "error" in msg):
                with self._lock:
                    self.responses.setdefault(json.dumps(msg["id"]), []).append(msg)

    def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        self.stderr = self.proc.stderr.read()

    def send(self, raw: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(raw + b"\n")
        self.proc.stdin.flush()

    def request(self, id_: Any, method: str, params: Any) -> None:
        msg = {"jsonrpc": "2.0", "id": id_, "method": method, "params": params}
        self.send(json.dumps(msg).encode())

    def wait(self, ids: list[Any], timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if all(json.dumps(i) in self.responses for i in ids):
                    return
            assert self.proc.poll() is None, "orion acp exited"
            time.sleep(0.05)
        missing = [i for i in ids if json.dumps(i) not in self.responses]
        raise AssertionError(f"no answer for {len(missing)} request(s), e.g. {missing[:5]}")


def _junk_params(rng: random.Random, cwd: str) -> Any:
    choices: list[Any] = [
        None, 1, "x", [], [1, 2], {"cwd": 5}, {"cwd": "relative/dir"}, {"cwd": cwd},
        {"sessionId": "nope", "prompt": [{"type": "text", "text": "hi"}]},
        {"sessionId": None, "prompt": "not a list"},
        {"protocolVersion": "one"}, {"protocolVersion": -1}, {"protocolVersion": 10**9},
        {"sessionId": "x" * 10_000, "cwd": cwd},
        {"sessionId": "s", "prompt": [{"type": "text", "text": "é🙂" * 50_000}]},
        {"sessionId": "s", "prompt": [{"type": "image", "data": "!!", "mimeType": 3}]},
    ]  # fmt: skip
    return rng.choice(choices)


def test_a_thousand_fuzzed_messages_then_a_real_session(tmp_path: Path) -> None:
    rng = random.Random(20261201)
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "app.py").write_text("def greet():\n    return 'hi'\n")
    with ScriptedModelServer() as model:
        model.default = ScriptedReply(text="fine")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ORION_", "OTEL_"))}
        env.update(ORION_MODEL=model.model, ORION_API_BASE=model.base_url,
                   ORION_API_KEY=API_KEY, ORION_DB=str(tmp_path / "orion.db"))  # fmt: skip
        agent = RawAcp(env, ws)
        try:
            agent.request(0, "initialize", {"protocolVersion": 1})
            ids: list[Any] = [0]
            for n in range(1, N_MESSAGES + 1):
                kind = rng.random()
                if kind < 0.15:
                    agent.send(
                        rng.choice(
                            [
                                b"{",
                                b"not json",
                                b"[]",
                                b"{}",
                                b"\x00\xff",
                                b'{"jsonrpc":"2.0","id":',
                                b"null",
                                b'"x"',
                            ]
                        )
                    )
                elif kind < 0.25:  # notifications: never answered
                    agent.send(
                        json.dumps(
                            {
                                "jsonrpc": "2.0",
                                "method": rng.choice(METHODS),
                                "params": _junk_params(rng, str(ws)),
                            }
                        ).encode()
                    )
                else:
                    id_ = rng.choice([n, f"s{n}", n * 1.5]) if n % 7 else n
                    agent.request(id_, rng.choice(METHODS), _junk_params(rng, str(ws)))
                    ids.append(id_)
            agent.wait(ids)
            # ...and a real session still works.
            agent.request("new", "session/new", {"cwd": str(ws), "mcpServers": []})
            agent.wait(["new"])
            session = agent.responses[json.dumps("new")][0]["result"]["sessionId"]
            agent.request("go", "session/prompt",
                          {"sessionId": session, "prompt": [{"type": "text", "text": "hi"}]})  # fmt: skip
            agent.wait(["go"])
            assert agent.responses[json.dumps("go")][0]["result"]["stopReason"] == "end_turn"
        finally:
            if agent.proc.stdin:
                agent.proc.stdin.close()
            agent.proc.wait(timeout=30)
    assert agent.proc.returncode == 0
    for key, answers in agent.responses.items():
        if key != "null":  # parse errors and invalid requests answer with id null
            assert len(answers) == 1, f"request {key} answered {len(answers)} times"
    assert len(agent.responses["null"]) > 0
    out = b"".join(agent.lines)
    assert b"Traceback" not in out and API_KEY.encode() not in out
    assert API_KEY.encode() not in agent.stderr
    for line in agent.lines:  # stdout carries ACP JSON only
        assert isinstance(json.loads(line), dict)
