"""The terminal: `orion chat` one-shot against the same turn inside a running server.

- server: the turn as a running server runs it (`open_services`, litellm
  imported and warm, the repo map built), `ToolOrchestrator.run` on
  examples/sample-workspace against the scripted model, one text reply;
- cli: `orion chat --project-id P --workspace examples/sample-workspace PROMPT`
  as a user types it, a new process each time, same model, same database
  file (it exists, as after the first use: tags cached, history there);
- floors measured in the same run: `python -c pass`, and a process that
  only imports litellm and makes its first (offline) completion, what any
  one-shot process that calls litellm pays before its first token;
- the light verbs: `orion project-id`, `orion history` (no litellm, no
  tree-sitter: tests/unit/test_cli_imports.py checks that exactly).

Targets (issue 16): cli <= server + 1.0 s; light verbs < 0.3 s. Each side
alternates with the others, medians of --reps. `--profile` adds one `orion
chat` under cProfile (wall time by function, threads included in the
total) and the heaviest imports under `-X importtime`.

    .venv/bin/python bench/bench_cli.py [--reps 5] [--profile]
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
WORKSPACE = REPO / "examples" / "sample-workspace"
PROMPT = "How is an order's total computed?"
ANSWER = "The total is computed in pricing.order_total, with the bulk discount."
OVERHEAD_TARGET_S = 1.0
LIGHT_TARGET_S = 0.3
FIRST_CALL = """\
import os
from orion_lsp.agent.litellm_setup import import_litellm
litellm = import_litellm()
for _ in litellm.completion(model="openai/x", messages=[{"role": "user", "content": "hi"}],
                            mock_response="ok", stream=True):
    pass
"""


def timed(argv: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=REPO, timeout=600)
    elapsed = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"{argv[2:5]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return elapsed


async def server_turn_seconds(env: dict[str, str], reps: int) -> list[float]:
    from orion_lsp.agent.litellm_setup import import_litellm
    from orion_lsp.agent.protocols import NullSink
    from orion_lsp.agent.tools.base import NoDocuments
    from orion_lsp.agent.tools.disk_applier import DiskEditApplier
    from orion_lsp.agent.turn import TurnRequest
    from orion_lsp.config import load_settings
    from orion_lsp.project import Project, real_root
    from orion_lsp.services import open_services

    import_litellm()
    settings = load_settings(environ=env)
    services = await open_services(settings)
    project = Project("bench-cli", real_root(WORKSPACE))
    services.context.ensure(project)
    await services.context.wait_built(project.root)
    orchestrator = services.require_orchestrator()
    out = []
    try:
        for i in range(reps + 2):  # two warm-up turns: litellm's first calls, SQLite
            req = TurnRequest(project=project, prompt=PROMPT, source="cli")
            t = time.perf_counter()
            outcome = await orchestrator.run(
                req, NullSink(), documents=NoDocuments(), applier=DiskEditApplier(project.root)
            )
            if outcome.status != "completed":
                raise SystemExit(f"server turn: {outcome.status}")
            if i >= 2:
                out.append(time.perf_counter() - t)
    finally:
        await services.close()
    return out


def profile_one(env: dict[str, str], tmp: Path) -> None:
    prof = tmp / "chat.prof"
    cmd = [sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "orion_lsp.cli"]
    timed([*cmd, "chat", "--project-id", "bench-cli", "--workspace", str(WORKSPACE), PROMPT], env)
    import pstats

    print("\n--- orion chat under cProfile (cumulative, main thread) ---")
    pstats.Stats(str(prof)).sort_stats("cumulative").print_stats(18)
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "orion_lsp.cli", "chat"]
        + ["--project-id", "bench-cli", "--workspace", str(WORKSPACE), PROMPT],
        env=env,
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    rows = []
    for line in proc.stderr.splitlines():
        parts = line.split("|")
        if line.startswith("import time:") and len(parts) == 3 and parts[1].strip().isdigit():
            name = parts[2][1:]  # one space, then two more per nesting level
            if not name.startswith(" "):
                rows.append((int(parts[1]), name))
    print("--- top-level imports of one orion chat (cumulative ms) ---")
    for cum, name in sorted(rows, reverse=True)[:12]:
        print(f"{cum / 1000:9.0f}  {name}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    from orion_lsp.testing import ScriptedModelServer, ScriptedReply

    py = sys.executable
    with (
        tempfile.TemporaryDirectory() as tmp,
        ScriptedModelServer(default=ScriptedReply(text=ANSWER)) as model,
    ):
        env = {k: v for k, v in os.environ.items() if not k.startswith("ORION_")}
        env.update(
            ORION_MODEL=model.model,
            ORION_API_BASE=model.base_url,
            ORION_DB=str(Path(tmp) / "orion.db"),
            LITELLM_LOCAL_MODEL_COST_MAP="True",
        )
        load0 = os.getloadavg()[0]
        chat = [py, "-m", "orion_lsp.cli", "chat", "--project-id", "bench-cli"]
        chat += ["--workspace", str(WORKSPACE), PROMPT]
        first = timed(chat, env)  # creates the database, indexes, fills the tags cache
        server = asyncio.run(server_turn_seconds(env, args.reps))
        figures: dict[str, list[float]] = {
            "cli": [],
            "import": [],
            "pass": [],
            "pid": [],
            "hist": [],
        }
        for _ in range(args.reps):
            figures["cli"].append(timed(chat, env))
            figures["import"].append(timed([py, "-c", FIRST_CALL], env))
            figures["pass"].append(timed([py, "-c", "pass"], env))
            figures["pid"].append(
                timed([py, "-m", "orion_lsp.cli", "project-id", str(WORKSPACE)], env)
            )
            figures["hist"].append(
                timed([py, "-m", "orion_lsp.cli", "history", "--project-id", "bench-cli"], env)
            )
        if args.profile:
            profile_one(env, Path(tmp))
    med: dict[str, Any] = {k: statistics.median(v) for k, v in figures.items()}
    turn = statistics.median(server)
    overhead = med["cli"] - turn
    beyond = med["cli"] - med["import"] - turn
    ok = "OK" if overhead <= OVERHEAD_TARGET_S else "MISSED"
    print(f"load average: {load0:.1f} -> {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(
        f"server: warm turn inside a running server   {turn * 1000:8.0f} ms (median of {len(server)})"
    )
    print(
        f"cli: orion chat one-shot                     {med['cli'] * 1000:8.0f} ms (first ever: {first * 1000:.0f} ms)"
    )
    print(
        f"cli overhead over the server turn            {overhead * 1000:8.0f} ms"
        f"   target <= {OVERHEAD_TARGET_S * 1000:.0f} ms: {ok}"
    )
    print(
        f"floor: litellm import + first completion     {med['import'] * 1000:8.0f} ms (a process of its own)"
    )
    print(f"cli overhead beyond that floor               {beyond * 1000:8.0f} ms")
    print(f"floor: python -c pass                        {med['pass'] * 1000:8.0f} ms")
    for key, label in (("pid", "orion project-id"), ("hist", "orion history")):
        verdict = "OK" if med[key] < LIGHT_TARGET_S else "MISSED"
        print(
            f"{label:<45}{med[key] * 1000:8.0f} ms   target < {LIGHT_TARGET_S * 1000:.0f} ms: {verdict}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
