"""Turn overhead: Orion's whole turn vs the same litellm calls made directly.

What is measured, against the scripted model server at zero delay (so the
model itself costs ~nothing and what is left is Orion plus litellm):

- orion: `ToolOrchestrator.run` from `open_services` (temp SQLite database,
  the repo map on a small temp workspace, a `NullSink`), i.e. history load,
  repo map, system prompt, the trace events and chat rows committed one by
  one, each `llm_call` with its exact request (messages stored once each in
  the blob store), the built-in evaluators' scores written at the turn's end,
  the model call(s) through `LiteLLMModel`, and for the tool turn one
  `read_file` run;
- direct: the *same* request bodies (messages, tools, stream options: the
  scripted server recorded what Orion sent) replayed with
  `litellm.acompletion(stream=True)` and the stream read to the end.

Two turn shapes: a text-only reply (1 model call) and a turn with one tool
call (2 model calls). Orion and direct alternate, after a warm-up of both, so
machine load hits both alike; medians are reported.

Target: orion <= 1.25 x direct + 5 ms x (trace events the turn stored).
The per-event allowance is for the commit-per-event ledger (docs/protocol.md#tables); the
measured cost of one `TraceStore.append` commit in the same run is printed
next to it, with the turn's chat rows (2 more commits), so the breakdown of
the overhead can be checked.

    .venv/bin/python bench/bench_turn.py [--iterations 80] [--profile]

`--profile` runs extra Orion tool turns under cProfile and prints where their
time goes. Exit status is 0 even when a target is missed (MISSED is printed).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

RATIO_TARGET = 1.25
PER_EVENT_MS = 5.0
PROMPT = "What does total() return for an empty cart, and where is the discount applied?"
ANSWER = (
    "total() returns 0.0 for an empty cart: the sum over no lines is zero and the "
    "discount only applies from 10 items on, in apply_discount(), after tax."
)
SOURCE = '''"""A small cart module for the turn benchmark's workspace."""


class Cart:
    def __init__(self) -> None:
        self.lines: list[tuple[str, int, float]] = []

    def add(self, sku: str, qty: int, price: float) -> None:
        self.lines.append((sku, qty, price))

    def items(self) -> int:
        return sum(q for _, q, _ in self.lines)


def apply_discount(amount: float, items: int) -> float:
    return amount * 0.9 if items >= 10 else amount


def total(cart: Cart, tax: float = 0.2) -> float:
    gross = sum(q * p for _, q, p in cart.lines) * (1 + tax)
    return apply_discount(gross, cart.items())
'''


def text_replies() -> list[Any]:
    from orion_lsp.testing import ScriptedReply

    return [ScriptedReply(text=ANSWER)]


def tool_replies() -> list[Any]:
    from orion_lsp.testing import ScriptedReply, ScriptedToolCall

    return [
        ScriptedReply(
            text="Let me read the cart module.",
            tool_calls=[ScriptedToolCall("read_file", {"path": "cart.py"})],
        ),
        ScriptedReply(text=ANSWER),
    ]


class Bench:
    def __init__(self, server: Any, services: Any, project: Any, litellm: Any) -> None:
        self.server = server
        self.services = services
        self.project = project
        self.litellm = litellm

    async def orion_turn(self, replies: list[Any]) -> tuple[float, list[dict[str, Any]], int]:
        """One Orion turn; returns (seconds, request bodies it sent, trace events stored)."""
        from orion_lsp.agent.protocols import NullSink
        from orion_lsp.agent.tools.base import NoDocuments
        from orion_lsp.agent.tools.disk_applier import DiskEditApplier
        from orion_lsp.agent.turn import COMPLETED, TurnRequest

        before = len(self.server.requests)
        self.server.push(*replies)
        req = TurnRequest(project=self.project, prompt=PROMPT, source="cli")
        orchestrator = self.services.require_orchestrator()
        applier = DiskEditApplier(self.project.root)
        started = time.perf_counter()
        outcome = await orchestrator.run(req, NullSink(), documents=NoDocuments(), applier=applier)
        elapsed = time.perf_counter() - started
        if outcome.status != COMPLETED or not all(c["ok"] for c in outcome.tool_calls):
            raise SystemExit(f"orion turn did not complete cleanly: {outcome}")
        bodies = self.server.requests[before:]
        if len(bodies) != len(replies):
            raise SystemExit(f"expected {len(replies)} model requests, got {len(bodies)}")
        events = await self.services.traces.events(self.project.project_id, req.turn_id)
        # What this benchmark must include: exact requests and the turn-end scores.
        if not all("request" in e.payload for e in events if e.type == "llm_call"):
            raise SystemExit("an llm_call event has no exact request")
        if not await self.services.scores.for_turn(req.turn_id):
            raise SystemExit("the turn has no scores: the built-in evaluators did not run")
        return elapsed, bodies, len(events)

    async def direct_turn(self, bodies: list[dict[str, Any]], replies: list[Any]) -> float:
        """The same request bodies through litellm directly, each stream read to the end."""
        from orion_lsp.agent.litellm_setup import NO_RETRY_KWARGS

        self.server.push(*replies)
        started = time.perf_counter()
        for body in bodies:
            kwargs: dict[str, Any] = {
                "model": self.server.model,
                "api_base": self.server.base_url,
                "api_key": "orion-local",
                "messages": body["messages"],
                "stream": True,
                "stream_options": body.get("stream_options"),
                "timeout": 120.0,
                **NO_RETRY_KWARGS,
            }
            if body.get("tools"):
                kwargs["tools"] = body["tools"]
            stream = await self.litellm.acompletion(**kwargs)
            parts: list[str] = []
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    parts.append(chunk.choices[0].delta.content)
        return time.perf_counter() - started


async def append_cost(services: Any, project: Any, n: int, idle_s: float = 0.0) -> float:
    """Median seconds of one TraceStore.append (one BEGIN IMMEDIATE/INSERT/COMMIT),
    optionally after the loop and the database thread sat idle for `idle_s`."""
    payload = {"model": "openai/scripted", "step": 1, "messages": 23, "durationMs": 3}
    times = []
    for i in range(n):
        if idle_s:
            await asyncio.sleep(idle_s)
        started = time.perf_counter()
        await services.traces.append(
            project.project_id, f"bench-append-{i // 8}", "llm_call", payload
        )
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def summarize(name: str, orion: list[float], direct: list[float], events: int) -> dict[str, Any]:
    o, d = statistics.median(orion), statistics.median(direct)
    allowed = RATIO_TARGET * d + PER_EVENT_MS / 1000 * events

    def q(values: list[float], n: int) -> list[float]:
        return statistics.quantiles(values, n=n) if len(values) > 1 else values * (n - 1)

    return {
        "name": name,
        "orion_ms": o * 1000,
        "direct_ms": d * 1000,
        "orion_p90_ms": q(orion, n=10)[-1] * 1000,
        "direct_p90_ms": q(direct, n=10)[-1] * 1000,
        "ratio": o / d,
        "events": events,
        "allowed_ms": allowed * 1000,
        "ok": o <= allowed,
    }


async def run(iterations: int, warmup: int, profile: int) -> list[dict[str, Any]]:
    from orion_lsp.agent.litellm_setup import import_litellm
    from orion_lsp.config import load_settings
    from orion_lsp.project import project_for
    from orion_lsp.services import open_services
    from orion_lsp.testing import ScriptedModelServer

    t0 = time.perf_counter()
    litellm = import_litellm()
    print(f"litellm imported in {time.perf_counter() - t0:.1f} s (not part of any figure)")
    tmp = Path(tempfile.mkdtemp(prefix="orion-bench-turn-"))
    workspace = tmp / "workspace"
    workspace.mkdir()
    (workspace / "cart.py").write_text(SOURCE, encoding="utf-8")
    project = project_for(workspace)
    results = []
    with ScriptedModelServer() as server:
        settings = load_settings(
            environ={
                "ORION_MODEL": server.model,
                "ORION_API_BASE": server.base_url,
                "ORION_DB": str(tmp / "orion.db"),
            }
        )
        services = await open_services(settings)
        try:
            bench = Bench(server, services, project, litellm)
            # Start the repo map build and wait for it: the benchmark is about warm turns.
            services.context.ensure(project)
            await services.context.wait_built(project.root)
            shapes = [("text-only turn", text_replies), ("one tool call", tool_replies)]
            for _, make in shapes:  # warm-up: litellm's first calls, SQLite, history filling
                for _ in range(warmup):
                    _, bodies, _ = await bench.orion_turn(make())
                    await bench.direct_turn(bodies, make())
            for name, make in shapes:
                orion_s, direct_s, events = [], [], set()
                _, bodies, _ = await bench.orion_turn(make())
                for i in range(iterations):
                    # Alternate which side goes first so drift hits both alike. Once the
                    # history is at its limit every turn sends requests of the same size.
                    if i % 2 == 0:
                        t, bodies, n = await bench.orion_turn(make())
                        d = await bench.direct_turn(bodies, make())
                    else:
                        d = await bench.direct_turn(bodies, make())
                        t, bodies, n = await bench.orion_turn(make())
                    orion_s.append(t)
                    direct_s.append(d)
                    events.add(n)
                if len(events) != 1:
                    raise SystemExit(f"{name}: trace events per turn varied: {sorted(events)}")
                results.append(summarize(name, orion_s, direct_s, events.pop()))
            per_append = await append_cost(services, project, 200)
            prompt_chars = sum(len(str(m.get("content") or "")) for m in bodies[0]["messages"])
            print(
                f"request size: {len(bodies[0]['messages'])} messages, {prompt_chars} chars "
                f"(history at its limit of {settings.history_limit}), "
                f"{len(bodies[0].get('tools') or [])} tool specs"
            )
            # In a turn each event follows other work (a model stream, a tool), so the
            # database thread has gone to sleep: the idle figure is closer to a turn's.
            idle_append = await append_cost(services, project, 100, idle_s=0.005)
            print(
                f"one TraceStore.append commit (median): back to back {per_append * 1000:.2f} ms, "
                f"after 5 ms idle {idle_append * 1000:.2f} ms"
            )
            if profile:
                await profile_turns(bench, profile)
        finally:
            await services.close()
    return results


class _Timed:
    """Wraps a collaborator of the orchestrator and adds the time of its async calls to a bucket."""

    def __init__(self, target: Any, bucket: str, acc: dict[str, float]) -> None:
        self._target, self._bucket, self._acc = target, bucket, acc

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if not asyncio.iscoroutinefunction(attr):
            return attr

        async def timed(*args: Any, **kw: Any) -> Any:
            started = time.perf_counter()
            try:
                return await attr(*args, **kw)
            finally:
                self._acc[self._bucket] += time.perf_counter() - started

        return timed


async def breakdown(bench: Bench, n: int) -> None:
    """Where an Orion tool turn's time goes, by collaborator (wall time per turn)."""
    orch = bench.services.require_orchestrator()
    acc = {"history": 0.0, "context (repo map)": 0.0, "trace events": 0.0, "chat rows": 0.0}
    acc["model.complete (litellm + chunk handling)"] = 0.0
    saved = (orch._history, orch._context, orch._traces, orch._chats, orch._model_factory)
    factory = orch._model_factory
    model_acc = "model.complete (litellm + chunk handling)"
    # The bench peeks at private attributes on purpose: production code has no timing hooks.
    orch._history = _Timed(orch._history, "history", acc)
    orch._context = _Timed(orch._context, "context (repo map)", acc)
    orch._traces = _Timed(orch._traces, "trace events", acc)
    orch._chats = _Timed(orch._chats, "chat rows", acc)
    orch._model_factory = lambda s: _Timed(factory(s), model_acc, acc)
    rows: list[dict[str, float]] = []
    try:
        for _ in range(n):
            for key in acc:
                acc[key] = 0.0
            t, bodies, _ = await bench.orion_turn(tool_replies())
            d = await bench.direct_turn(bodies, tool_replies())
            row = dict(acc)
            row["rest (tool run, messages, loop)"] = t - sum(acc.values())
            rows.append({"whole turn": t, **row, "direct litellm, same 2 requests": d})
    finally:
        (orch._history, orch._context, orch._traces, orch._chats, orch._model_factory) = saved
    print(f"where an Orion tool turn's time goes (median of {n} turns, wall ms):")
    for key in rows[0]:
        print(f"  {key:<44} {statistics.median(r[key] for r in rows) * 1000:7.2f}")


async def profile_turns(bench: Bench, n: int) -> None:
    await breakdown(bench, n)
    profiler = cProfile.Profile()
    # cProfile sees everything this thread runs while enabled: the loop's callbacks,
    # not the work of the aiosqlite and HTTP server threads.
    profiler.enable()
    for _ in range(n):
        await bench.orion_turn(tool_replies())
    profiler.disable()
    for key, title in (("tottime", "own time"), ("cumulative", "cumulative, orion_lsp only")):
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).sort_stats(key)
        if key == "cumulative":
            stats.print_stats("orion_lsp", 20)
        else:
            stats.print_stats(20)
        print(f"cProfile of {n} Orion tool turns, by {title}:")
        print(out.getvalue().split("\n\n", 1)[-1])


def report(results: list[dict[str, Any]]) -> None:
    print(f"target: orion <= {RATIO_TARGET} x direct + {PER_EVENT_MS:g} ms x trace events per turn")
    for r in results:
        verdict = "OK" if r["ok"] else "MISSED"
        print(
            f"{r['name']:>15}: orion {r['orion_ms']:6.1f} ms (p90 {r['orion_p90_ms']:6.1f})  "
            f"direct {r['direct_ms']:6.1f} ms (p90 {r['direct_p90_ms']:6.1f})  "
            f"ratio {r['ratio']:.2f}x  events {r['events']}  "
            f"allowed {r['allowed_ms']:6.1f} ms  {verdict}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--iterations", type=int, default=80)
    parser.add_argument("--warmup", type=int, default=15)
    parser.add_argument("--profile", type=int, nargs="?", const=40, default=0, metavar="TURNS")
    args = parser.parse_args()
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    load = os.getloadavg()
    print(
        f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({os.cpu_count()} CPUs)"
    )
    results = asyncio.run(run(args.iterations, args.warmup, args.profile))
    report(results)
    load = os.getloadavg()
    print(f"load average at end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
