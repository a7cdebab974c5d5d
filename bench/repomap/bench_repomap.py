"""Repo map benchmark on the CPython standard library and on it copied 5x (~9k files).

The stdlib is found through sysconfig (no download); the 9k corpus is
generated in a temp folder (the stdlib hard-linked 5 times under renamed
top folders). Each phase runs in its own subprocess so its peak RSS is its
own, and every figure is printed next to a floor measured in the same run:
a plain tree-sitter parse of the same files in one process, trees dropped.
The SQLite tags cache is a fresh database file in a temp folder.

Phases per corpus:
- floor: walk + read + parse, one process;
- cold: `RepoIndex.build` with an empty cache (2 worker processes);
- restart: a new process, same cache: time until `build()` returns (the map
  is usable), then the first map;
- requests: maps ranked toward 3 focus files (different triples), then an
  edit of one buffer (`update_text`) and the map right after it.

Machine load moves the wall figures (see docs/benchmarks.md): the cold build
is also printed as CPU seconds over two cores, what two idle cores would give.

    .venv/bin/python -m bench.repomap.bench_repomap [--corpus stdlib|x5|both] [--reps 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
COPIES = 5
TARGETS = {
    "cold_ratio": 0.8,
    "restart_s_x5": 1.0,
    "rss_mb_x5": 150.0,
    "growth_mb_per_10k": 100.0,
    "request_ms_x5": 50.0,
    "incremental_ms": 30.0,
}
FOCUS = [
    ("asyncio/tasks.py", "asyncio/events.py", "asyncio/futures.py"),
    ("json/decoder.py", "json/scanner.py", "json/__init__.py"),
    ("email/message.py", "email/parser.py", "email/feedparser.py"),
    ("http/client.py", "urllib/request.py", "ssl.py"),
    ("logging/__init__.py", "logging/handlers.py", "threading.py"),
]
EDITED = "asyncio/tasks.py"


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


class DescendantPeak:
    """Peak VmHWM and CPU of our descendant processes (pool workers are children
    of the forkserver, so RUSAGE_CHILDREN never sees them): polled from /proc
    twice a second. `own_cpu` is the poller's own CPU time, which the caller
    takes out of the process's."""

    def __init__(self) -> None:
        import threading

        self.peak_kb = 0
        self.cpu_s = 0.0
        self.own_cpu = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> DescendantPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        me = os.getpid()
        cpu: dict[int, float] = {}
        tick = os.sysconf("SC_CLK_TCK")
        while not self._stop.wait(0.5):
            parents: dict[int, int] = {}
            stats: dict[int, list[str]] = {}
            for d in os.listdir("/proc"):
                if not d.isdigit():
                    continue
                try:
                    with open(f"/proc/{d}/stat") as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                parents[int(d)] = int(fields[1])
                stats[int(d)] = fields
            for pid in parents:
                p, hops = parents.get(pid), 0
                while p not in (None, 0, 1, me) and hops < 5:
                    p, hops = parents.get(p), hops + 1
                if p != me:
                    continue
                fields = stats[pid]
                cpu[pid] = (int(fields[11]) + int(fields[12])) / tick
                try:
                    with open(f"/proc/{pid}/status") as f:
                        for line in f:
                            if line.startswith("VmHWM:"):
                                self.peak_kb = max(self.peak_kb, int(line.split()[1]))
                except OSError:
                    continue
            self.cpu_s = sum(cpu.values())
            self.own_cpu = time.thread_time()


def make_x5(stdlib: Path, dst: Path) -> None:
    """The stdlib hard-linked (copied where links fail) under COPIES renamed folders."""
    from orion_lsp.context.files import walk_files

    for k in range(COPIES):
        for e in walk_files(stdlib):
            src = stdlib / e.rel_path
            out = dst / f"stdlib_copy_{k}" / e.rel_path
            out.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(src, out)
            except OSError:
                shutil.copy2(src, out)


def _prefix(corpus_root: str) -> str:
    return "stdlib_copy_0/" if (Path(corpus_root) / "stdlib_copy_0").is_dir() else ""


def phase_floor(root: str) -> dict:
    from orion_lsp.context.files import walk_files
    from orion_lsp.context.languages import language_for_path, parser

    t = time.perf_counter()
    cpu = _cpu()
    n = size = 0
    for e in walk_files(Path(root)):
        lang = language_for_path(e.rel_path)
        assert lang is not None
        data = (Path(root) / e.rel_path).read_bytes()
        parser(lang).parse(data)
        n += 1
        size += len(data)
    return {
        "seconds": time.perf_counter() - t,
        "cpu": _cpu() - cpu,
        "files": n,
        "mb": size / 1e6,
        "rss_mb": _rss_mb(),
    }


async def _open(db_path: str, root: str):  # noqa: ANN202
    from orion_lsp.context.cache import SqliteTagCache
    from orion_lsp.context.service import RepoIndex
    from orion_lsp.storage import Database

    db = await Database.open(db_path)
    return db, RepoIndex(Path(root), "bench", SqliteTagCache(db))


async def _phase_cold(root: str, db_path: str) -> dict:
    db, index = await _open(db_path, root)
    t = time.perf_counter()
    cpu = _cpu()
    with DescendantPeak() as kids:
        await index.build()
        secs = time.perf_counter() - t
        cpu = _cpu() - cpu - kids.own_cpu
    await db.close()
    return {
        "seconds": secs,
        "reparsed": index.reparsed,
        **index.stats(),
        **index.phases,
        "rss_mb": _rss_mb(),
        "workers_rss_mb": kids.peak_kb / 1024,
        "main_cpu": cpu,
        "workers_cpu": kids.cpu_s,
    }


async def _phase_restart(root: str, db_path: str) -> dict:
    t = time.perf_counter()
    cpu = _cpu()
    db, index = await _open(db_path, root)
    await index.build()
    usable = time.perf_counter() - t
    usable_cpu = _cpu() - cpu
    t1 = time.perf_counter()
    m = index.render(budget_tokens=4096)
    first_map_ms = (time.perf_counter() - t1) * 1000
    assert m.text and m.complete == 1.0
    rss_after_map = _rss_mb()
    decoded = len(index._lru)  # files whose lines were read: only the shown ones
    await db.close()
    return {
        "usable_s": usable,
        "usable_cpu_s": usable_cpu,
        "first_map_ms": first_map_ms,
        "reparsed": index.reparsed,
        "files": index.stats()["files"],
        "decoded_files": decoded,
        "rss_mb": rss_after_map,
        **index.phases,
    }


async def _phase_requests(root: str, db_path: str) -> dict:
    db, index = await _open(db_path, root)
    await index.build()
    pre = _prefix(root)
    times, cpu = [], []
    for rep in range(4):
        for triple in FOCUS:
            focus = [pre + f for f in triple]
            t, c = time.perf_counter(), time.thread_time()
            m = index.render(focus_files=focus, budget_tokens=4096)
            times.append((time.perf_counter() - t) * 1000)
            cpu.append((time.thread_time() - c) * 1000)
            assert m.tokens <= 4096 and m.text and f"{focus[0]}:" in m.text, (rep, focus)
    edited = pre + EDITED
    text = (Path(root) / edited).read_text()
    inc, inc_cpu, after, after_cpu = [], [], [], []
    for k in range(8):
        body = text + f"\n\ndef bench_added_function_{k}(x):\n    return x\n"
        t, c = time.perf_counter(), time.thread_time()
        index.update_text(edited, body)
        inc.append((time.perf_counter() - t) * 1000)
        inc_cpu.append((time.thread_time() - c) * 1000)
        t, c = time.perf_counter(), time.thread_time()
        m = index.render(
            focus_files=[edited], mentioned={f"bench_added_function_{k}"}, budget_tokens=4096
        )
        after.append((time.perf_counter() - t) * 1000)
        after_cpu.append((time.thread_time() - c) * 1000)
        assert f"bench_added_function_{k}" in m.text
    await db.close()
    return {
        "request_ms": statistics.median(times),
        "request_ms_p90": sorted(times)[int(len(times) * 0.9)],
        "request_cpu_ms": statistics.median(cpu),
        "incremental_ms": statistics.median(inc),
        "incremental_ms_max": max(inc),
        "incremental_cpu_ms": statistics.median(inc_cpu),
        "after_edit_ms": statistics.median(after),
        "after_edit_cpu_ms": statistics.median(after_cpu),
        "rss_mb": _rss_mb(),
    }


def _child(phase: str, root: str, db_path: str) -> None:
    if phase == "floor":
        out = phase_floor(root)
    else:
        fn = {"cold": _phase_cold, "restart": _phase_restart, "requests": _phase_requests}[phase]
        out = asyncio.run(fn(root, db_path))
    sys.stdout.write(json.dumps(out) + "\n")


def _run(phase: str, root: str, db_path: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.repomap.bench_repomap", "--phase", phase]
        + ["--root", root, "--db", db_path],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"phase {phase} failed")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(root: str, tmp: str, name: str) -> dict:
    db = os.path.join(tmp, f"{name}.db")
    load0 = os.getloadavg()[0]
    out = {
        "floor": _run("floor", root, db),
        "cold": _run("cold", root, db),
        "restart": _run("restart", root, db),
        "requests": _run("requests", root, db),
    }
    out["load"] = (load0, os.getloadavg()[0])
    return out


def verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"


def report(name: str, r: dict) -> list[tuple[str, str, str, str]]:
    f, c, s, q = r["floor"], r["cold"], r["restart"], r["requests"]
    ratio = c["seconds"] / f["seconds"]
    ideal = (c["main_cpu"] + c["workers_cpu"]) / 2 / f["cpu"]
    t = TARGETS
    rows = [
        (
            f"[{name}] corpus",
            f"{f['files']} files, {f['mb']:.1f} MB",
            f"load {r['load'][0]:.1f}->{r['load'][1]:.1f}",
            "",
        ),
        (
            f"[{name}] floor: plain parse, 1 process",
            f"{f['seconds']:.2f} s",
            f"cpu {f['cpu']:.2f} s",
            "",
        ),
        (
            f"[{name}] cold build (2 workers)",
            f"{c['seconds']:.2f} s",
            f"{ratio:.2f}x floor",
            f"<= {t['cold_ratio']}x {verdict(ratio <= t['cold_ratio'])}",
        ),
        (
            f"[{name}] cold build cpu: main / workers",
            f"{c['main_cpu']:.2f} / {c['workers_cpu']:.2f} s",
            f"{ideal:.2f}x floor cpu on 2 idle cores",
            "",
        ),
        (
            f"[{name}] cold phases: walk / parse / tags / link",
            f"{c.get('walk_s', 0):.2f} / {c.get('parse_cpu_s', 0):.2f} / "
            f"{c.get('tags_cpu_s', 0):.2f} / {c.get('link_s', 0):.2f} s",
            "parse, tags: worker cpu",
            "",
        ),
        (
            f"[{name}] restart to a usable map",
            f"{s['usable_s']:.2f} s (cpu {s['usable_cpu_s']:.2f} s)",
            f"first map {s['first_map_ms']:.0f} ms, {s['reparsed']} parsed",
            f"< {t['restart_s_x5']} s {verdict(s['usable_s'] < t['restart_s_x5'])}"
            if name == "x5"
            else "",
        ),
        (
            f"[{name}] files whose lines were decoded",
            f"{s['decoded_files']} of {s['files']}",
            "after the first map",
            "",
        ),
        (
            f"[{name}] map toward 3 focus files (median/p90)",
            f"{q['request_ms']:.0f} / {q['request_ms_p90']:.0f} ms",
            f"cpu {q['request_cpu_ms']:.0f} ms",
            f"< {t['request_ms_x5']:.0f} ms {verdict(q['request_ms'] < t['request_ms_x5'])}"
            if name == "x5"
            else "",
        ),
        (
            f"[{name}] update_text of one file (median/max)",
            f"{q['incremental_ms']:.1f} / {q['incremental_ms_max']:.1f} ms",
            f"cpu {q['incremental_cpu_ms']:.1f} ms; map right after {q['after_edit_ms']:.0f} ms"
            f" (cpu {q['after_edit_cpu_ms']:.0f})",
            f"< {t['incremental_ms']:.0f} ms {verdict(q['incremental_ms'] < t['incremental_ms'])}",
        ),
        (
            f"[{name}] peak RSS: cold / restart+map / requests",
            f"{c['rss_mb']:.0f} / {s['rss_mb']:.0f} / {q['rss_mb']:.0f} MB",
            f"floor {f['rss_mb']:.0f} MB, worker {c['workers_rss_mb']:.0f} MB",
            f"< {t['rss_mb_x5']:.0f} MB {verdict(max(c['rss_mb'], s['rss_mb'], q['rss_mb']) < t['rss_mb_x5'])}"
            if name == "x5"
            else "",
        ),
        (
            f"[{name}] index",
            f"{c['files']} files, {c['symbols']} symbols",
            f"{c['reparsed']} parsed cold, {s['reparsed']} on restart",
            "",
        ),
    ]
    return rows


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=sysconfig.get_paths()["stdlib"])
    ap.add_argument("--corpus", choices=["stdlib", "x5", "both"], default="both")
    ap.add_argument("--phase")
    ap.add_argument("--db")
    args = ap.parse_args()
    if args.phase:
        _child(args.phase, args.root, args.db)
        return 0
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        if args.corpus in ("stdlib", "both"):
            results["stdlib"] = measure(args.root, tmp, "stdlib")
        if args.corpus in ("x5", "both"):
            x5 = Path(tmp) / "x5"
            make_x5(Path(args.root), x5)
            results["x5"] = measure(str(x5), tmp, "x5")
    rows: list[tuple[str, str, str, str]] = []
    for name, r in results.items():
        rows += report(name, r)
    if len(results) == 2:
        a, b = results["stdlib"], results["x5"]
        dfiles = b["cold"]["files"] - a["cold"]["files"]
        for label, key in (("restart+map", "restart"), ("cold", "cold")):
            growth = (b[key]["rss_mb"] - a[key]["rss_mb"]) / dfiles * 10_000
            rows.append(
                (
                    f"RSS growth per 10k files ({label})",
                    f"{growth:.0f} MB",
                    f"{a[key]['rss_mb']:.0f} -> {b[key]['rss_mb']:.0f} MB",
                    f"< {TARGETS['growth_mb_per_10k']:.0f} MB "
                    f"{verdict(growth < TARGETS['growth_mb_per_10k'])}",
                )
            )
    rows.append(
        (
            "issue 16, before: stdlib / x5",
            "cold 8.4 / 45 s, restart 1.6 / 7.6 s",
            "RSS 143 / 483 MB",
            "",
        )
    )
    rows.append(("Aider 0.86 (issue 16, stdlib)", "36 s cold, 13 s warm", "603 MB", ""))
    w = max(len(r[0]) for r in rows)
    for name, val, ratio, target in rows:
        print(f"{name:<{w}}  {val:<30} {ratio:<36} {target}")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
