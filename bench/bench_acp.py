"""`orion acp` against the language server, the same work measured in the same run.

1. Spawn -> `initialize` answer: `python -m orion_lsp.cli acp` vs
   `python -m orion_lsp` (each with a fresh database, alternating, after a
   warm-up of each that fills the bytecode cache). Target: acp <= 1.2 x lsp
   (litellm stays off both start-up paths).
2. Time to the first streamed answer text of a turn against the scripted model
   (first token in about a millisecond): from sending `session/prompt` to the
   first `agent_message_chunk`, vs from sending `orion.chat` to the first
   `orion/chatDelta`. Both processes stay up; each side's first turn (which
   imports litellm) is a warm-up, then turns alternate. Target: acp <= 1.05 x lsp.

Raw pipes on both sides (no client library), so the clients cost the same.

    .venv/bin/python bench/bench_acp.py [--spawns 10] [--turns 30]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_spawn import initialize_request  # noqa: E402

from bench.lspwire import frame, read_message  # noqa: E402

SPAWN_TARGET = 1.2
TTFT_TARGET = 1.05
LSP = [sys.executable, "-m", "orion_lsp"]
ACP = [sys.executable, "-m", "orion_lsp.cli", "acp"]


def env_for(db: Path, model: Any, pycache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ORION_", "OTEL_"))}
    env.update(ORION_DB=str(db), ORION_MODEL=model.model, ORION_API_BASE=model.base_url,
               PYTHONPYCACHEPREFIX=str(pycache), PYTHONUNBUFFERED="1")  # fmt: skip
    return env


def acp_send(stream: IO[bytes], message: dict[str, Any]) -> None:
    stream.write(json.dumps(message).encode() + b"\n")
    stream.flush()


def acp_until(stream: IO[bytes], predicate: Any) -> dict[str, Any]:
    while True:
        line = stream.readline()
        if not line:
            raise EOFError("orion acp closed stdout")
        msg = json.loads(line)
        if predicate(msg):
            return dict(msg)


def lsp_until(stream: IO[bytes], predicate: Any) -> dict[str, Any]:
    while True:
        msg = read_message(stream)
        if predicate(msg):
            return msg


def start_lsp(env: dict[str, str], ws: Path) -> subprocess.Popen[bytes]:
    """`python -m orion_lsp`, once it has answered `initialize`."""
    proc = subprocess.Popen(LSP, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=env, cwd=ws)  # fmt: skip
    assert proc.stdin and proc.stdout
    proc.stdin.write(frame(initialize_request(ws)))
    proc.stdin.flush()
    lsp_until(proc.stdout, lambda m: m.get("id") == 1)
    return proc


def start_acp(env: dict[str, str], ws: Path) -> subprocess.Popen[bytes]:
    """`orion acp`, once it has answered `initialize`."""
    proc = subprocess.Popen(ACP, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=env, cwd=ws)  # fmt: skip
    assert proc.stdin and proc.stdout
    acp_send(proc.stdin, {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                          "params": {"protocolVersion": 1}})  # fmt: skip
    acp_until(proc.stdout, lambda m: m.get("id") == 1)
    return proc


def spawn_seconds(start: Any, env: dict[str, str], ws: Path) -> float:
    t0 = time.perf_counter()
    proc = start(env, ws)
    took = time.perf_counter() - t0
    proc.kill()
    proc.wait()
    return took


class LspTurns:
    def __init__(self, env: dict[str, str], ws: Path) -> None:
        self.proc = start_lsp(env, ws)
        assert self.proc.stdin and self.proc.stdout
        self.inp, self.out, self.n = self.proc.stdin, self.proc.stdout, 100
        self.inp.write(frame({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
        self.inp.flush()

    def turn(self) -> float:
        self.n += 1
        n = self.n
        t0 = time.perf_counter()
        self.inp.write(frame({"jsonrpc": "2.0", "id": n, "method": "workspace/executeCommand",
                              "params": {"command": "orion.chat",
                                         "arguments": [{"prompt": "hello"}]}}))  # fmt: skip
        self.inp.flush()
        first: float | None = None
        while True:
            msg = read_message(self.out)
            if msg.get("method") == "orion/chatDelta" and first is None:
                first = time.perf_counter() - t0
            elif "id" in msg and "method" in msg:  # a request to the client: answer it
                self.inp.write(frame({"jsonrpc": "2.0", "id": msg["id"], "result": None}))
                self.inp.flush()
            elif msg.get("id") == n:
                assert first is not None, msg
                return first

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


class AcpTurns:
    def __init__(self, env: dict[str, str], ws: Path) -> None:
        self.proc = start_acp(env, ws)
        assert self.proc.stdin and self.proc.stdout
        self.inp, self.out, self.n = self.proc.stdin, self.proc.stdout, 100
        acp_send(self.inp, {"jsonrpc": "2.0", "id": 2, "method": "session/new",
                            "params": {"cwd": str(ws), "mcpServers": []}})  # fmt: skip
        self.session = acp_until(self.out, lambda m: m.get("id") == 2)["result"]["sessionId"]

    def turn(self) -> float:
        self.n += 1
        n = self.n
        t0 = time.perf_counter()
        acp_send(self.inp, {"jsonrpc": "2.0", "id": n, "method": "session/prompt",
                            "params": {"sessionId": self.session,
                                       "prompt": [{"type": "text", "text": "hello"}]}})  # fmt: skip
        first: float | None = None
        while True:
            msg = json.loads(self.out.readline())
            update = (msg.get("params") or {}).get("update") or {}
            if update.get("sessionUpdate") == "agent_message_chunk" and first is None:
                first = time.perf_counter() - t0
            elif msg.get("id") == n:
                assert first is not None, msg
                return first

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def main() -> int:
    from orion_lsp.testing import ScriptedModelServer, ScriptedReply

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--spawns", type=int, default=10)
    parser.add_argument("--turns", type=int, default=30)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="orion-bench-acp-"))
    ws = tmp / "ws"
    ws.mkdir()
    (ws / "app.py").write_text("def greet():\n    return 'hi'\n")
    answer = "Hello from the scripted model, in a few varied pieces of text."
    with ScriptedModelServer(default=ScriptedReply(text=answer)) as model:
        spawn = {"lsp": [], "acp": []}  # type: dict[str, list[float]]
        for i in range(args.spawns + 1):
            env = env_for(tmp / f"spawn{i}.db", model, tmp / "pycache")
            order = [("lsp", start_lsp), ("acp", start_acp)]
            for name, start in order if i % 2 == 0 else reversed(order):
                took = spawn_seconds(start, env, ws)
                if i:  # the first round fills the bytecode cache
                    spawn[name].append(took)
        env = env_for(tmp / "turns.db", model, tmp / "pycache")
        lsp, acp = LspTurns(env, ws), AcpTurns(env, ws)
        try:
            lsp.turn(), acp.turn()  # warm-up: imports litellm in each
            ttft = {"lsp": [], "acp": []}  # type: dict[str, list[float]]
            for i in range(args.turns):
                sides = [("lsp", lsp), ("acp", acp)]
                for name, side in sides if i % 2 == 0 else reversed(sides):
                    ttft[name].append(side.turn())
        finally:
            lsp.close()
            acp.close()
    for title, data, target in (
        ("spawn -> initialize answer", spawn, SPAWN_TARGET),
        ("first answer text of a turn", ttft, TTFT_TARGET),
    ):
        lsp_ms, acp_ms = (statistics.median(data[k]) * 1000 for k in ("lsp", "acp"))
        ratio = acp_ms / lsp_ms
        verdict = "met" if ratio <= target else "MISSED"
        print(f"{title}: lsp {lsp_ms:.1f} ms, acp {acp_ms:.1f} ms (medians of "
              f"{len(data['lsp'])}): {ratio:.2f}x (target <= {target}x): {verdict}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
