"""Turn overhead of the OpenTelemetry export: the same turn with export on and off.

Against the scripted model at zero delay (so Orion's own work is what is
measured), two `open_services` stacks on one workspace and one database file:
"off" (no endpoint) and "on" (OTLP/HTTP to an in-process receiver, content
capture off, the real SDK exporter). Turns run in blocks of 5 per side,
alternating, so machine load and the "on" side's background exports (which
run after each turn, off the turn's path) land where they would in use.
Medians are reported.

Target: on <= 1.05 x off.

    .venv/bin/python bench/bench_telemetry.py [--turns 60]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TARGET = 1.05
RECEIVER = """
import sys
sys.path.insert(0, %r)
from orion_lsp.testing.otlp_receiver import OtlpReceiver
with OtlpReceiver() as r:
    print(r.endpoint, flush=True)
    sys.stdin.read()
    print(len(r.spans), flush=True)
""".replace("%r", repr(str(REPO)))


async def run(turns: int, endpoint: str) -> dict[str, Any]:
    from orion_lsp.agent.litellm_setup import import_litellm
    from orion_lsp.agent.protocols import NullSink
    from orion_lsp.agent.tools.base import NoDocuments
    from orion_lsp.agent.tools.disk_applier import DiskEditApplier
    from orion_lsp.agent.turn import TurnRequest
    from orion_lsp.config import load_settings
    from orion_lsp.project import project_for
    from orion_lsp.services import open_services
    from orion_lsp.testing import ScriptedModelServer, ScriptedReply, ScriptedToolCall

    import_litellm()
    tmp = Path(tempfile.mkdtemp(prefix="orion-bench-otel-"))
    ws = tmp / "ws"
    ws.mkdir()
    (ws / "app.py").write_text("def greet(name):\n    return f'Hello, {name}'\n")
    project = project_for(ws)
    with ScriptedModelServer() as model:
        env = {"ORION_MODEL": model.model, "ORION_API_BASE": model.base_url,
               "ORION_DB": str(tmp / "orion.db")}  # fmt: skip
        settings = load_settings(environ=env)
        off = await open_services(settings, with_repo_map=False)
        os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
        try:
            on = await open_services(settings, with_repo_map=False)
        finally:
            del os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"]
        assert off.telemetry is None and on.telemetry is not None

        async def turn(services: Any) -> float:
            model.push(
                ScriptedReply(text="", tool_calls=[ScriptedToolCall("read_file", {"path": "app.py"})]),
                ScriptedReply(text="It greets."),
            )  # fmt: skip
            req = TurnRequest(project=project, prompt="What does greet do?", source="cli")
            t0 = time.perf_counter()
            await services.require_orchestrator().run(
                req, NullSink(), documents=NoDocuments(), applier=DiskEditApplier(project.root)
            )
            return time.perf_counter() - t0

        for services in (off, on, off, on):  # warm-up both
            await turn(services)
        times: dict[str, list[float]] = {"off": [], "on": []}
        for block in range(turns // 5):
            for name in ("off", "on") if block % 2 == 0 else ("on", "off"):
                for _ in range(5):
                    times[name].append(await turn(off if name == "off" else on))
        assert on.telemetry is not None
        await on.telemetry.flush(timeout_s=30)
        status = on.telemetry.status()
        await off.close()
        await on.close()
    return {"times": times, "status": status}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=60)
    args = parser.parse_args()
    # The collector runs in its own process: decoding protobuf in this one would
    # charge the receiver's work to the "on" turns.
    receiver = subprocess.Popen(
        [sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE, stdin=subprocess.PIPE, text=True
    )
    assert receiver.stdout is not None and receiver.stdin is not None
    endpoint = receiver.stdout.readline().strip()
    result = asyncio.run(run(args.turns, endpoint))
    receiver.stdin.close()
    spans = int(receiver.stdout.readline().strip() or 0)
    receiver.wait(timeout=10)
    times, status = result["times"], result["status"]
    med_off, med_on = statistics.median(times["off"]), statistics.median(times["on"])
    ratio = med_on / med_off
    verdict = "met" if ratio <= TARGET else "MISSED"
    print(f"turn with one tool call, {len(times['on'])} turns per side")
    print(f"  export off: median {med_off * 1000:.1f} ms")
    print(
        f"  export on:  median {med_on * 1000:.1f} ms ({status['exported']} turns exported,"
        f" {status['failed']} failed, {spans} spans received)"
    )
    print(f"  ratio on/off: {ratio:.3f}x (target <= {TARGET}x): {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
