"""A real trace backend: Arize Phoenix (from PyPI) on 127.0.0.1 receives two real
`orion chat` turns over OTLP/HTTP; its REST API then shows both traces with
their tool spans and token counts (`make test-telemetry`)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orion_lsp.testing import ScriptedModelServer, ScriptedReply, ScriptedToolCall

pytestmark = pytest.mark.telemetry

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("ORION_PHOENIX_VENV", ROOT / ".cache" / "phoenix-venv"))
API_KEY = "sk-canary-phoenix-0123456789abcdef"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (loopback only)
        return json.loads(response.read())


@pytest.fixture(scope="module")
def phoenix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = VENV / "bin" / "phoenix"
    if not binary.exists():
        pytest.fail(f"Phoenix is not installed: run scripts/install-phoenix.sh ({binary})")
    work = tmp_path_factory.mktemp("phoenix")
    port, grpc = _free_port(), _free_port()
    env = {
        **os.environ,
        "PHOENIX_WORKING_DIR": str(work),
        "PHOENIX_HOST": "127.0.0.1",
        "PHOENIX_PORT": str(port),
        "PHOENIX_GRPC_PORT": str(grpc),
        "PHOENIX_TELEMETRY_ENABLED": "false",
    }
    log = (work / "phoenix.log").open("wb")
    proc = subprocess.Popen([str(binary), "serve"], env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 240
    try:
        while True:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2).close()  # noqa: S310
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"Phoenix did not start; see {work / 'phoenix.log'}")
                time.sleep(1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_two_turns_land_in_phoenix_with_tool_spans_and_tokens(phoenix: str, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "app.py").write_text("def greet(name):\n    return f'Grüß dich, {name} 🙂'\n")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ORION_", "OTEL_", "OPENAI_", "LITELLM_"))
    }
    with ScriptedModelServer() as model:
        model.push(
            ScriptedReply(text="Je lis. ", tool_calls=[ScriptedToolCall("read_file", {"path": "app.py"})]),
            ScriptedReply(text="greet is in app.py."),
            ScriptedReply(text="", tool_calls=[ScriptedToolCall("search", {"pattern": "greet"})]),
            ScriptedReply(text="Found it once."),
        )  # fmt: skip
        env.update(
            ORION_MODEL=model.model,
            ORION_API_BASE=model.base_url,
            ORION_API_KEY=API_KEY,
            ORION_DB=str(tmp_path / "orion.db"),
            OTEL_EXPORTER_OTLP_ENDPOINT=phoenix,
        )
        for prompt in ("Où est greet?", "Search greet"):
            done = subprocess.run(
                [sys.executable, "-m", "orion_lsp.cli", "chat", "--project-id", "p-phx",
                 "--workspace", str(ws), prompt],
                env=env, capture_output=True, text=True, timeout=180,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
    deadline = time.monotonic() + 60
    while True:
        spans = _get(phoenix + "/v1/projects/default/spans?limit=100")["data"]
        turns = [s for s in spans if s["name"] == "invoke_agent orion"]
        if len(turns) == 2 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert len(turns) == 2, [s["name"] for s in spans]
    by_trace: dict[str, list[dict[str, Any]]] = {}
    for s in spans:
        by_trace.setdefault(s["context"]["trace_id"], []).append(s)
    tools = set()
    for turn in turns:
        children = [s for s in by_trace[turn["context"]["trace_id"]] if s is not turn]
        assert all(c["parent_id"] == turn["context"]["span_id"] for c in children)
        chats = [c for c in children if c["name"] == f"chat {model.model}"]
        assert len(chats) == 2
        assert all(c["attributes"]["gen_ai.usage.input_tokens"] > 0 for c in chats)
        tools |= {
            c["attributes"]["gen_ai.tool.name"] for c in children if "execute_tool" in c["name"]
        }
        assert turn["attributes"]["orion.project_id"] == "p-phx"
        assert turn["attributes"]["orion.status"] == "completed"
    assert tools == {"read_file", "search"}
    assert API_KEY not in json.dumps(spans)
