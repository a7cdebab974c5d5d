"""`orion export` over 10,000 stored turns: time and peak memory.

The ledger is generated (not run through a model, which would take hours):
10,000 turns of a realistic shape in one project (a system prompt, a growing
history of up to 20 messages, a read_file tool round trip, two model calls,
scores for half of them), each request stored as the orchestrator stores it
(every message once in the blob store). Then `export_dataset` writes SFT rows.

Targets: under 10 s and under 300 MB peak RSS (the export streams turns; it
never loads the ledger). The RSS before the export is printed as the baseline.

    .venv/bin/python bench/bench_export.py [--turns 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TIME_TARGET_S = 10.0
RSS_TARGET_MB = 300.0
SYSTEM = "You are Orion, a coding agent. " + "Follow the rules of the workspace. " * 60


def ledger_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.glob("orion.db*")) / 1e6


def file_mb(path: Path) -> float:
    return path.stat().st_size / 1e6


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def generate(db: Any, n: int) -> None:
    from orion_lsp.storage import utc_now
    from orion_lsp.storage.payload import encode_payload
    from orion_lsp.storage.requests import RequestPacker, store_request_blobs

    packer = RequestPacker(None)
    tools = [
        {"type": "function", "function": {"name": "read_file", "parameters": {"type": "object"}}}
    ]
    history: list[dict[str, Any]] = []
    sql = ("INSERT INTO trace_events (project_id, turn_id, seq, type, payload, created_at)"
           " VALUES ('bench', ?, ?, ?, ?, ?)")  # fmt: skip
    for start in range(0, n, 100):

        async def batch(conn: Any, start: int = start) -> None:
            for i in range(start, min(n, start + 100)):
                tid = f"{i:032x}"
                now = utc_now()
                user = {
                    "role": "user",
                    "content": f"Question {i}: what does function_{i % 977} do?",
                }
                m1 = [{"role": "system", "content": SYSTEM}, *history[-20:], user]
                call = {
                    "id": f"c{i}",
                    "type": "function",
                    "function": {
                        "name": "read_file",
                        "arguments": json.dumps({"path": f"m{i % 97}.py"}),
                    },
                }
                a1 = {"role": "assistant", "content": "", "tool_calls": [call]}
                tool = {
                    "role": "tool",
                    "tool_call_id": f"c{i}",
                    "name": "read_file",
                    "content": f"def function_{i % 977}(x):\n    return x * {i}\n" * 20,
                }
                m2 = [*m1, a1, tool]
                answer = f"function_{i % 977} multiplies its argument by {i}."
                events: list[tuple[str, dict[str, Any]]] = [
                    ("turn_start", {"prompt": user["content"], "model": "openai/bench"})
                ]
                for step, (msgs, text, calls) in enumerate(
                    ((m1, "", [call]), (m2, answer, [])), start=1
                ):
                    packed = packer.pack(
                        {"messages": msgs, "tools": tools, "params": {"stream": True}}
                    )
                    await store_request_blobs(conn, packed, tid)
                    events.append(
                        (
                            "llm_call",
                            {
                                "model": "openai/bench",
                                "step": step,
                                "request": packed.stored,
                                "text": text,
                                "toolCalls": [
                                    {
                                        "id": c["id"],
                                        "name": "read_file",
                                        "arguments": c["function"]["arguments"],
                                    }
                                    for c in calls
                                ],
                            },
                        )
                    )
                    if calls:
                        events.append(
                            (
                                "tool_call",
                                {
                                    "name": "read_file",
                                    "id": f"c{i}",
                                    "arguments": {"path": f"m{i % 97}.py"},
                                },
                            )
                        )
                        events.append(
                            (
                                "tool_result",
                                {
                                    "name": "read_file",
                                    "id": f"c{i}",
                                    "ok": True,
                                    "content": tool["content"],
                                },
                            )
                        )
                events.append(("turn_end", {"status": "completed"}))
                for seq, (kind, payload) in enumerate(events, start=1):
                    await conn.execute(sql, (tid, seq, kind, encode_payload(payload, None), now))
                if i % 2 == 0:
                    await conn.execute(
                        "INSERT INTO scores (project_id, turn_id, step, name, label, source, source_id, created_at)"
                        " VALUES ('bench', ?, 0, 'user_rating', 'up', 'human', '', ?)",
                        (tid, now),
                    )
                history.extend([user, {"role": "assistant", "content": answer}])

        await db.write(batch)


async def run(turns: int) -> None:
    from orion_lsp.datasets.export import ExportOptions, export_dataset
    from orion_lsp.redact import Redactor
    from orion_lsp.storage import Database, ScoreStore, TraceStore

    tmp = Path(tempfile.mkdtemp(prefix="orion-bench-export-"))
    db = await Database.open(tmp / "orion.db")
    t0 = time.perf_counter()
    await generate(db, turns)
    size = ledger_mb(tmp)
    print(f"generated {turns} turns in {time.perf_counter() - t0:.1f} s ({size:.0f} MB of ledger)")
    before = rss_mb()
    t0 = time.perf_counter()
    manifest = await export_dataset(TraceStore(db), ScoreStore(db), "bench",
                                    ExportOptions("sft", "trl", tmp / "out"), Redactor())  # fmt: skip
    took = time.perf_counter() - t0
    peak = rss_mb()
    await db.close()
    out_mb = file_mb(tmp / "out" / "data.jsonl")
    print(f"export sft: {manifest['rows']} rows ({out_mb:.0f} MB) in {took:.1f} s "
          f"(target < {TIME_TARGET_S:.0f} s): {'met' if took < TIME_TARGET_S else 'MISSED'}")  # fmt: skip
    print(f"peak RSS {peak:.0f} MB, {before:.0f} MB before the export "
          f"(target < {RSS_TARGET_MB:.0f} MB): {'met' if peak < RSS_TARGET_MB else 'MISSED'}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=10_000)
    asyncio.run(run(parser.parse_args().turns))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
